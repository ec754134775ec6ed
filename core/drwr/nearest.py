"""Nearest point of a 2-D point set for many rows at once, without the dense distances.

The coverage term (core.train.terms.coverage_distance) needs, for each of P silhouette samples
of each of I rows (objects x views), the nearest of that row's J projected points.  The dense
way measures all I x P x J distances (21M at a batch of 16 x 5 views, P = 128, J = 2048) and
takes their argmin; here:

- on the CPU, a compiled (numba) bucket grid per row: the row's finite points are sorted into
  square cells (about two points a cell over the box of the row's queries; points outside the
  box go to its border cells), and each query searches rings of cells around its own, nearest
  first, until the best distance found is no more than the distance to the next ring.  Exact:
  a point whose cell is k + 1 rings out lies at least k cell sides away (moving a point into
  the box never takes it farther from a query inside the box).  O(J + P) a row for clouds
  spread like their silhouettes, one pass over the rows, one thread;
- on other devices (CUDA), the dense argmin, which is fast there.

Both give the same index as :func:`nearest_index_naive` (ties between equally distant points
aside).  Non-finite points are never nearest; a row without a finite point answers index 0.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit

__all__ = ["nearest_index", "nearest_index_naive"]

_POINTS_PER_CELL = 2.0
_MAX_SIDE = 1024  # cells along one side of a row's grid


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


@njit(cache=True, nogil=True)
def _cell(v: float, lo: float, side: float, n: int) -> int:  # pragma: no cover (compiled)
    """The cell (0 .. n - 1) of coordinate ``v`` on a grid from ``lo`` in steps of ``side``;
    outside the grid, its border cell."""
    return min(max(int(math.floor((v - lo) / side)), 0), n - 1)


@njit(cache=True, nogil=True)
def _grid_nearest(q: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """q (I, P, 2), x (I, J, 2) float64 -> out (I, P) int64 (module docstring: method)."""
    I, P, J = q.shape[0], q.shape[1], x.shape[1]
    cell = np.empty(J, np.int64)
    order = np.empty(J, np.int64)
    for i in range(I):
        nf = 0
        for j in range(J):
            if math.isfinite(x[i, j, 0]) and math.isfinite(x[i, j, 1]):
                nf += 1
        if nf == 0 or P == 0:
            out[i, :] = 0
            continue
        u0, u1, v0, v1 = q[i, 0, 0], q[i, 0, 0], q[i, 0, 1], q[i, 0, 1]
        for p in range(P):
            u0, u1 = min(u0, q[i, p, 0]), max(u1, q[i, p, 0])
            v0, v1 = min(v0, q[i, p, 1]), max(v1, q[i, p, 1])
        w, h = max(u1 - u0, 1e-9), max(v1 - v0, 1e-9)
        side = max(math.sqrt(w * h * _POINTS_PER_CELL / nf), max(w, h) / _MAX_SIDE, 1e-9)
        gu = min(int(w / side) + 1, _MAX_SIDE)
        gv = min(int(h / side) + 1, _MAX_SIDE)
        start = np.zeros(gu * gv + 1, np.int64)
        for j in range(J):
            if math.isfinite(x[i, j, 0]) and math.isfinite(x[i, j, 1]):
                cell[j] = (_cell(x[i, j, 1], v0, side, gv) * gu
                           + _cell(x[i, j, 0], u0, side, gu))
                start[cell[j] + 1] += 1
            else:
                cell[j] = -1
        for c in range(gu * gv):
            start[c + 1] += start[c]
        fill = start[:-1].copy()
        for j in range(J):
            if cell[j] >= 0:
                order[fill[cell[j]]] = j
                fill[cell[j]] += 1
        for p in range(P):
            qu, qv = q[i, p, 0], q[i, p, 1]
            qcu, qcv = _cell(qu, u0, side, gu), _cell(qv, v0, side, gv)
            last = max(qcu, gu - 1 - qcu, qcv, gv - 1 - qcv)
            best, arg = math.inf, -1
            k = 0
            while True:
                for dv in range(-k, k + 1):
                    cv = qcv + dv
                    if cv < 0 or cv >= gv:
                        continue
                    step = 1 if (dv == -k or dv == k) else 2 * k  # inner rows: both ends
                    for du in range(-k, k + 1, step):
                        cu = qcu + du
                        if cu < 0 or cu >= gu:
                            continue
                        c = cv * gu + cu
                        for s in range(start[c], start[c + 1]):
                            j = order[s]
                            d2 = (x[i, j, 0] - qu) ** 2 + (x[i, j, 1] - qv) ** 2
                            if d2 < best or (d2 == best and j < arg):
                                best, arg = d2, j
                if k >= last or (arg >= 0 and best <= (k * side) ** 2):
                    break
                k += 1
            out[i, p] = arg


def nearest_index(queries: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Index of the nearest point of each query (module docstring: method).

    queries (I, P, 2) (finite), points (I, J, 2), same units (pixels) -> (I, P) long in
    [0, J), on the points' device.  No gradient (indices): gather the points with it to get
    differentiable distances.
    """
    _check(queries, points)
    if points.device.type != "cpu":
        return nearest_index_naive(queries, points)
    q = queries.detach().to(torch.float64).contiguous().numpy()
    x = points.detach().to(torch.float64).contiguous().numpy()
    out = np.empty(q.shape[:2], np.int64)
    _grid_nearest(q, x, out)
    return torch.from_numpy(out)
