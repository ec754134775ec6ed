"""The window against faults and first impressions: the panels after a
default fit, the welcome page's contrast, Recent files, viewing an empty file, the
automation flags, a scene that cannot be fitted, the runtime folder."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.gui.conftest import load_demo


@pytest.fixture(scope="module")
def unfittable(tmp_path_factory) -> Path:
    """A scene that loads but cannot be fitted: every camera looks away from the object."""
    from core.io.mesh_scene import make_scene
    from core.io.scene import write_scene

    s = make_scene("blob", views=4, res=32, gt_points=0, seed=0)
    s.t = -s.t
    return write_scene(s, tmp_path_factory.mktemp("unfit") / "away")


def test_panels_after_a_default_fit_show_no_point_outside(window: Any, qtbot: Any,
                                                          tmp_path: Path) -> None:
    from core.fit.config import apply_preset
    from core.io.demo import demo_scene
    from core.io.points import read_points
    from core.hull.inside import inside_all

    scene = demo_scene()
    window.controller.load(scene, apply_preset("default", points=600), run=True)
    qtbot.waitUntil(lambda: window.controller.state() == "done", timeout=60000)
    qtbot.waitUntil(lambda: window.last_iteration == 200, timeout=5000)
    window.refresh_now()
    assert [p.n_out_label for p in window.panels.panels] == [""] * scene.n_views
    assert sum(p.n_outside for p in window.panels.panels) == 0
    out = read_points(window.export_cloud(str(tmp_path / "c.ply")))
    assert inside_all(out, scene).all()  # the panels count with the export's rule


def _contrast(a: np.ndarray, b: np.ndarray) -> float:
    """WCAG contrast ratio of two RGB colours (0..255)."""
    def lum(c: np.ndarray) -> float:
        c = c / 255.0
        c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])

    la, lb = sorted((lum(a), lum(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_welcome_text_is_readable(window: Any, qtbot: Any) -> None:
    from PyQt5 import QtWidgets

    page = window.welcome
    window.resize(1400, 900)
    qtbot.wait(50)
    img = window.grab().toImage().convertToFormat(4)  # RGB32: the window as it is shown
    arr = np.frombuffer(img.constBits().asstring(img.byteCount()), np.uint8)
    arr = arr.reshape(img.height(), img.bytesPerLine() // 4, 4)[..., 2::-1].astype(float)
    labels = [w for w in page.findChildren(QtWidgets.QLabel) if w.text()]
    texts = {w.text().split("\n")[0][:20] for w in labels}
    assert {"DRWR Studio", "Recent files"} <= texts
    for lab in labels:
        g = lab.geometry()
        top_left = lab.mapTo(window, lab.rect().topLeft())
        box = arr[top_left.y():top_left.y() + g.height(), top_left.x():top_left.x() + g.width()]
        px = box.reshape(-1, 3)
        bg = np.median(px, 0)
        far = px[np.argmax(np.abs(px - bg).sum(1))]  # the text's most distinct pixel
        assert _contrast(far, bg) >= 4.5, f"{lab.text()!r}: contrast {_contrast(far, bg):.2f}"


def test_a_scene_that_cannot_be_fitted_stays_out_of_recent_files(window: Any, qtbot: Any,
                                                                 unfittable: Path) -> None:
    window.load_scene_path(str(unfittable))
    qtbot.waitUntil(lambda: "cannot start" in window.last_error, timeout=20000)
    assert "cameras" in window.last_error
    # the failed start dropped the scene that was waiting to enter the list: nothing can add
    # it later (a started fit is what adds it)
    assert window._pending_recent == "" and str(unfittable) not in window.recent_files()
    load_demo(window, qtbot, run=False)  # the demo, which has no path, adds nothing either
    assert window.recent_files() == []


def test_a_fitted_scene_folder_enters_recent_files(window: Any, qtbot: Any,
                                                   tmp_path: Path) -> None:
    from core.io.mesh_scene import make_scene
    from core.io.scene import write_scene

    d = write_scene(make_scene("blob", views=4, res=32, gt_points=0, seed=0), tmp_path / "ok")
    window.load_scene_path(str(d))
    qtbot.waitUntil(lambda: str(d) in window.recent_files(), timeout=60000)  # a loaded CPU


def test_viewing_an_empty_file_keeps_the_fit_running(running: Any, qtbot: Any,
                                                     tmp_path: Path) -> None:
    empty = tmp_path / "empty.ply"
    empty.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\n"
                      b"property float y\nproperty float z\nend_header\n")
    running.view_file(str(empty))
    qtbot.waitUntil(lambda: "empty.ply" in running.last_error, timeout=10000)
    assert "no points" in running.last_error
    assert "Error" in running.statusBar().currentMessage()
    assert running.controller.state() == "running"  # nothing was stopped
    assert str(empty) not in running.recent_files()


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "1e10"])
def test_bad_exit_after_is_one_line_exit_2(value: str, capsys: Any) -> None:
    from app.gui_main import run_gui

    assert run_gui(["--demo", "--exit-after", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--exit-after" in err[0], err


def test_automation_ends_at_once_when_the_scene_cannot_be_fitted(unfittable: Path,
                                                                  tmp_path: Path) -> None:
    """(In its own process: a Qt application that ran a fit and exited stays exited.)"""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "HOME": str(tmp_path)}
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "main.py", "--scene", str(unfittable), "--run",
                        "--exit-after", "120"], cwd=root, env=env, capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 1, r.stderr
    assert time.monotonic() - t0 < 100  # not after the full wait
    assert "cannot start" in r.stderr and "Traceback" not in r.stderr


def test_the_runtime_folder_is_removed_at_exit(tmp_path: Path) -> None:
    """(In its own process, like every test here that runs and ends a Qt application.)"""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    env.pop("XDG_RUNTIME_DIR", None)
    r = subprocess.run([sys.executable, "main.py", "--exit-after", "0"], cwd=root, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("drwr-xdg-")] == []


CTRL_C_SCRIPT = """
import os, signal, sys
from PyQt5 import QtCore, QtWidgets
app = QtWidgets.QApplication(["drwr-studio"])
from app.window import MainWindow
import main

def interrupt_when_drawn():
    wins = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    if wins and wins[0].frames_drawn > 0:
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C in the terminal
    else:
        QtCore.QTimer.singleShot(100, interrupt_when_drawn)

QtCore.QTimer.singleShot(100, interrupt_when_drawn)
sys.exit(main.main(["--demo", "--points", "300"]))
"""


def test_ctrl_c_in_the_window_saves_and_closes(tmp_path: Path) -> None:
    """SIGINT once the fit shows: the cloud goes to the autosave file, exit 130, no
    traceback (it used to print one and be swallowed). In its own process: the Ctrl-C ends
    that process's Qt application."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(root)}
    r = subprocess.run([sys.executable, "-c", CTRL_C_SCRIPT], cwd=root, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 130, r.stderr
    assert "Traceback" not in r.stderr and "interrupted" in r.stderr, r.stderr
    saved = tmp_path / ".cache" / "drwr-studio" / "autosave.ply"
    assert str(saved) in r.stderr and saved.stat().st_size > 1000
