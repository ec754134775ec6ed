"""The inside rule: the pixel a point falls on in each view, and whether a point is inside the
visual hull (its nearest pixel is foreground in every mask). The fit, the hull, the guard and
the metrics all use this one rule."""

from __future__ import annotations

import numpy as np

from core.geometry.cameras import project_np
from core.io.scene import Scene

__all__ = ["nearest_pixels", "point_pixels", "footprint", "inside_all"]


def nearest_pixels(uv: np.ndarray, z: np.ndarray, H: int, W: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inside test's pixel rule for projections uv (..., 2) at depths z (...) in an H x W
    image: nearest pixel (rows, cols) (...) int, clipped into the image, and visibility
    (...) bool (in front of the camera and inside the image)."""
    c = np.rint(uv[..., 0])
    r = np.rint(uv[..., 1])
    ok = (z > 0) & (c >= 0) & (c < W) & (r >= 0) & (r < H)
    rr = np.clip(r, 0, H - 1).astype(np.int64)
    cc = np.clip(c, 0, W - 1).astype(np.int64)
    return rr, cc, ok


def point_pixels(points: np.ndarray, scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest pixel (rows, cols) (I, J) int and visibility (I, J) bool (in front, in image)
    of points (J, 3) in every view of ``scene``."""
    uv, z = project_np(points, scene.K, scene.R, scene.t)
    return nearest_pixels(uv, z, *scene.resolution)


def footprint(points: np.ndarray, scene: Scene) -> np.ndarray:
    """(I, H, W) bool: the nearest pixel of every visible point (J, 3) in each view, before
    any closing or growing (:func:`silhouette_iou`, core.correction.guard)."""
    n, (H, W) = scene.n_views, scene.resolution
    hit = np.zeros(n * H * W, bool)
    if len(points):
        rr, cc, ok = point_pixels(points, scene)
        vi = np.broadcast_to(np.arange(n)[:, None], ok.shape)
        hit[(vi * H * W + rr * W + cc)[ok]] = True
    return hit.reshape(n, H, W)


def inside_all(points: np.ndarray, scene: Scene) -> np.ndarray:
    """(J,) bool: the nearest pixel of each point (J,3) is foreground in every mask.

    A point behind a camera or projecting outside an image counts as outside.
    """
    rr, cc, ok = point_pixels(points, scene)
    inside = scene.masks[np.arange(scene.n_views)[:, None], rr, cc] & ok
    return inside.all(0)
