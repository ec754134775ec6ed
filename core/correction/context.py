"""Neighbourhood context of hull-surface samples for the learned surface correction.

A sample's own features (core.correction.depth.point_features) describe the hull along one
line; whether the hull there is a lens over a thin part, a crease between two views' cones or
a rim where the truth touches it shows in how the surface around the sample bends and in
what its neighbours see. :func:`context_features` adds, for balls of CONTEXT_RADII pixels
around each sample (over at most CONTEXT_POINTS of the samples, so the cost stays bounded for
dense clouds; the other samples take their nearest context sample's statistics):

- the mean height of the neighbours above the sample's tangent plane, in ball radii
  (negative: the surface falls away, a convex bump or a crease);
- the spread of their normals, 1 - mean(n_q . n_p) (0 on a flat face);
- the mean of the neighbours' own features (what the views say around the sample).

Every statistic is a ball sum of per-sample quantities (1, x, n, F), found either from the
k-d tree's list of pairs or, when the balls are crowded (small images, where 8 pixels is a
large part of the object), from dense blocks of distances: the same balls (a distance
within rounding of a radius may fall either way) summed in another order, at a cost of M^2
whatever the crowding (:data:`DENSE_FROM`).

Every quantity is in pixels or ratios, so the features are scale-free like the others; a ball
mean does not depend on the sampling density in expectation, so training (4000 samples per
scene) and the fit's pool (4·J samples) see the same features up to noise.

Shapes in docstrings: N samples, F own features, M context samples.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

__all__ = ["CONTEXT_RADII", "CONTEXT_POINTS", "DENSE_FROM", "context_size", "context_features",
           "context_subset", "auto_pairs", "crowding"]

#: Ball radii (pixels) over which the neighbourhood statistics are taken.
CONTEXT_RADII = (3.0, 8.0)
#: At most this many samples (an even random subset, fixed seed) form the neighbourhoods.
CONTEXT_POINTS = 8000
#: ``pairs="auto"`` takes the dense blocks when the largest ball holds on average more than
#: this fraction of the M context samples. On one idle thread the pair list costs 0.2-0.35 µs
#: a pair and the blocks ~0.013 µs per entry of M^2, so they cost the same near M / 23; M / 16
#: was measured on a busy machine and keeps the pair list where the blocks are up to 1.8x faster
#: (benchmarks/context_speed.py measures both).
DENSE_FROM = 1 / 16
_BLOCK = 512  # context samples per dense block of (512, M) distances
_PROBE = 256  # context samples whose balls are counted to choose the method


def context_size(n_own: int) -> int:
    """Number of context features for ``n_own`` own features per sample."""
    return len(CONTEXT_RADII) * (2 + n_own)


def context_features(points: np.ndarray, normals: np.ndarray, px: np.ndarray,
                     own: np.ndarray, pairs: str = "auto") -> np.ndarray:
    """Neighbourhood statistics of hull-surface samples.

    Args:
        points: (N, 3) samples of the hull surface.
        normals: (N, 3) their outward unit normals.
        px: (N,) world size of a pixel at each sample.
        own: (N, F) each sample's own features.
        pairs: "tree" (the k-d tree's pair list), "dense" (blocks of all distances) or
            "auto" (dense when the largest ball holds more than DENSE_FROM of the context
            samples on average). The two give the same balls up to rounding at their
            edges; their sums differ in the last bits (summation order).

    Returns:
        (N, len(CONTEXT_RADII) * (2 + F)) float32: per radius r (pixels), the neighbours'
        mean height above the tangent plane / (r px), their normal spread, and their mean
        own features. The context samples are all N when N <= CONTEXT_POINTS, else that many
        drawn with a fixed seed; each context sample's neighbours are the context samples
        within r times the scene's median pixel size (itself included), and every other
        sample takes the statistics of its nearest context sample, so the cost is bounded
        whatever N (training scenes, 4000 samples, are always exact).
    """
    P = np.asarray(points, np.float64)
    n = np.asarray(normals, np.float64)
    F = np.asarray(own, np.float64)
    N = len(P)
    if N == 0:
        return np.zeros((0, context_size(F.shape[1])), np.float32)
    ctx = context_subset(N)
    Pc, nc, pxc, Fc = P[ctx], n[ctx], px[ctx], F[ctx]
    tree = cKDTree(Pc)
    scale = float(np.median(px))
    if pairs not in ("auto", "tree", "dense"):
        raise ValueError(f"pairs must be 'auto', 'tree' or 'dense', got {pairs!r}")
    if pairs == "auto":
        pairs = auto_pairs(tree, scale)
    stats = (_dense_stats(Pc, nc, pxc, Fc, scale) if pairs == "dense" else
             _tree_stats(tree, Pc, nc, pxc, Fc, scale))
    if N > len(ctx):
        _, nearest = tree.query(P)
        stats = stats[nearest]
    return stats.astype(np.float32)


def context_subset(n: int) -> np.ndarray:
    """Indices (M,) of the context samples among ``n``: all of them up to CONTEXT_POINTS, else
    that many drawn with a fixed seed, sorted."""
    if n <= CONTEXT_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, CONTEXT_POINTS, replace=False))


def auto_pairs(tree: cKDTree, scale: float) -> str:
    """What ``pairs="auto"`` takes for the context samples in ``tree`` at pixel size
    ``scale``: "dense" when their largest ball holds more than DENSE_FROM of them on average
    (:func:`crowding`), else "tree"."""
    return "dense" if crowding(tree, scale) > DENSE_FROM * tree.n else "tree"


def crowding(tree: cKDTree, scale: float) -> float:
    """Mean number of the tree's points within the largest CONTEXT_RADII ball (times
    ``scale``, the pixel size) of _PROBE of them, evenly spread over the tree's data."""
    data = tree.data
    probe = data[np.linspace(0, len(data) - 1, min(_PROBE, len(data))).astype(np.int64)]
    return float(np.mean(tree.query_ball_point(probe, max(CONTEXT_RADII) * scale,
                                               return_length=True)))


def _tree_stats(tree: cKDTree, P: np.ndarray, n: np.ndarray, px: np.ndarray, F: np.ndarray,
                scale: float) -> np.ndarray:
    """(M, len(CONTEXT_RADII) * (2 + F)) statistics of the context samples P (M, 3), n (M, 3),
    px (M,), F (M, F) over their balls of r * scale, from the k-d tree's pair list (cost:
    the pairs)."""
    M = len(P)
    out = []
    for r in CONTEXT_RADII:
        pairs = tree.sparse_distance_matrix(tree, r * scale, output_type="ndarray")
        i, j = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
        cnt = np.maximum(np.bincount(i, minlength=M), 1).astype(np.float64)
        h = np.einsum("kc,kc->k", P[j] - P[i], n[i]) / (r * px[i])
        s = 1.0 - np.einsum("kc,kc->k", n[j], n[i])
        A = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(M, M))
        out += [(np.bincount(i, h, M) / cnt)[:, None], (np.bincount(i, s, M) / cnt)[:, None],
                (A @ F) / cnt[:, None]]
    return np.concatenate(out, 1)


def _dense_stats(P: np.ndarray, n: np.ndarray, px: np.ndarray, F: np.ndarray,
                 scale: float) -> np.ndarray:
    """As :func:`_tree_stats`, from ball sums of (1, x, n, F) over blocks of _BLOCK rows of
    all M^2 distances (cost: M^2 whatever the crowding); x is taken about the samples' mean
    so that the sums lose no precision."""
    M = len(P)
    Q = P - P.mean(0)
    G = np.concatenate([np.ones((M, 1)), Q, n, F], 1)  # (M, 7 + F): what the balls sum
    S = {r: np.empty((M, G.shape[1])) for r in CONTEXT_RADII}
    sq = (Q * Q).sum(1)
    for b in range(0, M, _BLOCK):
        d2 = sq[b:b + _BLOCK, None] + sq[None] - 2.0 * (Q[b:b + _BLOCK] @ Q.T)  # (B, M)
        for r in CONTEXT_RADII:
            S[r][b:b + _BLOCK] = (d2 <= (r * scale) ** 2) @ G
    out = []
    for r in CONTEXT_RADII:
        cnt = S[r][:, 0]
        c = np.maximum(cnt, 1.0)
        h = (np.einsum("kc,kc->k", S[r][:, 1:4], n) - cnt * np.einsum("kc,kc->k", Q, n)) / (r * px)
        spread = cnt - np.einsum("kc,kc->k", S[r][:, 4:7], n)
        out += [(h / c)[:, None], (spread / c)[:, None], S[r][:, 7:] / c[:, None]]
    return np.concatenate(out, 1)
