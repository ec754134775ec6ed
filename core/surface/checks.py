"""Topology of a triangle mesh: closed, manifold, oriented, Euler characteristic, genus.

trimesh answers the edge questions (``is_watertight``: every edge in exactly two faces;
``is_winding_consistent``: the two faces of each edge traverse it in opposite directions);
this module adds what trimesh does not check: every vertex's faces form a single fan (a
vertex where two sheets touch is not manifold even when every edge is), and the Euler
characteristic and genus per connected component.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["MeshTopology", "as_trimesh", "check_solid", "cloud_rank", "topology"]

#: Singular values of a centred cloud below this fraction of the largest count as zero (well
#: above float32 round-off, ~1e-7, far below any real object's thickness)
RANK_TOL = 1e-5
#: |enclosed volume| below this fraction of the bounding-box diagonal cubed counts as none
VOLUME_TOL = 1e-9


@dataclass(frozen=True)
class MeshTopology:
    """watertight: every edge in exactly two faces; winding_consistent: those two faces are
    oriented alike; edge_manifold: no edge in more than two faces; vertex_manifold: every
    vertex's faces form one fan; components; euler = V - E + F (over referenced vertices);
    genus of a closed, connected, oriented manifold ((2 - euler) / 2; None otherwise);
    boundary_edges: edges in exactly one face."""

    watertight: bool
    winding_consistent: bool
    edge_manifold: bool
    vertex_manifold: bool
    components: int
    euler: int
    genus: int | None
    boundary_edges: int

    @property
    def closed_manifold(self) -> bool:
        """Watertight, consistently oriented and manifold at every edge and vertex."""
        return (self.watertight and self.winding_consistent and self.edge_manifold
                and self.vertex_manifold)

    def describe(self) -> str:
        """One line for users, e.g. 'closed manifold, 1 component, genus 0'."""
        bits = []
        if self.boundary_edges:
            bits.append(f"open ({self.boundary_edges} boundary edges)")
        if not self.edge_manifold:
            bits.append("non-manifold edges")
        if not self.vertex_manifold:
            bits.append("non-manifold vertices")
        if self.edge_manifold and self.watertight and not self.winding_consistent:
            bits.append("inconsistent face orientation")
        if not bits:
            bits.append("closed manifold")
        bits.append(f"{self.components} component{'s' if self.components != 1 else ''}")
        bits.append(f"Euler characteristic {self.euler}")
        if self.genus is not None:
            bits.append(f"genus {self.genus}")
        return ", ".join(bits)


def as_trimesh(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    """A trimesh of vertices (V, 3) and faces (F, 3) with nothing merged or removed."""
    return trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64),
                           process=False, validate=False)


def _vertex_manifold(faces: np.ndarray, n_vertices: int) -> bool:
    """True when, at every vertex, its faces are connected through edges that contain it."""
    f = np.asarray(faces, np.int64)
    nf = len(f)
    if nf == 0:
        return True
    # corner c = (face, slot); corners of one vertex are linked when their faces share the
    # edge (vertex, other) for one of the vertex's two other corners
    v = f.ravel()
    nxt, prv = np.roll(f, -1, axis=1).ravel(), np.roll(f, 1, axis=1).ravel()
    # half-edge keys (v, w) as seen from the corner at v, both directions
    key_a = v * n_vertices + nxt  # edge to the next vertex
    key_b = v * n_vertices + prv  # edge to the previous vertex
    keys = np.concatenate([key_a, key_b])
    corner = np.concatenate([np.arange(3 * nf), np.arange(3 * nf)])
    order = np.argsort(keys, kind="stable")
    ks, cs = keys[order], corner[order]
    same = np.flatnonzero(ks[1:] == ks[:-1])
    g = coo_matrix((np.ones(len(same)), (cs[same], cs[same + 1])), shape=(3 * nf, 3 * nf))
    _, lab = connected_components(g, directed=False)
    # a vertex is manifold iff all its corners fall in one group
    per_vertex = np.unique(np.stack([v, lab], 1), axis=0)[:, 0]
    return bool(np.all(np.bincount(per_vertex, minlength=n_vertices) <= 1))


def topology(vertices: np.ndarray, faces: np.ndarray) -> MeshTopology:
    """The :class:`MeshTopology` of the mesh (vertices (V, 3), faces (F, 3) int)."""
    f = np.asarray(faces, np.int64)
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces must be (F, 3), got {f.shape}")
    nv = len(np.asarray(vertices))
    mesh = as_trimesh(vertices, f)
    edges = np.sort(f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, count = np.unique(edges, axis=0, return_counts=True)
    used = np.unique(f)
    euler = int(len(used) - len(count) + len(f))
    adj = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(nv, nv))
    _, lab = connected_components(adj, directed=False)
    comps = len(np.unique(lab[used])) if len(used) else 0
    watertight = bool(len(count) and np.all(count == 2))
    winding = bool(mesh.is_winding_consistent) if watertight else False
    vman = _vertex_manifold(f, nv)
    genus = None
    if watertight and winding and vman and comps == 1 and euler % 2 == 0:
        genus = (2 - euler) // 2
    return MeshTopology(watertight=watertight, winding_consistent=winding,
                        edge_manifold=bool(np.all(count <= 2)), vertex_manifold=vman,
                        components=comps, euler=euler, genus=genus,
                        boundary_edges=int(np.sum(count == 1)))


def cloud_rank(points: np.ndarray) -> int:
    """Dimension (0..3) spanned by points (N, 3): 0 when all are one point, 1 on a line, 2 in
    a plane; singular values of the centred cloud below RANK_TOL of the largest count as 0."""
    p = np.asarray(points, np.float64)
    sv = np.linalg.svd(p - p.mean(0), compute_uv=False)
    if not sv[0] > 0:
        return 0
    return int(np.sum(sv > RANK_TOL * sv[0]))


def check_solid(vertices: np.ndarray, faces: np.ndarray, what: str) -> None:
    """ValueError starting with ``what`` unless vertices (V, 3) are finite and, for a closed
    mesh (every edge in two faces) with faces (F, 3), the faces enclose a volume above
    VOLUME_TOL * diagonal^3 and point outward (positive signed volume)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{what}: the mesh has non-finite vertices (NaN or infinity)")
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise ValueError(f"{what}: the mesh has no faces")
    edges = np.sort(f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, count = np.unique(edges, axis=0, return_counts=True)
    if not np.all(count == 2):
        return  # open: no inside to check
    tri = v[f]  # (F, 3, 3)
    vol = float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6.0
    diag = float(np.linalg.norm(np.ptp(tri.reshape(-1, 3), axis=0)))
    if not abs(vol) > VOLUME_TOL * diag ** 3:
        raise ValueError(f"{what}: the mesh encloses no volume (its vertices coincide or lie "
                         "on a line or in a plane)")
    if vol < 0:
        raise ValueError(f"{what}: the mesh is inside out (its faces point inward, enclosed "
                         f"volume {vol:.3g})")
