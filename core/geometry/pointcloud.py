"""Generic point-cloud operations: farthest-point sampling, nearest-neighbour indices and the
Gaussian spread penalty over those neighbours (numpy / torch, no scene)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree

__all__ = ["farthest_point_sample", "knn_indices", "spread_loss"]

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


def knn_indices(points: np.ndarray, k: int) -> np.ndarray:
    """(J, k) indices of each point's k nearest other points (scipy KD-tree)."""
    k = min(k, len(points) - 1)
    _, idx = cKDTree(points).query(points, k=k + 1)
    return idx[:, 1:]


def spread_loss(points: torch.Tensor, nbr: torch.Tensor, h: float) -> torch.Tensor:
    """Σ_j Σ_k exp(-|x_j - x_nbr[j,k]|² / h²). points (J, 3), nbr (J, k) long -> scalar."""
    d2 = ((points[:, None, :] - points[nbr]) ** 2).sum(-1)  # (J, k)
    return torch.exp(-(d2 / (h * h)).clamp(max=80.0)).sum()
