"""Snap points into every mask with the smallest image-plane moves.

The inside test of :func:`core.hull.inside.inside_all` asks that the *nearest pixel* of a point's
projection be foreground in every view, i.e. that the projection lie in the union of the
foreground pixel squares. A point on the true surface lies on a silhouette edge in the views
where it is on the rim, and passes that test only about half the time. Instead of pulling
the whole surface a fixed distance inside every mask, :func:`snap_inside` moves only the
points that fail, by the smallest image-plane displacement that puts the projection
``margin`` pixels inside the nearest foreground pixel square, at constant depth in that view
(so the point moves parallel to that image plane). Views are visited in turn for a few
passes, because a move in one view can take a point out of another.

:func:`snap_nearest` comes first in the fit: it moves each failing point to the *nearest*
point, in 3-D, that passes the test in every view at once (a search over a lattice of offsets
up to ``radius_px`` pixels, shortest first). On parts under two pixels thin the per-view moves
of :func:`snap_inside` zig-zag between views and land far from where they started; the
nearest inside point does not. Points it cannot settle are left to :func:`snap_inside`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.geometry.cameras import pixel_sizes, project_np
from core.hull.inside import nearest_pixels
from core.io.scene import Scene

__all__ = ["snap_inside", "snap_nearest", "nearest_offsets", "pixel_size"]


def _nearest_foreground(masks: np.ndarray) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per view: (rows, cols) (H, W) of the nearest foreground pixel of every pixel; None for
    an empty mask."""
    out: list[tuple[np.ndarray, np.ndarray] | None] = []
    for m in masks:
        if not m.any():
            out.append(None)
            continue
        _, (r, c) = ndimage.distance_transform_edt(~m, return_indices=True)
        out.append((r, c))
    return out


def snap_inside(points: np.ndarray, scene: Scene, passes: int = 12,
                margin: float = 0.05) -> np.ndarray:
    """(J, 3) copy of ``points`` moved so that each projects into every mask.

    Args:
        points: (J, 3) world points. Points behind a camera are left alone in that view.
        scene: cameras and masks.
        passes: sweeps over all views (moves stop early when none is needed).
        margin: pixels inside the edge of the nearest foreground pixel square.

    Returns:
        (J, 3) float32 points; each point moved only in the views where it failed.
    """
    pts = np.asarray(points, np.float64).copy()
    masks = np.asarray(scene.masks, bool)
    H, W = masks.shape[1:]
    nearest = _nearest_foreground(masks)
    half = 0.5 - margin  # targets lie within this many pixels of a foreground pixel's centre
    for _ in range(passes):
        moved = 0
        for i in range(len(masks)):
            if nearest[i] is None:
                continue
            K, R, t = (np.asarray(a, np.float64) for a in (scene.K[i], scene.R[i], scene.t[i]))
            uv, z = project_np(pts, K[None], R[None], t[None])
            u, v, z = uv[0, :, 0], uv[0, :, 1], z[0]
            r, c, ok = nearest_pixels(uv[0], z, H, W)  # exactly the inside test's rule
            bad = (z > 1e-9) & ~(ok & masks[i][r, c])
            if not bad.any():
                continue
            rn, cn = nearest[i][0][r[bad], c[bad]], nearest[i][1][r[bad], c[bad]]
            u2 = np.clip(u[bad], cn - half, cn + half)
            v2 = np.clip(v[bad], rn - half, rn + half)
            # back-project the moved pixel at the point's depth in this view (inverse of K)
            y2 = (v2 - K[1, 2]) / K[1, 1]
            x2 = (u2 - K[0, 2] - K[0, 1] * y2) / K[0, 0]
            cam2 = np.stack([x2 * z[bad], y2 * z[bad], z[bad]], 1)
            pts[bad] = (cam2 - t) @ R  # R^T (cam - t) for row vectors
            moved += int(bad.sum())
        if moved == 0:
            break
    return pts.astype(np.float32)


def _inside_every(points: np.ndarray, scene: Scene, masks: np.ndarray) -> np.ndarray:
    """(N,) bool, exactly :func:`core.hull.inside.inside_all` of points (N, 3), view by view: a
    point that fails one view is not projected into the next."""
    H, W = masks.shape[1:]
    alive = np.arange(len(points))
    for i in range(len(masks)):
        if len(alive) == 0:
            break
        uv, z = project_np(points[alive], scene.K[i : i + 1], scene.R[i : i + 1],
                           scene.t[i : i + 1])
        r, c, ok = nearest_pixels(uv[0], z[0], H, W)
        alive = alive[ok & masks[i][r, c]]
    out = np.zeros(len(points), bool)
    out[alive] = True
    return out


def pixel_size(points: np.ndarray, scene: Scene) -> np.ndarray:
    """(N,) world size of one pixel at points (N, 3) in front of the cameras: the median over
    views of :func:`core.geometry.cameras.pixel_sizes` (as core.correction.depth's features)."""
    _, z = project_np(np.asarray(points, np.float64), scene.K, scene.R, scene.t)
    return np.median(pixel_sizes(z, scene.K), 0)


def nearest_offsets(radius: float, step: float) -> np.ndarray:
    """(K, 3) non-zero offsets of the cubic lattice ``step * Z^3`` within ``radius``, shortest
    first (ties in lattice order)."""
    k = int(np.floor(radius / step + 1e-9))
    g = np.arange(-k, k + 1) * step
    off = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    n = np.linalg.norm(off, axis=1)
    keep = (n > 0) & (n <= radius + 1e-12)
    off, n = off[keep], n[keep]
    return off[np.argsort(n, kind="stable")]


def snap_nearest(points: np.ndarray, scene: Scene, radius_px: float = 1.5,
                 step_px: float = 0.2, batch: int = 48) -> np.ndarray:
    """(J, 3) float32 copy of ``points`` where each point outside some mask
    (:func:`core.hull.inside.inside_all`) moved to the nearest lattice point around it that is
    inside every mask: offsets :func:`nearest_offsets` (``radius_px``, ``step_px``) times the
    point's pixel size (world units; the median over views of depth / focal length), tried
    shortest first. Points inside stay; points with no inside offset stay where they were.

    Args:
        points: (J, 3) world points.
        scene: cameras and masks.
        radius_px, step_px: search radius and lattice step, in pixels.
        batch: offsets tried together (memory: J_out * batch * I projections).
    """
    P = np.asarray(points, np.float32).copy()
    masks = np.asarray(scene.masks, bool)
    todo = np.flatnonzero(~_inside_every(P, scene, masks))
    if len(todo) == 0:
        return P
    px = pixel_size(P[todo], scene)
    off = nearest_offsets(radius_px, step_px)
    src = P[todo].astype(np.float64)
    alive = np.ones(len(todo), bool)
    for s in range(0, len(off), batch):
        idx = np.flatnonzero(alive)
        if len(idx) == 0:
            break
        o = off[s : s + batch]
        cand = (src[idx, None] + px[idx, None, None] * o[None]).astype(np.float32)
        hit = _inside_every(cand.reshape(-1, 3), scene, masks).reshape(len(idx), len(o))
        found = hit.any(1)
        first = np.argmax(hit, 1)
        P[todo[idx[found]]] = cand[found, first[found]]
        alive[idx[found]] = False
    return P
