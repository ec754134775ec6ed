"""Where the object is, for initialising fits: the box all cameras see it in, and random
points inside the visual hull (reusing the carving margin of :mod:`core.hull.visual_hull`)."""

from __future__ import annotations

import numpy as np

from core.hull.visual_hull import HULL_LEVEL, carve_box, carving_maps, carving_margin
from core.io.scene import Scene

__all__ = ["scene_box", "sample_in_hull"]


def scene_box(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """(lo (3,), hi (3,)) around everything that projects inside every mask.

    Raises SceneError naming the scene when no point does (cameras behind the object, masks
    that do not match the cameras).
    """
    return carve_box(scene, carving_maps(scene.masks))


def sample_in_hull(scene: Scene, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) points uniform in the visual hull (rejection sampling in the carved box)."""
    maps = carving_maps(scene.masks)
    lo, hi = carve_box(scene, maps)
    out: list[np.ndarray] = []
    have = 0
    for _ in range(200):
        cand = rng.uniform(lo, hi, size=(max(4 * n, 4096), 3))
        keep = cand[carving_margin(scene, maps, cand, -1e9) > HULL_LEVEL]
        out.append(keep)
        have += len(keep)
        if have >= n:
            break
    pts = np.concatenate(out)
    if len(pts) < n:  # a hull too thin to hit: fall back to the box
        pts = np.concatenate([pts, rng.uniform(lo, hi, size=(n - len(pts), 3))])
    return pts[:n]
