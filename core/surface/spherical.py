"""Conformal map of a genus-0 closed manifold mesh onto the unit sphere.

Conformalized mean curvature flow (Kazhdan, Solomon & Ben-Chen, "Can mean-curvature flow be
modified to be non-singular?", SGP 2012): implicit steps ``(M_t - dt L_0) V_{t+1} = M_t V_t``
with the cotangent stiffness ``L_0`` of the *input* mesh held fixed (which keeps the flow from
pinching) and the lumped mass ``M_t`` of the current one; after every step the mesh is
re-centred (area-weighted) and scaled to the unit sphere's area 4π. The flow ends when the
vertices' distances from the centre vary by less than ``tol`` (relative standard deviation),
or no vertex moves by more than ``tol / 10`` in a step, or after ``max_steps``; the
vertices are then projected radially onto the sphere and a Möbius transformation of the ball
centres the input's area on the sphere (its area-weighted centroid moves to the origin),
fixing the map up to a rotation.

:func:`map_to_sphere` raises :class:`TopologyError` for meshes that are open, non-manifold,
in several parts or not genus 0 (Euler characteristic != 2); :func:`repair` remeshes first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.linalg import splu

from core.surface.checks import MeshTopology, topology
from core.surface.laplacian import cotangent_laplacian, face_areas, mass_matrix

__all__ = [
    "MapError",
    "SphereMap",
    "TopologyError",
    "flipped_faces",
    "map_to_sphere",
    "repair",
    "require_genus0",
]


class TopologyError(ValueError):
    """The mesh cannot be mapped to the sphere (open, non-manifold, several parts, genus)."""


class MapError(ValueError):
    """The flow degenerated: too many faces flipped or collapsed on the sphere."""


@dataclass
class SphereMap:
    """vertices (V, 3), faces (F, 3) of the (outward) input; sphere (V, 3) unit vectors;
    steps of the flow; flipped: faces whose image on the sphere is inverted."""

    vertices: np.ndarray
    faces: np.ndarray
    sphere: np.ndarray
    steps: int
    flipped: int


def require_genus0(vertices: np.ndarray, faces: np.ndarray, what: str = "mesh") -> MeshTopology:
    """The mesh's topology; raises TopologyError (one line naming ``what``) unless it is a
    closed, oriented, manifold, connected surface of genus 0."""
    t = topology(vertices, faces)
    hint = "; --repair remeshes it first"
    if t.boundary_edges:
        raise TopologyError(f"{what}: the mesh is open ({t.boundary_edges} boundary edges){hint}")
    if not (t.edge_manifold and t.vertex_manifold):
        raise TopologyError(f"{what}: the mesh is not manifold ({t.describe()}){hint}")
    if not t.winding_consistent:
        raise TopologyError(f"{what}: the faces are not consistently oriented{hint}")
    if t.components != 1:
        raise TopologyError(f"{what}: the mesh has {t.components} separate parts{hint}")
    if t.euler != 2:
        raise TopologyError(f"{what}: the mesh is not genus 0 (Euler characteristic {t.euler}, "
                            f"genus {(2 - t.euler) // 2}); only sphere-like surfaces map to "
                            f"the sphere{hint}")
    return t


def flipped_faces(sphere: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) bool: faces whose image (sphere (V, 3) points) is inverted or collapsed (area
    below 1e-8 of the mean face area on the sphere)."""
    t = np.asarray(sphere)[np.asarray(faces)]
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    area = 0.5 * np.linalg.norm(n, axis=1)
    return (np.einsum("ij,ij->i", n, t.sum(1)) <= 0) | (area < 1e-8 * area.mean())


def _mobius(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The ball automorphism moving ``a`` (3,), |a| < 1, to the origin, on unit vectors x."""
    xa = x - a
    y = (1 - a @ a) * xa - (xa * xa).sum(1, keepdims=True) * a
    return y / np.linalg.norm(y, axis=1, keepdims=True)


def _centre(sphere: np.ndarray, faces: np.ndarray, weight: np.ndarray, iters: int = 50
            ) -> np.ndarray:
    """Möbius-centre the map: the ``weight``-weighted (F,) centroid of the faces goes to 0."""
    x = sphere
    for _ in range(iters):
        c = (x[faces].mean(1) * weight[:, None]).sum(0) / weight.sum()
        if np.linalg.norm(c) < 1e-6:
            break
        x = _mobius(x, 0.5 * c)  # half steps: plain Newton-free iteration, monotone in practice
    return x


def map_to_sphere(vertices: np.ndarray, faces: np.ndarray, dt: float = 0.05,
                  max_steps: int = 200, tol: float = 1e-3, what: str = "mesh",
                  max_flipped: float = 0.05) -> SphereMap:
    """Map a genus-0 closed manifold mesh (vertices (V, 3), faces (F, 3)) to the unit sphere.

    Faces are reoriented outward first (positive signed volume). ``dt`` is the step in units
    of the unit-area-4π mesh. Raises TopologyError (see :func:`require_genus0`), and MapError
    when more than ``max_flipped`` of the faces end up flipped or collapsed, or the faces
    cover less than half the sphere: a conformal map shrinks the
    area along a long thin part exponentially with its length-to-width ratio (a coiled tube
    such as the held-out helix: its middle collapses below double precision), which no step
    size cures.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    require_genus0(v, f, what)
    tri = v[f]
    if np.einsum("ij,ij->", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) < 0:
        f = f[:, ::-1].copy()
    area0 = face_areas(v, f)
    x = v - (v[f].mean(1) * area0[:, None]).sum(0) / area0.sum()
    x *= np.sqrt(4 * np.pi / area0.sum())
    L = cotangent_laplacian(x, f)
    steps = 0
    for steps in range(1, max_steps + 1):
        M = mass_matrix(x, f)
        prev = x
        x = splu(sparse.csc_matrix(M - dt * L)).solve(M @ x)
        a = face_areas(x, f)
        x -= (x[f].mean(1) * a[:, None]).sum(0) / a.sum()
        x *= np.sqrt(4 * np.pi / a.sum())
        r = np.linalg.norm(x, axis=1)
        if r.std() / r.mean() < tol or np.abs(x - prev).max() < 0.1 * tol:
            break
    s = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = _centre(s, f, area0)
    flipped = int(flipped_faces(s, f).sum())
    cover = float(face_areas(s, f).sum() / (4 * np.pi))  # ~1 when the faces tile the sphere
    if flipped > max_flipped * len(f) or cover < 0.5:
        raise MapError(f"{what}: the conformal map degenerated ({flipped} of {len(f)} faces "
                       f"flipped or collapsed, the faces cover {100 * cover:.0f}% of the "
                       "sphere): long thin parts shrink to nothing under a conformal map, "
                       "and sliver triangles break the flow (--repair remeshes them)")
    return SphereMap(vertices=v, faces=f, sphere=s, steps=steps, flipped=flipped)


def _closing(occ: np.ndarray, r: float) -> np.ndarray:
    """Morphological closing of occ (bool 3-D) by a ball of radius r voxels (exact, via
    Euclidean distance transforms), cavities filled."""
    pad = 2 * int(np.ceil(r)) + 2  # room to grow by r, and zeros beyond for the erosion
    o = np.pad(occ, pad)
    grown = ndimage.distance_transform_edt(~o) <= r
    closed = ndimage.distance_transform_edt(grown) > r
    closed = ndimage.binary_fill_holes(closed | o)
    return closed[pad:-pad, pad:-pad, pad:-pad]


_JOIN = 4  # voxels: the largest closing used to join separate parts before giving up on them
_MIN_PART = 0.01  # parts with less than this share of the inside volume are dropped
_RADII = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)


def repair(vertices: np.ndarray, faces: np.ndarray, res: int = 64, max_close: float = 1.0
           ) -> tuple[np.ndarray, np.ndarray, str]:
    """A genus-0 closed manifold remesh of any triangle mesh (open, non-manifold, in parts).

    Route: the inside on a ``res`` grid around the surface — the generalised winding number
    (gpytoolbox) when the faces are consistently oriented (robust to holes), else the sign
    of the IMLS of surface samples with PCA normals oriented along a spanning tree (the
    mesh-from-cloud route, :mod:`core.surface.normals`); every inside part of at least 1 %
    of the volume, cavities filled; parts are joined and handles (genus > 0) closed by a
    morphological closing with a growing ball (up to ``max_close`` times the grid size; if
    that never gives one genus-0 surface, the largest part alone is tried the same way);
    marching cubes of the smoothed occupancy. Returns vertices, faces and a line saying what was done. Raises TopologyError
    when no closing up to that radius gives genus 0.
    """
    import trimesh
    from skimage.measure import marching_cubes

    from core.io.mesh_scene import sample_surface
    from core.surface.libs import gpytoolbox
    from core.surface.normals import imls, mean_spacing, orient_mst, pca_normals

    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    n_pts = int(np.clip(40 * res * res // 16, 5000, 60000))
    pts = sample_surface(v, f, n_pts, seed=0)
    h = mean_spacing(pts)
    lo, hi = pts.min(0) - 3 * h, pts.max(0) + 3 * h
    step = float((hi - lo).max() / (res - 1))
    shape = np.ceil((hi - lo) / step).astype(int) + 1
    axes = [lo[i] + step * np.arange(shape[i]) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    tm = trimesh.Trimesh(v, f, process=False, validate=False)
    if tm.is_winding_consistent:  # oriented faces: the generalised winding number says inside
        sign = 1.0 if tm.volume >= 0 else -1.0
        w = gpytoolbox().fast_winding_number(grid, v, f.astype(np.int32)) * sign
        occ = (w > 0.5).reshape(tuple(shape))
    else:  # no consistent orientation: IMLS of PCA normals oriented along a spanning tree
        nrm = orient_mst(pts, pca_normals(pts, 12))
        occ = (imls(grid, pts, nrm, h) < 0).reshape(tuple(shape))
    lab, n = ndimage.label(occ)
    if n == 0:
        raise TopologyError("repair: the surface encloses no volume")
    sizes = np.bincount(lab.ravel())[1:]
    keep = np.flatnonzero(sizes >= _MIN_PART * sizes.sum()) + 1  # drop specks
    parts = ndimage.binary_fill_holes(np.isin(lab, keep))
    largest = ndimage.binary_fill_holes(lab == np.argmax(sizes) + 1)
    # every part with a small closing (joins parts a few voxels apart), else the largest part
    # with any closing (closes its handles), else every part with a large closing
    radii = [r for r in _RADII if r <= max_close * res]
    note = f", kept the largest of {len(keep)} parts"
    tries = [(parts, "", r) for r in radii if r <= _JOIN]
    tries += [(largest, note if len(keep) > 1 else "", r) for r in radii]
    tries += [(parts, "", r) for r in radii if r > _JOIN] if len(keep) > 1 else []
    for occ, note, r in tries:
        o = _closing(occ, r) if r else occ
        g = ndimage.gaussian_filter(np.pad(o, 2).astype(np.float32), 0.7)
        vv, ff, _, _ = marching_cubes(g, 0.5, spacing=(step,) * 3, allow_degenerate=False)
        ff = ff.astype(np.int64)
        t = topology(vv, ff)
        if t.closed_manifold and t.components == 1 and t.euler == 2:
            what = "remeshed (inside on a grid, marching cubes"
            what += f", closed with a {r}-voxel ball" if r else ""
            return vv + lo - 2 * step, ff, what + note + ")"
    raise TopologyError(f"repair: the mesh keeps handles after closing with a "
                        f"{int(max_close * res)}-voxel ball")
