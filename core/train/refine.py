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

Chosen on validation splits only (docs/training.md, "Test-time refinement").
"""

from __future__ import annotations

import numpy as np
import torch

from core.drwr.silhouette import signed_distance
from core.train.terms import batched_terms
from core.train.view_inputs import loss_grid

__all__ = ["refine_prediction"]

#: silhouette pixels used as coverage samples (all of them up to this many, else a seeded draw)
MAX_SAMPLES = 4096


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
    masks, Kg = loss_grid(m[None], np.asarray(K, np.float64)[None], loss_size)
    if not masks[0].any():
        return pts.copy()
    rr, cc = np.nonzero(masks[0])
    if len(rr) > MAX_SAMPLES:
        pick = np.random.default_rng(0).choice(len(rr), MAX_SAMPLES, replace=False)
        rr, cc = rr[pick], cc[pick]

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, np.float32))[None, None]

    sd, mk = tensor(signed_distance(masks)[0]), tensor(masks[0])
    bias = torch.zeros_like(sd)  # δ only enters the repulsion, which is not used here
    fg = tensor(np.stack([cc, rr], 1))
    Rm = torch.from_numpy(np.asarray(R, np.float32))
    tv = torch.from_numpy(np.asarray(t, np.float32).reshape(3))
    Kt, Rt, tt = tensor(Kg[0]), Rm[None, None], tv[None, None]
    cam = torch.from_numpy(pts) @ Rm.T + tv  # (J, 3) camera frame: the depth z stays fixed
    xy = cam[:, :2].clone().requires_grad_(True)
    opt = torch.optim.Adam([xy], lr=step * diag)
    with torch.enable_grad():
        for _ in range(int(steps)):
            x = ((torch.cat([xy, cam[:, 2:]], 1) - tv) @ Rm)[None]  # back to the world
            terms = batched_terms(x, Kt, Rt, tt, sd, mk, bias, 1.0, with_repulsion=False,
                                  fg=fg if cover_weight > 0 else None)
            loss = sil_weight * terms["sil"].mean()
            if cover_weight > 0:
                loss = loss + cover_weight * terms["cover"].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    x = (torch.cat([xy.detach(), cam[:, 2:]], 1) - tv) @ Rm
    return x.numpy().astype(np.float32)
