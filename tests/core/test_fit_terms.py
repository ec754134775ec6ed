"""The terms of a fit beside DRWR's l1/l2, each against an independent computation:

- drwr_terms' repulsion weight w and boundary bias δ (against the geometry of a straight
  silhouette edge and brute-force box means, not against the formula the code uses);
- μ, the surface term: HullField.margin against the direct carving margin, its gradient
  against finite differences, and a fit with only μ pulling points onto the level set;
- ν, spread_loss and knn_indices against double loops, and gradcheck.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.drwr.losses import drwr_terms
from core.drwr.silhouette import SilhouetteMaps, sample_maps
from core.fit.config import apply_preset
from core.fit.fitter import Fitter
from core.correction.hull_field import HullField
from core.geometry.pointcloud import knn_indices, spread_loss
from core.hull.visual_hull import carving_maps, carving_margin
from core.io.mesh_scene import make_scene

RINGS = 3


# -- w and δ ---------------------------------------------------------------------------------
def _square_mask() -> np.ndarray:
    m = np.zeros((1, 16, 16), bool)
    m[0, 2:14, 2:12] = True  # right edge between columns 11 and 12: the pixel edge u = 11.5
    return m


def _bias_brute(m: np.ndarray, r: int, c: int, rings: int) -> float:
    """Mean over k = 1..rings of the foreground fraction of the (2k+1)² window at (r, c),
    pixels beyond the image counting as background."""
    H, W = m.shape
    means = []
    for k in range(1, rings + 1):
        n = 0
        for rr in range(r - k, r + k + 1):
            for cc in range(c - k, c + k + 1):
                n += 0 <= rr < H and 0 <= cc < W and bool(m[rr, cc])
        means.append(n / (2 * k + 1) ** 2)
    return float(np.mean(means))


def _terms_at(uv: list[tuple[float, float]], behind: bool = False) -> dict:
    """drwr_terms of points placed to project at pixel positions uv with a camera at the
    origin looking along +z (K = diag(10, 10, 1): u = 10 x / z)."""
    m = _square_mask()
    maps = SilhouetteMaps(m, RINGS)
    z = -1.0 if behind else 1.0
    pts = torch.tensor([[u / 10 * z, v / 10 * z, z] for u, v in uv], dtype=torch.float64)
    K = torch.tensor([[[10.0, 0, 0], [0, 10.0, 0], [0, 0, 1]]], dtype=torch.float64)
    R, t = torch.eye(3, dtype=torch.float64)[None], torch.zeros(1, 3, dtype=torch.float64)
    maps.sd, maps.mask, maps.bias = maps.sd.double(), maps.mask.double(), maps.bias.double()
    return drwr_terms(pts, K, R, t, maps, None, sigma=1.5, with_repulsion=False)


def test_w_follows_the_distance_to_a_straight_edge():
    """Along a straight edge sd(u) = 11.5 - u: w = clip(2 (11.5 - u), 0, 1), i.e. 1 up to the
    outermost pixel centre, 0 from the pixel edge on."""
    us = [5.0, 11.0, 11.1, 11.25, 11.4, 11.5, 11.8, 13.0]
    out = _terms_at([(u, 8.0) for u in us])
    want = [min(max(2 * (11.5 - u), 0.0), 1.0) for u in us]
    assert out["w"][0].tolist() == pytest.approx(want, abs=1e-9)


def test_w_is_zero_off_the_image_and_behind_the_camera():
    assert _terms_at([(20.0, 8.0), (8.0, -3.0)])["w"][0].tolist() == [0.0, 0.0]
    assert _terms_at([(8.0, 8.0)], behind=True)["w"][0].tolist() == [0.0]


@pytest.mark.parametrize("r,c", [(8, 6), (8, 11), (8, 12), (2, 2), (0, 15), (13, 11)])
def test_delta_at_pixel_centres_is_the_mean_of_box_fractions(r, c):
    delta = SilhouetteMaps(_square_mask(), RINGS).bias[0, r, c].item()
    assert delta == pytest.approx(_bias_brute(_square_mask()[0], r, c, RINGS), abs=1e-6)


def test_delta_between_pixel_centres_is_bilinear_in_the_brute_values():
    m = _square_mask()[0]
    u, v = 11.3, 7.6
    c0, r0, fu, fv = 11, 7, 0.3, 0.6
    b = lambda r, c: _bias_brute(m, r, c, RINGS)  # noqa: E731
    want = ((1 - fv) * ((1 - fu) * b(r0, c0) + fu * b(r0, c0 + 1))
            + fv * ((1 - fu) * b(r0 + 1, c0) + fu * b(r0 + 1, c0 + 1)))
    maps = SilhouetteMaps(_square_mask(), RINGS)
    got = sample_maps(maps.bias.double(), torch.tensor([[[u, v]]], dtype=torch.float64))
    assert got.item() == pytest.approx(want, abs=1e-6)


# -- μ: the surface term ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def blob():
    return make_scene("blob", views=6, res=32, gt_points=0, seed=2)


@pytest.fixture(scope="module")
def prior(blob):
    return HullField(blob, res=48, level=0.5)


def test_prior_margin_matches_the_direct_carving_margin(blob, prior):
    """Trilinear on the 48³ grid vs min over views at the exact projection: equal up to the
    margin's change over a voxel (its slope is bounded by the volume's clip per voxel)."""
    pts = prior.surface_points(300, seed=1)
    pts = np.concatenate([pts, 0.6 * pts, pts + 0.02])
    direct = carving_margin(blob, carving_maps(blob.masks, level=0.5), pts, -prior.clip)
    grid = prior.margin(torch.tensor(pts, dtype=torch.float32)).double().numpy()
    err = np.abs(grid - np.minimum(direct, prior.clip))
    assert np.median(err) < 0.1 and err.max() < 0.5 * prior.clip


def test_prior_margin_gradient_matches_finite_differences(prior):
    pts = torch.tensor(prior.surface_points(50, seed=3), dtype=torch.float32)
    pts.requires_grad_(True)
    prior.margin(pts).sum().backward()
    h = 1e-3
    for k in range(3):
        e = torch.zeros(3)
        e[k] = h
        fd = (prior.margin(pts.detach() + e) - prior.margin(pts.detach() - e)) / (2 * h)
        close = (pts.grad[:, k] - fd).abs() <= 0.05 * fd.abs().max() + 1e-3
        assert close.float().mean() > 0.9  # kinks of the trilinear field at voxel faces


def test_a_fit_with_only_the_surface_term_converges_to_the_level_set(blob, prior):
    cfg = apply_preset("default", points=400, iterations=100, surface_weight=1.0,
                       spread_weight=0.0, sil_weight=0.1, beta=0.0, init="hull",
                       surface_level=0.5, snap="off", lr=0.01)
    f = Fitter(blob, cfg)
    dev0 = (prior.margin(f.points.detach()) - 0.5).abs().mean().item()
    f.run()
    dev1 = (prior.margin(f.points.detach()) - 0.5).abs().mean().item()
    assert f.last_losses["surface"] > 0
    assert dev1 < 0.3 * dev0


# -- ν: spread_loss and its neighbours -------------------------------------------------------
def test_knn_indices_against_brute_force():
    rng = np.random.default_rng(0)
    P = rng.normal(size=(60, 3))
    idx = knn_indices(P, 5)
    D = ((P[:, None] - P[None]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    want = np.argsort(D, 1)[:, :5]
    assert np.array_equal(np.sort(idx, 1), np.sort(want, 1))


def test_spread_loss_against_a_double_loop_and_gradcheck():
    rng = np.random.default_rng(1)
    P = rng.normal(size=(40, 3)) * 0.3
    nbr = knn_indices(P, 4)
    h = 0.2
    want = sum(np.exp(-np.sum((P[j] - P[k]) ** 2) / h**2) for j in range(40) for k in nbr[j])
    x = torch.tensor(P, dtype=torch.float64, requires_grad=True)
    n = torch.as_tensor(nbr)
    assert spread_loss(x, n, h).item() == pytest.approx(want, rel=1e-12)
    assert torch.autograd.gradcheck(lambda y: spread_loss(y, n, h), (x,), eps=1e-6, atol=1e-6)


def test_spread_loss_pushes_close_neighbours_apart():
    P = torch.tensor([[0.0, 0, 0], [0.05, 0, 0], [1.0, 0, 0]], requires_grad=True)
    nbr = torch.tensor([[1], [0], [1]])
    spread_loss(P, nbr, 0.1).backward()
    assert P.grad[0, 0] > 0 and P.grad[1, 0] < 0  # descent moves 0 left and 1 right
