"""The DRWR terms batched over (objects x views) for network training.

A batch holds B objects, each with its own predicted cloud (J, 3) and V supervising views.
The (B, V) pairs are flattened into the I = B*V rows of the per-view operations of
core.drwr (silhouette sampling, boundary bias, the repulsion kernel), each row with its own
camera and its object's points: one call per term for the whole batch, no Python loop over
objects or views. Per row the terms are exactly those of :func:`core.drwr.losses.drwr_terms`
(tested against it).
"""

from __future__ import annotations

import torch

from core.drwr.nearest import nearest_index
from core.drwr.repulsion import repulsion
from core.drwr.silhouette import outside_distance, sample_maps
from core.geometry.cameras import project

__all__ = ["batched_terms", "coverage_distance", "project_objects", "project_rows"]


def coverage_distance(fg: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Pixels from each silhouette sample to the nearest projected point.

    fg (I, P, 2) pixel positions inside the silhouette of each row, uv (I, J, 2) projections
    -> (I, P): ``min_j |fg_p - uv_j|``. Its gradient pulls, for every sample, the nearest point
    towards it, so parts of the silhouette no point reaches (thin legs) draw points in; the
    silhouette term's counterpart (l1 takes points to the silhouette, this takes the silhouette
    to the points), as the reverse half of a 2-D chamfer distance. The nearest point comes from
    :func:`core.drwr.nearest.nearest_index` (exact, without the dense (I, P, J) distances).
    """
    near = nearest_index(fg, uv)  # (I, P); the distance to it carries the gradient
    nearest = torch.gather(uv, 1, near[..., None].expand(-1, -1, 2))  # (I, P, 2)
    return torch.sqrt((fg - nearest).pow(2).sum(-1) + 1e-8)


def project_rows(points: torch.Tensor, K: torch.Tensor, R: torch.Tensor, t: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Project per-row points: points (I, J, 3), K, R (I, 3, 3), t (I, 3) ->
    uv (I, J, 2) pixels, depth (I, J) (core.geometry.cameras.project, one row per view)."""
    return project(points, K, R, t)


def project_objects(points: torch.Tensor, K: torch.Tensor, R: torch.Tensor, t: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Project each object's points into its own views: points (B, J, 3), K, R (B, V, 3, 3),
    t (B, V, 3) -> uv (B, V, J, 2) pixels, depth (B, V, J).

    The same numbers as core.geometry.cameras.project row by row (pinhole K: last row
    (0, 0, 1), no K[1, 0]), with K folded into the camera, ``P = K [R | t]``: one batched
    product per object for all its views, no (B*V, J, 3) copy of the points."""
    KR = K @ R  # (B, V, 3, 3)
    Kt = (K @ t[..., None])[..., 0]  # (B, V, 3)
    X = torch.einsum("bvij,bnj->bvni", KR, points) + Kt[:, :, None, :]  # (B, V, J, 3)
    z = X[..., 2]
    zs = torch.where(z.abs() < 1e-8, torch.full_like(z, 1e-8), z)
    return X[..., :2] / zs[..., None], z


def batched_terms(points: torch.Tensor, K: torch.Tensor, R: torch.Tensor, t: torch.Tensor,
                  sd: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor, sigma: float,
                  with_repulsion: bool = True, method: str = "cubic",
                  fg: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """DRWR terms of B clouds in V views each.

    Args:
        points: (B, J, 3) predicted clouds (canonical = world frame of every object).
        K, R: (B, V, 3, 3); t: (B, V, 3) cameras of each object's supervising views.
        sd, mask, bias: (B, V, H, W) signed distance (px), binary mask, boundary bias δ
            (core.drwr.silhouette) of those views.
        sigma: repulsion length scale in pixels. method: core.drwr.repulsion method (default
            "cubic": one small grid per row, core.drwr.repulsion_cubic).
        fg: optional (B, V, P, 2) pixel samples inside each silhouette for the coverage term.

    Returns (B, V, ...) tensors: ``uv`` (B,V,J,2), ``depth``, ``sil`` l1 in pixels, ``rep``
    l2, ``w`` repulsion weight, each (B, V, J); with ``fg`` also ``cover`` (B, V, P)
    (:func:`coverage_distance`).
    """
    B, J, _ = points.shape
    V = K.shape[1]
    H, W = sd.shape[-2:]
    uv, depth = project_objects(points, K, R, t)
    uv, depth = uv.reshape(B * V, J, 2), depth.reshape(B * V, J)
    sd_, mask_, bias_ = (m.reshape(B * V, H, W) for m in (sd, mask, bias))
    sdv = sample_maps(sd_, uv, zero_outside=False)  # (I, J), shared by l1 and w
    sil = outside_distance(sd_, uv, sampled=sdv)
    with torch.no_grad():  # as in core.drwr.losses.drwr_terms, mask and δ in one sampling
        mb = sample_maps(torch.stack([mask_, bias_], 1), uv.detach())  # (I, 2, J)
        w = (2.0 * sdv.detach()).clamp_(0.0, 1.0)
        w = torch.where((mb[:, 0] > 0) & (depth.detach() > 0), w, torch.zeros_like(w))
        delta = mb[:, 1]
    # w > 0 only where the bilinear mask is > 0: u in (-1, W), v in (-1, H); the cubic kernel
    # grids only the points with weight, so it needs no box
    box = None if method == "cubic" else (-1.0, -1.0, float(W), float(H))
    rep = (repulsion(uv, w, delta, sigma, method=method, box=box) if with_repulsion
           else torch.zeros_like(w))
    out = {"uv": uv, "depth": depth, "sil": sil, "rep": rep, "w": w}
    if fg is not None:
        out["cover"] = coverage_distance(fg.reshape(B * V, -1, 2), uv)
    return {k: v.reshape(B, V, *v.shape[1:]) for k, v in out.items()}
