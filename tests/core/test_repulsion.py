"""Tests of core.drwr.repulsion: the exact chunked kernel, the cell-list kernel and the dispatch
against the dense reference (the particle-mesh grid: test_repulsion_cells.py)."""

from __future__ import annotations

import math

import pytest
import torch

from core.drwr.repulsion import (
    AUTO_EXACT_MAX_J,
    DEFAULT_TOL,
    EXP_CLAMP,
    choose_method,
    cutoff_radius,
    repulsion,
    repulsion_cells,
    repulsion_chunked,
    repulsion_naive,
)
from tests.core.repulsion_cases import KINDS, assert_match, evaluate, make

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


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
def test_cells_matches_naive(kind, dtype, rtol, w_grad):
    data = make(kind, dtype=dtype, zeros=0.2)
    for sigma, kw in ((0.7, {}), (2.0, dict(tile=8, rows_per_cutoff=3, cell_width=0.5, budget=500, cache_bytes=0))):
        ref = evaluate(repulsion_naive, *data, sigma, w_grad=w_grad)
        got = evaluate(repulsion_cells, *data, sigma, w_grad=w_grad, **kw)
        assert_match(got, ref, rtol)


def test_cells_tolerance_bound():
    """|cells - exact| <= eps * |w_j| e^delta_j * sum_j' |w_j'| with eps = k(cutoff)."""
    uv, w, delta, gout = make("random", I=2, J=400, res=20)
    sigma = 1.3
    for cutoff in (1.5 * sigma, 3.0 * sigma, cutoff_radius(sigma)):
        eps = math.exp(-min((cutoff / sigma) ** 2, EXP_CLAMP))
        ref = repulsion_naive(uv, w, delta, sigma)
        got = repulsion_cells(uv, w, delta, sigma, cutoff=cutoff)
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
    for fn in (repulsion_naive, repulsion_chunked, repulsion_cells):
        a = uv.clone().requires_grad_()
        out = fn(a, w, d, 1.0)
        out.sum().backward()
        assert torch.isfinite(a.grad).all() and (a.grad == 0).all(), fn.__name__
        expect = w * d.exp() * w.flip(1)  # k(0) = 1, self excluded
        torch.testing.assert_close(out.detach(), expect)


def test_w_zero_points_and_isolated():
    uv, w, delta, gout = make("random", I=2, J=300, zeros=0.5)
    out = repulsion_cells(uv, w, delta, 1.0)
    assert (out[w == 0] == 0).all()
    # an isolated point has (numerically) zero repulsion in every method
    uv2 = uv.clone()
    uv2[0, 0] = torch.tensor([500.0, 500.0])
    for fn in (repulsion_naive, repulsion_chunked, repulsion_cells):
        assert fn(uv2, w, delta, 1.0)[0, 0].abs() < 1e-30


def test_far_points_finite():
    uv, w, delta, gout = make("random", I=1, J=200, dtype=torch.float32)
    uv[0, :50] = torch.tensor([1e30, -1e30])
    uv[0, 50:60] = 1e8
    got = evaluate(repulsion_cells, uv, w, delta, gout, 1.5)
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
    fn = lambda a, b, c: repulsion_cells(a, b, c, sig, cutoff=math.sqrt(EXP_CLAMP) * sig, tile=4)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (uv, w, delta))
    fn2 = lambda a, b, c: repulsion_cells(a, b, c, sig)  # noqa: E731
    assert torch.autograd.gradcheck(fn2, (uv, w, delta), atol=1e-6)


def test_cells_large_vs_chunked():
    """More points than tiles/blocks/budget: many chunks, many rows per view."""
    uv, w, delta, gout = make("clustered", I=2, J=3000, res=48, dtype=torch.float32, seed=3)
    ref = evaluate(repulsion_chunked, uv, w, delta, gout, 1.5, w_grad=False)
    got = evaluate(repulsion_cells, uv, w, delta, gout, 1.5, w_grad=False, budget=1 << 14)
    assert_match(got, ref, 1e-4)


def test_dispatch_and_validation():
    uv, w, delta, _ = make("random", I=1, J=50)
    ref = repulsion_naive(uv, w, delta, 1.0)
    for m in ("auto", "grid", "cells", "exact", "chunked", "naive"):
        tol = 5e-3 if m == "grid" else 1e-7  # grid: kernel error <= 0.16 (1/4)^3 of k(0)
        torch.testing.assert_close(repulsion(uv, w, delta, 1.0, method=m), ref, rtol=tol,
                                   atol=1e-12 if m != "grid" else 5e-3 * float(ref.abs().max()))
    with pytest.raises(ValueError):
        repulsion(uv, w, delta, 1.0, method="nope")
    with pytest.raises(ValueError):
        repulsion(uv, w, delta, 0.0)
    with pytest.raises(ValueError):
        repulsion(uv[..., :1], w, delta, 1.0)
    # mixed dtypes promote; half precision is computed in float32
    out = repulsion(uv.float(), w, delta.float(), 1.0)
    assert out.dtype == torch.float64 and out.shape == (1, 50)
    for m in ("grid", "cells", "exact"):
        assert repulsion(uv.half(), w.half(), delta.half(), 1.0, method=m).dtype == torch.float32
    # empty / all-zero weights
    z = repulsion_cells(uv, torch.zeros_like(w), delta, 1.0)
    assert (z == 0).all()


def test_auto_choice():
    """auto: exact for tiny clouds, cells for sparse ones, grid for dense ones (by shapes only)."""
    box = (-1.0, -1.0, 64.0, 64.0)
    assert choose_method(8, AUTO_EXACT_MAX_J, 1.5, box) == "exact"
    assert choose_method(8, 500, 1.5, box) == "cells"
    assert choose_method(8, 2000, 1.5, box) == "grid"
    big = (-1.0, -1.0, 128.0, 128.0)  # same J on a 4x larger image: sparser
    assert choose_method(20, 2000, 1.5, big) == "cells"
    assert choose_method(20, 8000, 1.5, big) == "grid"
    assert choose_method(20, 2000, 3.0, big) == "grid"  # larger sigma: more neighbours
    # the dispatcher really uses the chosen kernel: the grid's small error is visible
    uv, w, delta, _ = make("clustered", I=1, J=3000, res=20)
    ref = repulsion_naive(uv, w, delta, 1.5)
    box = (-5.0, -5.0, 25.0, 25.0)  # holds every point
    auto = repulsion(uv, w, delta, 1.5, box=box)
    assert choose_method(1, 3000, 1.5, box) == "grid"
    assert 0 < (auto - ref).abs().max() <= 5e-3 * ref.abs().max()


@CUDA
@pytest.mark.parametrize("fn", [repulsion_chunked, repulsion_cells])
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
    fn = lambda a, b, c: repulsion_cells(a, b, c, 1.0, cutoff=math.sqrt(EXP_CLAMP))  # noqa: E731
    assert torch.autograd.gradcheck(fn, (uv, w, delta))
