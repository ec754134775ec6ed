"""Training data: every view's silhouette maps computed once, batches drawn in DataLoader
workers.

:class:`ViewCache` reads the objects of one split once and keeps, per object and view, the
network input (resized RGB or mask, uint8), the cameras and the DRWR maps of
core.drwr.silhouette: signed distance ``sd`` (px), ``mask`` and boundary bias ``bias`` (δ
for the current R; recomputed for all views only when R changes). Nothing is recomputed per
step. :class:`SilhouetteViews` is the torch Dataset over it: item ``(index, key)`` -> the
object's input view (random in training, a fixed view for validation), V supervising views'
cameras and maps; all randomness comes from ``numpy.random.default_rng(key)``, so a batch is
the same whichever worker loads it (needed for exact resume).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from core.drwr.silhouette import boundary_bias, signed_distance
from core.io.dataset import DrwrDataset
from core.io.scene import Scene, SceneError

__all__ = [
    "COVER_SAMPLES",
    "FG_SAMPLES",
    "SilhouetteViews",
    "ViewCache",
    "collate",
    "input_image",
    "input_tensor",
    "loss_grid",
]

#: silhouette pixel samples kept per view for the coverage term, and drawn from them per item
FG_SAMPLES = 512
COVER_SAMPLES = 128


def input_image(scene: Scene, view: int, size: tuple[int, int]) -> np.ndarray:
    """(H', W', 3) uint8 network input of ``view`` at ``size`` = (H', W').

    The view's image when the scene has images (RGBA composited on white), else its mask
    (foreground 255) repeated to 3 channels; resized with bilinear antialiasing.
    """
    if not 0 <= view < scene.n_views:
        raise SceneError(f"{scene.name}: view {view} does not exist ({scene.n_views} views)")
    if scene.images is not None:
        img = np.asarray(scene.images[view])
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, -1)
        if img.shape[-1] == 4:
            a = img[..., 3:4].astype(np.float32) / 255.0
            img = (img[..., :3] * a + 255.0 * (1 - a)).round().astype(np.uint8)
        img = img[..., :3].astype(np.uint8)
    else:
        img = np.repeat(scene.masks[view][..., None].astype(np.uint8) * 255, 3, -1)
    H, W = size
    if img.shape[:2] != (H, W):
        img = np.asarray(Image.fromarray(img).resize((W, H), Image.BILINEAR))
    return img


def input_tensor(scene: Scene, view: int, size: tuple[int, int]) -> torch.Tensor:
    """(3, H', W') float32 in [0, 1]: :func:`input_image` as a tensor (the network's input;
    RGB composited on white when the scene has images, else the mask in 3 channels)."""
    img = np.array(input_image(scene, view, size))  # a writable copy
    return torch.from_numpy(img).permute(2, 0, 1).float() / 255.0


def loss_grid(masks: np.ndarray, K: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks (I, H, W) bool and intrinsics K (I, 3, 3) brought down to longest side ``side``
    (no change when ``side`` is 0 or not smaller): masks area-averaged then ``>= 0.5``, K
    rescaled about pixel centres (``u' = (u + 0.5) s - 0.5``), as the dataset readers
    resize. Returns (masks (I, H', W') bool, K (I, 3, 3))."""
    H, W = masks.shape[1:]
    if not side or side >= max(H, W):
        return masks, K
    W2, H2 = max(1, round(W * side / max(H, W))), max(1, round(H * side / max(H, W)))
    sx, sy = W2 / W, H2 / H
    small = np.stack([np.asarray(Image.fromarray(m.astype(np.float32)).resize((W2, H2),
                                                                               Image.BOX))
                      for m in masks]) >= 0.5
    A = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return small, A @ K


class ViewCache:
    """Per-view inputs, cameras and silhouette maps of the objects ``ids`` of ``ds``.

    Arrays (N objects, I views padded to the most views of any object; ``n_views[k]`` real):
    ``inputs`` (N, I, 3, S, S) uint8, ``K``/``R`` (N, I, 3, 3) f32, ``t`` (N, I, 3) f32,
    ``sd``/``bias`` (N, I, H, W) f32, ``mask`` (N, I, H, W) uint8, ``fg`` (N, I, P, 2) f32
    pixel centres (u, v) drawn uniformly from each silhouette (P = FG_SAMPLES, for the
    coverage term). ``loss_size`` > 0: masks and cameras brought down to that longest side
    (:func:`loss_grid`) before the maps are made; H, W are then that grid's. ``gt`` keeps up to
    ``gt_points`` ground-truth points per object (None when missing) for validation.
    """

    def __init__(self, ds: DrwrDataset, ids: list[str], input_size: int, R: int,
                 gt_points: int = 0, progress=None, loss_size: int = 0) -> None:
        if not ids:
            raise ValueError("no objects to load")
        self.ids = list(ids)
        self.input_size = input_size
        scenes = []
        it = progress(self.ids) if progress else self.ids
        for oid in it:
            scenes.append(ds.scene(oid))
        n = len(scenes)
        I = max(s.n_views for s in scenes)
        native = scenes[0].resolution
        H, W = loss_grid(scenes[0].masks[:1], scenes[0].K[:1], loss_size)[0].shape[1:]
        self.size = (H, W)
        self.n_views = np.array([s.n_views for s in scenes], np.int64)
        S = input_size
        self.inputs = np.zeros((n, I, 3, S, S), np.uint8)
        self.K = np.zeros((n, I, 3, 3), np.float32)
        self.R = np.zeros((n, I, 3, 3), np.float32)
        self.t = np.zeros((n, I, 3), np.float32)
        self.sd = np.zeros((n, I, H, W), np.float32)
        self.mask = np.zeros((n, I, H, W), np.uint8)
        self.fg = np.zeros((n, I, FG_SAMPLES, 2), np.float32)
        self.gt: list[np.ndarray | None] = []
        self.has_images = all(s.images is not None for s in scenes)
        rng = np.random.default_rng(0)
        for k, s in enumerate(scenes):
            v = s.n_views
            if s.resolution != native:
                raise SceneError(f"{s.path or s.name}: image size {s.resolution} differs from "
                                 f"the first object's {native}")
            for i in range(v):
                self.inputs[k, i] = input_image(s, i, (S, S)).transpose(2, 0, 1)
            masks, K = loss_grid(s.masks, s.K, loss_size)
            self.K[k, :v], self.R[k, :v], self.t[k, :v] = K, s.R, s.t
            self.sd[k, :v] = signed_distance(masks)
            self.mask[k, :v] = masks
            for i in range(v):
                rr, cc = np.nonzero(masks[i])
                if not len(rr):
                    raise SceneError(f"{s.path or s.name}: view {i}'s mask is empty on the "
                                     f"{W}x{H} loss grid (a larger --loss-size keeps it)")
                pick = rng.integers(len(rr), size=FG_SAMPLES)
                self.fg[k, i] = np.stack([cc[pick], rr[pick]], 1)
            gt = s.gt_points
            if gt is not None and gt_points and len(gt) > gt_points:
                gt = gt[rng.choice(len(gt), gt_points, replace=False)]
            self.gt.append(None if gt is None else np.asarray(gt, np.float32))
        self.R_bias = -1
        self.bias = np.zeros_like(self.sd)
        self.set_R(R)

    def __len__(self) -> int:
        return len(self.ids)

    def set_R(self, R: int) -> None:
        """Recompute the boundary bias δ of every view for a new R (no-op when unchanged)."""
        if R == self.R_bias:
            return
        n, I, H, W = self.mask.shape
        flat = self.mask.reshape(n * I, H, W).astype(bool)
        self.bias = boundary_bias(flat, R).reshape(n, I, H, W)
        self.R_bias = R


class SilhouetteViews(torch.utils.data.Dataset):
    """Items of a :class:`ViewCache` for training (``train=True``: random input view, colour
    jitter) or validation (input view ``view``, the first V views supervise).

    ``self[(index, key)]`` -> dict of tensors: ``input`` (3, S, S) float32 in [0, 1],
    ``K``/``R`` (V, 3, 3), ``t`` (V, 3), ``sd``/``mask``/``bias`` (V, H, W), ``fg``
    (V, COVER_SAMPLES, 2) silhouette samples jittered within their pixel, ``index``.
    """

    def __init__(self, cache: ViewCache, views: int, train: bool = True, jitter: float = 0.0,
                 view: int = 0) -> None:
        self.cache, self.V, self.train, self.jitter, self.view = cache, views, train, jitter, view

    def __len__(self) -> int:
        return len(self.cache)

    def _fg(self, k: int, sup: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(V, COVER_SAMPLES, 2) silhouette samples of views ``sup``, jittered in-pixel."""
        pick = rng.integers(FG_SAMPLES, size=(len(sup), COVER_SAMPLES))
        fg = self.cache.fg[k, sup[:, None], pick]
        return (fg + rng.uniform(-0.5, 0.5, fg.shape)).astype(np.float32)

    def __getitem__(self, item) -> dict[str, torch.Tensor]:
        k, key = item if isinstance(item, tuple) else (item, 0)
        c = self.cache
        n = int(c.n_views[k])
        rng = np.random.default_rng(key)
        if self.train:
            src = int(rng.integers(n))
            sup = rng.permutation(n)
            sup = np.resize(sup, self.V) if n < self.V else sup[: self.V]
        else:
            src = min(self.view, n - 1)
            sup = np.resize(np.arange(n), self.V)
        x = c.inputs[k, src].astype(np.float32) / 255.0
        if self.train and self.jitter > 0 and c.has_images:
            j = self.jitter
            gain = 1.0 + rng.uniform(-j, j, size=(3, 1, 1))
            bright = rng.uniform(-j, j) * 0.5
            contrast = 1.0 + rng.uniform(-j, j)
            mean = x.mean()
            x = np.clip((x * gain - mean) * contrast + mean + bright, 0.0, 1.0)
        return {
            "input": torch.from_numpy(np.ascontiguousarray(x, np.float32)),
            "K": torch.from_numpy(c.K[k, sup]), "R": torch.from_numpy(c.R[k, sup]),
            "t": torch.from_numpy(c.t[k, sup]),
            "sd": torch.from_numpy(c.sd[k, sup]), "bias": torch.from_numpy(c.bias[k, sup]),
            "mask": torch.from_numpy(c.mask[k, sup].astype(np.float32)),
            "fg": torch.from_numpy(self._fg(k, sup, rng)),
            "index": torch.tensor(k),
        }


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack items into a batch (B leading)."""
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}
