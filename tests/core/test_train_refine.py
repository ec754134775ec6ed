"""core.train.refine: test-time refinement moves a prediction towards its input view's
silhouette (fewer points outside, less of the silhouette uncovered), in the image plane only,
at a step relative to the cloud's size; no steps, an empty mask or a NaN cloud change
nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.geometry.cameras import project
from core.train.refine import refine_prediction

RES = 48


def _camera():
    K = np.array([[60.0, 0, RES / 2 - 0.5], [0, 60.0, RES / 2 - 0.5], [0, 0, 1]])
    return K, np.eye(3), np.array([0.0, 0.0, 2.5])


def _uv(points, K, R, t):
    uv, z = project(torch.from_numpy(np.asarray(points, np.float64)), torch.from_numpy(K)[None],
                    torch.from_numpy(R)[None], torch.from_numpy(t)[None])
    return uv[0].numpy(), z[0].numpy()


def _scene(seed=0):
    """A rectangular silhouette and a cloud that is too wide (most points outside) and does
    not reach its top (its upper part uncovered)."""
    K, R, t = _camera()
    mask = np.zeros((RES, RES), bool)
    mask[8:30, 18:30] = True
    g = np.random.default_rng(seed)
    pts = np.stack([g.uniform(-0.5, 0.5, 400), g.uniform(-0.05, 0.4, 400),
                    g.uniform(-0.2, 0.2, 400)], 1)
    return pts, mask, K, R, t


def _inside(points, mask, K, R, t):
    uv, _ = _uv(points, K, R, t)
    px = np.round(uv).astype(int)
    ok = (px >= 0).all(1) & (px < RES).all(1)
    inside = np.zeros(len(points), bool)
    inside[ok] = mask[px[ok, 1], px[ok, 0]]
    return inside.mean()


def _uncovered(points, mask, K, R, t):
    """Silhouette pixels farther than 2 px from every projected point."""
    uv, _ = _uv(points, K, R, t)
    rr, cc = np.nonzero(mask)
    d = np.hypot(cc[:, None] - uv[None, :, 0], rr[:, None] - uv[None, :, 1]).min(1)
    return (d > 2).mean()


def test_refinement_fits_the_input_view():
    pts, mask, K, R, t = _scene()
    out = refine_prediction(pts, mask, K, R, t, steps=30, step=0.005)
    assert out.shape == pts.shape and out.dtype == np.float32
    assert _inside(pts, mask, K, R, t) < 0.6
    assert _inside(out, mask, K, R, t) > _inside(pts, mask, K, R, t) + 0.2
    assert _uncovered(out, mask, K, R, t) < 0.75 * _uncovered(pts, mask, K, R, t)
    # the points move across the view at their own depth (this camera looks along z)
    move = np.abs(out - pts).mean(0)
    assert move[2] < 1e-6 < min(move[0], move[1])


def test_the_step_follows_the_clouds_scale():
    """A cloud and a camera scaled by 10 refine to the scaled result."""
    pts, mask, K, R, t = _scene(1)
    a = refine_prediction(pts, mask, K, R, t, steps=10, step=0.004)
    b = refine_prediction(10 * pts, mask, K, R, 10 * t, steps=10, step=0.004)
    np.testing.assert_allclose(b / 10, a, atol=2e-4)


@pytest.mark.parametrize("case", ["no steps", "empty mask", "nan"])
def test_nothing_to_do_changes_nothing(case):
    pts, mask, K, R, t = _scene()
    steps = 0 if case == "no steps" else 10
    if case == "empty mask":
        mask = np.zeros_like(mask)
    if case == "nan":
        pts = pts.copy()
        pts[3] = np.nan
    out = refine_prediction(pts, mask, K, R, t, steps=steps, step=0.002)
    np.testing.assert_array_equal(out, pts.astype(np.float32))
