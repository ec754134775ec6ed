"""core.correction.context: the neighbourhood statistics against a naive per-point loop."""

from __future__ import annotations

import numpy as np
import pytest

import core.correction.context as C
from core.correction.context import CONTEXT_RADII, context_features, context_size


def _naive(P, n, px, F, ctx):
    """Per context sample, a brute-force ball over the context samples ``ctx`` (indices);
    every other sample copies its nearest context sample's row."""
    scale = np.median(px)
    out = []
    for j in range(len(P)):
        if j not in ctx:
            out.append(None)
            continue
        row = []
        for r in CONTEXT_RADII:
            d = np.linalg.norm(P[ctx] - P[j], axis=1)
            nb = ctx[d <= r * scale]
            h = np.mean([(P[k] - P[j]) @ n[j] for k in nb]) / (r * px[j])
            s = np.mean([1.0 - n[k] @ n[j] for k in nb])
            row += [h, s, *F[nb].mean(0)]
        out.append(row)
    for j in range(len(P)):
        if out[j] is None:
            out[j] = out[ctx[np.argmin(np.linalg.norm(P[ctx] - P[j], axis=1))]]
    return np.array(out)


def _cloud(N, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(N, 3))
    P /= np.linalg.norm(P, axis=1, keepdims=True)  # a unit sphere, outward normals = P
    px = rng.uniform(0.04, 0.06, N)
    F = rng.normal(size=(N, 4))
    return P, P.copy(), px, F


@pytest.mark.parametrize("pairs", ["tree", "dense", "auto"])
@pytest.mark.parametrize("limit", [10_000, 150])
def test_context_matches_naive_loop(monkeypatch, limit, pairs):
    P, n, px, F = _cloud(400)
    P[7] += 5.0  # an isolated sample: no neighbour but itself (when it is a context point)
    P += 40.0  # far from the origin: the dense sums must not lose the small offsets
    monkeypatch.setattr(C, "CONTEXT_POINTS", limit)
    monkeypatch.setattr(C, "_BLOCK", 64)  # several blocks, the last one partial
    got = context_features(P, n, px, F, pairs)
    ctx = (np.arange(400) if limit >= 400 else
           np.sort(np.random.default_rng(0).choice(400, limit, replace=False)))
    assert got.shape == (400, context_size(4)) and got.dtype == np.float32
    assert np.allclose(got, _naive(P, n, px, F, ctx), atol=1e-5)


def test_auto_takes_the_dense_sums_when_the_balls_are_crowded(monkeypatch):
    """Small images: 8 pixels cover much of the object, every ball holds most samples."""
    P, n, px, F = _cloud(1500, 2)
    used = []
    for name in ("_tree_stats", "_dense_stats"):
        real = getattr(C, name)
        monkeypatch.setattr(C, name, lambda *a, _r=real, _n=name: used.append(_n) or _r(*a))
    sparse_cloud = context_features(P, n, px, F)  # 8 px ~ 0.4: ~60 of 1500 per ball
    crowded = context_features(P, n, 5 * px, F)  # 8 px ~ 2: most of the sphere
    assert used == ["_tree_stats", "_dense_stats"]
    assert np.allclose(crowded, context_features(P, n, 5 * px, F, "tree"), atol=1e-6)
    assert np.allclose(sparse_cloud, context_features(P, n, px, F, "dense"), atol=1e-6)


def test_unknown_pairs_method_is_refused():
    P, n, px, F = _cloud(20)
    with pytest.raises(ValueError, match="pairs"):
        context_features(P, n, px, F, "fast")


def test_sphere_falls_away_and_is_scale_free():
    P, n, px, F = _cloud(3000, 1)
    X = context_features(P, n, px, F)
    assert (X[:, 0] < 0).mean() > 0.95  # a convex surface falls below the tangent plane
    X3 = context_features(3 * P, n, 3 * px, F)
    assert np.allclose(X3, X, atol=1e-5)


def test_empty_input():
    assert context_features(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0),
                            np.zeros((0, 5))).shape == (0, context_size(5))
