"""The per-view arrays of a training split: built in parallel in memory, or in a folder whose
files are made at full size at once and filled object by object on first use (read in place,
np.memmap; later runs reuse the folder and go on filling it).

Arrays are flat over the views of all objects, object after object (``first[k]`` is object
k's first row, ``first[k + 1] - first[k]`` its view count): ``inputs`` (V, 3, S, S) uint8
network inputs, ``K``/``R`` (V, 3, 3) and ``t`` (V, 3) float32 cameras, ``sd`` (V, H, W)
float32 signed distance, ``mask`` (V, H, W) uint8, ``bias`` (V, H, W) float32 boundary bias
δ for one R, ``fg`` (V, P, 2) float32 silhouette pixel centres (P = FG_SAMPLES).

Every object's maps depend on its scene alone (core.train.view_maps; its ``fg`` samples come
from ``numpy.random.default_rng((FG_SEED, k))``), so every number is the same whichever
process makes it, in whatever order, in memory or on disk.

On disk (``folder`` = ``<root>/<key>``): one ``<name>.bin`` per array plus ``meta.json``
(shapes, view counts) and ``done.bin`` (one byte per object, 1 once its rows are written).
Making the folder reads only each object's scene.json and first mask header (view counts,
image size, images or not), refusing mixed inputs and differing image sizes there; the files
are sparse until filled. :meth:`ViewArrays.ensure` makes a missing object's maps (in the
process that first needs them: a DataLoader worker or the training), writes its rows, then its
``done`` byte; two processes making the same object write the same bytes. δ for the folder's
R is filled with the maps; δ for another R is made from every mask (the missing objects made
first) and added as ``bias-R<R>.bin``. The key hashes the dataset folder, the split's ids, the
input size and the size and modification time of every file in each object's folder
(``<dataset>/<id>/``), so a changed dataset gets a new folder; objects stored elsewhere (DPC
renders) are recognised by id only. A lock file lets one process make the folder while others
(torchrun ranks) wait for it. Making one deletes the stores of datasets whose folder is gone;
deleting the root by hand is safe whenever no training runs.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from core.drwr.silhouette import boundary_bias
from core.io.dataset import DrwrDataset
from core.io.scene import SceneError
from core.train.view_folder import MAP_NAMES, locked, make_folder, prune, write_object
from core.train.view_inputs import input_image, loss_grid
from core.train.view_maps import FG_SAMPLES, fg_samples, object_maps

__all__ = ["CACHE_VERSION", "FG_SAMPLES", "ViewArrays", "build_arrays", "build_workers",
           "default_cache_root", "input_image", "loss_grid", "split_key"]

#: bump when any stored number changes, so old folders are not reused
CACHE_VERSION = 4
#: objects per worker task
CHUNK = 4


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


def _chunk_maps(ids: list[str]) -> list[dict[str, Any]]:
    """The arrays of a few objects (view_maps.object_maps), made here for the parent."""
    j = _JOB
    return [object_maps(j["ds"], oid, j["S"], j["R"], j["loss"], j["gt"]) for oid in ids]


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
    """Flat per-view arrays of one split (see module): in memory, or in ``folder`` (then
    ``done`` (objects,) uint8 says which objects are written, and ``ds`` makes the rest)."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                 gt: list[np.ndarray | None], folder: Path | None, built: bool,
                 done: np.ndarray | None = None, ds: DrwrDataset | None = None) -> None:
        self.meta, self.arrays, self.gt, self.folder, self.built = meta, arrays, gt, folder, built
        self.done, self.ds = done, ds
        self.n_views = np.asarray(meta["n_views"], np.int64)
        self.first = np.concatenate([[0], np.cumsum(self.n_views)]).astype(np.int64)

    @staticmethod
    def open(folder: Path, ds: DrwrDataset | None = None) -> ViewArrays:
        """The store in ``folder`` (read-only memmaps; ``ds`` makes its missing objects);
        OSError/KeyError if broken."""
        meta = json.loads((folder / "meta.json").read_text())
        arrays = {name: np.memmap(folder / f"{name}.bin", np.dtype(dt), "r", shape=tuple(sh))
                  for name, (sh, dt) in meta["arrays"].items()}
        done = np.memmap(folder / "done.bin", np.uint8, "r", shape=(len(meta["ids"]),))
        return ViewArrays(meta, arrays, [None] * len(meta["n_views"]), folder, False, done, ds)

    def missing(self) -> list[int]:
        """The objects whose rows are not written yet."""
        return [] if self.done is None else np.flatnonzero(self.done == 0).tolist()

    def ensure(self, k: int) -> None:
        """Make and write object ``k``'s rows when missing (SceneError naming its file when
        it cannot be read)."""
        if self.done is None or self.done[k]:
            return
        m = self.meta
        if self.ds is None:
            raise RuntimeError(f"{self.folder}: object {k} is not built and no dataset is given")
        o = object_maps(self.ds, m["ids"][k], m["input_size"], m["R"], m["loss_size"], False)
        write_object(self.folder, m, int(self.first[k]), k, o)

    def fill(self, workers: int) -> None:
        """Make and write every missing object (in ``workers`` processes)."""
        todo = self.missing()
        if not todo:
            return
        if self.ds is None:
            raise RuntimeError(f"{self.folder}: objects are not built and no dataset is given")
        m = self.meta
        chunks = [todo[a:a + CHUNK] for a in range(0, len(todo), CHUNK)]
        job = {"ds": self.ds, "S": m["input_size"], "R": m["R"], "gt": False,
               "loss": m["loss_size"]}
        ids = [[m["ids"][k] for k in part] for part in chunks]
        for part, objs in zip(chunks, _ordered(_chunk_maps, ids, job, workers)):
            for k, o in zip(part, objs):
                write_object(self.folder, m, int(self.first[k]), k, o)

    def bias(self, R: int, workers: int) -> np.ndarray:
        """δ (V, H, W) for ``R``. In a folder: the folder's R is filled with the maps; another
        R is read when there, else made from every mask (the missing objects made first, in
        ``workers`` processes, a few hundred views at a time) and stored."""
        name = f"bias-R{R}"
        if self.folder is None:
            return _join(_ordered(_bias_rows, _row_chunks(len(self.arrays["mask"])),
                                  {"mask": self.arrays["mask"], "R": R}, 0))
        path = self.folder / f"{name}.bin"
        shape = self.arrays["sd"].shape
        if R != self.meta["R"]:
            with locked(self.folder.with_suffix(".lock")):
                if not path.is_file():
                    self.fill(workers)
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


def build_arrays(ds: DrwrDataset, ids: list[str], input_size: int, R: int, gt_points: int = 0,
                 folder: Path | None = None, workers: int = 0,
                 progress: Callable[[Iterable], Iterable] | None = None,
                 loss_size: int = 0) -> ViewArrays:
    """The arrays of ``ids`` (see module): built in memory (``folder`` None), or the store in
    ``folder``, reused when there, else made there with every object still to build
    (:meth:`ViewArrays.ensure` builds one; its ``bias`` file holds δ for ``R``).
    ``loss_size`` > 0: masks and cameras brought down to that longest side (view_inputs.loss_grid)
    before the maps are made; the maps' size (``meta["size"]``) is then that grid's.

    ``gt_points`` > 0 keeps up to that many ground-truth points per object in ``gt`` (in
    memory; None where missing); ``progress`` wraps the per-object iterable of a build (in
    memory) or of the look at every object's scene.json (a folder).
    """
    if folder is None:
        return _build(ds, ids, input_size, R, gt_points, workers, progress, loss_size)
    built = False
    with locked(folder.with_suffix(".lock")):
        if not (folder / "meta.json").is_file():
            make_folder(folder, ds, ids, input_size, R, loss_size, progress)
            prune(folder.parent)
            built = True
    store = ViewArrays.open(folder, ds)
    store.built = built
    return store


def _build(ds: DrwrDataset, ids: list[str], S: int, R: int, gt_points: int, workers: int,
           progress: Callable | None, loss_size: int = 0) -> ViewArrays:
    chunks = [ids[a:a + CHUNK] for a in range(0, len(ids), CHUNK)]
    job = {"ds": ds, "S": S, "R": R, "gt": gt_points > 0, "loss": loss_size}
    objects = (o for part in _ordered(_chunk_maps, chunks, job, workers) for o in part)
    it = progress(_Sized(objects, len(ids))) if progress else objects
    try:
        return _store(it, S, R, gt_points, ids, str(Path(ds.root).resolve()))
    finally:
        objects.close()  # stops the workers when the parent fails


def _store(it: Iterable[dict[str, Any]], S: int, R: int, gt_points: int, ids: list[str],
           dataset: str) -> ViewArrays:
    """Join the objects' arrays in order, with their ``fg`` samples and ground-truth
    subsets (object k's from ``default_rng((FG_SEED, k))``, the subset after the samples)."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in (*MAP_NAMES, "bias")}
    size, grid, n_views, has_images, gts = None, None, [], True, []
    with_images, without = 0, None  # the input is one kind: images for all, or masks
    for k, o in enumerate(it):
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
        fg, rng = fg_samples(o["mask"], k)
        for name in parts:
            parts[name].append(fg if name == "fg" else o[name])
        gt = o["gt"]
        if gt is not None and len(gt) > gt_points:
            gt = gt[rng.choice(len(gt), gt_points, replace=False)]
        gts.append(None if gt is None else np.asarray(gt, np.float32))
    arrays = {name: np.concatenate(p) for name, p in parts.items()}
    meta = {"version": CACHE_VERSION, "dataset": dataset, "input_size": S,
            "size": list(grid or (0, 0)), "image_size": list(size or (0, 0)),
            "has_images": bool(has_images), "ids": ids, "n_views": n_views, "R": R,
            "arrays": {k: (list(a.shape), a.dtype.str) for k, a in arrays.items()
                       if k != "bias"}}
    return ViewArrays(meta, arrays, gts, None, True)
