"""DataLoader worker processes that end with the training, whatever way it ends.

The workers ignore SIGINT and SIGTERM (:func:`core.train.resume.ignore_stop_signals`): a
Ctrl-C sent to the whole process group is the main process's to handle between steps. So
they must be ended explicitly. A DataLoader iterator ends its workers when it is freed, but
after an error (an unreadable object found by a worker, a diverged step) the iterator can
outlive the training through the traceback, and at interpreter exit ``multiprocessing``
would then SIGTERM the workers, which ignore it, and wait for them forever. :func:`end`
ends one iterator's workers now; every iterator started here is ended at exit, before
``multiprocessing``'s own exit handler runs.
"""

from __future__ import annotations

import atexit
import weakref
from collections.abc import Iterator
from typing import Any

__all__ = ["end", "live", "start"]

_LIVE: weakref.WeakSet = weakref.WeakSet()


def start(loader: Any) -> Iterator:
    """``iter(loader)``, remembered so that its workers are ended at exit."""
    it = iter(loader)
    if hasattr(it, "_shutdown_workers"):  # worker processes (num_workers > 0)
        _LIVE.add(it)
    return it


def end(it: Iterator | None) -> None:
    """End ``it``'s worker processes now (nothing for None or a single-process iterator)."""
    stop = getattr(it, "_shutdown_workers", None)
    if stop is not None:
        stop()
        _LIVE.discard(it)


def live() -> int:
    """Iterators whose worker processes have not been ended."""
    return sum(1 for it in list(_LIVE) if any(getattr(it, "_workers_status", ())))


@atexit.register  # registered after multiprocessing's handler, so it runs before it
def _end_all() -> None:
    for it in list(_LIVE):
        end(it)
