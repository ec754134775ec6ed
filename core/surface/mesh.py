"""A watertight, manifold mesh from a point cloud, held to the silhouettes when a scene is given.

Methods (``METHODS``):

* ``imls`` (the default with a scene) — the implicit moving least-squares signed distance of
  the cloud (:func:`core.surface.normals.imls`; PCA normals oriented outward by the visual
  hull's carving field, or by a minimum spanning tree without a scene) **intersected with the
  visual hull** (:func:`core.hull.visual_hull.hull_volume`, the field converted from pixels to
  world units at the object's depth): ``f = max(hull_outside, imls)`` on the hull's grid, then
  marching cubes (scikit-image, Lewiner) of ``f = 0``. A marching-cubes surface of a sampled
  field on a grid padded with "outside" is closed and manifold; floating specks smaller than
  ``MIN_COMPONENT_VOXELS`` voxels are dropped. Inside the hull the cloud decides where the
  surface is (the learned depth correction's flattened seats stay flat); the hull caps it, so
  the mesh never sticks out of a mask by more than the hull level. The cloud's surface is
  moved ``OFFSET`` voxels outward, the hull level is ``HULL_LEVEL`` px; where the surface
  still misses mask pixels, :mod:`core.surface.coverage` adds tiny blobs.
* ``poisson`` (the default without a scene) — screened Poisson reconstruction (Kazhdan & Hoppe
  2013, the authors' code through gpytoolbox) with Dirichlet outer boundary (a closed
  surface), from MST-oriented PCA normals. With a scene, its inside (generalised winding number,
  gpytoolbox) is intersected with the hull on the same grid as ``imls``.

The result is checked with :func:`core.surface.checks.topology`; ``SurfaceMesh.topology``
says what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage.measure import marching_cubes

from core.geometry.cameras import camera_centers
from core.io.scene import Scene
from core.surface.checks import MeshTopology, cloud_rank, topology
from core.surface.coverage import cover_masks
from core.surface.libs import gpytoolbox
from core.surface.normals import imls, mean_spacing, orient_mst, pca_normals

__all__ = [
    "HULL_LEVEL",
    "METHODS",
    "MIN_COMPONENT_VOXELS",
    "OFFSET",
    "SurfaceMesh",
    "mesh_from_cloud",
]

METHODS = ("auto", "imls", "poisson")
#: hull level (pixels inside the mask edge; negative: outside) that caps the mesh. A
#: background pixel's centre lies >= 1 px outside the edge, so a level in (-1, 0] still
#: renders no background pixel in the mask's own view; a little outside (-0.4) lets the rays
#: of boundary pixels find room in the other views' cones (stool, no blobs: worst-view
#: coverage 0.935 at level 0, 0.968 at -0.4), so fewer blobs are needed.
HULL_LEVEL = -0.4
#: voxels by which the cloud's surface is moved outward (its points sit a little inside the
#: true surface: sampled below the hull level and snapped into the masks); stool: CD 0.448
#: at 0, 0.416 at 0.5, 0.416 at 1.0 voxel (level 0, no blobs)
OFFSET = 0.5
MIN_COMPONENT_VOXELS = 27
_BAND = 3.0  # pixels outside the hull level beyond which the cloud's field is not evaluated


@dataclass
class SurfaceMesh:
    """vertices (V, 3) float64, faces (F, 3) int64 (outward), the method used, the
    :class:`MeshTopology` and a dict of what was done (grid, bandwidth, dropped specks...)."""

    vertices: np.ndarray
    faces: np.ndarray
    method: str
    topology: MeshTopology
    info: dict[str, Any] = field(default_factory=dict)


def _pixel_size(scene: Scene, centre: np.ndarray) -> float:
    """World size of one pixel at ``centre`` (3,), averaged over the views."""
    depth = np.linalg.norm(camera_centers(scene.R, scene.t) - centre, axis=1)
    f = 0.5 * (scene.K[:, 0, 0] + scene.K[:, 1, 1])
    return float(np.mean(depth / f))


def _hull_normals(points: np.ndarray, vol: np.ndarray, lo: np.ndarray,
                  spacing: np.ndarray, k: int) -> np.ndarray:
    """PCA normals of points (N, 3) signed to point down the hull field's gradient."""
    n = pca_normals(points, k)
    grads = np.gradient(vol)
    idx = ((points - lo) / spacing).T  # (3, N) fractional grid indices
    g = np.stack([ndimage.map_coordinates(gk, idx, order=1, mode="nearest") for gk in grads], 1)
    g = g / spacing  # (N, 3) per world unit
    weak = np.linalg.norm(g, axis=1) < 1e-9
    if weak.any():  # no hull gradient there: fall back to the MST orientation
        g[weak] = orient_mst(points, n)[weak]
        g[weak] *= -1
    return np.where((np.einsum("ij,ij->i", n, -g) < 0)[:, None], -n, n)


def _extract(inside: np.ndarray, lo: np.ndarray, spacing: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, int]:
    """Marching cubes of ``inside`` (positive inside; a grid whose border is outside) at 0.

    Returns vertices (V, 3) world, faces (F, 3) outward, and the number of dropped specks.
    """
    occ = inside > 0
    lab, n = ndimage.label(occ)
    dropped = 0
    if n > 1:
        sizes = np.bincount(lab.ravel())[1:]
        small = np.flatnonzero(sizes < MIN_COMPONENT_VOXELS) + 1
        if len(small) < n:  # never drop everything
            inside = np.where(np.isin(lab, small), -np.abs(inside) - 1e-6, inside)
            dropped = len(small)
    if not (inside > 0).any():
        raise ValueError("the surface is empty (no grid point is inside)")
    verts, faces, _, _ = marching_cubes(inside.astype(np.float32), 0.0,
                                        spacing=tuple(spacing), allow_degenerate=False)
    return verts.astype(np.float64) + lo, _outward(verts, faces.astype(np.int64)), dropped


def _outward(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """faces (F, 3), reversed when the closed mesh's signed volume is negative (inward)."""
    tri = verts[faces]
    vol = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()
    return faces[:, ::-1].copy() if vol < 0 else faces


def _cloud_field(points: np.ndarray, normals: np.ndarray, query: np.ndarray, method: str,
                 h: float) -> np.ndarray:
    """(Q,) signed field of the cloud (negative inside) at query (Q, 3)."""
    if method == "imls":
        return imls(query, points, normals, h, tree=cKDTree(points))
    gpy = gpytoolbox()
    v, f = gpy.point_cloud_to_mesh(points, normals, psr_depth=8, psr_screening_weight=10.0,
                                   psr_outer_boundary_type="Dirichlet")
    w = gpy.fast_winding_number(query, v, f.astype(np.int32))
    d = np.sqrt(cKDTree(v).query(query, k=1)[0] ** 2 + 1e-18)
    return np.where(w > 0.5, -d, d)


def _cloud_only(points: np.ndarray, method: str, res: int, k: int) -> SurfaceMesh:
    n = orient_mst(points, pca_normals(points, k))
    h = mean_spacing(points)
    if method == "poisson":
        gpy = gpytoolbox()
        v, f = gpy.point_cloud_to_mesh(points, n, psr_depth=8, psr_screening_weight=10.0,
                                       psr_outer_boundary_type="Dirichlet")
        v, f = np.asarray(v, np.float64), np.asarray(f, np.int64)
        topo = topology(v, f)
        f = _outward(v, f) if topo.closed_manifold else f
        if topo.closed_manifold:
            return SurfaceMesh(v, f, "poisson", topo, {"depth": 8, "normals": "pca+mst"})
        # not closed (PSR can leave non-manifold bits): resample its inside on a grid below
    pad = 4 * h
    lo, hi = points.min(0) - pad, points.max(0) + pad
    spacing = np.full(3, float((hi - lo).max() / (res - 1)))
    shape = np.ceil((hi - lo) / spacing).astype(int) + 1
    axes = [lo[i] + spacing[i] * np.arange(shape[i]) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    f = _cloud_field(points, n, grid, method, h).reshape(tuple(shape))
    f = np.pad(f, 1, constant_values=max(float(np.abs(f).max()), h))
    verts, faces, dropped = _extract(-f, lo - spacing, spacing)
    return SurfaceMesh(verts, faces, method, topology(verts, faces),
                       {"grid": [int(s) + 2 for s in shape], "bandwidth": h,
                        "normals": "pca+mst", "dropped_specks": dropped})


def mesh_from_cloud(points: np.ndarray, scene: Scene | None = None, method: str = "auto",
                    res: int = 128, level: float = HULL_LEVEL, k: int = 12,
                    cover: bool = True, offset: float = OFFSET) -> SurfaceMesh:
    """A closed surface (see the module docstring) through points (N, 3), in the scene's
    working coordinates when ``scene`` is given (intersected with its visual hull on a
    ``res``^3 grid), else on a ``res`` grid around the cloud.

    ``level``: the hull level (HULL_LEVEL); ``offset``: voxels by which the cloud's surface
    moves outward (OFFSET); ``cover``: add the blobs of :mod:`core.surface.coverage`.

    Raises ValueError for a bad method, too few or non-finite points, a cloud without volume
    (all its points on one point, line or plane), or an empty result;
    SceneError (from the hull) when the scene's hull is empty.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if res < 16:
        raise ValueError(f"res must be >= 16, got {res}")
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) < 16:
        raise ValueError(f"need a cloud of at least 16 points (N, 3), got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("the cloud has non-finite coordinates")
    rank = cloud_rank(p)
    if rank < 3:
        where = ("are all one point", "lie on one line", "lie in one plane")[rank]
        raise ValueError(f"the cloud's {len(p)} points {where}; a closed surface needs a "
                         "cloud that spans a volume")
    if scene is None:
        return _cloud_only(p, "poisson" if method == "auto" else method, res, k)
    from core.hull.visual_hull import hull_volume

    method = "imls" if method == "auto" else method
    hv = hull_volume(scene, res, level=level)
    vol, lo, spacing = hv.vol, hv.lo, hv.spacing
    px = _pixel_size(scene, lo + spacing * (np.array(vol.shape) - 1) / 2)
    normals = _hull_normals(p, vol, lo, spacing, k)
    h = mean_spacing(p)
    outside = -(vol - level) * px  # world units, positive outside the hull
    f = outside.copy()
    near = np.flatnonzero(vol.ravel() > level - _BAND)
    ijk = np.stack(np.unravel_index(near, vol.shape), 1)
    fc = _cloud_field(p, normals, lo + ijk * spacing, method, h) - offset * float(spacing.min())
    f.ravel()[near] = np.maximum(outside.ravel()[near], fc)
    verts, faces, dropped = _extract(-f, lo, spacing)
    info: dict[str, Any] = {"grid": list(vol.shape), "bandwidth": h, "pixel_size": px,
                            "hull_level": level, "normals": "pca+hull gradient",
                            "dropped_specks": dropped}
    if cover:
        verts, faces, counts = cover_masks(verts, faces, scene, vol, f, lo, spacing)
        info.update(counts)
    return SurfaceMesh(verts, faces, method, topology(verts, faces), info)
