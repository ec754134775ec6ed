"""Silhouette guard of the learned surface correction: moves may not uncover the masks.

The true object fills every silhouette. Hull-surface samples moved inward by the learned
depth prior (core.correction.depth) can leave part of a mask without any point, most often at
few views, where the hull is a coarse polyhedron around a solid and the prior takes its
faces for the lens-shaped hull around a thin plate. :func:`keep_silhouettes` finds the mask
pixels the samples covered before their moves and no longer cover after them, and takes the
samples that covered them back towards the hull, halving their move each round. A correct
move (a lens collapsed onto the plate inside it) keeps the silhouettes covered and is left
alone.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.io.scene import Scene
from core.hull.inside import footprint, point_pixels

__all__ = ["keep_silhouettes", "footprints"]

_CROSS = ndimage.generate_binary_structure(2, 1)


def footprints(points: np.ndarray, scene: Scene, grow: int = 1) -> np.ndarray:
    """(I, H, W) bool: the pixels the points (N, 3) fall on in each view, grown by ``grow``
    pixels (4-neighbourhood steps) so that the gaps between neighbouring samples close."""
    out = footprint(np.asarray(points, np.float64).reshape(-1, 3), scene)
    if grow > 0:
        for i in range(len(out)):
            out[i] = ndimage.binary_dilation(out[i], _CROSS, iterations=grow)
    return out


def keep_silhouettes(scene: Scene, before: np.ndarray, after: np.ndarray,
                     fixed: np.ndarray | None = None, rounds: int = 4) -> np.ndarray:
    """(N, 3) float64: ``after`` (N, 3), the samples ``before`` (N, 3) moved by the depth
    prior, with the moves of the samples that uncovered mask pixels halved, up to ``rounds``
    times. A pixel is uncovered when it is in the mask and in the footprint of ``before`` (with
    ``fixed`` (M, 3), points that stay where they are) but not in that of the current samples;
    the samples taken back are those whose ``before`` position falls on or next to such a
    pixel in some view and that moved."""
    before = np.asarray(before, np.float64)
    after = np.asarray(after, np.float64)
    step = after - before
    moved = np.abs(step).sum(1) > 0
    if not moved.any():
        return after.copy()
    masks = np.asarray(scene.masks, bool)
    # the fixed points' footprint once: growing a union is the union of the grown parts
    held = footprints(np.zeros((0, 3)) if fixed is None else fixed, scene)
    was = (footprints(before, scene) | held) & masks
    rr, cc, ok = point_pixels(before, scene)
    s = np.ones(len(before))
    for _ in range(rounds):
        cur = before + s[:, None] * step
        lost = was & ~(footprints(cur, scene) | held)
        if not lost.any():
            break
        near = np.zeros(len(before), bool)
        for i in range(len(masks)):
            if lost[i].any():
                grown = ndimage.binary_dilation(lost[i], _CROSS)
                near |= ok[i] & grown[rr[i], cc[i]]
        near &= moved
        if not near.any():
            break
        s[near] *= 0.5
    return before + s[:, None] * step
