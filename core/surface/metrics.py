"""Metrics of a mesh against a scene: surface Chamfer beside the cloud's, silhouette IoU per view.

The mesh's surface is sampled uniformly by area (``MESH_SAMPLES`` points, fixed seed) and
scored with the same :func:`core.metrics.cloud_metrics` as clouds (DPC Chamfer x100, F-scores); its
silhouettes are rendered exactly (:func:`core.geometry.rasterize.render_silhouettes`: a pixel
is covered iff its centre falls in a projected triangle) and compared with the masks.
"""

from __future__ import annotations

import numpy as np

from core.geometry.rasterize import render_silhouettes
from core.io.mesh_scene import sample_surface
from core.io.scene import Scene
from core.metrics import cloud_metrics

__all__ = ["MESH_SAMPLES", "mesh_metrics", "mesh_silhouette_iou", "surface_distance"]

MESH_SAMPLES = 100_000


def mesh_silhouette_iou(vertices: np.ndarray, faces: np.ndarray, scene: Scene
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per view (I,): IoU of the mesh's rendered silhouette with the mask, the fraction of
    mask pixels it covers, and the fraction of its pixels inside the mask."""
    H, W = scene.resolution
    sil = render_silhouettes(vertices, faces, scene.K, scene.R, scene.t, H, W)
    m = scene.masks
    inter = (sil & m).sum((1, 2)).astype(np.float64)
    union = (sil | m).sum((1, 2))
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    cover = inter / np.maximum(m.sum((1, 2)), 1)
    inside = np.where(sil.any((1, 2)), inter / np.maximum(sil.sum((1, 2)), 1), 1.0)
    return iou, cover, inside


def mesh_metrics(vertices: np.ndarray, faces: np.ndarray, scene: Scene,
                 cloud: np.ndarray | None = None, samples: int = MESH_SAMPLES,
                 seed: int = 0) -> dict[str, object]:
    """Metrics of the mesh (vertices (V, 3), faces (F, 3), the scene's working coordinates).

    Keys: ``mesh_cd``, ``mesh_cd_pred_gt``, ``mesh_cd_gt_pred``, ``mesh_fscore_0.01`` (when the
    scene has ground truth); ``cloud_cd`` (when ``cloud`` (N, 3) is given, same coordinates);
    ``mesh_iou_per_view``, ``mesh_iou_min``, ``mesh_iou_mean``, ``mesh_cover_min`` (fraction of
    each mask covered), ``mesh_inside_min`` (fraction of rendered pixels inside the mask).
    """
    out: dict[str, object] = {}
    if scene.gt_points is not None:
        pts = sample_surface(vertices, faces, samples, seed)
        m = cloud_metrics(pts, np.asarray(scene.gt_points))
        out.update({f"mesh_{k}": v for k, v in m.items()})
        if cloud is not None:
            out["cloud_cd"] = cloud_metrics(np.asarray(cloud, np.float64),
                                       np.asarray(scene.gt_points))["cd"]
    iou, cover, inside = mesh_silhouette_iou(vertices, faces, scene)
    out["mesh_iou_per_view"] = [float(x) for x in iou]
    out["mesh_iou_min"] = float(iou.min())
    out["mesh_iou_mean"] = float(iou.mean())
    out["mesh_cover_min"] = float(cover.min())
    out["mesh_inside_min"] = float(inside.min())
    return out


def surface_distance(va: np.ndarray, fa: np.ndarray, vb: np.ndarray, fb: np.ndarray,
                     samples: int = 20_000, seed: int = 0) -> dict[str, float]:
    """Mean distance x100 between two surfaces with no sampling floor: ``samples`` area
    samples of each mesh to the other mesh's triangles (exact point-to-triangle distance,
    gpytoolbox's AABB tree), both directions; ``sd`` is their mean. (A Chamfer distance
    between two samplings of the *same* surface is not 0: it measures the sample spacing.)"""
    from core.surface.libs import gpytoolbox

    gpy = gpytoolbox()

    def one(v1: np.ndarray, f1: np.ndarray, v2: np.ndarray, f2: np.ndarray, s: int) -> float:
        p = sample_surface(v1, f1, samples, s)
        d2 = gpy.squared_distance(p, np.asarray(v2, np.float64), np.asarray(f2, np.int32),
                                  use_cpp=True)[0]
        return 100.0 * float(np.sqrt(np.maximum(d2, 0)).mean())

    a, b = one(va, fa, vb, fb, seed), one(vb, fb, va, fa, seed + 1)
    return {"sd": (a + b) / 2, "sd_ab": a, "sd_ba": b}
