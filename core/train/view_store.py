"""The per-view arrays of a training split, built in parallel once and kept in memory or in a
folder that later runs reuse and read in place (np.memmap).

Arrays are flat over the views of all objects, object after object (``first[k]`` is object
k's first row, ``first[k + 1] - first[k]`` its view count): ``inputs`` (V, 3, S, S) uint8
network inputs, ``K``/``R`` (V, 3, 3) and ``t`` (V, 3) float32 cameras, ``sd`` (V, H, W)
float32 signed distance, ``mask`` (V, H, W) uint8, ``bias`` (V, H, W) float32 boundary bias
δ for one R, ``fg`` (V, P, 2) float32 silhouette pixel centres (P = FG_SAMPLES).

Building: worker processes read the scenes and compute the maps (signed distance, δ, the
resized input) a few objects at a time; the parent writes them in object order and draws the
``fg`` samples from ``numpy.random.default_rng(0)`` in that same order, so every number
(``fg`` included) is the same whatever the number of workers, in memory or on disk.

On disk (``folder`` = ``<root>/<key>``): one ``<name>.bin`` per array plus ``meta.json``
(shapes, view counts), written to a temporary folder and renamed when complete; δ for another
R is added as ``bias-R<R>.bin``. The key hashes the dataset folder, the split's ids, the input
size and the size and modification time of every file in each object's folder
(``<dataset>/<id>/``), so a changed dataset gets a new folder; objects stored elsewhere (DPC
renders) are recognised by id only. A lock file lets one process build while others (torchrun
ranks) wait for it. A build deletes the stores of datasets whose folder is gone; deleting the
root by hand is safe whenever no training runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from core.drwr.silhouette import boundary_bias, signed_distance
from core.io.dataset import DrwrDataset
from core.io.scene import SceneError
from core.train.view_inputs import input_image, loss_grid

try:
    import fcntl
except ImportError:  # Windows: no lock, builders race (each renames its own complete folder)
    fcntl = None  # type: ignore[assignment]

__all__ = ["CACHE_VERSION", "FG_SAMPLES", "ViewArrays", "build_arrays", "build_workers",
           "default_cache_root", "input_image", "loss_grid", "split_key"]

#: bump when any stored number changes, so old folders are not reused
CACHE_VERSION = 3
#: silhouette pixel samples kept per view for the coverage term
FG_SAMPLES = 512
#: objects per worker task
CHUNK = 4
_MAPS = ("inputs", "K", "R", "t", "sd", "mask")


def default_cache_root() -> Path:
    """``$XDG_CACHE_HOME/drwr-studio/views`` (default ``~/.cache/drwr-studio/views``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "drwr-studio" / "views"


def build_workers() -> int:
    """Worker processes for building: one per CPU, at most 4; 0 (build here) where fork is
    missing or off the main thread (the window's worker thread: no fork beside Qt's threads)."""
    if ("fork" not in multiprocessing.get_all_start_methods()
            or threading.current_thread() is not threading.main_thread()):
        return 0
    return max(1, min(4, os.cpu_count() or 1))


def split_key(ds: DrwrDataset, ids: list[str], input_size: int, loss_size: int = 0) -> str:
    """Hex key of (dataset folder, ids, input size, loss grid, every object file's size and
    mtime)."""
    root = Path(ds.root).resolve()
    h = hashlib.sha256(json.dumps([CACHE_VERSION, str(root), input_size, ids]
                                  + ([loss_size] if loss_size else [])).encode())
    for oid in ids:
        folder = root / oid
        if not folder.is_dir():
            continue
        stack = [folder]
        while stack:
            with os.scandir(stack.pop()) as it:
                for e in sorted(it, key=lambda e: e.name):
                    if e.is_dir():
                        stack.append(Path(e.path))
                    else:
                        st = e.stat()
                        h.update(f"{e.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


# -- workers --------------------------------------------------------------------------------
_JOB: dict[str, Any] = {}


def _object_maps(oid: str) -> dict[str, Any]:
    """One object's arrays (its I views) for the parent (scene read and maps made here)."""
    ds, S, R, keep_gt = _JOB["ds"], _JOB["S"], _JOB["R"], _JOB["gt"]
    s = ds.scene(oid)
    n = s.n_views
    masks, K = loss_grid(s.masks, s.K, _JOB["loss"])
    for i, m in enumerate(masks):
        if not m.any():
            raise SceneError(f"{s.path or oid}: view {i}'s mask is empty on the "
                             f"{m.shape[1]}x{m.shape[0]} loss grid (a larger --loss-size "
                             "keeps it)")
    for k, im in enumerate(s.images or []):
        if np.shape(im)[:2] != s.resolution:
            raise SceneError(f"{s.path or oid}: image {k} is {np.shape(im)[1]}x"
                             f"{np.shape(im)[0]}, its mask {s.resolution[1]}x{s.resolution[0]}")
    return {"res": s.resolution, "name": s.path or s.name, "has_images": s.images is not None,
            "inputs": np.stack([input_image(s, i, (S, S)).transpose(2, 0, 1) for i in range(n)]),
            "K": np.asarray(K, np.float32), "R": np.asarray(s.R, np.float32),
            "t": np.asarray(s.t, np.float32), "sd": signed_distance(masks),
            "mask": np.asarray(masks, np.uint8), "bias": boundary_bias(masks, R),
            "gt": s.gt_points if keep_gt else None}


def _chunk_maps(ids: list[str]) -> list[dict[str, Any]]:
    return [_object_maps(oid) for oid in ids]


def _bias_rows(rows: tuple[int, int]) -> np.ndarray:
    mask = _JOB["mask"]
    return boundary_bias(np.asarray(mask[rows[0]:rows[1]], bool), _JOB["R"])


def _set_job(job: dict[str, Any]) -> None:
    _JOB.clear()
    _JOB.update(job)


def _ordered(fn: Callable, tasks: list, job: dict[str, Any], workers: int) -> Iterator:
    """fn over tasks in order, in ``workers`` forked processes (0: here); ``job`` is the
    shared state (inherited by fork, never pickled: a dataset's loader may be a closure)."""
    _set_job(job)
    try:
        if workers <= 0 or len(tasks) <= 1:
            yield from map(fn, tasks)
            return
        ctx = multiprocessing.get_context("fork")
        pool = ctx.Pool(min(workers, len(tasks)), initializer=_worker_signals)
        try:
            yield from pool.imap(fn, tasks)
            pool.close()  # workers finish and exit on their own
        except BaseException:  # failure, Ctrl-C, or the consumer stopped early
            pool.terminate()
            raise
        finally:
            pool.join()
    finally:
        _JOB.clear()


def _worker_signals() -> None:
    """Builders leave Ctrl-C to the parent and die at once on SIGTERM (the parent's own
    handlers, inherited by fork, would otherwise run in them)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _Sized:
    """An iterator with a length (for progress bars)."""

    def __init__(self, it: Iterator, n: int) -> None:
        self.it, self.n = it, n

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator:
        return self.it


# -- the arrays -----------------------------------------------------------------------------
class ViewArrays:
    """Flat per-view arrays of one split (see module): in memory, or in ``folder``."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                 gt: list[np.ndarray | None], folder: Path | None, built: bool) -> None:
        self.meta, self.arrays, self.gt, self.folder, self.built = meta, arrays, gt, folder, built
        self.n_views = np.asarray(meta["n_views"], np.int64)
        self.first = np.concatenate([[0], np.cumsum(self.n_views)]).astype(np.int64)

    @staticmethod
    def open(folder: Path) -> ViewArrays:
        """The complete store in ``folder`` (read-only memmaps); OSError/KeyError if broken."""
        meta = json.loads((folder / "meta.json").read_text())
        arrays = {name: np.memmap(folder / f"{name}.bin", np.dtype(dt), "r", shape=tuple(sh))
                  for name, (sh, dt) in meta["arrays"].items()}
        return ViewArrays(meta, arrays, [None] * len(meta["n_views"]), folder, False)

    def bias(self, R: int, workers: int) -> np.ndarray:
        """δ (V, H, W) for ``R``: read from the folder when there, else made (in ``workers``
        processes, a few hundred views at a time) and, on disk, stored."""
        name = f"bias-R{R}"
        if self.folder is None:
            return _join(_ordered(_bias_rows, _row_chunks(len(self.arrays["mask"])),
                                  {"mask": self.arrays["mask"], "R": R}, 0))
        path = self.folder / f"{name}.bin"
        shape = self.arrays["sd"].shape
        with _locked(self.folder.with_suffix(".lock")):
            if not path.is_file():
                tmp = path.with_name(f"{name}.tmp{os.getpid()}")
                try:
                    with open(tmp, "wb") as f:
                        for part in _ordered(_bias_rows, _row_chunks(shape[0]),
                                             {"mask": self.arrays["mask"], "R": R}, workers):
                            f.write(np.ascontiguousarray(part, np.float32).tobytes())
                    os.replace(tmp, path)
                finally:
                    tmp.unlink(missing_ok=True)
        return np.memmap(path, np.float32, "r", shape=shape)


def _row_chunks(n: int, rows: int = 256) -> list[tuple[int, int]]:
    return [(a, min(a + rows, n)) for a in range(0, n, rows)]


def _join(parts: Iterable[np.ndarray]) -> np.ndarray:
    return np.concatenate(list(parts))


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(f, fcntl.LOCK_UN)


class _Sink:
    """Appends arrays by name: to ``<folder>/<name>.bin`` files, or to lists in memory."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.parts: dict[str, list[np.ndarray]] = {}
        self.files: dict[str, Any] = {}
        self.shapes: dict[str, tuple[list[int], str]] = {}

    def add(self, name: str, a: np.ndarray) -> None:
        if name not in self.shapes:
            self.shapes[name] = ([0, *a.shape[1:]], a.dtype.str)
            if self.folder is not None:
                self.files[name] = open(self.folder / f"{name}.bin", "wb")
            else:
                self.parts[name] = []
        self.shapes[name][0][0] += len(a)
        if self.folder is not None:
            self.files[name].write(memoryview(np.ascontiguousarray(a)).cast("B"))
        else:
            self.parts[name].append(a)

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def joined(self) -> dict[str, np.ndarray]:
        """The arrays kept in memory, joined."""
        return {k: np.concatenate(v) for k, v in self.parts.items()}


def build_arrays(ds: DrwrDataset, ids: list[str], input_size: int, R: int, gt_points: int = 0,
                 folder: Path | None = None, workers: int = 0,
                 progress: Callable[[Iterable], Iterable] | None = None,
                 loss_size: int = 0) -> ViewArrays:
    """The arrays of ``ids`` (see module): in memory (``folder`` None), or the store in
    ``folder``, reused when complete, else built there (``bias`` holds δ for ``R``).
    ``loss_size`` > 0: masks and cameras brought down to that longest side (view_inputs.loss_grid)
    before the maps are made; the maps' size (``meta["size"]``) is then that grid's.

    ``gt_points`` > 0 keeps up to that many ground-truth points per object in ``gt`` (in
    memory; None where missing); ``progress`` wraps the per-object iterable of a build.
    """
    if folder is not None:
        with _locked(folder.with_suffix(".lock")):
            if not (folder / "meta.json").is_file():
                tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True)
                try:
                    _build(ds, ids, input_size, R, 0, tmp, workers, progress, loss_size)
                    os.replace(tmp, folder)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                _prune(folder.parent)
                store = ViewArrays.open(folder)
                store.built = True
                return store
        return ViewArrays.open(folder)
    return _build(ds, ids, input_size, R, gt_points, None, workers, progress, loss_size)


def _prune(root: Path) -> None:
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


def _build(ds: DrwrDataset, ids: list[str], S: int, R: int, gt_points: int,
           folder: Path | None, workers: int, progress: Callable | None,
           loss_size: int = 0) -> ViewArrays:
    chunks = [ids[a:a + CHUNK] for a in range(0, len(ids), CHUNK)]
    job = {"ds": ds, "S": S, "R": R, "gt": gt_points > 0, "loss": loss_size}
    objects = (o for part in _ordered(_chunk_maps, chunks, job, workers) for o in part)
    it = progress(_Sized(objects, len(ids))) if progress else objects
    try:
        return _store(it, S, R, gt_points, ids, folder, str(Path(ds.root).resolve()))
    finally:
        objects.close()  # stops the workers when the parent fails


def _store(it: Iterable[dict[str, Any]], S: int, R: int, gt_points: int, ids: list[str],
           folder: Path | None, dataset: str) -> ViewArrays:
    """Write the objects' arrays in order, drawing ``fg`` and the ground-truth subsets."""
    sink = _Sink(folder)
    try:
        rng = np.random.default_rng(0)
        size, grid, n_views, has_images, gts = None, None, [], True, []
        with_images, without = 0, None  # the input is one kind: images for all, or masks
        for o in it:
            size = size or o["res"]  # the images'; ``grid`` the maps' (a loss grid's)
            grid = grid or tuple(o["mask"].shape[1:])
            if o["res"] != size:
                raise SceneError(f"{o['name']}: image size {o['res']} differs from the first "
                                 f"object's {size}")
            n_views.append(len(o["mask"]))
            has_images &= o["has_images"]
            with_images += o["has_images"]
            without = without or (None if o["has_images"] else o["name"])
            if with_images and without is not None:
                raise SceneError(f"{without}: has no images while other objects do; give every "
                                 "object images, or none (the network's input is one kind)")
            fg = np.zeros((len(o["mask"]), FG_SAMPLES, 2), np.float32)
            width = o["mask"].shape[2]
            for i, m in enumerate(o["mask"]):  # the same draws, in the same order, as one loop
                on = np.flatnonzero(m != 0)  # row-major, as np.nonzero's (row, col)
                rr, cc = np.divmod(on[rng.integers(len(on), size=FG_SAMPLES)], width)
                fg[i, :, 0], fg[i, :, 1] = cc, rr
            for name in (*_MAPS, "bias"):
                sink.add(name, o[name])
            sink.add("fg", fg)
            gt = o["gt"]
            if gt is not None and len(gt) > gt_points:
                gt = gt[rng.choice(len(gt), gt_points, replace=False)]
            gts.append(None if gt is None else np.asarray(gt, np.float32))
    finally:
        sink.close()
    arrays = sink.joined()
    shapes = dict(sink.shapes)
    shapes.pop("bias")  # stored per R (ViewArrays.bias)
    meta = {"version": CACHE_VERSION, "dataset": dataset, "input_size": S,
            "size": list(grid or (0, 0)), "image_size": list(size or (0, 0)),
            "has_images": bool(has_images), "ids": ids,
            "n_views": n_views, "arrays": shapes, "R": R}
    if folder is None:
        return ViewArrays(meta, arrays, gts, None, True)
    (folder / "bias.bin").rename(folder / f"bias-R{R}.bin")
    (folder / "meta.json").write_text(json.dumps(meta))
    return ViewArrays(meta, {}, gts, folder, True)
