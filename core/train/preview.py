"""Snapshots of a predicted cloud in a scene's views, made as a fit's are.

:func:`cloud_snapshot` has the signature of helper ``loop``'s coming
``core.drwr.snapshot.make_snapshot`` (the fitter's snapshot moved into one function); once that
lands, the trainer calls it instead.
"""

from __future__ import annotations

import numpy as np
import torch

from core.drwr.losses import drwr_terms
from core.drwr.silhouette import SilhouetteMaps
from core.geometry.cameras import project_np
from core.io.scene import Scene
from core.job import Snapshot
from core.metrics import nearest_pixels

__all__ = ["cloud_snapshot"]


def cloud_snapshot(points: torch.Tensor, scene: Scene, maps: SilhouetteMaps, *,
                   sigma: float = 1.5, iteration: int = 0, losses: dict[str, float] | None = None,
                   step_time: float = 0.0, lr: float = 0.0) -> Snapshot:
    """A :class:`core.job.Snapshot` of ``points`` (J, 3) in every view of ``scene``: uv, depth,
    inside (nearest pixel in the mask and in front: core.metrics.nearest_pixels) in float64
    from the float32 points, the per-point silhouette loss averaged over views."""
    with torch.no_grad():
        dev = points.device
        K, R, t = (torch.as_tensor(a, dtype=torch.float32, device=dev)
                   for a in (scene.K, scene.R, scene.t))
        terms = drwr_terms(points, K, R, t, maps, None, sigma, with_repulsion=False)
        pts = points.detach().cpu().numpy().astype(np.float32, copy=True)
        point_loss = terms["sil"].mean(0).cpu().numpy().astype(np.float32)
    uv, z = project_np(pts, scene.K, scene.R, scene.t)
    rr, cc, ok = nearest_pixels(uv, z, *scene.resolution)
    inside = scene.masks[np.arange(scene.n_views)[:, None], rr, cc] & ok
    return Snapshot(iteration=iteration, points=pts, uv=uv.astype(np.float32), inside=inside,
                    depth=z.astype(np.float32), point_loss=point_loss,
                    losses=dict(losses or {}), step_time=step_time, lr=lr)
