"""Baselines of single-view reconstruction papers (Tatarchenko et al., CVPR 2019), on a
:class:`core.io.dataset.DrwrDataset`:

- **category medoid**: per category, the training shape with the smallest mean Chamfer
  distance to the other training shapes of its category; predicted for every input of that
  category (it uses the input's category label, which a network is not given).
- **silhouette retrieval**: the training object one of whose view masks has the highest IoU
  with the input view's mask, over every view of every training object (a mask depends on the
  viewpoint, so all views are candidates); its ground truth is the prediction. No category
  label is used.

Both predict ground-truth clouds subsampled to ``n_points`` (seeded), in the canonical frame.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.spatial import cKDTree

from core.io.dataset import DrwrDataset
from core.io.scene import SceneError

__all__ = ["subsample", "category_medoids", "pairwise_chamfer", "SilhouetteRetrieval"]

_CHUNK = 8192  # stored views per float32 matmul block (masks are kept as bool)


def subsample(points: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` rows (n, 3) of ``points`` (N, 3): a seeded subset without replacement when
    N >= n, else all rows plus a seeded resample to reach n."""
    pts = np.asarray(points, np.float64)
    rng = np.random.default_rng(seed)
    if len(pts) >= n:
        return pts[np.sort(rng.choice(len(pts), n, replace=False))]
    return np.concatenate([pts, pts[rng.integers(0, len(pts), n - len(pts))]])


def pairwise_chamfer(clouds: list[np.ndarray]) -> np.ndarray:
    """(M, M) symmetric matrix of Chamfer ×100 (core.metrics.chamfer's ``cd``: mean of the two
    directions' mean Euclidean nearest-neighbour distances) between the clouds (N_i, 3)."""
    trees = [cKDTree(c) for c in clouds]
    m = len(clouds)
    d = np.zeros((m, m))  # d[i, j]: mean distance from cloud i to cloud j
    for j, tree in enumerate(trees):
        for i, c in enumerate(clouds):
            if i != j:
                d[i, j] = tree.query(c, k=1)[0].mean()
    return 100.0 * (d + d.T) / 2


def category_medoids(ds: DrwrDataset, split: str = "train", n_points: int = 2048,
                     max_objects: int = 300) -> dict[str, tuple[str, np.ndarray]]:
    """category -> (id, points (n_points, 3)) of its medoid among ``split``'s objects with
    ground truth (objects without ground truth are skipped; a category with none is absent).
    Ties go to the first id in split order. A category with more than ``max_objects`` such
    objects (big ShapeNet categories) is searched on a seeded random subset of that many, to
    keep the O(n^2) Chamfer matrix affordable."""
    by_cat: dict[str, list[str]] = {}
    for obj_id in ds.ids(split):
        by_cat.setdefault(ds.category(obj_id), []).append(obj_id)
    out = {}
    for cat, ids in by_cat.items():
        if len(ids) > max_objects:
            rng = np.random.default_rng(len(ids))
            ids = [ids[i] for i in np.sort(rng.choice(len(ids), max_objects, replace=False))]
        items = [(i, subsample(g, n_points)) for i in ids
                 if (g := ds.scene(i).gt_points) is not None and len(g)]
        if not items:
            continue
        if len(items) == 1:
            out[cat] = items[0]
            continue
        cd = pairwise_chamfer([p for _, p in items])
        mean = cd.sum(1) / (len(items) - 1)
        out[cat] = items[int(np.argmin(mean))]
    return out


def _resize_mask(mask: np.ndarray, res: int) -> np.ndarray:
    """(h, w) bool: ``mask`` area-averaged so its longest side is at most ``res``, >= 0.5."""
    H, W = mask.shape
    s = min(1.0, res / max(H, W))
    if s >= 1.0:
        return np.asarray(mask, bool)
    size = (max(1, round(W * s)), max(1, round(H * s)))
    return np.asarray(Image.fromarray(mask.astype(np.float32)).resize(size, Image.BOX)) >= 0.5


class SilhouetteRetrieval:
    """Nearest training view by mask IoU. ``res``: masks larger than this (longest side) are
    compared area-averaged down to it (memory for big datasets); 0 keeps the native size."""

    def __init__(self, res: int = 64, n_points: int = 2048) -> None:
        self.res, self.n_points = res, n_points
        self.ids: list[str] = []
        self.view_owner = np.zeros(0, np.int64)  # (M,) index into ids of each stored view
        self.masks = np.zeros((0, 0), bool)  # (M, h*w)
        self.areas = np.zeros(0, np.float32)  # (M,)
        self.points: list[np.ndarray] = []
        self.shape: tuple[int, int] | None = None

    def _prep(self, mask: np.ndarray) -> np.ndarray:
        m = _resize_mask(np.asarray(mask, bool), self.res) if self.res else np.asarray(mask, bool)
        if self.shape is not None and m.shape != self.shape:
            raise ValueError(f"mask of size {mask.shape[1]}x{mask.shape[0]} does not match the "
                             f"training masks ({self.shape[1]}x{self.shape[0]} after resizing)")
        return m

    def fit(self, ds: DrwrDataset, split: str = "train") -> "SilhouetteRetrieval":
        """Store every view mask of ``split``'s objects that have ground truth."""
        rows, owner = [], []
        for obj_id in ds.ids(split):
            scene = ds.scene(obj_id)
            if scene.gt_points is None or not len(scene.gt_points):
                continue
            for m in scene.masks:
                m = self._prep(m)
                self.shape = m.shape
                rows.append(m.ravel())
                owner.append(len(self.ids))
            self.ids.append(obj_id)
            self.points.append(subsample(scene.gt_points, self.n_points))
        if not self.ids:
            raise SceneError(f"{ds.root}: no {split} object has ground truth to retrieve")
        self.masks = np.stack(rows)
        self.areas = self.masks.sum(1).astype(np.float32)
        self.view_owner = np.asarray(owner)
        return self

    def ious(self, mask: np.ndarray) -> np.ndarray:
        """(M,) IoU of ``mask`` (H, W) with every stored view."""
        q = self._prep(mask).ravel().astype(np.float32)
        inter = np.concatenate([self.masks[i:i + _CHUNK].astype(np.float32) @ q
                                for i in range(0, len(self.masks), _CHUNK)])
        union = self.areas + q.sum() - inter
        return np.where(union > 0, inter / np.maximum(union, 1), 0.0)

    def query(self, mask: np.ndarray) -> str:
        """Id of the training object whose best view has the highest IoU with ``mask``."""
        return self.ids[self.view_owner[int(np.argmax(self.ious(mask)))]]

    def predict(self, mask: np.ndarray) -> tuple[str, np.ndarray]:
        """(id, points (n_points, 3)) of the retrieved object."""
        obj = self.view_owner[int(np.argmax(self.ious(mask)))]
        return self.ids[obj], self.points[obj]
