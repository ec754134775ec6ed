"""Cell-list repulsion: exact pairs within a cut-off radius (sorted rows + tiles, pure torch).

Cost grows with the number of pairs within the cut-off, i.e. with density; for dense clouds
see core.drwr.repulsion_grid.  Formula: core.drwr.repulsion.
"""

from __future__ import annotations

import math

import torch

from core.drwr.repulsion_base import DEFAULT_TOL, EXP_CLAMP, cutoff_radius
from core.drwr.repulsion_base import check_inputs as _check

__all__ = ["repulsion_cells"]


#: beyond this many cut-off radii from the origin the cell search coordinates are compressed
#: logarithmically (a monotone contraction: neighbours stay neighbours, keys stay bounded)
_FAR = float(1 << 18)


def _compress(t: torch.Tensor, L: float) -> torch.Tensor:
    a = t.abs()
    return torch.where(a > L, torch.sign(t) * (L + torch.log1p((a - L).clamp_min(0))), t)


class _Plan:
    """Neighbour structure of one call of the cell-list method (sorted points + work items)."""


def _build_plan(x: torch.Tensor, keep: torch.Tensor, J: int, R: float, rows_per_r: int, T: int,
                cell_w: float) -> _Plan:
    """x: (I*J, 2) coordinates in units of sigma (view-major); keep: (I*J,) bool; R: cut-off
    (sigma units); rows of height R / rows_per_r; tiles of <= T points; cells cell_w * R wide."""
    dev = x.device
    P = _Plan()
    P.T = T
    N = x.shape[0]
    act = torch.nonzero(keep).squeeze(1)
    P.act = None if act.numel() == N else act
    xa = x if P.act is None else x.index_select(0, act)
    M = xa.shape[0]
    P.M = M
    if M == 0:
        return P
    K = rows_per_r
    h = R / K
    qres = R / 64.0  # u quantum: window searches on quantised keys are exact supersets
    xd = _compress(xa.detach().to(torch.float64), _FAR * R)
    row = torch.floor(xd[:, 1] / h).to(torch.int64)
    col = torch.floor(xd[:, 0] / (cell_w * R)).to(torch.int64)
    uq = torch.floor(xd[:, 0] / qres).to(torch.int64)
    del xd
    view = (act if P.act is not None else torch.arange(N, device=dev)) // J
    row = row - row.min() + (K + 1)
    RS = int(row.max()) + K + 2  # rows per view, padded: row +- K never reaches another view
    rk = view * RS + row
    WQ = int(math.ceil(R / qres)) + 2
    uq = uq - uq.min() + (WQ + 1)
    pbits = int(int(uq.max()) + WQ + 2).bit_length()
    if (int(rk.max()) + K + 1).bit_length() + pbits > 62:  # pragma: no cover
        raise ValueError("repulsion_cells: key range too large")
    key = (rk << pbits) | uq
    key_s, order = torch.sort(key)
    del key, rk, uq, row
    col = col.index_select(0, order)
    rk_s = key_s >> pbits
    umask = (1 << pbits) - 1

    # tiles: runs of <= T consecutive sorted points inside one (row, column cell)
    seg = torch.ones(M, dtype=torch.bool, device=dev)
    seg[1:] = (rk_s[1:] != rk_s[:-1]) | (col[1:] != col[:-1])
    del col
    seg_start = torch.nonzero(seg).squeeze(1)
    del seg
    seg_len = torch.diff(seg_start, append=seg_start.new_tensor([M]))
    ntile = (seg_len + (T - 1)) // T
    tseg = torch.repeat_interleave(torch.arange(seg_start.numel(), device=dev), ntile)
    tfirst = torch.cumsum(ntile, 0) - ntile
    tm = torch.arange(tseg.numel(), device=dev) - tfirst.index_select(0, tseg)
    ts = seg_start.index_select(0, tseg) + tm * T
    tl = torch.clamp(seg_len.index_select(0, tseg) - tm * T, max=T)
    t_rk = rk_s.index_select(0, ts)
    u_first = key_s.index_select(0, ts) & umask
    u_last = key_s.index_select(0, ts + tl - 1) & umask

    # work items (tile, b_start, b_len): 'diag' = a tile against itself (strict upper
    # triangle); 'plain' = a tile against a block of <= T later points of its own row or of
    # one of the K rows below.  Every unordered pair within R is in exactly one item.
    nt = ts.numel()
    tidx = torch.arange(nt, device=dev)
    r_tile, r_lo, r_hi = [], [], []
    for k in range(K + 1):
        wk = R if k <= 1 else math.sqrt(max(R * R - ((k - 1) * h) ** 2, 0.0))
        wq = int(math.ceil(wk / qres)) + 1
        hi = torch.searchsorted(key_s, ((t_rk + k) << pbits) | (u_last + wq), right=True)
        if k == 0:
            hi0 = hi
            lo = ts + T
        else:
            lo = torch.searchsorted(key_s, ((t_rk + k) << pbits) | (u_first - wq))
        ok = hi > lo
        r_tile.append(tidx[ok])
        r_lo.append(lo[ok])
        r_hi.append(hi[ok])
    r_tile, r_lo, r_hi = torch.cat(r_tile), torch.cat(r_lo), torch.cat(r_hi)
    nb = (r_hi - r_lo + (T - 1)) // T
    it = torch.repeat_interleave(torch.arange(nb.numel(), device=dev), nb)
    bm = torch.arange(it.numel(), device=dev) - (torch.cumsum(nb, 0) - nb).index_select(0, it)
    b_start = r_lo.index_select(0, it) + bm * T
    b_len = torch.clamp(r_hi.index_select(0, it) - b_start, max=T)
    P.items = [
        (True, tidx, ts, torch.clamp(hi0 - ts, max=T)),
        (False, r_tile.index_select(0, it), b_start, b_len),
    ]
    P.ts, P.tl, P.order = ts, tl, order
    return P


def _cells_pass(P: _Plan, F: torch.Tensor, budget: int, outs, cache: list | None = None):
    """Evaluate all work items of a plan.

    ``F`` (C, M + 1): sorted per-point table, rows (x, y, w) in the forward and (x, y, w, A)
    with A = g w e^delta in the backward; column M is a zero dummy that padding lanes read
    from and accumulate into.  Forward (C == 3): accumulates S into ``outs[0]``.  Backward:
    accumulates sum_j' A_j' E_jj' into ``outs[0]`` (if not None) and sum_j' H_jj' (x_j - x_j')
    into ``outs[1]`` (x) and ``outs[2]`` (y) (if not None).  All outs have length M + 1.
    ``cache``: forward -- an empty list to store the kernel blocks in (or None); backward --
    the stored blocks (or None: recompute).
    """
    T, M = P.T, P.M
    dev, dt = F.device, F.dtype
    C = F.shape[0]
    fwd = C == 3
    ar = torch.arange(T, device=dev)
    tri = (ar[None, :] > ar[:, None]).to(dt)
    per = max(1, budget // (T * T))
    ones = torch.ones(per, T, dtype=dt, device=dev)
    blocks = iter(cache) if (cache is not None and not fwd) else None
    for diag, tiles, bst, bln in P.items:
        n = tiles.numel()
        for s0 in range(0, n, per):
            s1 = min(n, s0 + per)
            W = s1 - s0
            t = tiles[s0:s1]
            a_src = torch.where(ar < P.tl.index_select(0, t)[:, None],
                                P.ts.index_select(0, t)[:, None] + ar, M).view(-1)
            b_src = torch.where(ar < bln[s0:s1, None], bst[s0:s1, None] + ar, M).view(-1)
            Fa = F.index_select(1, a_src).view(C, W, T)
            Fb = F.index_select(1, b_src).view(C, W, T)
            # coordinates centred on the tile's first point keep the expansion
            # |a-b|^2 = |a|^2 + |b|^2 - 2 a.b accurate
            cx, cy = Fa[0, :, :1], Fa[1, :, :1]
            xa, ya = Fa[0] - cx, Fa[1] - cy
            xb, yb = Fb[0] - cx, Fb[1] - cy
            one = ones[:W]
            La = torch.stack([xa, ya, xa * xa + ya * ya, one], 1)
            Lb = torch.stack([xb + xb, yb + yb, -one, (xb * xb).add_(yb * yb).neg_()], 1)
            if blocks is not None:
                E = next(blocks)
            else:
                E = torch.bmm(La.transpose(1, 2), Lb)  # -|a - b|^2 (sigma units), (W, T, T)
                E.clamp_(min=-EXP_CLAMP).exp_()
                if diag:
                    E.mul_(tri)
                if fwd and cache is not None:
                    cache.append(E)
            if fwd:
                wa, wb = Fa[2].unsqueeze(1), Fb[2].unsqueeze(1)
                outs[0].index_add_(0, a_src, torch.bmm(wb, E.transpose(1, 2)).view(-1))
                outs[0].index_add_(0, b_src, torch.bmm(wa, E).view(-1))
                continue
            wa, Aa = Fa[2], Fa[3]
            wb, Ab = Fb[2], Fb[3]
            if outs[1] is None:
                outs[0].index_add_(0, a_src, torch.bmm(Ab.unsqueeze(1), E.transpose(1, 2)).view(-1))
                outs[0].index_add_(0, b_src, torch.bmm(Aa.unsqueeze(1), E).view(-1))
                continue
            # H_ab = E_ab (A_a w_b + w_a A_b); every sum over partners via two small matmuls:
            # Ra[:, k, a] = sum_b E_ab Bm[:, k, b],  Rb[:, k, b] = sum_a Am[:, k, a] E_ab
            Bm = torch.stack([wb, Ab, wb * xb, Ab * xb, wb * yb, Ab * yb], 1)  # (W, 6, T)
            Am = torch.stack([wa, Aa, wa * xa, Aa * xa, wa * ya, Aa * ya], 1)
            Ra = torch.bmm(Bm, E.transpose(1, 2))
            Rb = torch.bmm(Am, E)
            # sum_b H_ab = A_a Ra0 + w_a Ra1 ; sum_b H_ab x_b = A_a Ra2 + w_a Ra3 (y: 4, 5)
            rowH = Aa * Ra[:, 0] + wa * Ra[:, 1]
            gxa = xa * rowH - Aa * Ra[:, 2] - wa * Ra[:, 3]
            gya = ya * rowH - Aa * Ra[:, 4] - wa * Ra[:, 5]
            # sum_a H_ab = w_b Rb1 + A_b Rb0 ; sum_a H_ab x_a = w_b Rb3 + A_b Rb2 (y: 5, 4)
            colH = wb * Rb[:, 1] + Ab * Rb[:, 0]
            gxb = xb * colH - wb * Rb[:, 3] - Ab * Rb[:, 2]
            gyb = yb * colH - wb * Rb[:, 5] - Ab * Rb[:, 4]
            if outs[0] is not None:  # sum_j' A_j' E_jj'
                outs[0].index_add_(0, a_src, Ra[:, 1].reshape(-1))
                outs[0].index_add_(0, b_src, Rb[:, 1].reshape(-1))
            outs[1].index_add_(0, a_src, gxa.view(-1))
            outs[1].index_add_(0, b_src, gxb.view(-1))
            outs[2].index_add_(0, a_src, gya.view(-1))
            outs[2].index_add_(0, b_src, gyb.view(-1))


class _CellsFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, uv, w, delta, sigma, R, rows_per_r, T, cell_w, budget, cache_bytes):
        I, J = w.shape
        N = I * J
        dtype, dev = w.dtype, w.device
        x = (uv / sigma).reshape(N, 2)
        # points with w == 0 change no value and no uv/delta gradient; they are only needed
        # for dL/dw, so they are dropped when w needs no gradient.  Non-finite points and
        # points so far out that squared distances would overflow are treated as isolated.
        lim = math.sqrt(torch.finfo(dtype).max) / 16
        keep = (x[:, 0].abs() <= lim) & (x[:, 1].abs() <= lim)
        if not ctx.needs_input_grad[1]:
            keep &= w.reshape(-1) != 0
        P = _build_plan(x, keep, J, R, rows_per_r, T, cell_w)
        S = torch.zeros(N, dtype=dtype, device=dev)
        Fs = None
        if P.M:
            Fs = _sorted_table(P, x, w.reshape(-1))
            S_s = torch.zeros(P.M + 1, dtype=dtype, device=dev)
            npairs = sum(int(it[1].numel()) for it in P.items) * T * T
            need = any(ctx.needs_input_grad[:2])
            cache = [] if need and npairs * Fs.element_size() <= cache_bytes else None
            _cells_pass(P, Fs, budget, [S_s], cache)
            ctx.cache = cache
            _unsort(P, S_s[: P.M], S)
        S = S.reshape(I, J)
        ctx.save_for_backward(w, delta, S)
        ctx.plan, ctx.sigma, ctx.budget, ctx.Fs = P, sigma, budget, Fs
        return w * torch.exp(delta) * S

    @staticmethod
    def backward(ctx, g):
        w, delta, S = ctx.saved_tensors
        P, sigma = ctx.plan, ctx.sigma
        need_uv, need_w, need_d = ctx.needs_input_grad[:3]
        I, J = w.shape
        N = I * J
        g = g.to(w.dtype)
        ew = torch.exp(delta)
        gS = g * ew * S
        grad_d = gS * w if need_d else None
        grad_w = gS if need_w else None
        grad_uv = torch.zeros(N, 2, dtype=w.dtype, device=w.device) if need_uv else None
        if (need_w or need_uv) and P.M:
            A = (g * w * ew).reshape(-1)
            A_s = _gather_sorted(P, A)
            F = torch.cat([ctx.Fs, A_s.unsqueeze(0)], 0)
            M1 = P.M + 1
            z = lambda: torch.zeros(M1, dtype=w.dtype, device=w.device)  # noqa: E731
            outs = [z() if need_w else None, z() if need_uv else None, z() if need_uv else None]
            _cells_pass(P, F, ctx.budget, outs, ctx.cache)
            if need_w:
                grad_w = gS.clone()
                _unsort(P, outs[0][: P.M], grad_w.view(-1), add=True)
            if need_uv:
                g2 = torch.stack([outs[1][: P.M], outs[2][: P.M]], 1).mul_(-2.0 / sigma)
                _unsort(P, g2, grad_uv)
        if grad_uv is not None:
            grad_uv = grad_uv.view(I, J, 2)
        ctx.cache = None
        return grad_uv, grad_w, grad_d, None, None, None, None, None, None, None


def _src_index(P: _Plan) -> torch.Tensor:
    return P.order if P.act is None else P.act.index_select(0, P.order)


def _gather_sorted(P: _Plan, v: torch.Tensor) -> torch.Tensor:
    """Flat per-point values (N,) -> sorted order (M + 1,) with a zero dummy appended."""
    v = v.index_select(0, _src_index(P))
    return torch.cat([v, v.new_zeros(1)])


def _sorted_table(P: _Plan, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(3, M + 1) table of sorted x, y, w (zero dummy column at M)."""
    return torch.stack([_gather_sorted(P, x[:, 0]), _gather_sorted(P, x[:, 1]),
                        _gather_sorted(P, w)], 0)


def _unsort(P: _Plan, vals_s, dest, add=False):
    """Scatter sorted values (M, ...) back to the flat destination (N, ...) (in place)."""
    idx = _src_index(P)
    if add:
        dest.index_add_(0, idx, vals_s)
    else:
        dest.index_copy_(0, idx, vals_s)


def repulsion_cells(
    uv: torch.Tensor,
    w: torch.Tensor,
    delta: torch.Tensor,
    sigma: float,
    cutoff: float | None = None,
    *,
    tol: float = DEFAULT_TOL,
    rows_per_cutoff: int = 2,
    tile: int = 32,
    cell_width: float = 2.0,
    budget: int = 1 << 20,
    cache_bytes: int = 256 << 20,
) -> torch.Tensor:
    """Fast repulsion with a spatial cut-off (sorted rows + tiles, pure torch).

    Pairs farther apart than ``cutoff`` pixels are dropped; ``cutoff=None`` uses
    :func:`cutoff_radius` ``(sigma, tol)``, i.e. ``sigma * sqrt(ln(1/tol))`` (4.55 sigma for
    the default ``tol=1e-9``).  All pairs within the cut-off are evaluated (some farther
    candidates too), each exactly up to float rounding.

    Tolerance: with ``eps = exp(-min(cutoff**2 / sigma**2, 80))`` (= ``tol`` for the default
    cut-off), for every ``(i, j)``::

        |out_cells - out_exact| <= eps * |w_j| e^{delta_j} * sum_{j' != j} |w_j'|

    (tested).  Gradients: ``dL/ddelta = g * out`` inherits that bound; each dropped pair
    changes ``dL/dw_j`` by at most ``eps * e^{delta_j} |g_j w_j'|`` +
    ``eps * |g_j' w_j' e^{delta_j'}|`` and ``dL/duv_j`` by at most
    ``eps * (2 * cutoff / sigma**2) * |a_j w_j' + a_j' w_j|`` (``a = g w e^delta``).  In
    dense regions the relative error of ``out`` is about ``eps``.  Candidate pairs whose
    exponent is clamped (``d > sqrt(80) sigma``) add their ``e**-80``-sized term to the uv
    gradient instead of exactly 0 (also within the bound).  In float32 the kernel is computed
    as ``|a|^2 + |b|^2 - 2 a.b`` in tile-centred coordinates: relative rounding ~1e-6.

    Method: per view, points are sorted by (row of height ``cutoff / rows_per_cutoff``, u);
    runs of ``tile`` consecutive points inside one (row, ``cell_width * cutoff``-wide cell)
    form tiles.  The neighbours of a tile in the rows below (and later in its own row) are
    contiguous ranges of the sorted order (``searchsorted``), cut into blocks of ``tile``;
    each (tile, block) item is a dense ``tile x tile`` kernel evaluated with batched matmuls
    in batches of about ``budget`` pairs; each unordered pair is evaluated once and its
    contributions are scatter-added to both points.  The backward recomputes the kernel the
    same way, unless the kernel blocks fit in ``cache_bytes`` (then they are kept from the
    forward; ~40% faster backward; 0 disables).  Memory: ``O(I*J)`` plus ~15 buffers of
    ``budget`` elements plus at most ``cache_bytes``.  A Python loop runs over batches of
    work items only.

    Points with ``w == 0`` are skipped when ``w`` does not require grad (they change no
    value and no uv/delta gradient); otherwise they are kept so ``dL/dw`` is exact for them
    too.  Off-image points are ordinary points (far ones are found through a logarithmically
    compressed search coordinate, which stays exact); non-finite points and points beyond
    ``sqrt(finfo.max)/16`` sigma (~1e18 sigma in float32) are treated as isolated
    (``out = 0``, zero gradients) instead of producing NaN.
    """
    sigma, dtype = _check(uv, w, delta, sigma)
    rc = cutoff_radius(sigma, tol) if cutoff is None else float(cutoff)
    if not rc > 0:
        raise ValueError(f"cutoff must be > 0, got {cutoff}")
    R = rc / sigma
    return _CellsFn.apply(uv.to(dtype), w.to(dtype), delta.to(dtype), sigma, R,
                         max(1, int(rows_per_cutoff)), max(1, int(tile)), float(cell_width),
                         int(budget), int(cache_bytes))

