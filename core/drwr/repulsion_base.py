"""Shared pieces of the repulsion kernels (see core.drwr.repulsion): the kernel's exponent
clamp, the cut-off radius of the cell-list method and input validation."""

from __future__ import annotations

import math

import torch

__all__ = ["EXP_CLAMP", "DEFAULT_TOL", "check_inputs", "cutoff_radius"]

#: the kernel exponent is clamped at this value: k(d) = exp(-min(d^2/sigma^2, EXP_CLAMP))
EXP_CLAMP = 80.0
#: default kernel cut-off of :func:`core.drwr.repulsion_cells.repulsion_cells`: pairs with
#: k(d) < DEFAULT_TOL are dropped
DEFAULT_TOL = 1e-9


def check_inputs(uv: torch.Tensor, w: torch.Tensor, delta: torch.Tensor, sigma: float):
    if uv.dim() != 3 or uv.shape[-1] != 2:
        raise ValueError(f"uv must be (I, J, 2), got {tuple(uv.shape)}")
    if tuple(w.shape) != tuple(uv.shape[:2]) or tuple(delta.shape) != tuple(uv.shape[:2]):
        raise ValueError(
            f"w {tuple(w.shape)} and delta {tuple(delta.shape)} must be (I, J) = {tuple(uv.shape[:2])}"
        )
    sigma = float(sigma)
    if not sigma > 0 or not math.isfinite(sigma):
        raise ValueError(f"sigma must be a positive finite float, got {sigma}")
    dtype = torch.promote_types(torch.promote_types(uv.dtype, w.dtype), delta.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    if torch.finfo(dtype).bits < 32:  # fp16/bf16: sums of many exp terms overflow, pin fp32
        dtype = torch.float32
    return sigma, dtype


def cutoff_radius(sigma: float, tol: float = DEFAULT_TOL) -> float:
    """Cut-off radius in pixels at which the kernel falls to ``tol``: ``sigma*sqrt(ln(1/tol))``.

    Capped at ``sqrt(80) * sigma`` (beyond it the clamped kernel is a constant ``e**-80``).
    """
    if not 0 < tol < 1:
        raise ValueError(f"tol must be in (0, 1), got {tol}")
    return float(sigma) * math.sqrt(min(-math.log(tol), EXP_CLAMP))

