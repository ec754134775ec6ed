"""Nearest point of a 2-D point set for many rows at once, without the dense distances.

The coverage term (core.train.terms.coverage_distance) needs, for each of P silhouette samples
of each of I rows (objects x views), the nearest of that row's J projected points.  The dense
way measures all I x P x J distances (21M at a batch of 16 x 5 views, P = 128, J = 2048) and
takes their argmin; here:

- on the CPU, one k-d tree (scipy's ``cKDTree``) holds the finite points of every row, each row
  lifted to its own height ``z = row * gap`` with ``gap`` larger than any distance within a row,
  so a query (lifted the same way) always finds a point of its own row: one build of I*J points
  and I*P queries of O(log) each, in float64;
- on other devices (CUDA), the dense argmin, which is fast there.

Both give the same index as :func:`nearest_index_naive` (ties between equally distant points
aside).  Non-finite points are never nearest; a row without a finite point answers index 0.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree

__all__ = ["nearest_index", "nearest_index_naive"]


def _check(queries: torch.Tensor, points: torch.Tensor) -> None:
    if queries.dim() != 3 or queries.shape[-1] != 2 or points.dim() != 3 or points.shape[-1] != 2:
        raise ValueError(f"queries (I, P, 2) and points (I, J, 2) expected, got "
                         f"{tuple(queries.shape)} and {tuple(points.shape)}")
    if queries.shape[0] != points.shape[0] or points.shape[1] == 0:
        raise ValueError(f"queries {tuple(queries.shape)} and points {tuple(points.shape)} need "
                         "the same rows I and J >= 1")


def nearest_index_naive(queries: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Reference: queries (I, P, 2), points (I, J, 2) -> (I, P) long, ``argmin_j`` of the dense
    (I, P, J) squared distances (non-finite points never nearest)."""
    _check(queries, points)
    p = points.detach()
    d2 = (queries.detach()[:, :, None] - p[:, None]).square().sum(-1)
    d2 = torch.where(torch.isfinite(p).all(-1)[:, None], d2, torch.full_like(d2, float("inf")))
    return d2.nan_to_num(nan=float("inf")).argmin(-1)


def nearest_index(queries: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Index of the nearest point of each query (module docstring: method).

    queries (I, P, 2) (finite), points (I, J, 2), same units (pixels) -> (I, P) long in
    [0, J), on the points' device.  No gradient (indices): gather the points with it to get
    differentiable distances.
    """
    _check(queries, points)
    if points.device.type != "cpu":
        return nearest_index_naive(queries, points)
    I, J, _ = points.shape
    P = queries.shape[1]
    x = points.detach().to(torch.float64)
    q = queries.detach().to(torch.float64).reshape(I * P, 2)
    fin = torch.isfinite(x[..., 0]) & torch.isfinite(x[..., 1])  # (I, J)
    keep = torch.nonzero(fin.reshape(-1)).squeeze(1)  # flat index of the finite points
    if keep.numel() == 0:
        return torch.zeros(I, P, dtype=torch.long)
    xs = x.reshape(-1, 2).index_select(0, keep)
    lo = torch.minimum(xs.amin(0), q.amin(0))
    hi = torch.maximum(xs.amax(0), q.amax(0))
    gap = 2.0 * float((hi - lo).norm()) + 1.0  # more than any distance within a row
    data = torch.cat([xs - lo, (keep // J).to(torch.float64)[:, None] * gap], 1).numpy()
    rowq = torch.arange(I, dtype=torch.float64).repeat_interleave(P)[:, None] * gap
    lifted = torch.cat([q - lo, rowq], 1).numpy()
    tree = cKDTree(data, leafsize=64, balanced_tree=False, compact_nodes=False,
                   copy_data=False)
    _, k = tree.query(lifted)
    near = (keep[torch.from_numpy(k.astype(np.int64))] % J).view(I, P)  # tree index -> j
    return near.masked_fill_(~fin.any(1, keepdim=True), 0)  # a row without a finite point
