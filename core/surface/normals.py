"""Normals of a point cloud: PCA estimate, orientation, and an implicit surface from them.

* :func:`pca_normals` — the smallest principal direction of each point's k nearest neighbours
  (unoriented).
* :func:`orient_mst` — Hoppe et al. 1992: propagate a consistent sign along a minimum spanning
  tree of the k-NN graph weighted by ``1 - |n_i . n_j|`` (smooth regions first), seeded at the
  highest point with its normal pointing up; each connected part of the graph separately, then
  flipped as a whole if its normals point inwards on average (towards the part's centroid).
* :func:`imls` — the implicit moving least-squares signed distance of Kolluri 2008:
  ``f(x) = sum_i w_i (x - p_i) . n_i / sum_i w_i`` over the k nearest points, Gaussian weights of
  bandwidth h; negative inside when the normals point outwards.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import (
    breadth_first_order,
    connected_components,
    minimum_spanning_tree,
)
from scipy.spatial import cKDTree

__all__ = ["imls", "mean_spacing", "orient_mst", "pca_normals"]

_CHUNK = 1 << 17  # query points per k-NN batch


def _cloud(points: np.ndarray, name: str = "points") -> np.ndarray:
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"{name} must be (N, 3), got {p.shape}")
    if len(p) < 4:
        raise ValueError(f"{name} needs at least 4 points, got {len(p)}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} has non-finite coordinates")
    return p


def mean_spacing(points: np.ndarray, k: int = 6) -> float:
    """Mean distance from a point (N, 3) to its k-th nearest neighbour (a length scale)."""
    p = _cloud(points)
    k = min(k, len(p) - 1)
    d, _ = cKDTree(p).query(p, k=k + 1)
    return float(d[:, k].mean())


def pca_normals(points: np.ndarray, k: int = 12) -> np.ndarray:
    """(N, 3) unit normals (sign arbitrary) of points (N, 3) from their k nearest neighbours."""
    p = _cloud(points)
    k = min(k, len(p))
    _, idx = cKDTree(p).query(p, k=k)
    nb = p[idx]  # (N, k, 3)
    nb = nb - nb.mean(1, keepdims=True)
    cov = np.einsum("nki,nkj->nij", nb, nb)  # (N, 3, 3)
    _, vec = np.linalg.eigh(cov)  # ascending eigenvalues
    return vec[:, :, 0]


def orient_mst(points: np.ndarray, normals: np.ndarray, k: int = 10) -> np.ndarray:
    """(N, 3) normals with consistent signs (outward on average), see the module docstring."""
    p = _cloud(points)
    n = np.asarray(normals, np.float64).copy()
    if n.shape != p.shape:
        raise ValueError(f"normals must be {p.shape} like points, got {n.shape}")
    k = min(k, len(p) - 1)
    _, idx = cKDTree(p).query(p, k=k + 1)
    rows = np.repeat(np.arange(len(p)), k)
    cols = idx[:, 1:].ravel()
    w = 1.0 - np.abs(np.einsum("ij,ij->i", n[rows], n[cols])) + 1e-6
    g = coo_matrix((w, (rows, cols)), shape=(len(p), len(p))).tocsr()
    g = g.maximum(g.T)
    tree = minimum_spanning_tree(g)
    tree = tree + tree.T
    n_comp, label = connected_components(tree, directed=False)
    for c in range(n_comp):
        members = np.flatnonzero(label == c)
        seed = members[np.argmax(p[members, 2])]
        if n[seed, 2] < 0:
            n[seed] = -n[seed]
        order, pred = breadth_first_order(tree, seed, directed=False)
        for j in order[1:]:  # parents come before children in BFS order
            if n[j] @ n[pred[j]] < 0:
                n[j] = -n[j]
        out = np.einsum("ij,ij->", n[members], p[members] - p[members].mean(0))
        if out < 0:
            n[members] = -n[members]
    return n


def imls(query: np.ndarray, points: np.ndarray, normals: np.ndarray, h: float, k: int = 12,
         tree: cKDTree | None = None) -> np.ndarray:
    """(Q,) IMLS signed distance at query (Q, 3) of the surface through points (N, 3) with
    outward normals (N, 3); Gaussian bandwidth ``h`` (world units) over the k nearest points.

    Weights are taken relative to the nearest point's, so the value stays defined far from
    the cloud (where it tends to the signed distance to the nearest points' tangent planes).
    """
    p = _cloud(points)
    q = np.asarray(query, np.float64).reshape(-1, 3)
    if not h > 0:
        raise ValueError(f"h must be > 0, got {h}")
    tree = tree if tree is not None else cKDTree(p)
    k = min(k, len(p))
    out = np.empty(len(q))
    for s in range(0, len(q), _CHUNK):
        x = q[s : s + _CHUNK]
        d, idx = tree.query(x, k=k)  # (n, k)
        w = np.exp(-(d**2 - d[:, :1] ** 2) / h**2)
        proj = np.einsum("nkj,nkj->nk", x[:, None, :] - p[idx], normals[idx])
        out[s : s + _CHUNK] = (w * proj).sum(1) / w.sum(1)
    return out
