"""Tests of core.drwr.repulsion_cubic (cubic B-spline particle mesh, one grid per row) against
the dense reference: the stated kernel error bound, values and gradients across random,
clustered, coincident, off-image and zero-weight points, gradcheck of the hand-written backward,
rows independent of each other, weightless points left out exactly, the box contract."""

from __future__ import annotations

import pytest
import torch

from core.drwr.repulsion import repulsion, repulsion_cells, repulsion_naive
from core.drwr.repulsion_cubic import CUBIC_SPACING, cubic_error_bound, repulsion_cubic
from tests.core.repulsion_cases import KINDS, assert_match, evaluate, make


@pytest.mark.parametrize("frac", [0.5, 1 / 3, 0.25])
def test_kernel_error_bound(frac):
    """|kt - k| <= 0.1 (h/sigma)^3 and |grad kt - grad k| <= 0.12 (h/sigma)^2 / sigma, over
    pairs at random offsets from the grid; and the bounds are not loose by orders of magnitude."""
    sigma = 1.3
    g = torch.Generator().manual_seed(1)
    p0 = torch.rand(4000, 1, 2, generator=g, dtype=torch.float64) * 3 * sigma
    p1 = p0 + (torch.rand(4000, 1, 2, generator=g, dtype=torch.float64) - 0.5) * 6 * sigma
    uv = torch.cat([p0, p1], 1).requires_grad_()
    w = torch.ones(4000, 2, dtype=torch.float64)
    kt = repulsion_cubic(uv, w, torch.zeros_like(w), sigma, spacing=frac * sigma)[:, 0]
    kt.sum().backward()
    d = (uv[:, 0] - uv[:, 1]).detach()
    k = torch.exp(-(d * d).sum(-1) / sigma**2)
    gk = -2 * d / sigma**2 * k[:, None]
    eps, geps = cubic_error_bound(frac * sigma, sigma)
    err, gerr = (kt.detach() - k).abs().max(), (uv.grad[:, 0] - gk).abs().max()
    assert err <= eps and gerr <= geps, (float(err), eps, float(gerr), geps)
    assert err >= eps / 10 and gerr >= geps / 10


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("w_grad", [True, False])
def test_cubic_matches_naive(kind, w_grad):
    """Values within the bound eps * w_j e^delta_j * sum_j' w_j', and within 1e-2 of the
    largest value; gradients within 5e-2 of their largest entry (per-pair gradient errors of
    0.12 (h/sigma)^2 / sigma add up in tight clusters), float64 and float32."""
    for dtype in (torch.float64, torch.float32):
        uv, w, delta, gout = make(kind, dtype=dtype, zeros=0.2)
        if kind == "offimage":  # far points: weightless, or (w with a gradient) pulled in
            far = uv.abs().amax(-1) > 100
            if w_grad:
                uv = uv.clone()
                uv[far] = uv[far].clamp(-50, 80)
            else:
                w = torch.where(far, torch.zeros_like(w), w)
        for sigma in (0.7, 2.0):
            ref = evaluate(repulsion_naive, uv, w, delta, gout, sigma, w_grad=w_grad)
            got = evaluate(repulsion_cubic, uv, w, delta, gout, sigma, w_grad=w_grad)
            eps = cubic_error_bound(CUBIC_SPACING * sigma, sigma)[0]
            wa, da = w.abs().double(), delta.double()
            bound = eps * wa * da.exp() * wa.sum(1, keepdim=True)
            assert ((got[0].double() - ref[0].double()).abs() <= bound + 1e-5).all()
            assert_match(got, ref, 1.2e-2, names=("out",))
            assert_match(got[1:], ref[1:], 5e-2, names=("d_uv", "d_w", "d_delta"))


def test_gradcheck():
    uv, w, delta, _ = make("clustered", I=2, J=14, res=6)
    uv, w, delta = (t.clone().requires_grad_() for t in (uv, w, delta))
    for kw in ({}, {"box": (-2.0, -2.0, 8.0, 8.0)}, {"spacing": 0.4}):
        fn = lambda a, b, c: repulsion_cubic(a, b, c, 1.1, **kw)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (uv, w, delta))
    w0 = w.detach().clone()
    w0[:, ::3] = 0  # weightless points left out of the grid: still exact derivatives
    fn = lambda a, c: repulsion_cubic(a, w0, c, 1.1)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (uv, delta))


def test_rows_are_independent():
    """Each row has its own grid: moving another row's points far away (a much larger grid for
    all rows) changes nothing in this row, beyond rounding."""
    uv, w, delta, gout = make("clustered", I=3, J=400, res=30)
    ref = evaluate(repulsion_cubic, uv, w, delta, gout, 1.3, w_grad=False)
    moved = uv.clone()
    moved[2] = moved[2] * 3.0 + 500.0
    got = evaluate(repulsion_cubic, moved, w, delta, gout, 1.3, w_grad=False)
    for a, b in zip(got, ref):
        if a is not None:
            torch.testing.assert_close(a[:2], b[:2], rtol=1e-9, atol=1e-12)


def test_weightless_points_exact_zero_and_same_sum():
    """Points with w = 0 (left out of the grids when w needs no gradient) get exactly 0 and no
    gradient, and the others get the same values as when every point is gridded."""
    uv, w, delta, gout = make("random", I=2, J=300, res=20, zeros=0.4)
    a = evaluate(repulsion_cubic, uv, w, delta, gout, 1.2, w_grad=False)
    b = evaluate(repulsion_cubic, uv, w, delta, gout, 1.2, w_grad=True)
    zero = w == 0
    assert (a[0][zero] == 0).all() and (a[1][zero] == 0).all() and (a[3][zero] == 0).all()
    torch.testing.assert_close(a[0], b[0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(a[1], b[1], rtol=1e-10, atol=1e-12)


def test_box_contract_and_errors():
    uv, w, delta, gout = make("random", I=2, J=400, res=30)
    box = (0.0, 0.0, 20.0, 20.0)
    inside = (uv >= 0).all(-1) & (uv <= 20).all(-1)
    ref = evaluate(repulsion_naive, uv, w * inside, delta, gout, 1.2)
    got = evaluate(repulsion_cubic, uv, w, delta, gout, 1.2, box=box)
    assert_match(got[:2], ref[:2], 5e-2, names=("out", "d_uv"))
    assert (got[0][~inside] == 0).all() and (got[1][~inside] == 0).all()
    with pytest.raises(ValueError):
        repulsion_cubic(uv, w, delta, 1.2, spacing=1.0)  # h > sigma / 2
    via = evaluate(repulsion, uv, w, delta, gout, 1.2, method="cubic", box=box)
    torch.testing.assert_close(via[0], got[0])


def test_far_outliers_fall_back_to_cells_and_nonfinite():
    """Weighted points far apart would need a giant grid: the exact cell list answers instead;
    NaN points carry nothing and get finite zero gradients."""
    uv, w, delta, gout = make("offimage", I=2, J=300)
    got = evaluate(repulsion_cubic, uv, w, delta, gout, 1.5)
    cells = evaluate(repulsion_cells, uv, w, delta, gout, 1.5)
    assert_match(got, cells, 1e-12)
    uv2, w2, delta2, gout2 = make("clustered", I=2, J=500, res=30, dtype=torch.float32)
    uv2[0, :5] = float("nan")
    got = evaluate(repulsion_cubic, uv2, w2, delta2, gout2, 1.5, box=(-1.0, -1.0, 31.0, 31.0))
    for x in got:
        assert torch.isfinite(x).all()
    assert (got[0][0, :5] == 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_stencils_match_the_torch_loops(dtype):
    """The CPU's compiled splat and gather (core.drwr.stencil_cubic) give the sums of the
    reference torch loops (16 shifted scatter-adds / index-selects), zero values included."""
    from core.drwr.repulsion_cubic import _Geom, _taps

    g = torch.Generator().manual_seed(5)
    I, gy, gx, N = 3, 17, 21, 400
    t = torch.stack([2 + torch.rand(N, generator=g) * (gx - 5),
                     2 + torch.rand(N, generator=g) * (gy - 5)]).to(dtype)
    rows = torch.randint(0, I, (N,), generator=g)
    G = _Geom(t, rows, I, gy, gx, 0.5, _taps(1.0, 0.5))
    vals = torch.randn(N, generator=g, dtype=dtype)
    vals[::4] = 0.0
    torch.testing.assert_close(G.splat(vals), G.splat_loops(vals))
    flat = torch.randn(G.L + G.pad, generator=g, dtype=dtype)
    for grad in (False, True):
        v, d = G.value_grad(flat, grad)
        v_ref, d_ref = G.value_grad_loops(flat, grad)
        torch.testing.assert_close(v, v_ref)
        if grad:
            torch.testing.assert_close(d, d_ref)
        else:
            assert d is None and d_ref is None
