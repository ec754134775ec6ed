"""Test-time refinement: a network's prediction moved towards its own input view's silhouette.

The network sees one view and predicts a cloud; that view's mask and camera are known at
prediction time (a drwr-dataset or drwr-scene lists them), and the prediction need not fit
them exactly. A few Adam steps on the DRWR silhouette term and the coverage term of that one
view (``sil_weight * mean l1 + cover_weight * mean coverage``, the training loss without the
repulsion, which spreads points in the image plane of the one view) pull points that fall
outside the silhouette back in and draw points into parts of it no point reaches. Each point
moves across the view at its own depth (its camera-frame x and y; z fixed), so the depth the
network inferred stays. The step is a fraction of the prediction's bounding-box diagonal, so
the same setting serves clouds of any scale.

Before that, :func:`refine_feature` can move the prediction within what the network can
output: Adam steps on the network's image feature (the decoder's input) on the same terms, so
the cloud changes as a whole, the way the network changes it between objects, rather than
point by point.

Chosen on validation splits only (docs/training.md, "Test-time refinement").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from core.drwr.silhouette import signed_distance
from core.train.terms import batched_terms
from core.train.view_inputs import loss_grid

__all__ = ["refine_feature", "refine_prediction"]

#: silhouette pixels used as coverage samples (all of them up to this many, else a seeded draw)
MAX_SAMPLES = 4096


def _view_loss(mask: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray,
               sil_weight: float, cover_weight: float, loss_size: int
               ) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The one view's loss of (1, J, 3) world points: ``sil_weight * mean(l1) + cover_weight
    * mean(coverage)`` on ``mask`` brought to the ``loss_size`` grid as in training (None when
    the mask is empty there)."""
    masks, Kg = loss_grid(np.asarray(mask, bool)[None], np.asarray(K, np.float64)[None],
                          loss_size)
    if not masks[0].any():
        return None
    rr, cc = np.nonzero(masks[0])
    if len(rr) > MAX_SAMPLES:
        pick = np.random.default_rng(0).choice(len(rr), MAX_SAMPLES, replace=False)
        rr, cc = rr[pick], cc[pick]

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, np.float32))[None, None]

    sd, mk = tensor(signed_distance(masks)[0]), tensor(masks[0])
    bias = torch.zeros_like(sd)  # δ only enters the repulsion, which is not used here
    fg = tensor(np.stack([cc, rr], 1)) if cover_weight > 0 else None
    Kt = tensor(Kg[0])
    Rt = torch.from_numpy(np.asarray(R, np.float32))[None, None]
    tt = torch.from_numpy(np.asarray(t, np.float32).reshape(3))[None, None]

    def loss(x: torch.Tensor) -> torch.Tensor:
        terms = batched_terms(x, Kt, Rt, tt, sd, mk, bias, 1.0, with_repulsion=False, fg=fg)
        out = sil_weight * terms["sil"].mean()
        return out + cover_weight * terms["cover"].mean() if fg is not None else out

    return loss


def refine_feature(model: torch.nn.Module, x: torch.Tensor, mask: np.ndarray, K: np.ndarray,
                   R: np.ndarray, t: np.ndarray, steps: int, step: float,
                   sil_weight: float = 3.0, cover_weight: float = 1.0, loss_size: int = 0
                   ) -> np.ndarray:
    """The network's prediction from ``x`` (3, S, S) with its feature refined in one view ->
    (J, 3) float32. ``model`` has ``encode`` ((B, 3, S, S) -> (B, F)) and ``decode``
    ((B, F) -> (B, J, 3)); its weights are not changed.

    ``steps`` Adam steps on the feature ``h = model.encode(x)``, each of size ``step`` x the
    mean of ``|h|``, on the loss of :func:`refine_prediction` in the view ``mask`` (H, W) bool,
    ``K``, ``R``, ``t``. ``steps`` = 0 or an empty mask gives the network's own prediction.
    """
    dev = next(model.parameters()).device
    with torch.no_grad():
        h0 = model.encode(x[None].to(dev))
        raw = model.decode(h0)[0].cpu().numpy().astype(np.float32)
    scale = float(h0.abs().mean())
    loss_of = (_view_loss(mask, K, R, t, sil_weight, cover_weight, loss_size)
               if steps > 0 and step > 0 and scale > 0 else None)
    if loss_of is None:
        return raw
    h = h0.clone().requires_grad_(True)
    opt = torch.optim.Adam([h], lr=step * scale)
    with torch.enable_grad():
        for _ in range(int(steps)):
            loss = loss_of(model.decode(h).cpu())
            h.grad, = torch.autograd.grad(loss, [h])  # the weights get no gradient
            opt.step()
    with torch.no_grad():
        pts = model.decode(h)[0].cpu().numpy().astype(np.float32)
    return pts if np.isfinite(pts).all() else raw


def refine_prediction(points: np.ndarray, mask: np.ndarray, K: np.ndarray, R: np.ndarray,
                      t: np.ndarray, steps: int, step: float, sil_weight: float = 3.0,
                      cover_weight: float = 1.0, loss_size: int = 0) -> np.ndarray:
    """``points`` (J, 3) refined in one view: ``mask`` (H, W) bool, ``K``, ``R`` (3, 3), ``t``
    (3,) its camera (pixels, world -> camera) -> (J, 3) float32.

    ``steps`` Adam steps on the points' camera-frame x and y (depth fixed) of size ``step`` x
    the cloud's bounding-box diagonal on
    ``sil_weight * mean(l1) + cover_weight * mean(coverage)`` (core.train.terms), on the mask
    brought to the ``loss_size`` grid as in training. ``steps`` = 0, an empty mask or a cloud
    without extent returns the points unchanged (as float32).
    """
    pts = np.asarray(points, np.float32)
    m = np.asarray(mask, bool)
    if steps <= 0 or step <= 0 or not m.any() or not np.isfinite(pts).all():
        return pts.copy()
    diag = float(np.linalg.norm(np.ptp(pts, axis=0)))
    if diag <= 0:
        return pts.copy()
    loss_of = _view_loss(m, K, R, t, sil_weight, cover_weight, loss_size)
    if loss_of is None:
        return pts.copy()
    Rm = torch.from_numpy(np.asarray(R, np.float32))
    tv = torch.from_numpy(np.asarray(t, np.float32).reshape(3))
    cam = torch.from_numpy(pts) @ Rm.T + tv  # (J, 3) camera frame: the depth z stays fixed
    xy = cam[:, :2].clone().requires_grad_(True)
    opt = torch.optim.Adam([xy], lr=step * diag)
    with torch.enable_grad():
        for _ in range(int(steps)):
            x = ((torch.cat([xy, cam[:, 2:]], 1) - tv) @ Rm)[None]  # back to the world
            loss = loss_of(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    x = (torch.cat([xy.detach(), cam[:, 2:]], 1) - tv) @ Rm
    return x.numpy().astype(np.float32)
