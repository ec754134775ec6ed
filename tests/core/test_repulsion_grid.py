"""Tests of core.drwr.repulsion_grid (particle-mesh repulsion) against the dense reference:
values and gradients across random, clustered, coincident, off-image and zero-weight points,
the stated kernel error bound, gradcheck of the hand-written backward, the box contract."""

from __future__ import annotations

import pytest
import torch

from core.drwr.repulsion import repulsion_cells, repulsion_grid, repulsion_naive
from core.drwr.repulsion_grid import DEFAULT_SPACING, grid_error_bound, grid_shape
from tests.core.repulsion_cases import KINDS, assert_match, evaluate, make

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _pairs(n: int, spacing: float, seed: int = 0):
    """n views of 2 points each, w = 1, delta = 0: out[:, 0] is the grid kernel kt(p0, p1)."""
    g = torch.Generator().manual_seed(seed)
    p0 = torch.rand(n, 1, 2, generator=g, dtype=torch.float64) * 3
    p1 = p0 + (torch.rand(n, 1, 2, generator=g, dtype=torch.float64) - 0.5) * 6
    return torch.cat([p0, p1], 1), torch.ones(n, 2, dtype=torch.float64)


@pytest.mark.parametrize("frac", [0.5, 1 / 3, 0.25, 0.2])
def test_kernel_error_bound(frac):
    """|kt - k| <= 0.16 (h/sigma)^3 and |grad kt - grad k| <= 0.35 (h/sigma)^2 / sigma."""
    sigma = 1.3
    uv, w = _pairs(3000, frac * sigma)
    uv = (uv * sigma).requires_grad_()
    kt = repulsion_grid(uv, w, torch.zeros_like(w), sigma, spacing=frac * sigma)[:, 0]
    kt.sum().backward()
    d = (uv[:, 0] - uv[:, 1]).detach()
    k = torch.exp(-(d * d).sum(-1) / sigma**2)
    gk = -2 * d / sigma**2 * k[:, None]
    eps, geps = grid_error_bound(frac * sigma, sigma)
    err, gerr = (kt.detach() - k).abs().max(), (uv.grad[:, 0] - gk).abs().max()
    assert err <= eps and gerr <= geps, (float(err), eps, float(gerr), geps)
    assert err >= eps / 20  # the bound is not loose by orders of magnitude


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("w_grad", [True, False])
def test_grid_matches_naive(kind, w_grad):
    """Values and all gradients, float64 and float32, within the stated bound."""
    for dtype in (torch.float64, torch.float32):
        data = make(kind, dtype=dtype, zeros=0.2)
        uv, w, delta, gout = data
        if kind == "offimage":  # the grid covers the data: keep far points weightless
            far = uv.abs().amax(-1) > 100
            w = torch.where(far, torch.zeros_like(w), w) if not w_grad else w
            data = [uv.clone(), w, delta, gout]
            if w_grad:
                data[0][far] = data[0][far].clamp(-50, 80)
        for sigma in (0.7, 2.0):
            ref = evaluate(repulsion_naive, *data, sigma, w_grad=w_grad)
            got = evaluate(repulsion_grid, *data, sigma, w_grad=w_grad)
            eps = grid_error_bound(DEFAULT_SPACING * sigma, sigma)[0]
            wa, da = data[1].abs().double(), data[2].double()
            bound = eps * wa * da.exp() * wa.sum(1, keepdim=True)
            assert ((got[0].double() - ref[0].double()).abs() <= bound + 1e-6).all()
            # value 1e-3, gradients a few % of their largest entry
            assert_match(got, ref, 2e-3, names=("out",))
            assert_match(got[1:], ref[1:], 4e-2, names=("d_uv", "d_w", "d_delta"))


def test_far_outliers_fall_back_to_cells():
    """Weighted points far off the image: the data box would be huge; the same sum comes from
    the cell list (exact), never a giant grid or NaN."""
    uv, w, delta, gout = make("offimage", I=2, J=300)
    ref = evaluate(repulsion_naive, uv, w, delta, gout, 1.5)
    got = evaluate(repulsion_grid, uv, w, delta, gout, 1.5)
    cells = evaluate(repulsion_cells, uv, w, delta, gout, 1.5)
    assert_match(got, cells, 1e-12)
    assert_match(got, ref, 1e-7)


def test_box_contract():
    """With a box, points outside count as w = 0 (drwr_terms: w is 0 off the image)."""
    uv, w, delta, gout = make("random", I=2, J=400, res=30)
    box = (0.0, 0.0, 20.0, 20.0)
    inside = (uv >= 0).all(-1) & (uv <= 20).all(-1)
    ref = evaluate(repulsion_naive, uv, w * inside, delta, gout, 1.2)
    got = evaluate(repulsion_grid, uv, w, delta, gout, 1.2, box=box)
    assert_match(got[:2], ref[:2], 4e-2, names=("out", "d_uv"))
    assert (got[0][~inside] == 0).all() and (got[1][~inside] == 0).all()
    with pytest.raises(ValueError):
        repulsion_grid(uv, w, delta, 1.2, box=(0.0, 0.0, 1e6, 1e6))  # would be a giant grid
    with pytest.raises(ValueError):
        repulsion_grid(uv, w, delta, 1.2, spacing=1.0)  # h > sigma / 2
    gy, gx, h = grid_shape(box, 1.2)
    assert h == pytest.approx(0.3) and gx == gy == int(20 / 0.3) + 6


def test_coincident_zero_weight_isolated():
    uv = torch.tensor([[[3.0, 4.0], [3.0, 4.0], [40.0, 40.0], [5.0, 5.0]]], dtype=torch.float64)
    w = torch.tensor([[0.5, 2.0, 1.0, 0.0]], dtype=torch.float64)
    d = torch.tensor([[0.1, -0.2, 0.0, 0.3]], dtype=torch.float64)
    a = uv.clone().requires_grad_()
    out = repulsion_grid(a, w, d, 1.0)
    out.sum().backward()
    eps = grid_error_bound(0.25, 1.0)[0]
    expect = w * d.exp() * w[:, [1, 0, 2, 3]]  # coincident pair: k(0) = 1
    expect[0, 2:] = 0  # isolated, weightless
    assert (out.detach() - expect).abs().max() <= eps * 2 * 2.0 * 1.2
    assert out[0, 2].abs() < 1e-12 and out[0, 3] == 0  # own contribution removed exactly
    assert torch.isfinite(a.grad).all() and (a.grad[0, 3] == 0).all()
    # the coincident pair pushes each other with equal and opposite (grid-error sized) forces
    torch.testing.assert_close(a.grad[0, 0] * 1.0, -a.grad[0, 1], rtol=1e-6, atol=1e-9)


def test_gradcheck():
    uv, w, delta, _ = make("clustered", I=2, J=14, res=6)
    uv, w, delta = (t.clone().requires_grad_() for t in (uv, w, delta))
    for kw in ({}, {"box": (-2.0, -2.0, 8.0, 8.0)}, {"spacing": 0.55}):
        fn = lambda a, b, c: repulsion_grid(a, b, c, 1.1, **kw)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (uv, w, delta))


def test_half_inputs_and_nonfinite():
    uv, w, delta, gout = make("clustered", I=2, J=500, res=30, dtype=torch.float32)
    out = repulsion_grid(uv.half(), w.half(), delta.half(), 1.5)
    assert out.dtype == torch.float32  # pinned: sums of many exp terms overflow fp16
    uv2 = uv.clone()
    uv2[0, :5] = float("nan")
    got = evaluate(repulsion_grid, uv2, w, delta, gout, 1.5, box=(-1.0, -1.0, 31.0, 31.0))
    for x in got:
        assert torch.isfinite(x).all()
    assert (got[0][0, :5] == 0).all()


def test_large_dense_vs_cells():
    """A dense cloud (the grid's use case), float32: close to the exact cell list (values to 5e-3
    relative; in tight clusters the per-pair gradient errors add up to a few %)."""
    uv, w, delta, gout = make("clustered", I=2, J=20000, res=40, dtype=torch.float32, seed=3)
    ref = evaluate(repulsion_cells, uv, w, delta, gout, 1.5, w_grad=False)
    got = evaluate(repulsion_grid, uv, w, delta, gout, 1.5, w_grad=False)
    assert_match(got, ref, 6e-2)
    rel = ((got[0] - ref[0]).abs() / ref[0].abs().clamp_min(1e-3)).max()
    assert rel < 5e-3


@CUDA
def test_cuda_matches_cpu():
    cpu = make("clustered", I=3, J=2000, res=48, dtype=torch.float32)
    gpu = [t.cuda() for t in cpu]
    box = (-1.0, -1.0, 48.0, 48.0)
    ref = evaluate(repulsion_grid, *cpu, 1.5, box=box)
    got = evaluate(repulsion_grid, *gpu, 1.5, box=box)
    assert_match([t.cpu() for t in got], ref, 1e-4)
