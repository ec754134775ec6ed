"""Training data: every view's silhouette maps computed once, batches drawn in DataLoader
workers.

:class:`ViewCache` holds, per view of the objects of one split, the network input (resized
RGB or mask, uint8), the camera and the DRWR maps of core.drwr.silhouette: signed distance
``sd`` (px), ``mask`` and boundary bias ``bias`` (δ for the current R; made for all views only
when R changes). They are either built at once, in parallel, and kept in memory, or kept in a folder
(core.train.view_store) read in place (np.memmap), where each object's maps are made the first
time one of its items is loaded and later runs reuse them: then a training starts without
building anything first and its memory does not grow with the number of objects. Nothing is
recomputed once made.
:class:`SilhouetteViews` is the torch Dataset over it: item ``(index, key)`` -> the object's
input view (random in training, a fixed view for validation), V supervising views' cameras
and maps; all randomness comes from ``numpy.random.default_rng(key)``, so a batch is the same
whichever worker loads it (needed for exact resume).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from core.io.dataset import DrwrDataset
from core.io.scene import Scene, SceneError
from core.train.view_store import (
    FG_SAMPLES,
    ViewArrays,
    build_arrays,
    build_workers,
    default_cache_root,
    split_key,
)
from core.train.view_inputs import input_image

__all__ = [
    "COVER_SAMPLES",
    "FG_SAMPLES",
    "SilhouetteViews",
    "ViewCache",
    "collate",
    "input_image",
    "input_tensor",
    "next_batch",
    "shift_scale",
    "worker_message",
]

#: silhouette samples drawn per item from the FG_SAMPLES kept per view (coverage term)
COVER_SAMPLES = 128


def input_tensor(scene: Scene, view: int, size: tuple[int, int]) -> torch.Tensor:
    """(3, H', W') float32 in [0, 1]: :func:`input_image` as a tensor (the network's input;
    RGB composited on white when the scene has images, else the mask in 3 channels)."""
    img = np.array(input_image(scene, view, size))  # a writable copy
    return torch.from_numpy(img).permute(2, 0, 1).float() / 255.0


class ViewCache:
    """Per-view inputs, cameras and silhouette maps of the objects ``ids`` of ``ds``.

    Arrays are flat over views, object after object: object k has ``n_views[k]`` views in
    rows ``first[k]:first[k + 1]`` (:meth:`rows`). ``inputs`` (V, 3, S, S) uint8, ``K``/``R``
    (V, 3, 3) f32, ``t`` (V, 3) f32, ``sd``/``bias`` (V, H, W) f32, ``mask`` (V, H, W) uint8,
    ``fg`` (V, P, 2) f32 pixel centres (u, v) drawn uniformly from each silhouette
    (P = FG_SAMPLES, for the coverage term). ``loss_size`` > 0: masks and cameras brought
    down to that longest side (core.train.view_inputs.loss_grid) before the maps are made;
    H, W (``size``) are then that grid's. ``gt`` keeps up to ``gt_points`` ground-truth
    points per object (None when missing or ``gt_points`` is 0) for validation.

    ``cache_dir`` None builds the arrays in memory; a folder stores them in
    ``<cache_dir>/<key>`` (see core.train.view_store; "auto" = default_cache_root()), each
    object's rows made on first use (:meth:`ensure`), reused by later runs on the same files
    and read in place; ``gt_points`` must then be 0. ``workers`` processes build them in
    memory, or the missing objects of a folder when δ for another R needs every mask
    (default view_store.build_workers(): one per CPU, at most 4, none off the main thread);
    ``progress`` wraps the per-object iterable of a build or of a folder's look at every
    object's scene.json (a progress bar).
    """

    def __init__(self, ds: DrwrDataset, ids: list[str], input_size: int, R: int,
                 gt_points: int = 0, progress: Callable[[Iterable], Iterable] | None = None,
                 cache_dir: str | Path | None = None, workers: int | None = None,
                 loss_size: int = 0) -> None:
        if not ids:
            raise ValueError("no objects to load")
        if cache_dir is not None and gt_points:
            raise ValueError("ground-truth points are kept in memory only (cache_dir=None)")
        self.ids = list(ids)
        self.ds = ds
        self.input_size = input_size
        self.workers = build_workers() if workers is None else workers
        folder = None
        if cache_dir is not None:
            root = default_cache_root() if str(cache_dir) == "auto" else Path(cache_dir)
            folder = root / split_key(ds, self.ids, input_size, loss_size)
        self.store: ViewArrays = build_arrays(ds, self.ids, input_size, R, gt_points, folder,
                                              self.workers, progress, loss_size)
        self._attach()
        self.R_bias = -1
        if "bias" in self.store.arrays:  # made with the maps (in memory)
            self.bias, self.R_bias = self.store.arrays["bias"], R
        self.set_R(R)

    def _attach(self) -> None:
        st = self.store
        self.folder = st.folder
        self.size = tuple(st.meta["size"])  # the maps' (a loss grid's when one is set)
        self.image_size = tuple(st.meta["image_size"])  # the objects' images
        self.has_images = bool(st.meta["has_images"])
        self.n_views, self.first, self.gt = st.n_views, st.first, st.gt
        a = st.arrays
        self.inputs, self.K, self.R, self.t = a["inputs"], a["K"], a["R"], a["t"]
        self.sd, self.mask, self.fg = a["sd"], a["mask"], a["fg"]

    def __len__(self) -> int:
        return len(self.ids)

    def __getstate__(self) -> dict:
        """Pickled (spawned loader workers): a stored cache travels as its folder."""
        if self.folder is None:
            return self.__dict__
        return {k: v for k, v in self.__dict__.items()
                if k in ("ds", "ids", "input_size", "workers", "folder", "R_bias")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "store" not in state:
            self.store = ViewArrays.open(self.folder, self.ds)
            self._attach()
            self.bias = self.store.bias(self.R_bias, 0)

    def ensure(self, k: int) -> None:
        """Make object ``k``'s rows when a folder does not hold them yet (SceneError naming
        its file when it cannot be read)."""
        self.store.ensure(k)

    def rows(self, k: int) -> slice:
        """The rows of object ``k``'s views in the flat arrays."""
        return slice(int(self.first[k]), int(self.first[k + 1]))

    def set_R(self, R: int) -> None:
        """Make the boundary bias δ of every view for a new R (no-op when unchanged; stored
        caches keep δ of every R they have seen)."""
        if R == self.R_bias:
            return
        self.bias = self.store.bias(R, self.workers)
        self.R_bias = R


class SilhouetteViews(torch.utils.data.Dataset):
    """Items of a :class:`ViewCache` for training (``train=True``: random input view, colour
    jitter, ``shift``: random translation and scale of the input) or validation (input view
    ``view``, the first V views supervise).

    ``self[(index, key)]`` -> dict of tensors: ``input`` (3, S, S) float32 in [0, 1],
    ``K``/``R`` (V, 3, 3), ``t`` (V, 3), ``sd``/``mask``/``bias`` (V, H, W), ``fg``
    (V, COVER_SAMPLES, 2) silhouette samples jittered within their pixel, ``index``.
    """

    def __init__(self, cache: ViewCache, views: int, train: bool = True, jitter: float = 0.0,
                 view: int = 0, shift: float = 0.0) -> None:
        self.cache, self.V, self.train, self.jitter, self.view = cache, views, train, jitter, view
        self.shift = shift

    def __len__(self) -> int:
        return len(self.cache)

    def _fg(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(V, COVER_SAMPLES, 2) silhouette samples of the views in ``rows``, jittered
        in-pixel."""
        pick = rng.integers(FG_SAMPLES, size=(len(rows), COVER_SAMPLES))
        fg = self.cache.fg[rows[:, None], pick]
        return (fg + rng.uniform(-0.5, 0.5, fg.shape)).astype(np.float32)

    def __getitem__(self, item) -> dict[str, torch.Tensor]:
        k, key = item if isinstance(item, tuple) else (item, 0)
        c = self.cache
        c.ensure(k)
        n = int(c.n_views[k])
        rng = np.random.default_rng(key)
        if self.train:
            src = int(rng.integers(n))
            sup = rng.permutation(n)
            sup = np.resize(sup, self.V) if n < self.V else sup[: self.V]
        else:
            src = min(self.view, n - 1)
            sup = np.resize(np.arange(n), self.V)
        rows = int(c.first[k]) + sup
        x = c.inputs[int(c.first[k]) + src].astype(np.float32) / 255.0
        if self.train and self.shift > 0:
            a = self.shift
            x = shift_scale(x, rng.uniform(-a, a, size=2) * x.shape[1], 1.0 + rng.uniform(-a, a))
        if self.train and self.jitter > 0 and c.has_images:
            j = self.jitter
            gain = 1.0 + rng.uniform(-j, j, size=(3, 1, 1))
            bright = rng.uniform(-j, j) * 0.5
            contrast = 1.0 + rng.uniform(-j, j)
            mean = x.mean()
            x = np.clip((x * gain - mean) * contrast + mean + bright, 0.0, 1.0)
        return {
            "input": torch.from_numpy(np.ascontiguousarray(x, np.float32)),
            "K": _tensor(c.K[rows]), "R": _tensor(c.R[rows]), "t": _tensor(c.t[rows]),
            "sd": _tensor(c.sd[rows]), "bias": _tensor(c.bias[rows]),
            "mask": _tensor(c.mask[rows].astype(np.float32)),
            "fg": _tensor(self._fg(rows, rng)),
            "index": torch.tensor(k),
        }


def shift_scale(x: np.ndarray, shift: np.ndarray, scale: float) -> np.ndarray:
    """(3, S, S) float image scaled by ``scale`` about its centre, then moved by ``shift``
    (2,) pixels (rows, columns); bilinear, pixels from outside the image taking the colour of
    its top-left corner (its background). Returns a new (3, S, S) float32 array in the
    input's range."""
    c = (np.array(x.shape[1:], np.float64) - 1) / 2
    # output pixel o samples the input at (o - c - shift) / scale + c
    offset = c - (c + np.asarray(shift, np.float64)) / scale
    out = np.empty(x.shape, np.float32)
    for ch in range(x.shape[0]):
        out[ch] = ndimage.affine_transform(x[ch], np.full(2, 1.0 / scale), offset=offset,
                                           order=1, mode="grid-constant",
                                           cval=float(x[ch, 0, 0]))
    return out


def _tensor(a: np.ndarray) -> torch.Tensor:
    """A tensor of rows read (fancy indexing: a copy) from a possibly memory-mapped array."""
    return torch.from_numpy(np.asarray(a))


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack items into a batch (B leading)."""
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def worker_message(exc: Exception) -> str:
    """The message of an error raised in a DataLoader worker (torch raises it again in the
    training with "Caught <type> in DataLoader worker ..." and the worker's traceback: the
    traceback's last line holds the message); others' own message."""
    text = str(exc)
    if not text.startswith(f"Caught {type(exc).__name__} "):
        return text
    last = text.rstrip().splitlines()[-1]
    return last.split(f"{type(exc).__name__}: ", 1)[-1]


def next_batch(loader_iter: Iterator) -> dict[str, torch.Tensor]:
    """The next batch of a DataLoader iterator; a SceneError from a worker (an object read
    the first time) raised again with its own one-line message."""
    try:
        return next(loader_iter)
    except SceneError as exc:
        raise SceneError(worker_message(exc)) from None
