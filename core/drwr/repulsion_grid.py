"""Particle-mesh repulsion: cost linear in the number of points, whatever their density.

The repulsion sum ``S_j = sum_{j' != j} w_j' k(p_j - p_j')`` with the Gaussian
``k(d) = exp(-|d|^2 / sigma^2)`` is a Gaussian-blurred density sampled at ``p_j``.  Per view:

1. splat ``w_j'`` onto a grid of spacing ``h`` with quadratic B-spline weights (3 x 3 nodes per
   point: the "triangular-shaped cloud" assignment of Hockney & Eastwood, *Computer
   Simulation Using Particles*, 1988, ch. 5);
2. blur the grid with a separable sampled Gaussian (two banded-matrix products);
3. sample the blurred field at ``p_j`` with the same weights (the adjoint of step 1, so the
   grid kernel is symmetric and momentum-conserving, Hockney & Eastwood 5-3);
4. subtract each point's own contribution ``w_j kt(p_j, p_j)`` exactly.

So ``S_j = sum_{j' != j} w_j' kt(p_j, p_j')`` with the grid kernel
``kt(x, y) = sum_{g, g'} b(g - x) K(g - g') b(g' - y)`` (``b`` the B-spline weights, ``K`` the
blur taps), symmetric in ``x, y``.  This is the Gaussian-sum view of the fast Gauss transform
(Greengard & Strain, SIAM J. Sci. Stat. Comput. 12, 79, 1991) evaluated on a grid, as in
gridding methods for non-uniform FFTs.  Each B-spline adds its variance ``3 h^2 / 12`` per axis,
so the blur is a Gaussian of per-axis variance ``s^2 = sigma^2 / 2 - 2 * 3 h^2 / 12`` (taps
scaled to the mass of ``k``): ``kt`` then has the second moment of ``k``.

Backward (hand-written): with ``gS = dL/dS`` and the blurred fields ``F_w`` (of ``w``) and
``F_g`` (of ``gS``), symmetry of ``kt`` gives ``dL/dw_j = F_g(p_j) - gS_j kt(p_j, p_j)`` and
``dL/dp_j = gS_j grad F_w(p_j) + w_j grad F_g(p_j) - gS_j w_j grad kt(p_j, p_j)``: the
gradient through p_j's own splat into the others' fields is the same blurred-field gradient
(``d/dy kt(x, y) = d/dx kt(y, x)``), evaluated with the B-spline's derivative weights.

Error bound (measured maxima of the kernel over random pairs and grid offsets, 2-D, float64):
for ``h <= sigma / 2``, ``|kt(x, y) - k(x - y)| <= eps(h) = 0.16 (h / sigma)^3`` (2.5e-3 at
the default ``h = sigma / 4``; measured 1.4e-3 there, 3.6e-3 at sigma/3, 1.8e-2 at sigma/2) and
``|grad kt - grad k| <= 0.35 (h / sigma)^2 / sigma`` (2.2e-2 / sigma at sigma/4).  Hence for
every ``(i, j)``::

    |out_grid - out_exact| <= eps(h) * |w_j| e^{delta_j} * sum_{j' != j} |w_j'|

and each pair changes ``dL/dp_j`` by at most ``0.35 (h/sigma)^2 / sigma * |a_j w_j' +
a_j' w_j|`` (``a = gS w e^delta``) (tested).  In practice, where many points overlap, the
relative error of ``out`` is about 4e-4 and of the gradient about 1 % at ``h = sigma / 4``.
The exact kernel's clamp (``k = e^-80`` beyond ``sqrt(80) sigma``) adds < 1e-34 per pair.

Cost: ``O(I * J * 9)`` for splat and sample plus ``O(I * (Gy + Gx) * Gy * Gx)`` for the blur
(dense banded products; ~ 2.4M cells and ~0.3 GFLOP for 20 views of 128 x 128 px at
sigma = 1.5 px), independent of the density; memory ``O(I * J * 30 + I * Gy * Gx)`` bytes-ish
(~ 1 GB at I*J = 2M in float32).  No host syncs when ``box`` is given (the grid's shape then
depends on ``box``, ``sigma`` and ``h`` only), no Python loop over points or views.
"""

from __future__ import annotations

import math

import torch

from core.drwr.repulsion_base import check_inputs

__all__ = ["repulsion_grid", "grid_shape", "grid_error_bound", "DEFAULT_SPACING", "MAX_CELLS"]

#: default grid spacing in units of sigma
DEFAULT_SPACING = 0.25
#: grids with more cells than this (all views together) are refused (box given) or replaced by
#: the cell-list method (box from the data, e.g. a few far outliers)
MAX_CELLS = 1 << 26
_TAP_FLOOR = 1e-12  # blur taps below this fraction of the peak are dropped


def grid_error_bound(spacing: float, sigma: float) -> tuple[float, float]:
    """Bounds on the grid kernel's error for h <= sigma/2: (``|kt - k|``, ``|grad kt - grad k|``
    in 1/pixels) = (0.16 (h/sigma)^3, 0.35 (h/sigma)^2 / sigma)."""
    q = float(spacing) / float(sigma)
    return 0.16 * q ** 3, 0.35 * q * q / float(sigma)


def _taps(sigma: float, h: float) -> list[float]:
    s2 = sigma * sigma / 2.0 - 2.0 * (3.0 * h * h / 12.0)
    c = sigma / math.sqrt(2.0 * s2)  # mass of exp(-x^2/sigma^2) over a Gaussian of variance s2
    r = int(math.ceil(math.sqrt(2.0 * s2 * -math.log(_TAP_FLOOR)) / h))
    return [c * math.exp(-(d * h) ** 2 / (2.0 * s2)) for d in range(-r, r + 1)]


def grid_shape(box, sigma: float, spacing: float | None = None) -> tuple[int, int, float]:
    """(rows Gy, columns Gx, h in pixels) of the grid of one view over ``box``."""
    h = float(sigma) * (DEFAULT_SPACING if spacing is None else float(spacing) / float(sigma))
    u0, v0, u1, v1 = (float(x) for x in box)
    gx = int(math.floor(max(u1 - u0, 0.0) / h)) + 6
    gy = int(math.floor(max(v1 - v0, 0.0) / h)) + 6
    return gy, gx, h


def _stencil(t: torch.Tensor):
    """Quadratic B-spline weights of grid coordinate t (N,): first node (long), W, dW/dt (3, N)."""
    c = torch.floor(t + 0.5)
    f = t - c  # in [-1/2, 1/2)
    a, b = 0.5 - f, 0.5 + f
    W = torch.stack([0.5 * a * a, 0.75 - f * f, 0.5 * b * b])
    dW = torch.stack([-a, -2.0 * f, b])
    return c.to(torch.int32) - 1, W, dW


class _Geom:
    """Stencils of all points (N = I*J) and the grid layout; kept from forward to backward.
    Per-point arrays are stored node-major, (3, N) and (3, 3, N), so every contraction over the
    stencil is a few contiguous vector operations."""

    def __init__(self, uv: torch.Tensor, box, h: float, gy: int, gx: int, taps: list[float]):
        I, J = uv.shape[:2]
        u0, v0 = float(box[0]) - 2 * h, float(box[1]) - 2 * h
        tu = (uv[..., 0].reshape(-1) - u0) / h
        tv = (uv[..., 1].reshape(-1) - v0) / h
        hi_u, hi_v = float(box[2] - box[0]) / h + 2, float(box[3] - box[1]) / h + 2
        # inside the box (NaN compares False); others are clamped (their weight is zeroed)
        self.inb = (tu >= 2) & (tu <= hi_u) & (tv >= 2) & (tv <= hi_v)
        tu = torch.nan_to_num(tu, nan=2.0).clamp_(2.0, gx - 3.0)
        tv = torch.nan_to_num(tv, nan=2.0).clamp_(2.0, gy - 3.0)
        self.I, self.J, self.gy, self.gx, self.h = I, J, gy, gx, h
        dev = uv.device
        by, self.Wy, self.dWy = _stencil(tv)
        bx, self.Wx, self.dWx = _stencil(tu)
        # int32 indices (half the memory traffic); int64 only for grids beyond 2^31 cells
        it = torch.int32 if I * gy * gx < 2**31 - 1 else torch.int64
        view = torch.arange(I, device=dev, dtype=it).repeat_interleave(J)
        a = torch.arange(3, device=dev, dtype=it)
        offs = (a[:, None] * gx + a[None, :]).reshape(9)  # node (row a, column b)
        base = by.to(it).mul_(gx).add_(bx.to(it)).add_(view.mul_(gy * gx))
        self.idx = (offs[:, None] + base[None, :]).reshape(-1)
        # own contribution kt(p, p) = ku(tu) kv(tv), k1 = W^T T W with T_mn = K(|m - n|)
        r = (len(taps) - 1) // 2
        K = [taps[r + d] if d <= r else 0.0 for d in range(3)]

        def k1(W, dW):  # W^T T W and its derivative 2 dW^T T W (T symmetric)
            TW = [K[0] * W[0] + K[1] * W[1] + K[2] * W[2], K[1] * (W[0] + W[2]) + K[0] * W[1],
                  K[2] * W[0] + K[1] * W[1] + K[0] * W[2]]
            return (sum(TW[m] * W[m] for m in range(3)),
                    2 * sum(TW[m] * dW[m] for m in range(3)))

        su, dsu = k1(self.Wx, self.dWx)
        sv, dsv = k1(self.Wy, self.dWy)
        self.self_k = su * sv
        self.dself_k = torch.stack([dsu * sv, dsv * su], -1) / h

    def splat(self, vals: torch.Tensor) -> torch.Tensor:
        """Per-point values (N,) -> grid (I, 1, Gy, Gx)."""
        grid = vals.new_zeros(self.I * self.gy * self.gx)
        c = (vals * self.Wy)[:, None, :] * self.Wx[None, :, :]  # (3 rows, 3 columns, N)
        grid.index_add_(0, self.idx, c.view(-1))
        return grid.view(self.I, 1, self.gy, self.gx)

    def gather(self, field: torch.Tensor) -> torch.Tensor:
        """Grid (I, 1, Gy, Gx) -> the 3 x 3 node values of every point (3, 3, N)."""
        return field.reshape(-1).index_select(0, self.idx).view(3, 3, -1)

    @staticmethod
    def _rows(nodes: torch.Tensor, Wb: torch.Tensor) -> torch.Tensor:
        c = nodes[:, 0] * Wb[0]
        c.addcmul_(nodes[:, 1], Wb[1]).addcmul_(nodes[:, 2], Wb[2])
        return c  # (3 rows, N)

    def value(self, nodes: torch.Tensor) -> torch.Tensor:
        """Interpolated field (N,) from node values (3, 3, N)."""
        return (self._rows(nodes, self.Wx) * self.Wy).sum(0)

    def value_grad(self, nodes: torch.Tensor) -> torch.Tensor:
        """Value, d/du, d/dv (pixels) of the interpolated field from node values -> (N, 3)."""
        cx, cdx = self._rows(nodes, self.Wx), self._rows(nodes, self.dWx)
        return torch.stack([(cx * self.Wy).sum(0), (cdx * self.Wy).sum(0) / self.h,
                            (cx * self.dWy).sum(0) / self.h], -1)


def _blur(grid: torch.Tensor, Ty: torch.Tensor, Tx: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of (I, 1, Gy, Gx), zero outside the grid: two products with
    the (symmetric) Toeplitz matrices of the taps; dense BLAS beats a long 1-D convolution and a
    blocked banded product on CPU (measured) and is one kernel on GPU."""
    return torch.matmul(Ty, torch.matmul(grid, Tx))


_TOEPLITZ: dict = {}  # (taps, n, dtype, device) -> matrix: no host-to-device copy per step


def _toeplitz(taps: list[float], n: int, dtype, device) -> torch.Tensor:
    key = (tuple(taps), n, dtype, str(device))
    if key not in _TOEPLITZ:
        if len(_TOEPLITZ) > 16:
            _TOEPLITZ.clear()
        _TOEPLITZ[key] = _toeplitz_matrix(taps, n, dtype, device)
    return _TOEPLITZ[key]


def _toeplitz_matrix(taps: list[float], n: int, dtype, device) -> torch.Tensor:
    r = (len(taps) - 1) // 2
    k = torch.tensor(taps, dtype=dtype, device=device)
    d = torch.arange(n, device=device)
    off = d[None, :] - d[:, None]
    return torch.where(off.abs() <= r, k[(off + r).clamp(0, 2 * r)],
                       torch.zeros((), dtype=dtype, device=device))


class _MeshFn(torch.autograd.Function):
    """S_j = sum_{j' != j} w_j' kt(p_j, p_j'); uv (I, J, 2), w (I, J) -> (I, J)."""

    @staticmethod
    def forward(ctx, uv, w, G, Ty, Tx):
        wf = w.reshape(-1)
        nodes = G.gather(_blur(G.splat(wf), Ty, Tx))
        if ctx.needs_input_grad[0]:  # the field's gradient at the points is kept for backward
            vg = G.value_grad(nodes)
            val, ctx.grad_fw = vg[:, 0], vg[:, 1:]
        else:
            val = G.value(nodes)
        del nodes
        S = val - wf * G.self_k
        ctx.save_for_backward(w)
        ctx.G, ctx.T = G, (Ty, Tx)
        return S.view_as(w)

    @staticmethod
    def backward(ctx, gS):
        (w,) = ctx.saved_tensors
        G, (Ty, Tx) = ctx.G, ctx.T
        need_uv, need_w = ctx.needs_input_grad[:2]
        gf = gS.reshape(-1).to(w.dtype)
        wf = w.reshape(-1)
        Ng = G.gather(_blur(G.splat(gf), Ty, Tx))
        grad_uv = grad_w = None
        if need_uv:
            # d/dp_j: gS_j grad F_w(p_j) + w_j grad F_g(p_j) - gS_j w_j grad kt(p_j, p_j)
            rg = G.value_grad(Ng)
            guv = gf[:, None] * ctx.grad_fw + wf[:, None] * rg[:, 1:] - (gf * wf)[:, None] * G.dself_k
            grad_uv = (guv * G.inb[:, None]).view(G.I, G.J, 2)
            if need_w:
                grad_w = (rg[:, 0] - gf * G.self_k).view_as(w)
        elif need_w:
            grad_w = (G.value(Ng) - gf * G.self_k).view_as(w)
        return grad_uv, grad_w, None, None, None


def _data_box(uv: torch.Tensor, w: torch.Tensor, w_grad: bool):
    """Bounding box (u0, v0, u1, v1) of the points that matter (one host sync)."""
    x = uv.detach().reshape(-1, 2)
    sel = torch.isfinite(x).all(-1)
    if not w_grad:
        sel &= w.detach().reshape(-1) != 0
    big = torch.finfo(x.dtype).max
    lo = torch.where(sel[:, None], x, big).amin(0) if x.numel() else x.new_zeros(2)
    hi = torch.where(sel[:, None], x, -big).amax(0) if x.numel() else x.new_zeros(2)
    lo, hi = lo.tolist(), hi.tolist()
    if not (lo[0] <= hi[0] and lo[1] <= hi[1]):  # nothing selected
        return None
    return (lo[0], lo[1], hi[0], hi[1])


def repulsion_grid(
    uv: torch.Tensor,
    w: torch.Tensor,
    delta: torch.Tensor,
    sigma: float,
    *,
    spacing: float | None = None,
    box: tuple[float, float, float, float] | None = None,
) -> torch.Tensor:
    """Particle-mesh repulsion (module docstring: method, error bound, cost).

    uv (I, J, 2) pixels, w (I, J), delta (I, J), sigma pixels -> out (I, J); differentiable
    w.r.t. uv, w and delta.  ``spacing``: grid spacing ``h`` in pixels (default ``sigma / 4``;
    at most ``sigma / 2``).  ``box = (u0, v0, u1, v1)`` pixels: the grid covers it, and points
    outside it count as ``w = 0`` (drwr_terms passes the image, off which w is 0 anyway); no
    host sync.  ``box=None``: the bounding box of the points that matter (finite, and w != 0
    unless w requires grad) -- one host sync; if that grid would exceed ``MAX_CELLS`` (far
    outliers), the cell-list method computes the same sum instead (exact to 1e-9).
    """
    sigma, dtype = check_inputs(uv, w, delta, sigma)
    uv, w, delta = uv.to(dtype), w.to(dtype), delta.to(dtype)
    h = sigma * DEFAULT_SPACING if spacing is None else float(spacing)
    if not 0 < h <= sigma / 2 + 1e-12:
        raise ValueError(f"grid spacing must be in (0, sigma/2], got {spacing}")
    I, J = w.shape
    given = box is not None
    if box is None:
        box = _data_box(uv, w, w.requires_grad)
        if box is None:  # no point carries weight: zero result, zero gradients
            return w * torch.exp(delta) * (0.0 * uv.sum(-1))
        # on a lattice of multiples of h, one cell out: the grid does not move with the points
        box = (math.floor(box[0] / h) * h - h, math.floor(box[1] / h) * h - h,
               math.ceil(box[2] / h) * h + h, math.ceil(box[3] / h) * h + h)
    gy, gx, h = grid_shape(box, sigma, h)
    if I * gy * gx > MAX_CELLS:
        if given:
            raise ValueError(f"repulsion grid of {I} x {gy} x {gx} cells is too large for box {box}")
        from core.drwr.repulsion_cells import repulsion_cells

        return repulsion_cells(uv, w, delta, sigma)
    taps = _taps(sigma, h)
    G = _Geom(uv.detach(), box, h, gy, gx, taps)
    wb = w * G.inb.view(I, J)  # points outside the box carry no weight
    Ty = _toeplitz(taps, gy, dtype, uv.device)
    Tx = Ty if gx == gy else _toeplitz(taps, gx, dtype, uv.device)
    S = _MeshFn.apply(uv, wb, G, Ty, Tx)
    return wb * torch.exp(delta) * S
