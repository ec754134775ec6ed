"""Fixtures for the window tests: a MainWindow on the demo scene with few points."""

from __future__ import annotations

from typing import Any

import pytest
from PyQt5 import QtCore, QtGui, QtWidgets

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
    from core.fit.config import apply_preset
    from core.io.demo import demo_scene

    # the paper's preset with many iterations: a fit that keeps running during the test
    cfg = apply_preset("drwr-paper", points=points, iterations=100_000)
    w.controller.load(demo_scene(), cfg, run=run)
    qtbot.waitUntil(lambda: w.frames_drawn > 0, timeout=20000)
    return w.controller.worker


@pytest.fixture
def running(window: Any, qtbot: Any) -> Any:
    """The window with the demo fit running."""
    load_demo(window, qtbot, run=True)
    qtbot.waitUntil(lambda: window.controller.state() == "running", timeout=5000)
    return window


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests() -> Any:
    """Collect garbage (old widgets, pyqtgraph scenes) at a quiet moment, not mid-paint: in a
    process that has run many other tests, the collector otherwise fires during a paint and
    frees a scene a view still draws (pyqtgraph 'pure virtual method called' / segfault)."""
    import gc

    from PyQt5 import QtWidgets

    QtWidgets.QApplication.processEvents()
    gc.collect()
    yield
    QtWidgets.QApplication.processEvents()
    gc.collect()


def went_round(w: Any, qtbot: Any, times: int = 2) -> None:
    """Wait until the worker's loop has handled everything asked of it so far and gone round
    ``times`` more times (its barrier), so a step it was not asked for would have happened."""
    for k in range(times):
        with qtbot.waitSignal(w.passed, timeout=3000, check_params_cb=lambda t, k=k: t == k):
            w.barrier(k)


def drag(widget: Any, dx: int = 80, dy: int = 20) -> None:
    """A left-button drag across ``widget`` from its centre, through (40, 10) to (dx, dy)
    pixels from it."""
    c = widget.rect().center()
    mid, end = c + QtCore.QPoint(40, 10), c + QtCore.QPoint(dx, dy)
    for kind, pos, buttons in ((QtCore.QEvent.MouseButtonPress, c, QtCore.Qt.LeftButton),
                               (QtCore.QEvent.MouseMove, mid, QtCore.Qt.LeftButton),
                               (QtCore.QEvent.MouseMove, end, QtCore.Qt.LeftButton),
                               (QtCore.QEvent.MouseButtonRelease, end, QtCore.Qt.NoButton)):
        ev = QtGui.QMouseEvent(kind, QtCore.QPointF(pos), QtCore.Qt.LeftButton, buttons,
                               QtCore.Qt.NoModifier)
        QtWidgets.QApplication.sendEvent(widget, ev)
