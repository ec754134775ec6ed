"""Surface terms of the default fit: the visual hull as a prior, and even 3-D spacing.

DRWR's image-space repulsion spreads points evenly in every *projection*, which fills the
hull's volume; users asking for "the shape" want points on the surface. These terms pull the
points onto the surface of the visual hull of the masks and spread them evenly over it:

- ``HullField.margin(points)``: the carving margin h (pixels, positive inside every mask;
  trilinear on the 128^3 grid of core.hull.visual_hull). The surface term (μ) is
  ``(h - level)^2`` with ``level = FitConfig.surface_level``.
- :func:`core.geometry.pointcloud.spread_loss`: 3-D repulsion among each point's k nearest neighbours,
  ``Σ_j Σ_{k∈N(j)} exp(-|x_j - x_k|^2 / h^2)`` with h the expected spacing of J points on
  the hull's surface (sqrt(area / J)), for even density.
- :func:`core.geometry.pointcloud.farthest_point_sample`: even initial points on the hull surface.
- ``HullField.surface_points(n, correct=True, snap=True)``: the same, after moving the area
  samples along their normals by the learned depth of core.correction.depth (lenses flattened
  onto the thin part inside them, tight parts moved out to the silhouette rims), adding the
  outer hull surface (the mask edges) wherever the level surface lost a part (coverage
  first), and moving every sample to the nearest point inside every mask
  (core.hull.snap.snap_nearest).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree
from skimage.measure import marching_cubes

from core.geometry.pointcloud import farthest_point_sample
from core.hull.visual_hull import HULL_LEVEL, carving_maps, hull_mesh
from core.io.mesh_scene import sample_surface
from core.io.scene import Scene

__all__ = ["HullField", "even_surface_points"]

#: Samples of the outer hull surface farther than this many pixels from the level surface
#: are parts the level surface lost; the default fit keeps them (coverage first).
FILL_PX = 2.0


def even_surface_points(vertices: np.ndarray, faces: np.ndarray, n: int, seed: int = 0,
                        pool: int = 4) -> np.ndarray:
    """(n, 3) evenly spaced points on the mesh vertices (V, 3), faces (F, 3): ``pool * n``
    area-uniform samples thinned by farthest-point sampling."""
    return farthest_point_sample(sample_surface(vertices, faces, pool * n, seed), n, seed)


class HullField:
    """The visual hull of a scene as a differentiable field, and its surface for sampling."""

    def __init__(self, scene: Scene, res: int = 128, device: torch.device | str = "cpu",
                 level: float = HULL_LEVEL) -> None:
        self.level = float(level)  # pixels inside the mask edges; the surface is margin = level
        self.scene = scene
        self.vertices, self.faces, hv = hull_mesh(scene, res, self.level)
        self.volume = hv
        tri = self.vertices[self.faces]
        self.area = float(0.5 * np.linalg.norm(
            np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum())
        n = np.array(hv.vol.shape)
        self.lo = torch.tensor(hv.lo, dtype=torch.float32, device=device)
        self.extent = torch.tensor(hv.spacing * (n - 1), dtype=torch.float32, device=device)
        # grid_sample wants (N, C, D, H, W) with grid (x, y, z) -> (W, H, D): store [z, y, x]
        vol = torch.tensor(hv.vol.transpose(2, 1, 0).copy(), dtype=torch.float32, device=device)
        self.vol = vol[None, None]
        self.clip = hv.clip

    def spacing(self, n_points: int) -> float:
        """Expected distance between neighbours of n_points spread evenly over the surface."""
        return math.sqrt(self.area / max(n_points, 1))

    def surface_points(self, n: int, seed: int = 0, pool: int = 4,
                       correct: bool = False, snap: bool = False,
                       guard: bool = True) -> np.ndarray:
        """(n, 3) evenly spaced points on the hull surface.

        ``pool * n`` area samples of the surface at ``level``, moved by the learned surface
        correction when ``correct`` (with the moves that uncover mask pixels taken back when
        ``guard``: core.correction.guard); plus the *coverage fill* (:meth:`uncovered_samples`):
        samples of the hull's outer surface (level 0, the mask edges) on parts the ``level``
        surface misses, kept where they are. Then, when ``snap``, each moved to the nearest
        point inside every mask (core.hull.snap.snap_nearest), and all thinned by
        farthest-point sampling. Snapping the pool before thinning keeps the points even:
        snapping after it bunches the points of thin parts, which all move inward.
        """
        from core.correction.depth import correct_points
        from core.correction.guard import keep_silhouettes
        from core.hull.snap import snap_nearest

        cand = sample_surface(self.vertices, self.faces, pool * n, seed)
        fill = self.uncovered_samples(cand, pool * n, seed + 1)
        if correct:
            maps = carving_maps(self.scene.masks, level=self.level)
            moved = correct_points(self.scene, self.volume, maps, cand, self.level).points
            cand = keep_silhouettes(self.scene, cand, moved, fill) if guard else moved
        cand = np.concatenate([cand, fill]) if len(fill) else cand
        if snap:
            cand = snap_nearest(cand, self.scene).astype(np.float64)
        return farthest_point_sample(cand, n, seed)

    def uncovered_samples(self, near: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
        """(M, 3) of ``n`` area samples of the hull's outer surface (margin 0: the mask edges)
        that lie farther than FILL_PX pixels from every point of ``near`` (N, 3), samples of
        the ``level`` surface: the parts that surface loses (thin parts whose margin
        never reaches the level on the grid). Empty when the level is 0 or nothing is lost."""
        from core.hull.snap import pixel_size

        if self.level <= 0.0 or len(near) == 0:
            return np.zeros((0, 3))
        hv = self.volume
        try:
            v, f, _, _ = marching_cubes(hv.vol, 0.0, spacing=tuple(hv.spacing))
        except (ValueError, RuntimeError):
            return np.zeros((0, 3))
        outer = sample_surface(v + hv.lo, f.astype(np.int64), n, seed)
        d, _ = cKDTree(near).query(outer)
        return outer[d > FILL_PX * pixel_size(outer, self.scene)]

    def margin(self, points: torch.Tensor) -> torch.Tensor:
        """Carving margin h at points (J, 3) -> (J,) pixels (``level`` on the hull surface),
        trilinear and differentiable."""
        g = 2.0 * (points - self.lo) / self.extent - 1.0
        out = F.grid_sample(self.vol, g[None, None, None], mode="bilinear",
                            padding_mode="border", align_corners=True)
        return out.reshape(-1)
