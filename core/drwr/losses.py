"""The DRWR losses: smooth silhouette loss and structure-aware repulsion.

For view i and point j projected to p_ij (pixels):

- silhouette: ``l1_ij = D |1 - vG_i(p_ij)|`` with vG <= 1 the normalised falling distance
  field (see core.drwr.silhouette, which also explains why vG is taken from the bilinear signed
  distance) and D = max(H, W): the paper's l1 expressed in pixels, i.e. the distance in
  pixels from p_ij to the silhouette (0 inside).
- repulsion:  ``l2_ij = w_ij e^{δ_ij} Σ_{j'≠j} w_ij' exp(-|p_ij - p_ij'|² / σ²)`` with
  w the silhouette value (1 inside, falling to 0 across the last half pixel before the pixel
  edge, 0 outside: no repulsion there; see drwr_terms) and δ the boundary bias.
- total: ``L = mean_i Σ_j (λ l1_ij + β l2_ij)``.

Balance: the paper's L = Σ (l1 + β l2) with l1 in [0, 1]. Fitting free points with Adam, the
repulsion's pressure then pushes the outer points a pixel or more out of every silhouette
(on a sphere at 8 views only 2-46% of points stay inside all masks); the silhouette pull has to
be about 100 per pixel against β = 3 to hold them in (100% inside). So l1 is measured in pixels
and weighted by λ (``FitConfig.sil_weight``, default 100); λ = 1/D recovers the paper's form.

Which formula: the paper writes exp(-d/σ + δ); the authors' released code uses the squared
distance, exp(-d²/5 + 3.5 + ring mean) on a 32×32 grid. We follow the code's Gaussian
(squared distance: smooth at d = 0, so coincident points get no singular push, and it is what
the published results were produced with) and fold the constant 3.5 into β. σ is in **pixels**
of the silhouette image: the point spacing in pixels stays about the same when resolution and
J grow together (64², 2k points and 128², 8k points), so one σ serves every resolution; the
authors' 5 px² at 32² is σ ≈ 2.2 px. w and δ are treated as constants (detached), as in the
paper: the repulsion spreads points within the silhouette and never pushes them out of it.
"""

from __future__ import annotations

import torch

from core.geometry.cameras import project
from core.drwr.repulsion import repulsion
from core.drwr.silhouette import SilhouetteMaps, outside_distance, sample_maps

__all__ = ["drwr_terms"]


def drwr_terms(
    points: torch.Tensor,
    K: torch.Tensor,
    R: torch.Tensor,
    t: torch.Tensor,
    maps: SilhouetteMaps,
    views: torch.Tensor | None,
    sigma: float,
    with_repulsion: bool = True,
    method: str = "auto",
) -> dict[str, torch.Tensor]:
    """Per-view, per-point DRWR terms for ``points`` (J, 3) seen by cameras K, R (I,3,3), t (I,3).

    ``views`` (S,) long selects a subset of the I views (None = all); ``with_repulsion=False``
    skips l2 (``rep`` is then zeros), e.g. for display snapshots.  ``method``: the repulsion
    kernel, "auto" | "grid" | "cells" | "exact" (core.drwr.repulsion; ``FitConfig.repulsion``);
    the grid covers the image, off which w is 0, so it needs no host sync.

    Returns a dict of tensors: ``uv`` (S, J, 2), ``depth`` (S, J), ``sil`` l1 (S, J),
    ``rep`` l2 (S, J), ``w`` (S, J) silhouette weight.
    """
    sd, mask, bias = maps.sd, maps.mask, maps.bias
    if views is not None:
        K, R, t = K[views], R[views], t[views]
        sd, mask, bias = sd[views], mask[views], bias[views]
    uv, depth = project(points, K, R, t)
    sil = outside_distance(sd, uv)  # l1 = D (1 - vG): pixels outside, (I, J)
    with torch.no_grad():
        # w: 1 from the outermost foreground pixel centres inwards, falling linearly to 0 at
        # the silhouette's pixel edge (sd = 0), 0 beyond: no repulsion pushes a point out of
        # the silhouette once it is past the edge, where only the silhouette loss acts.
        w = (2.0 * sample_maps(sd, uv, zero_outside=False)).clamp(0.0, 1.0)
        w = torch.where(sample_maps(mask, uv) > 0, w, torch.zeros_like(w))  # 0 off the image
        delta = sample_maps(bias, uv)
        w = torch.where(depth > 0, w, torch.zeros_like(w))
    if with_repulsion:
        H, W = sd.shape[-2:]
        # w > 0 only where the bilinear mask is > 0: u in (-1, W), v in (-1, H)
        rep = repulsion(uv, w, delta, sigma, method=method, box=(-1.0, -1.0, float(W), float(H)))
    else:
        rep = torch.zeros_like(w)
    return {"uv": uv, "depth": depth, "sil": sil, "rep": rep, "w": w}
