"""Tests of core.drwr.repulsion: chunked and grid against the dense reference."""

from __future__ import annotations

import math

import pytest
import torch

from core.drwr.repulsion import (
    AUTO_GRID_MIN_J,
    DEFAULT_TOL,
    EXP_CLAMP,
    cutoff_radius,
    repulsion,
    repulsion_chunked,
    repulsion_grid,
    repulsion_naive,
)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def make(kind: str, I=3, J=500, res=32, dtype=torch.float64, seed=0, zeros=0.0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    if kind == "random":
        uv = torch.rand(I, J, 2, generator=g, dtype=torch.float64) * res
    elif kind == "clustered":  # a few tight blobs plus a uniform background
        c = torch.rand(I, 5, 2, generator=g, dtype=torch.float64) * res
        k = torch.randint(0, 5, (I, J), generator=g)
        uv = torch.gather(c, 1, k[..., None].expand(I, J, 2))
        uv = uv + torch.randn(I, J, 2, generator=g, dtype=torch.float64) * 0.7
        uv[:, : J // 5] = torch.rand(I, J // 5, 2, generator=g, dtype=torch.float64) * res
    elif kind == "coincident":  # groups of points exactly on top of each other
        base = torch.rand(I, (J + 3) // 4, 2, generator=g, dtype=torch.float64) * res
        uv = base.repeat_interleave(4, dim=1)[:, :J].clone()
    elif kind == "offimage":  # some points far outside the image, some just outside
        uv = torch.rand(I, J, 2, generator=g, dtype=torch.float64) * res
        uv[:, ::7] += 1e4
        uv[:, 1::9] = -3.0 - torch.rand(I, len(range(1, J, 9)), 2, generator=g, dtype=torch.float64)
        uv[:, 2::11, 0] = -1e7
    else:
        raise ValueError(kind)
    w = torch.rand(I, J, generator=g, dtype=torch.float64) * 0.9 + 0.1
    if zeros:
        w[torch.rand(I, J, generator=g) < zeros] = 0
    delta = torch.randn(I, J, generator=g, dtype=torch.float64) * 0.3
    gout = torch.randn(I, J, generator=g, dtype=torch.float64)
    return [t.to(device=device, dtype=dtype) for t in (uv, w, delta, gout)]


def evaluate(fn, uv, w, delta, gout, sigma, w_grad=True, **kw):
    a = uv.clone().requires_grad_()
    b = w.clone().requires_grad_(w_grad)
    c = delta.clone().requires_grad_()
    out = fn(a, b, c, sigma, **kw)
    (out * gout).sum().backward()
    return out.detach(), a.grad, (b.grad if w_grad else None), c.grad


def assert_match(got, ref, rtol, names=("out", "d_uv", "d_w", "d_delta")):
    for name, x, y in zip(names, got, ref):
        if x is None or y is None:
            continue
        assert torch.isfinite(x).all(), name
        scale = y.abs().max().clamp_min(1e-30)
        err = (x - y).abs().max()
        assert err <= rtol * scale, f"{name}: max err {err:.3e} vs scale {scale:.3e}"


KINDS = ["random", "clustered", "coincident", "offimage"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-4)])
def test_chunked_matches_naive(kind, dtype, rtol):
    data = make(kind, dtype=dtype, zeros=0.2)
    for sigma in (0.7, 2.0):
        ref = evaluate(repulsion_naive, *data, sigma)
        got = evaluate(repulsion_chunked, *data, sigma, chunk=77)  # J % chunk != 0
        assert_match(got, ref, rtol)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 2e-8), (torch.float32, 1e-4)])
@pytest.mark.parametrize("w_grad", [True, False])
def test_grid_matches_naive(kind, dtype, rtol, w_grad):
    data = make(kind, dtype=dtype, zeros=0.2)
    for sigma, kw in ((0.7, {}), (2.0, dict(tile=8, rows_per_cutoff=3, cell_width=0.5, budget=500, cache_bytes=0))):
        ref = evaluate(repulsion_naive, *data, sigma, w_grad=w_grad)
        got = evaluate(repulsion_grid, *data, sigma, w_grad=w_grad, **kw)
        assert_match(got, ref, rtol)


def test_grid_tolerance_bound():
    """|grid - exact| <= eps * |w_j| e^delta_j * sum_j' |w_j'| with eps = k(cutoff)."""
    uv, w, delta, gout = make("random", I=2, J=400, res=20)
    sigma = 1.3
    for cutoff in (1.5 * sigma, 3.0 * sigma, cutoff_radius(sigma)):
        eps = math.exp(-min((cutoff / sigma) ** 2, EXP_CLAMP))
        ref = repulsion_naive(uv, w, delta, sigma)
        got = repulsion_grid(uv, w, delta, sigma, cutoff=cutoff)
        bound = eps * w.abs() * delta.exp() * w.abs().sum(1, keepdim=True)
        assert ((got - ref).abs() <= bound * (1 + 1e-9) + 1e-300).all()
        if cutoff < 2 * sigma:  # a small cut-off really drops something
            assert (got - ref).abs().max() > 1e-6 * ref.abs().max()
    assert cutoff_radius(sigma) == pytest.approx(sigma * math.sqrt(-math.log(DEFAULT_TOL)))
    assert cutoff_radius(sigma, 1e-300) == pytest.approx(sigma * math.sqrt(EXP_CLAMP))


def test_coincident_gradient_zero_for_pair():
    uv = torch.tensor([[[3.0, 4.0], [3.0, 4.0]]], dtype=torch.float64)
    w = torch.tensor([[0.5, 2.0]], dtype=torch.float64)
    d = torch.tensor([[0.1, -0.2]], dtype=torch.float64)
    for fn in (repulsion_naive, repulsion_chunked, repulsion_grid):
        a = uv.clone().requires_grad_()
        out = fn(a, w, d, 1.0)
        out.sum().backward()
        assert torch.isfinite(a.grad).all() and (a.grad == 0).all(), fn.__name__
        expect = w * d.exp() * w.flip(1)  # k(0) = 1, self excluded
        torch.testing.assert_close(out.detach(), expect)


def test_w_zero_points_and_isolated():
    uv, w, delta, gout = make("random", I=2, J=300, zeros=0.5)
    out = repulsion_grid(uv, w, delta, 1.0)
    assert (out[w == 0] == 0).all()
    # an isolated point has (numerically) zero repulsion in every method
    uv2 = uv.clone()
    uv2[0, 0] = torch.tensor([500.0, 500.0])
    for fn in (repulsion_naive, repulsion_chunked, repulsion_grid):
        assert fn(uv2, w, delta, 1.0)[0, 0].abs() < 1e-30


def test_far_points_finite():
    uv, w, delta, gout = make("random", I=1, J=200, dtype=torch.float32)
    uv[0, :50] = torch.tensor([1e30, -1e30])
    uv[0, 50:60] = 1e8
    got = evaluate(repulsion_grid, uv, w, delta, gout, 1.5)
    for x in got:
        assert torch.isfinite(x).all()


def test_gradcheck_chunked():
    uv, w, delta, _ = make("clustered", I=2, J=9, res=4)
    uv, w, delta = (t.clone().requires_grad_() for t in (uv, w, delta))
    assert torch.autograd.gradcheck(lambda a, b, c: repulsion_chunked(a, b, c, 1.1, chunk=4), (uv, w, delta))


def test_gradcheck_grid():
    uv, w, delta, _ = make("clustered", I=1, J=16, res=6)
    uv, w, delta = (t.clone().requires_grad_() for t in (uv, w, delta))
    sig = 1.1
    # a cut-off at the exponent clamp: the dropped pairs are a constant e^-80 (no jumps)
    fn = lambda a, b, c: repulsion_grid(a, b, c, sig, cutoff=math.sqrt(EXP_CLAMP) * sig, tile=4)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (uv, w, delta))
    fn2 = lambda a, b, c: repulsion_grid(a, b, c, sig)  # noqa: E731
    assert torch.autograd.gradcheck(fn2, (uv, w, delta), atol=1e-6)


def test_grid_large_vs_chunked():
    """More points than tiles/blocks/budget: many chunks, many rows per view."""
    uv, w, delta, gout = make("clustered", I=2, J=3000, res=48, dtype=torch.float32, seed=3)
    ref = evaluate(repulsion_chunked, uv, w, delta, gout, 1.5, w_grad=False)
    got = evaluate(repulsion_grid, uv, w, delta, gout, 1.5, w_grad=False, budget=1 << 14)
    assert_match(got, ref, 1e-4)


def test_dispatch_and_validation():
    uv, w, delta, _ = make("random", I=1, J=50)
    ref = repulsion_naive(uv, w, delta, 1.0)
    for m in ("auto", "grid", "chunked", "naive"):
        torch.testing.assert_close(repulsion(uv, w, delta, 1.0, method=m), ref, rtol=1e-7, atol=1e-12)
    with pytest.raises(ValueError):
        repulsion(uv, w, delta, 1.0, method="nope")
    with pytest.raises(ValueError):
        repulsion(uv, w, delta, 0.0)
    with pytest.raises(ValueError):
        repulsion(uv[..., :1], w, delta, 1.0)
    assert AUTO_GRID_MIN_J > 0
    # mixed dtypes promote
    out = repulsion(uv.float(), w, delta.float(), 1.0)
    assert out.dtype == torch.float64 and out.shape == (1, 50)
    # empty / all-zero weights
    z = repulsion_grid(uv, torch.zeros_like(w), delta, 1.0)
    assert (z == 0).all()


@CUDA
@pytest.mark.parametrize("fn", [repulsion_chunked, repulsion_grid])
def test_cuda_matches_cpu(fn):
    cpu = make("clustered", I=3, J=2000, res=48, dtype=torch.float32)
    gpu = [t.cuda() for t in cpu]
    ref = evaluate(repulsion_naive, *cpu, 1.5)
    got = evaluate(fn, *gpu, 1.5)
    assert_match([t.cpu() for t in got], ref, 1e-4)


@CUDA
def test_cuda_gradcheck_grid():
    uv, w, delta, _ = make("clustered", I=2, J=30, res=10, device="cuda")
    uv, w, delta = (t.clone().requires_grad_() for t in (uv, w, delta))
    fn = lambda a, b, c: repulsion_grid(a, b, c, 1.0, cutoff=math.sqrt(EXP_CLAMP))  # noqa: E731
    assert torch.autograd.gradcheck(fn, (uv, w, delta))
