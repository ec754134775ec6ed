"""Neighbourhood context of hull-surface samples for the learned surface correction.

A sample's own features (core.hull.correction.point_features) describe the hull along one
line; whether the hull there is a lens over a thin part, a crease between two views' cones or
a rim where the truth touches it shows in how the surface around the sample bends and in
what its neighbours see. :func:`context_features` adds, for balls of CONTEXT_RADII pixels
around each sample (over at most CONTEXT_POINTS of the samples, so the cost stays bounded for
dense clouds; the other samples take their nearest context sample's statistics):

- the mean height of the neighbours above the sample's tangent plane, in ball radii
  (negative: the surface falls away, a convex bump or a crease);
- the spread of their normals, 1 - mean(n_q . n_p) (0 on a flat face);
- the mean of the neighbours' own features (what the views say around the sample).

Every quantity is in pixels or ratios, so the features are scale-free like the others; a ball
mean does not depend on the sampling density in expectation, so training (4000 samples per
scene) and the fit's pool (4·J samples) see the same features up to noise.

Shapes in docstrings: N samples, F own features, M context samples.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

__all__ = ["CONTEXT_RADII", "CONTEXT_POINTS", "context_size", "context_features"]

#: Ball radii (pixels) over which the neighbourhood statistics are taken.
CONTEXT_RADII = (3.0, 8.0)
#: At most this many samples (an even random subset, fixed seed) form the neighbourhoods.
CONTEXT_POINTS = 8000


def context_size(n_own: int) -> int:
    """Number of context features for ``n_own`` own features per sample."""
    return len(CONTEXT_RADII) * (2 + n_own)


def context_features(points: np.ndarray, normals: np.ndarray, px: np.ndarray,
                     own: np.ndarray) -> np.ndarray:
    """Neighbourhood statistics of hull-surface samples.

    Args:
        points: (N, 3) samples of the hull surface.
        normals: (N, 3) their outward unit normals.
        px: (N,) world size of a pixel at each sample.
        own: (N, F) each sample's own features.

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
    ctx = (np.arange(N) if N <= CONTEXT_POINTS else
           np.sort(np.random.default_rng(0).choice(N, CONTEXT_POINTS, replace=False)))
    Pc, nc, pxc, Fc = P[ctx], n[ctx], px[ctx], F[ctx]
    tree = cKDTree(Pc)
    scale = float(np.median(px))
    M = len(ctx)
    out = []
    for r in CONTEXT_RADII:
        pairs = tree.sparse_distance_matrix(tree, r * scale, output_type="ndarray")
        i, j = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
        cnt = np.maximum(np.bincount(i, minlength=M), 1).astype(np.float64)
        h = np.einsum("kc,kc->k", Pc[j] - Pc[i], nc[i]) / (r * pxc[i])
        s = 1.0 - np.einsum("kc,kc->k", nc[j], nc[i])
        A = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(M, M))
        out += [(np.bincount(i, h, M) / cnt)[:, None], (np.bincount(i, s, M) / cnt)[:, None],
                (A @ Fc) / cnt[:, None]]
    stats = np.concatenate(out, 1)
    if N > len(ctx):
        _, nearest = tree.query(P)
        stats = stats[nearest]
    return stats.astype(np.float32)
