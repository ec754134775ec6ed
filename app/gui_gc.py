"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs in whichever thread allocates when a threshold is crossed. While a fit or
a training steps in a worker thread, that is most often the worker, so a reference cycle that
holds a Qt widget or a VTK object (a closed dialog, a replaced pyqtgraph item, a finished
compare view) would be freed there. Qt and VTK objects must be deleted on the GUI thread; a
delete on another thread can crash the window later, at an unrelated paint (a segfault).

While a window lives, :func:`install` turns the automatic collector off and a GUI-thread timer
collects in its place, generation by generation as the collector's own thresholds ask. When
the application quits the automatic collector is turned back on.
"""

from __future__ import annotations

import gc

from PyQt5 import QtCore, QtWidgets

__all__ = ["GuiThreadCollector", "install"]

#: how often the GUI thread checks the collector's counts
INTERVAL_MS = 100


class GuiThreadCollector(QtCore.QObject):
    """Collects garbage from a GUI-thread timer; the automatic collector is off meanwhile."""

    def __init__(self, parent: QtCore.QObject, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.collections = [0, 0, 0]  # collections made, per generation
        self.timer = QtCore.QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self.check)
        self.start()

    def start(self) -> None:
        """The automatic collector off, the timer on."""
        gc.disable()
        self.timer.start()

    def check(self) -> None:
        """Collect the generations whose counts passed their thresholds (oldest included)."""
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.threshold
        if c0 <= t0:
            return
        generation = 2 if (c1 > t1 and c2 > t2) else 1 if c1 > t1 else 0
        gc.collect(generation)
        self.collections[generation] += 1

    def stop(self) -> None:
        """Back to the automatic collector."""
        self.timer.stop()
        gc.enable()


def install() -> GuiThreadCollector | None:
    """The application's GUI-thread collector, made on first call (None without a
    QApplication). Call from the GUI thread."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        return None
    found = app.findChild(GuiThreadCollector)
    if found is not None:
        if not found.timer.isActive():  # a window again after the application quit once
            found.start()
        return found
    collector = GuiThreadCollector(app)
    app.aboutToQuit.connect(collector.stop)
    return collector
