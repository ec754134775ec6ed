"""farthest_point_sample (core.correction.hull_field) against the plain greedy loop."""

from __future__ import annotations

import numpy as np
import pytest

from core.geometry.pointcloud import farthest_point_sample


def naive_fps(points: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """The O(n N) reference: start at points[seed % N], then always the first point (lowest
    index) of largest squared distance to the chosen set."""
    P = np.asarray(points, np.float64)
    idx = [seed % len(P)]
    d = ((P - P[idx[0]]) ** 2).sum(1)
    for _ in range(1, n):
        k = int(np.argmax(d))
        idx.append(k)
        d = np.minimum(d, ((P - P[k]) ** 2).sum(1))
    return P[idx]


def _grid(k: int) -> np.ndarray:  # many exact ties
    return np.stack(np.meshgrid(*[np.arange(float(k))] * 3, indexing="ij"), -1).reshape(-1, 3)


@pytest.mark.parametrize("name,points,n,seed", [
    ("gauss", np.random.default_rng(0).normal(size=(800, 3)), 120, 0),
    ("sphere-seed", np.random.default_rng(1).normal(size=(3000, 3)), 700, 11),
    ("almost-all", np.random.default_rng(2).normal(size=(300, 3)), 299, 5),
    ("grid-ties", _grid(7), 150, 3),
    ("duplicates", np.repeat(np.random.default_rng(3).normal(size=(25, 3)), 3, 0), 40, 1),
    ("flat", np.c_[np.random.default_rng(4).uniform(size=(500, 2)), np.zeros(500)], 90, 0),
])
def test_same_points_in_the_same_order_as_the_greedy_loop(name, points, n, seed):
    assert np.array_equal(farthest_point_sample(points, n, seed), naive_fps(points, n, seed))


def test_first_point_rule_and_max_min_property():
    P = np.random.default_rng(5).normal(size=(1000, 3))
    out = farthest_point_sample(P, 60, seed=1234)
    assert np.array_equal(out[0], P[1234 % 1000])
    for k in range(1, 60):  # each pick is at the largest distance from those before it
        d_all = np.min(((P[:, None] - out[None, :k]) ** 2).sum(-1), 1)
        d_k = np.min(((out[k] - out[:k]) ** 2).sum(-1))
        assert d_k == pytest.approx(d_all.max(), rel=1e-12)


def test_n_at_least_N_returns_every_point_and_n_zero_none():
    P = np.random.default_rng(6).normal(size=(10, 3))
    assert np.array_equal(farthest_point_sample(P, 10), P)
    assert np.array_equal(farthest_point_sample(P, 50), P)
    assert farthest_point_sample(P, 0).shape == (0, 3)
