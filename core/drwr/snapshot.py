"""The display/export snapshot of a cloud seen by a scene's cameras: one function, used by the
fitter and (later) a training's preview, so every view of a cloud is made the same way."""

from __future__ import annotations

import numpy as np
import torch

from core.drwr.silhouette import SilhouetteMaps, outside_distance
from core.geometry.cameras import project, project_np
from core.io.scene import Scene
from core.job import Snapshot
from core.hull.inside import nearest_pixels

__all__ = ["make_snapshot", "inside_per_view"]


def inside_per_view(points: np.ndarray, scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Projections of ``points`` (J, 3) into every view of ``scene`` and the inside test.

    Returns uv (I, J, 2) float64, depth (I, J) float64 and inside (I, J) bool: the nearest
    pixel (``core.hull.inside.nearest_pixels``, the rule the metrics and the snap use) is
    foreground and the point is in front of the camera. Computed in float64 from the float32
    points exactly as ``core.hull.inside.inside_all`` does on a written cloud.
    """
    uv, z = project_np(np.asarray(points, np.float32), scene.K, scene.R, scene.t)
    rr, cc, ok = nearest_pixels(uv, z, *scene.resolution)
    inside = scene.masks[np.arange(scene.n_views)[:, None], rr, cc] & ok
    return uv, z, inside


def make_snapshot(points: torch.Tensor, scene: Scene, maps: SilhouetteMaps,
                  cameras: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None, *,
                  sigma: float = 1.5, iteration: int = 0, losses: dict[str, float] | None = None,
                  step_time: float = 0.0, lr: float = 0.0) -> Snapshot:
    """A frozen numpy :class:`core.job.Snapshot` of ``points`` (J, 3) in ``scene``'s views.

    ``maps`` are the scene's silhouette maps (for the per-point loss, the mean over views of
    the silhouette term l1); ``cameras`` the scene's K, R (I,3,3), t (I,3) as tensors on the
    points' device (built from the scene when None). uv/depth/inside come from
    :func:`inside_per_view`. ``sigma`` (the repulsion's length scale) does not enter the
    silhouette term; it is accepted so that callers pass a job's DRWR settings unchanged.
    """
    with torch.no_grad():
        if cameras is None:
            dev = points.device
            cameras = tuple(torch.as_tensor(a, dtype=torch.float32, device=dev)  # type: ignore
                            for a in (scene.K, scene.R, scene.t))
        K, R, t = cameras
        # the silhouette term l1 of core.drwr.losses.drwr_terms, alone: a snapshot needs no
        # repulsion weights (computing them took over half of a snapshot's time)
        uv_t, _ = project(points, K, R, t)
        sil = outside_distance(maps.sd, uv_t)  # (I, J) pixels outside
        pts = points.detach().cpu().numpy().astype(np.float32, copy=True)
        point_loss = sil.mean(0).cpu().numpy().astype(np.float32)
    uv, z, inside = inside_per_view(pts, scene)
    return Snapshot(iteration=iteration, points=pts, uv=uv.astype(np.float32), inside=inside,
                    depth=z.astype(np.float32), point_loss=point_loss,
                    losses=dict(losses or {}), step_time=step_time, lr=lr)
