"""One writer per training run folder: an exclusive lock on ``<run>/.writer.lock``.

The lock is the operating system's (``fcntl.flock``; ``msvcrt.locking`` on Windows), held by
the open file, so it ends with the process however that ends (a killed process, a crash):
a lock file left behind, with the pid of a process that is gone, never blocks. The file is
kept (never removed) so that two writers cannot each lock a different file of the same name;
it holds the pid of the last writer, for the message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

__all__ = ["RunLocked", "RunLock", "LOCK_NAME"]

LOCK_NAME = ".writer.lock"


class RunLocked(ValueError):
    """Another process is writing this run folder."""


def _try_lock(f: IO[Any]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError: held by another open file
        return False
    return True


class RunLock:
    """``with RunLock(run):`` the body is the run folder's only writer; entering raises
    RunLocked (naming the folder) at once when another process holds the lock. The folder is
    created if missing. ``acquire``/``release`` do the same outside a ``with``."""

    def __init__(self, run: str | Path) -> None:
        self.run = Path(run)
        self._file: IO[Any] | None = None

    def acquire(self) -> "RunLock":
        if self._file is not None:
            return self
        self.run.mkdir(parents=True, exist_ok=True)
        f = open(self.run / LOCK_NAME, "a+")
        if not _try_lock(f):
            f.seek(0)
            pid = f.read().strip()
            f.close()
            who = f" (process {pid})" if pid.isdigit() else ""
            raise RunLocked(f"{self.run}: another training is writing this run{who}")
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file ends the lock
            self._file = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
