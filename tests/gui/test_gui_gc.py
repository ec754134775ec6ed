"""Garbage cycles are freed on the GUI thread while a window lives (app.gui_gc)."""

from __future__ import annotations

import gc
import threading
from typing import Any


class _Cycle:
    """A reference cycle that records the thread that frees it."""

    freed_on: list[int] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Cycle.freed_on.append(threading.get_ident())


def test_cycles_are_freed_on_the_gui_thread_not_the_allocating_worker(window: Any,
                                                                        qtbot: Any) -> None:
    assert window.collector is not None and not gc.isenabled()
    gc.collect()
    _Cycle.freed_on.clear()
    _Cycle()  # garbage at once, reachable only from itself

    def churn() -> None:  # allocates far past every threshold, as a stepping worker does
        keep = []
        for i in range(200_000):
            keep.append([i])
            if len(keep) > 1000:
                keep.clear()

    worker = threading.Thread(target=churn)
    worker.start()
    worker.join()
    assert _Cycle.freed_on == []  # the worker's allocations collected nothing
    held = [[i] for i in range(2 * gc.get_threshold()[0])]  # counts past the first threshold
    qtbot.waitUntil(lambda: len(_Cycle.freed_on) == 1, timeout=3000)
    assert _Cycle.freed_on == [threading.get_ident()]
    assert sum(window.collector.collections) > 0
    del held


def test_a_second_window_shares_the_collector(window: Any, qtbot: Any) -> None:
    from app.window import MainWindow

    other = MainWindow(autosave_s=0, show_dialogs=False)
    qtbot.addWidget(other)
    assert other.collector is window.collector
    other.close()
