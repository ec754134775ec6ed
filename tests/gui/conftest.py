"""Fixtures for the window tests: a MainWindow on the demo scene with few points."""

from __future__ import annotations

from typing import Any

import pytest
from PyQt5 import QtCore

J = 300  # small clouds keep the GUI tests fast


@pytest.fixture
def window(qtbot: Any, tmp_path: Any) -> Any:
    """An empty main window (welcome page); closed and checked for a stopped thread after."""
    from app.window import MainWindow

    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.IniFormat)
    w = MainWindow(settings=settings, autosave_s=0, show_dialogs=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    thread = w.controller.thread
    w.close()
    assert thread is None or not thread.isRunning()


def load_demo(w: Any, qtbot: Any, run: bool = True, points: int = J) -> Any:
    """Start the demo fit in ``w``; wait for the first frame on screen."""
    from core.config import FitConfig
    from core.demo import demo_scene

    w.controller.load(demo_scene(), FitConfig(points=points), run=run)
    qtbot.waitUntil(lambda: w.frames_drawn > 0, timeout=20000)
    return w.controller.worker


@pytest.fixture
def running(window: Any, qtbot: Any) -> Any:
    """The window with the demo fit running."""
    load_demo(window, qtbot, run=True)
    qtbot.waitUntil(lambda: window.controller.state() == "running", timeout=5000)
    return window
