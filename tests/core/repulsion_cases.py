"""Test data and comparison helpers shared by tests/core/test_repulsion*.py."""

from __future__ import annotations

import torch

__all__ = ["make", "evaluate", "assert_match", "KINDS"]


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
