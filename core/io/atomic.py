"""Safe writes of result files: check the target before the work, then write to a unique
temporary file in the target's folder and ``os.replace`` it (atomic on one file system).

Two writers of the same target never share a temporary file; a failed write removes its
temporary file and names the real target in the error; a cloud with non-finite coordinates
is never written.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["check_writable", "atomic_write", "write_points_atomic"]


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


_UMASK = _umask()  # read once: os.umask is process-wide and not thread-safe


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path`` (not a temporary file) as its file."""
    code = exc.errno or errno.EIO
    return exc.__class__(code, exc.strerror or os.strerror(code), str(path))


def _temp(path: Path) -> tuple[int, Path]:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    return fd, Path(tmp)


def check_writable(path: str | Path) -> Path:
    """Make sure ``path`` can be written later: its folder exists (created if missing) and
    accepts a new file, and ``path`` is not a folder. Raises OSError naming ``path`` (or the
    file in the way of its folder). Returns ``path`` as a Path."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = _temp(path)
    except OSError as exc:
        raise _named(exc, path) from None
    os.close(fd)
    tmp.unlink(missing_ok=True)
    return path


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a unique temporary file next to ``path`` (same extension),
    then replace ``path`` with it. On any failure the temporary file is removed and an
    OSError names ``path``. Returns ``path``."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    try:
        fd, tmp = _temp(path)
    except OSError as exc:
        raise _named(exc, path) from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; results are ordinary files
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _named(exc, path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_points_atomic(path: str | Path, points: np.ndarray) -> Path:
    """Write a cloud (N, 3) by extension (.ply/.obj/.xyz, ``core.io.points.write_points``)
    atomically. Raises ValueError naming ``path`` when a coordinate is not finite."""
    from core.io.points import write_points

    pts = np.asarray(points)
    if not np.isfinite(pts).all():
        raise ValueError(f"{path}: not written: the cloud has non-finite coordinates")
    return atomic_write(path, lambda tmp: write_points(tmp, pts))
