"""Compiled (numba) splat and gather of the cubic B-spline stencils of core.drwr.repulsion_cubic.

The CPU path of ``_Geom.splat`` and ``_Geom.value_grad``: the same sums as their torch loops
(16 shifted ``scatter_add_`` / ``index_select`` passes over all points, which core.drwr.
repulsion_cubic keeps for CUDA and as the reference these are tested against), written as one
pass over the points with the 4 x 4 nodes of each in registers, no (4, N) temporaries.

Layout (as in ``_Geom``): ``W``, ``dW`` (4, 2, N) B-spline weights and their derivatives
(node, axis u/v, point); ``base`` (N,) flat index of each point's first node; node (a, b) of a
point (a along v, b along u) is ``flat[base + a * gx + b]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["splat_cubic", "gather_cubic"]


@njit(cache=True, nogil=True)
def splat_cubic(W: np.ndarray, base: np.ndarray, vals: np.ndarray, gx: int,
                out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """out (L + pad,) += the stencils of vals (N,): out[base + a gx + b] += v W[b,u] W[a,v]."""
    for n in range(base.shape[0]):
        v = vals[n]
        if v == 0.0:
            continue
        b0 = base[n]
        wu0, wu1, wu2, wu3 = W[0, 0, n], W[1, 0, n], W[2, 0, n], W[3, 0, n]
        for a in range(4):
            s = v * W[a, 1, n]
            r = b0 + a * gx
            out[r] += s * wu0
            out[r + 1] += s * wu1
            out[r + 2] += s * wu2
            out[r + 3] += s * wu3


@njit(cache=True, nogil=True)
def gather_cubic(flat: np.ndarray, W: np.ndarray, dW: np.ndarray, base: np.ndarray, gx: int,
                 inv_h: float, grad: bool, val: np.ndarray,
                 duv: np.ndarray) -> None:  # pragma: no cover (compiled)
    """val (N,) = interpolated field of ``flat`` at each point; with ``grad`` also duv (N, 2)
    its (d/du, d/dv) in pixels (``inv_h`` = 1 / grid spacing)."""
    for n in range(base.shape[0]):
        b0 = base[n]
        wu0, wu1, wu2, wu3 = W[0, 0, n], W[1, 0, n], W[2, 0, n], W[3, 0, n]
        s = 0.0
        su = 0.0
        sv = 0.0
        for a in range(4):
            r = b0 + a * gx
            g0, g1, g2, g3 = flat[r], flat[r + 1], flat[r + 2], flat[r + 3]
            row = g0 * wu0 + g1 * wu1 + g2 * wu2 + g3 * wu3
            s += row * W[a, 1, n]
            if grad:
                su += (g0 * dW[0, 0, n] + g1 * dW[1, 0, n] + g2 * dW[2, 0, n]
                       + g3 * dW[3, 0, n]) * W[a, 1, n]
                sv += row * dW[a, 1, n]
        val[n] = s
        if grad:
            duv[n, 0] = su * inv_h
            duv[n, 1] = sv * inv_h
