"""The on-disk layout of a training split's view store (core.train.view_store): making the
folder at full size from a cheap look at every object, writing one object's rows, the lock and
the clean-up of stores whose dataset is gone.

A folder holds ``meta.json`` (arrays' shapes and dtypes, view counts, sizes, R), one
``<name>.bin`` per array (``bias-R<R>.bin`` for δ), and ``done.bin``: one byte per object, set
to 1 after the object's rows are written (core.train.view_store.ViewArrays.ensure).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from core.io.dataset import DrwrDataset
from core.io.scene import SceneError
from core.train.view_inputs import loss_grid_size
from core.train.view_maps import FG_SAMPLES, fg_samples, object_summary

try:
    import fcntl
except ImportError:  # Windows: no lock; makers race (each renames its own complete folder)
    fcntl = None  # type: ignore[assignment]

__all__ = ["MAP_NAMES", "locked", "make_folder", "prune", "write_object"]

#: the arrays written per object besides δ
MAP_NAMES = ("inputs", "K", "R", "t", "sd", "mask", "fg")


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive lock on ``path`` (a lock file, made when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(f, fcntl.LOCK_UN)


def _summaries(ds: DrwrDataset, ids: list[str],
               progress: Callable[[Iterable], Iterable] | None) -> tuple[list[int], tuple, bool]:
    """View counts, image size and images-or-not of ``ids``; SceneError naming the object
    whose image size differs from the first's, or that has no images while others do."""
    n_views, size, with_images, without = [], None, 0, None
    for oid in (progress(ids) if progress else ids):
        o = object_summary(ds, oid)
        size = size or o["res"]
        if o["res"] != size:
            raise SceneError(f"{o['name']}: image size {o['res']} differs from the first "
                             f"object's {size}")
        with_images += o["has_images"]
        without = without or (None if o["has_images"] else o["name"])
        if with_images and without is not None:
            raise SceneError(f"{without}: has no images while other objects do; give every "
                             "object images, or none (the network's input is one kind)")
        n_views.append(o["n"])
    return n_views, size, with_images == len(ids)


def make_folder(folder: Path, ds: DrwrDataset, ids: list[str], S: int, R: int, loss_size: int,
                progress: Callable[[Iterable], Iterable] | None) -> None:
    """Make the store of ``ids`` in ``folder`` (complete files, all objects to do): written to
    a temporary folder and renamed into place."""
    n_views, size, has_images = _summaries(ds, ids, progress)
    grid = loss_grid_size(size, loss_size)
    V = int(sum(n_views))
    shapes = {"inputs": ([V, 3, S, S], "|u1"), "K": ([V, 3, 3], "<f4"),
              "R": ([V, 3, 3], "<f4"), "t": ([V, 3], "<f4"), "sd": ([V, *grid], "<f4"),
              "mask": ([V, *grid], "|u1"), "fg": ([V, FG_SAMPLES, 2], "<f4")}
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        files = {**shapes, f"bias-R{R}": ([V, *grid], "<f4"), "done": ([len(ids)], "|u1")}
        for name, (shape, dt) in files.items():
            with open(tmp / f"{name}.bin", "wb") as f:  # sparse: zeros until written
                f.truncate(int(np.prod(shape)) * np.dtype(dt).itemsize)
        meta = {"dataset": str(Path(ds.root).resolve()), "input_size": S,
                "loss_size": loss_size, "size": list(grid), "image_size": list(size),
                "has_images": bool(has_images), "ids": ids, "n_views": n_views,
                "arrays": shapes, "R": R}
        (tmp / "meta.json").write_text(json.dumps(meta))
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_object(folder: Path, meta: dict[str, Any], first: int, k: int,
                 o: dict[str, Any]) -> None:
    """Write object ``k``'s arrays ``o`` (view_maps.object_maps) at row ``first``, then its
    ``done`` byte; SceneError naming its file when it no longer matches what the folder was
    made from (view count, image size, images or not, grid)."""
    n = int(meta["n_views"][k])
    size = tuple(meta["image_size"])
    if tuple(o["res"]) != size:
        raise SceneError(f"{o['name']}: image size {tuple(o['res'])} differs from the first "
                         f"object's {size}")
    if (len(o["mask"]) != n or o["has_images"] != meta["has_images"]
            or list(o["mask"].shape[1:]) != meta["size"]):
        raise SceneError(f"{o['name']}: changed since the training started (its views, images "
                         "or size differ from its scene.json then); start the training again")
    fg, _ = fg_samples(o["mask"], k)
    parts = {**{name: o[name] for name in MAP_NAMES if name != "fg"}, "fg": fg,
             f"bias-R{meta['R']}": o["bias"]}
    for name, a in parts.items():
        dt = np.dtype(meta["arrays"].get(name, (None, "<f4"))[1])
        data = np.ascontiguousarray(a, dt)
        _pwrite(folder / f"{name}.bin", memoryview(data).cast("B"),
                first * (data.nbytes // max(len(data), 1)))
    _pwrite(folder / "done.bin", b"\x01", k)


def _pwrite(path: Path, data: Any, offset: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        view = memoryview(data)
        while len(view):
            done = os.pwrite(fd, view, offset)
            view, offset = view[done:], offset + done
    finally:
        os.close(fd)


def prune(root: Path) -> None:
    """Delete the stores in ``root`` whose dataset folder is gone (skipping any in use)."""
    for meta in root.glob("*/meta.json"):
        try:
            gone = not Path(json.loads(meta.read_text())["dataset"]).exists()
        except (OSError, ValueError, KeyError):
            continue
        lock = meta.parent.with_suffix(".lock")
        if not gone or fcntl is None:
            continue
        with open(lock, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue
            shutil.rmtree(meta.parent, ignore_errors=True)
            lock.unlink(missing_ok=True)
