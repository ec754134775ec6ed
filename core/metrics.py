"""Point-cloud metrics: DPC-protocol Chamfer (x100), F-score, and silhouette consistency.

Chamfer follows the DPC / DRWR protocol: Euclidean (not squared) nearest-neighbour distances,
averaged per direction, multiplied by 100; ``cd`` is the mean of the two directions.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from core.geometry.cameras import project_np
from core.hull.inside import footprint, inside_all, nearest_pixels
from core.io.scene import Scene

__all__ = ["chamfer", "fscore", "inside_fraction", "silhouette_iou", "silhouette_cover",
           "cloud_metrics", "FSCORE_TAUS"]

FSCORE_TAUS = (0.01, 0.02)  # in scene units (normalised objects: bbox diagonal 1)


def _points(a: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(a, np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must be (N, 3), got {arr.shape}")
    if len(arr) == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite coordinates")
    return arr


def _nn_dist(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(len(src),) distance from each src point to its nearest dst point."""
    return cKDTree(dst).query(src, k=1)[0]


def _chamfer_of(dp: np.ndarray, dg: np.ndarray) -> dict[str, float]:
    """Chamfer x100 from nearest-neighbour distances pred->gt dp (N,) and gt->pred dg (M,)."""
    a, b = 100.0 * float(dp.mean()), 100.0 * float(dg.mean())
    return {"cd": (a + b) / 2, "cd_pred_gt": a, "cd_gt_pred": b}


def _fscore_of(dp: np.ndarray, dg: np.ndarray, tau: float) -> float:
    """F-score at ``tau`` from nearest-neighbour distances dp (N,), dg (M,)."""
    prec, rec = float((dp <= tau).mean()), float((dg <= tau).mean())
    return 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)


def chamfer(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Chamfer x100 between pred (N,3) and gt (M,3).

    Returns ``cd_pred_gt = 100 * mean_i min_j |p_i - g_j|``, ``cd_gt_pred`` likewise and
    ``cd = (cd_pred_gt + cd_gt_pred) / 2``.
    """
    p, g = _points(pred, "pred"), _points(gt, "gt")
    return _chamfer_of(_nn_dist(p, g), _nn_dist(g, p))


def fscore(pred: np.ndarray, gt: np.ndarray, tau: float) -> float:
    """F-score at distance ``tau``: precision = fraction of pred within tau of gt, recall =
    fraction of gt within tau of pred, F = 2PR / (P + R) (0 when both are 0)."""
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    p, g = _points(pred, "pred"), _points(gt, "gt")
    return _fscore_of(_nn_dist(p, g), _nn_dist(g, p), tau)


def inside_fraction(points: np.ndarray, scene: Scene) -> float:
    """Fraction of points (J,3) that are :func:`inside_all` masks."""
    return float(inside_all(_points(points, "points"), scene).mean())


def silhouette_iou(points: np.ndarray, scene: Scene, close_px: int = 1) -> np.ndarray:
    """Per-view IoU (I,) between each mask M and the points' rendered footprint A.

    Rule: every visible point (in front of the camera, inside the image) marks its nearest
    pixel; gaps between points are filled by a morphological closing (dilation then erosion)
    with a disc of radius ``close_px`` pixels (radius 1: the pixel and its 4 neighbours), which
    fills holes up to about 2 px without growing the outline; IoU = |A & M| / |A | M|
    (1 when both are empty).
    """
    p = _points(points, "points")
    if close_px < 0:
        raise ValueError(f"close_px must be >= 0, got {close_px}")
    H, W = scene.resolution
    hit = footprint(p, scene)
    if close_px > 0:
        d = np.arange(-close_px, close_px + 1)
        disc = (d[:, None] ** 2 + d[None, :] ** 2) <= close_px**2
        pad = ((0, 0), (close_px, close_px), (close_px, close_px))  # no erosion at the border
        hit = ndimage.binary_closing(np.pad(hit, pad), structure=disc[None])[
            :, close_px : close_px + H, close_px : close_px + W]
    inter = (hit & scene.masks).sum((1, 2))
    union = (hit | scene.masks).sum((1, 2))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def silhouette_cover(points: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray,
                     masks: np.ndarray) -> tuple[float, float]:
    """How a cloud (J, 3) covers its silhouettes (I, H, W) bool: (coverage, inside).

    coverage: mean over views of the fraction of silhouette pixels that some point projects
    to (nearest pixel; a collapsed cloud covers little). inside: fraction of (view, point)
    projections that land in the silhouette (core.hull.inside.nearest_pixels rule).
    """
    uv, z = project_np(points, K, R, t)
    I, H, W = masks.shape
    rr, cc, ok = nearest_pixels(uv, z, H, W)
    hit = np.zeros_like(masks)
    for i in range(I):  # I views of one object, off the training path
        hit[i, rr[i][ok[i]], cc[i][ok[i]]] = True
    cover = (hit & masks).sum((1, 2)) / np.maximum(masks.sum((1, 2)), 1)
    inside = masks[np.arange(I)[:, None], rr, cc] & ok
    return float(cover.mean()), float(inside.mean())


def cloud_metrics(pred: np.ndarray, ref: Scene | np.ndarray) -> dict[str, object]:
    """All metrics of pred (N,3) against a Scene or a ground-truth cloud (M,3).

    Keys: cd, cd_pred_gt, cd_gt_pred, fscore_0.01, fscore_0.02 (when ground truth exists);
    inside_fraction, iou_mean, iou_per_view (list) when ``ref`` is a Scene.
    """
    p = _points(pred, "pred")
    out: dict[str, object] = {}
    gt = ref.gt_points if isinstance(ref, Scene) else _points(ref, "ground truth")
    if gt is not None:
        gt = _points(gt, "ground truth")
        dp, dg = _nn_dist(p, gt), _nn_dist(gt, p)  # once for the Chamfer and every F-score
        out.update(_chamfer_of(dp, dg))
        for tau in FSCORE_TAUS:
            out[f"fscore_{tau}"] = _fscore_of(dp, dg, tau)
    if isinstance(ref, Scene):
        out["inside_fraction"] = inside_fraction(p, ref)
        iou = silhouette_iou(p, ref)
        out["iou_mean"] = float(iou.mean())
        out["iou_per_view"] = [float(x) for x in iou]
    return out
