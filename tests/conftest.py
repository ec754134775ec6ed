"""Test session setup: a virtual X screen for GUI tests when one can be had.

- DISPLAY set, or Xvfb installed (pytest-xvfb then starts one): GUI tests run, pixels too.
- No X at all: Qt runs offscreen (widgets, timers, threads work) and tests marked ``gl``
  (a real OpenGL window, e.g. pixel checks of the 3D view) are skipped with a reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_tmp = tempfile.mkdtemp(prefix="drwr-test-")
os.environ.setdefault("XDG_RUNTIME_DIR", os.path.join(_tmp, "runtime"))
os.makedirs(os.environ["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
os.environ["XDG_CONFIG_HOME"] = os.path.join(_tmp, "config")  # QSettings of the tests
os.environ["XDG_CACHE_HOME"] = os.path.join(_tmp, "cache")  # training view caches
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("LP_NUM_THREADS", "1")

HAVE_X = bool(os.environ.get("DISPLAY")) or shutil.which("Xvfb") is not None
if not HAVE_X:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAVE_X:
        return
    skip = pytest.mark.skip(reason="needs an X display: install Xvfb (CI does)")
    for item in items:
        if "gl" in item.keywords:
            item.add_marker(skip)
