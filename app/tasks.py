"""Background tasks of the window: a function run in a daemon thread whose result (or error)
is delivered on the GUI thread."""

from __future__ import annotations

import threading
from typing import Any, Callable

from PyQt5 import QtCore

__all__ = ["run_task"]


class _TaskSignals(QtCore.QObject):
    done = QtCore.pyqtSignal(object)
    failed = QtCore.pyqtSignal(str)


_tasks: set[_TaskSignals] = set()


def run_task(fn: Callable[[], Any], on_done: Callable[[Any], None],
             on_error: Callable[[str], None]) -> threading.Thread:
    """Run ``fn`` in a daemon thread; deliver the result or the error on the GUI thread."""
    sig = _TaskSignals()
    _tasks.add(sig)
    sig.done.connect(on_done)
    sig.failed.connect(on_error)

    def body() -> None:
        try:
            res = fn()
        except Exception as exc:  # reported to the user, not raised in a thread
            sig.failed.emit(str(exc) or exc.__class__.__name__)
        else:
            sig.done.emit(res)
        finally:
            QtCore.QTimer.singleShot(0, lambda: _tasks.discard(sig))

    th = threading.Thread(target=body, daemon=True)
    th.start()
    return th
