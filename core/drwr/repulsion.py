"""Structure-aware repulsion term of DRWR (Han et al., ICML 2020): public API and dispatch.

For every view ``i`` and point ``j`` (projected to pixel coordinates ``uv[i, j]``)::

    out[i, j] = w[i, j] * exp(delta[i, j]) * sum_{j' != j} w[i, j'] * k(|uv[i, j] - uv[i, j']|)
    k(d)      = exp(-min(d**2 / sigma**2, 80))

The exponent is clamped at 80 (``k`` is the constant ``e**-80 ~ 1.8e-35`` beyond
``d = sqrt(80) * sigma`` and has zero gradient there), which keeps ``torch.exp`` out of its
slow denormal path.  Self pairs (``j' == j``) are excluded; distinct points at the same
position are ordinary pairs (``k = 1``, zero gradient for that pair).

Shapes: ``uv (I, J, 2)``, ``w (I, J)``, ``delta (I, J)``, ``sigma`` a Python float in
pixels; result ``(I, J)`` in the promoted dtype of the inputs (at least float32: half
precision inputs are computed in float32).  Everything is differentiable w.r.t. ``uv``, ``w``
and ``delta``.

Implementations (``method``):

* ``"grid"`` -- :func:`repulsion_grid` (core.drwr.repulsion_grid): particle-mesh; splat,
  Gaussian blur, sample.  Cost ``O(I * J)`` plus the grid, whatever the density; kernel error
  ``<= 0.16 (h / sigma)^3`` (2.5e-3 at the default ``h = sigma / 4``).
* ``"cubic"`` -- :func:`repulsion_cubic` (core.drwr.repulsion_cubic): particle-mesh with
  cubic B-splines at ``h = sigma / 2`` on one small grid per row; about the grid's gradient
  accuracy (kernel error ``<= 0.1 (h/sigma)^3``, gradient ``<= 0.12 (h/sigma)^2 / sigma``)
  at a quarter of the cells.  What the
  batched training terms use (core.train.terms).
* ``"cells"`` -- :func:`repulsion_cells` (core.drwr.repulsion_cells): exact pairs within a
  cut-off (error ``<= 1e-9``); cost grows with the number of neighbours, i.e. with density.
* ``"exact"`` -- :func:`repulsion_chunked` (core.drwr.repulsion_exact): all pairs, chunked,
  hand-written backward; ``O(I * J^2)`` time, ``O(I * chunk * J)`` memory.
* ``"naive"`` -- :func:`repulsion_naive`: dense ``I x J x J`` tensors, plain autograd; the
  reference of the tests.
* ``"auto"`` -- :func:`choose_method`: "exact" for tiny J, else "grid" or "cells" by a cost
  estimate from the shapes alone (no look at the data, no host sync).

All are pure torch (CPU and CUDA; no Python loop over points or views).
"""

from __future__ import annotations

import math

import torch

from core.drwr.repulsion_base import DEFAULT_TOL, EXP_CLAMP, cutoff_radius
from core.drwr.repulsion_cells import repulsion_cells
from core.drwr.repulsion_cubic import repulsion_cubic
from core.drwr.repulsion_exact import repulsion_chunked, repulsion_naive
from core.drwr.repulsion_grid import repulsion_grid

__all__ = [
    "repulsion",
    "choose_method",
    "repulsion_naive",
    "repulsion_chunked",
    "repulsion_cells",
    "repulsion_grid",
    "repulsion_cubic",
    "cutoff_radius",
    "EXP_CLAMP",
    "DEFAULT_TOL",
    "METHODS",
    "AUTO_EXACT_MAX_J",
    "AUTO_GRID_MIN_NEIGHBOURS",
]

#: the values of ``method`` (and of ``FitConfig.repulsion``)
METHODS = ("auto", "grid", "cells", "exact")
#: ``auto`` computes tiny problems exactly (all pairs)
AUTO_EXACT_MAX_J = 256
#: ``auto`` uses the grid when the expected number of neighbours within the cut-off per
#: point (J points spread evenly over the occupied part of the box) is at least this: the
#: measured crossover (docs/performance-dense.md) is near J = 1k at 8 views of 64² and near
#: J = 3k at 20 views of 128² (the grid's fixed cost, the blur, grows with the image)
AUTO_GRID_MIN_NEIGHBOURS = 100.0
#: part of the box that a cloud's projection typically covers (used by the estimate)
_OCCUPIED = 0.3


def choose_method(I: int, J: int, sigma: float, box=None) -> str:
    """The method ``auto`` uses: "exact" for ``J <= AUTO_EXACT_MAX_J``, else "grid" when the
    estimated neighbours per point within the cells cut-off, ``J * pi r^2 / (0.3 * area)``, are
    at least ``AUTO_GRID_MIN_NEIGHBOURS`` (the measured crossover, docs/performance-dense.md),
    else "cells".  ``box`` (u0, v0, u1, v1) pixels; None: assume a 64 x 64 image."""
    if J <= AUTO_EXACT_MAX_J:
        return "exact"
    area = 64.0 * 64.0 if box is None else max((box[2] - box[0]) * (box[3] - box[1]), 1.0)
    r = cutoff_radius(sigma)
    neighbours = J * math.pi * r * r / (_OCCUPIED * area)
    return "grid" if neighbours >= AUTO_GRID_MIN_NEIGHBOURS else "cells"


def repulsion(
    uv: torch.Tensor, w: torch.Tensor, delta: torch.Tensor, sigma: float, method: str = "auto",
    box: tuple[float, float, float, float] | None = None, **kwargs,
) -> torch.Tensor:
    """Repulsion term (see module docstring). ``method``: "auto" | "grid" | "cubic" | "cells" |
    "exact" | "naive" ("chunked" = "exact").  ``box`` (u0, v0, u1, v1) pixels outside which every w is
    0 (drwr_terms: the image): the grid covers it without a host sync, and "auto" estimates
    densities from it.  Extra keyword arguments go to the chosen implementation."""
    if method == "auto":
        method = choose_method(uv.shape[0], uv.shape[1], sigma, box)
    if method == "grid":
        return repulsion_grid(uv, w, delta, sigma, box=box, **kwargs)
    if method == "cubic":
        return repulsion_cubic(uv, w, delta, sigma, box=box, **kwargs)
    if method == "cells":
        return repulsion_cells(uv, w, delta, sigma, **kwargs)
    if method in ("exact", "chunked"):
        return repulsion_chunked(uv, w, delta, sigma, **kwargs)
    if method == "naive":
        return repulsion_naive(uv, w, delta, sigma)
    raise ValueError(f"unknown repulsion method {method!r} (auto, grid, cubic, cells, exact, "
                     "naive)")
