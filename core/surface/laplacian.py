"""Sparse cotangent Laplacian and lumped mass matrix of a triangle mesh (scipy.sparse).

Conventions (as in libigl; gpytoolbox returns ``-L``): ``L`` is the cotangent *stiffness* matrix,
``L_ij = (cot a_ij + cot b_ij) / 2`` for an edge (i, j) with opposite angles a_ij, b_ij, and
``L_ii = -sum_j L_ij`` (negative semi-definite); ``M`` is diagonal with a third of the area of
each vertex's triangles (barycentric lumping).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["cotangent_laplacian", "face_areas", "mass_matrix"]


def _check(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices must be (V, 3), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces must be (F, 3), got {f.shape}")
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"faces index vertices outside [0, {len(v)})")
    return v, f


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) triangle areas."""
    v, f = _check(vertices, faces)
    t = v[f]
    return 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)


def cotangent_laplacian(vertices: np.ndarray, faces: np.ndarray) -> sparse.csr_matrix:
    """(V, V) cotangent stiffness matrix (see the module docstring), float64 CSR."""
    v, f = _check(vertices, faces)
    n = len(v)
    rows, cols, vals = [], [], []
    for k in range(3):  # the angle at corner k is opposite the edge (i, j)
        i, j, o = f[:, (k + 1) % 3], f[:, (k + 2) % 3], f[:, k]
        a, b = v[i] - v[o], v[j] - v[o]
        cross = np.linalg.norm(np.cross(a, b), axis=1)
        cot = np.einsum("ij,ij->i", a, b) / np.maximum(cross, 1e-300)
        rows += [i, j]
        cols += [j, i]
        vals += [0.5 * cot, 0.5 * cot]
    r, c, x = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    off = sparse.coo_matrix((x, (r, c)), shape=(n, n)).tocsr()
    return (off - sparse.diags(np.asarray(off.sum(1)).ravel())).tocsr()


def mass_matrix(vertices: np.ndarray, faces: np.ndarray) -> sparse.dia_matrix:
    """(V, V) diagonal barycentric mass matrix: a third of each adjacent triangle's area."""
    v, f = _check(vertices, faces)
    a = face_areas(v, f) / 3.0
    m = np.zeros(len(v))
    for k in range(3):
        np.add.at(m, f[:, k], a)
    return sparse.diags(m)
