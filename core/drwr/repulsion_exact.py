"""Exact repulsion kernels: the dense plain-autograd reference and a chunked exact kernel with
a hand-written backward (formula: core.drwr.repulsion)."""

from __future__ import annotations

import torch

from core.drwr.repulsion_base import EXP_CLAMP
from core.drwr.repulsion_base import check_inputs as _check

__all__ = ["repulsion_naive", "repulsion_chunked"]


def repulsion_naive(uv: torch.Tensor, w: torch.Tensor, delta: torch.Tensor, sigma: float) -> torch.Tensor:
    """Dense reference (plain autograd, builds several ``I x J x J`` tensors)."""
    sigma, dtype = _check(uv, w, delta, sigma)
    uv, w, delta = uv.to(dtype), w.to(dtype), delta.to(dtype)
    J = uv.shape[1]
    u, v = uv[..., 0], uv[..., 1]
    du = u[:, :, None] - u[:, None, :]
    dv = v[:, :, None] - v[:, None, :]
    q = (du * du + dv * dv) / (sigma * sigma)
    E = torch.exp(-q.clamp(max=EXP_CLAMP))
    E = E * (1 - torch.eye(J, dtype=dtype, device=uv.device))
    S = (E * w[:, None, :]).sum(-1)
    return w * torch.exp(delta) * S


# --------------------------------------------------------------------------- chunked


def _auto_rows(I: int, J: int, budget: int = 1 << 21) -> int:
    return max(1, min(J, budget // max(1, I * J)))


class _ChunkedFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, uv, w, delta, sigma, chunk):
        I, J = w.shape
        x = (uv / sigma).contiguous()
        u, v = x[..., 0].contiguous(), x[..., 1].contiguous()
        S = torch.empty_like(w)
        wc = w.unsqueeze(-1)
        for c0 in range(0, J, chunk):
            c1 = min(J, c0 + chunk)
            E = _dense_q(u, v, c0, c1)
            E.clamp_max_(EXP_CLAMP).neg_().exp_()
            E.diagonal(offset=c0, dim1=1, dim2=2).zero_()
            S[:, c0:c1] = torch.bmm(E, wc).squeeze(-1)
        ew = torch.exp(delta)
        out = w * ew * S
        ctx.save_for_backward(u, v, w, delta, S)
        ctx.sigma, ctx.chunk = sigma, chunk
        return out

    @staticmethod
    def backward(ctx, g):
        u, v, w, delta, S = ctx.saved_tensors
        sigma, chunk = ctx.sigma, ctx.chunk
        need_uv, need_w, need_d = ctx.needs_input_grad[:3]
        I, J = w.shape
        g = g.to(w.dtype)
        ew = torch.exp(delta)
        gS = g * ew * S
        grad_d = gS * w if need_d else None
        grad_w = grad_uv = None
        if need_w or need_uv:
            A = g * w * ew
            Pw = torch.empty_like(w) if need_w else None
            gu = torch.empty_like(w) if need_uv else None
            gv = torch.empty_like(w) if need_uv else None
            Ac = A.unsqueeze(-1)
            for c0 in range(0, J, chunk):
                c1 = min(J, c0 + chunk)
                q = _dense_q(u, v, c0, c1)
                live = q < EXP_CLAMP if need_uv else None
                E = q.clamp_max_(EXP_CLAMP).neg_().exp_()
                E.diagonal(offset=c0, dim1=1, dim2=2).zero_()
                if need_w:
                    Pw[:, c0:c1] = torch.bmm(E, Ac).squeeze(-1)
                if need_uv:
                    # H_jj' = E_jj' (A_j w_j' + w_j A_j'), zero where the exponent is clamped
                    H = A[:, c0:c1, None] * w[:, None, :]
                    H.addcmul_(w[:, c0:c1, None], A[:, None, :]).mul_(E).mul_(live)
                    du = u[:, c0:c1, None] - u[:, None, :]
                    gu[:, c0:c1] = (H * du).sum(-1)
                    torch.sub(v[:, c0:c1, None], v[:, None, :], out=du)
                    gv[:, c0:c1] = (H * du).sum(-1)
            if need_w:
                grad_w = gS + Pw
            if need_uv:
                grad_uv = torch.stack([gu, gv], -1).mul_(-2.0 / sigma)
        return grad_uv, grad_w, grad_d, None, None


def _dense_q(u, v, c0, c1):
    du = u[:, c0:c1, None] - u[:, None, :]
    q = du.mul_(du)
    dv = v[:, c0:c1, None] - v[:, None, :]
    return q.addcmul_(dv, dv)


def repulsion_chunked(
    uv: torch.Tensor, w: torch.Tensor, delta: torch.Tensor, sigma: float, chunk: int | None = None
) -> torch.Tensor:
    """Exact repulsion, dense pairs in chunks of ``chunk`` rows (points) for all views at once.

    Hand-written backward (recomputes the kernel chunk by chunk); memory
    ``O(I * chunk * J)``.  ``chunk=None`` picks about ``2**21 / (I * J)`` rows (work buffers of
    ~2M elements), which is faster than large chunks on CPU; pass e.g. ``chunk=1024`` to force.
    """
    sigma, dtype = _check(uv, w, delta, sigma)
    I, J = w.shape
    chunk = _auto_rows(I, J) if chunk is None else max(1, int(chunk))
    return _ChunkedFn.apply(uv.to(dtype), w.to(dtype), delta.to(dtype), sigma, chunk)

