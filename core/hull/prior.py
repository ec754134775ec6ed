"""Surface terms of the default fit: the visual hull as a prior, and even 3-D spacing.

DRWR's image-space repulsion spreads points evenly in every *projection*, which fills the
hull's volume; users asking for "the shape" want points on the surface. These terms pull the
points onto the surface of the visual hull of the masks and spread them evenly over it:

- ``HullPrior.margin(points)``: the carving margin h (pixels, positive inside every mask;
  trilinear on the 128^3 grid of core.hull.visual_hull). The surface term (μ) is
  ``(h - level)^2`` with ``level = FitConfig.surface_level``.
- :func:`spread_loss`: 3-D repulsion among each point's k nearest neighbours,
  ``Σ_j Σ_{k∈N(j)} exp(-|x_j - x_k|^2 / h^2)`` with h the expected spacing of J points on
  the hull's surface (sqrt(area / J)), for even density.
- :func:`farthest_point_sample`: even initial points on the hull surface.
- ``HullPrior.surface_points(n, correct=True, snap=True)``: the same, after moving the area
  samples along their normals by the learned depth of core.hull.correction (lenses flattened
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

from core.hull.visual_hull import HULL_LEVEL, carving_maps, hull_mesh
from core.io.mesh_scene import sample_surface
from core.io.scene import Scene

__all__ = ["HullPrior", "spread_loss", "knn_indices", "farthest_point_sample",
           "even_surface_points"]

#: Samples of the outer hull surface farther than this many pixels from the level surface
#: are parts the level surface lost; the default fit keeps them (coverage first).
FILL_PX = 2.0
#: take the learned moves back where they uncover mask pixels (core.hull.guard)
GUARD = True
_FPS_BLOCK = 256  # points per block whose largest distance farthest_point_sample keeps


def farthest_point_sample(points: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n of the (N, 3) points chosen greedily farthest from those already chosen -> (n, 3).

    The first point is ``points[seed % N]``; each next one is the point whose distance to the
    chosen set is largest (ties: the lowest index), exactly the classic O(n N) loop
    (tests/core/test_fps.py checks it against one), in float64. Runs in about O(N log n): the
    k-th chosen point lies within r_k (the largest remaining distance, which never grows) of
    every point whose distance it lowers, so one KD-tree ball query finds them; the largest
    distance is kept per block of spatially adjacent points (the tree's leaf order).
    All N points come back (in their order) when n >= N.
    """
    P = np.asarray(points, np.float64)
    N = len(P)
    if n >= N:
        return P.copy()
    if n < 1:
        return np.zeros((0, 3))
    perm = cKDTree(P).indices  # leaf order: spatially coherent
    Q = P[perm]
    tree = cKDTree(Q)
    nb = -(-N // _FPS_BLOCK)
    d = np.full(nb * _FPS_BLOCK, -np.inf)  # squared distance to the chosen set, padded
    d[:N] = np.inf
    blocks = d.reshape(nb, _FPS_BLOCK)  # a view of d
    block_max = blocks.max(1)
    chosen = np.empty(n, np.int64)
    k = int(np.flatnonzero(perm == seed % N)[0])
    for i in range(n):
        chosen[i] = k
        r2 = d[k]
        near = (np.arange(N) if not np.isfinite(r2) else
                np.asarray(tree.query_ball_point(Q[k], np.sqrt(r2) * (1 + 1e-9) + 1e-300,
                                                 return_sorted=False), np.int64))
        d2 = ((Q[near] - Q[k]) ** 2).sum(1)
        d[near] = np.minimum(d[near], d2)
        d[k] = 0.0
        touched = np.unique(near // _FPS_BLOCK)
        block_max[touched] = blocks[touched].max(1)
        top = block_max.max()
        cand = np.flatnonzero(block_max == top)
        idx = np.concatenate([b * _FPS_BLOCK + np.flatnonzero(blocks[b] == top) for b in cand])
        k = int(idx[np.argmin(perm[idx])])  # ties: the lowest original index
    return P[perm[chosen]]


def even_surface_points(vertices: np.ndarray, faces: np.ndarray, n: int, seed: int = 0,
                        pool: int = 4) -> np.ndarray:
    """(n, 3) evenly spaced points on the mesh vertices (V, 3), faces (F, 3): ``pool * n``
    area-uniform samples thinned by farthest-point sampling."""
    return farthest_point_sample(sample_surface(vertices, faces, pool * n, seed), n, seed)


def knn_indices(points: np.ndarray, k: int) -> np.ndarray:
    """(J, k) indices of each point's k nearest other points (scipy KD-tree)."""
    k = min(k, len(points) - 1)
    _, idx = cKDTree(points).query(points, k=k + 1)
    return idx[:, 1:]


def spread_loss(points: torch.Tensor, nbr: torch.Tensor, h: float) -> torch.Tensor:
    """Σ_j Σ_k exp(-|x_j - x_nbr[j,k]|² / h²). points (J, 3), nbr (J, k) long -> scalar."""
    d2 = ((points[:, None, :] - points[nbr]) ** 2).sum(-1)  # (J, k)
    return torch.exp(-(d2 / (h * h)).clamp(max=80.0)).sum()


class HullPrior:
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
                       correct: bool = False, snap: bool = False) -> np.ndarray:
        """(n, 3) evenly spaced points on the hull surface.

        ``pool * n`` area samples of the surface at ``level``, moved by the learned surface
        correction when ``correct``; plus the *coverage fill* (:meth:`uncovered_samples`):
        samples of the hull's outer surface (level 0, the mask edges) on parts the ``level``
        surface misses, kept where they are. Then, when ``snap``, each moved to the nearest
        point inside every mask (core.hull.snap.snap_nearest), and all thinned by
        farthest-point sampling. Snapping the pool before thinning keeps the points even:
        snapping after it bunches the points of thin parts, which all move inward.
        """
        from core.hull.correction import correct_points
        from core.hull.guard import keep_silhouettes
        from core.hull.snap import snap_nearest

        cand = sample_surface(self.vertices, self.faces, pool * n, seed)
        fill = self.uncovered_samples(cand, pool * n, seed + 1)
        if correct:
            maps = carving_maps(self.scene.masks, level=self.level)
            moved = correct_points(self.scene, self.volume, maps, cand, self.level).points
            cand = keep_silhouettes(self.scene, cand, moved, fill) if GUARD else moved
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
