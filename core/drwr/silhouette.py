"""Silhouette fields of DRWR, sampled bilinearly and differentiably at sub-pixel positions.

For each view the binary mask v (H, W) gives four maps (all (I, H, W) float32):

- ``sd``     signed distance in pixels to the silhouette's pixel edges (positive inside):
  ``edt(mask) - 0.5`` at foreground and ``-(edt(~mask) - 0.5)`` at background pixel centres
  (>= 0.5 and <= -0.5), so its bilinear interpolation crosses 0 on the pixel edge between them
  with slope 1.
- ``field``  vG = clip(1 + min(sd, 0) / D, 0, 1), D = max(H, W) (the paper's smooth silhouette
  field; the only "field" in core.drwr): 1 inside the silhouette up to its
  pixel edges, a normalised linearly falling distance field outside. It is evaluated from the
  bilinearly sampled sd (:func:`outside_distance`), not by sampling vG bilinearly between pixel
  centres: that would read < 1 anywhere beyond the outermost foreground pixel *centre*, i.e.
  half a pixel inside the true boundary, and the loss would squeeze every cloud inwards by half a
  pixel (we measured 91% of exact surface points with a non-zero loss that way). Points
  outside the image continue the fall-off (``excess`` pixels beyond the border) so they are
  pulled back in.
- ``mask``   the binary silhouette as float: the repulsion weight w (bilinear, so it falls from
  1 to 0 across the one-pixel boundary band; 0 outside the image).
- ``bias``   δ: the mean over r = 1..R (the ring count) of the mask's mean in the (2r+1)² square around each
  pixel: 1 deep inside, ~0.5 on the boundary (less repulsion near the boundary).

Pixel convention: pixel (row r, col c) has its centre at (u, v) = (c, r).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

__all__ = ["signed_distance", "smooth_field", "boundary_bias", "sample_maps", "outside_distance",
           "SilhouetteMaps"]


def signed_distance(masks: np.ndarray) -> np.ndarray:
    """(I, H, W) float32 signed distance (pixels) to the pixel edges, positive inside.

    The inside distance is taken on the mask's bounding box grown by one pixel (cut at the
    image border): that frame is background, and the nearest background pixel of any
    foreground pixel is in it or no farther than its projection onto it, so the numbers equal
    the EDT of the whole image; the outside one needs the whole image.
    """
    masks = np.asarray(masks, bool)
    if masks.ndim != 3:
        raise ValueError(f"masks must be (I, H, W), got {masks.shape}")
    out = np.empty(masks.shape, np.float32)
    for i, m in enumerate(masks):
        box = _bounds(m, 1)
        if box is None:
            raise ValueError(f"mask {i} is empty")
        outside = ndimage.distance_transform_edt(~m)  # to the nearest foreground centre
        np.subtract(0.5, outside, out=out[i], casting="same_kind")
        crop = m[box]
        inside = ndimage.distance_transform_edt(crop) - 0.5  # to the nearest pixel edge
        out[i][box][crop] = inside[crop]
    return out


def _bounds(m: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """Row and column slices of the bounding box of ``m`` (H, W) bool grown by ``margin``
    pixels and cut at the border; None when ``m`` is empty."""
    rows = np.flatnonzero(m.any(1))
    if not len(rows):
        return None
    cols = np.flatnonzero(m.any(0))
    H, W = m.shape
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, H)),
            slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, W)))


def smooth_field(masks: np.ndarray) -> np.ndarray:
    """vG at the pixel centres for masks (I, H, W) bool -> (I, H, W) float32 in [0, 1].

    1 on foreground pixels; 1 - d/D on background ones, d = distance (pixels) from the pixel
    centre to the nearest foreground pixel centre, D = max(H, W). For display.
    """
    sd = signed_distance(masks)
    D = float(max(sd.shape[1:]))
    d = np.where(sd < 0, -sd + 0.5, 0.0)  # centre-to-centre distance to the nearest fg pixel
    return np.clip(1.0 - d / D, 0.0, 1.0).astype(np.float32)


def boundary_bias(masks: np.ndarray, rings: int) -> np.ndarray:
    """δ for masks (I, H, W) -> (I, H, W) float32: mean over r = 1..rings of the (2r+1)² box
    means (``rings`` is the paper's R, ``FitConfig.R``), zero-padded beyond the image.

    All box sums come from one summed-area table per view, taken on the mask's bounding box
    grown by ``rings`` (δ is 0 beyond it); equal to the mean of ``rings`` uniform filters to
    float32 round-off.
    """
    if rings < 1:
        raise ValueError(f"R (rings) must be >= 1, got {rings}")
    masks = np.asarray(masks, bool)
    out = np.zeros(masks.shape, np.float32)
    for i, m in enumerate(masks):
        box = _bounds(m, rings)
        if box is not None:
            out[i][box] = _box_means(m[box], rings)
    return out


def _box_means(m: np.ndarray, rings: int) -> np.ndarray:
    """(H, W) float32 mean over r = 1..rings of the (2r+1)² box means of m (H, W) bool."""
    H, W, R = *m.shape, rings
    S = np.zeros((H + 2 * R + 1, W + 2 * R + 1), np.int32)  # S[y, x]: sum above-left of y, x
    S[R + 1:R + 1 + H, R + 1:R + 1 + W] = m
    np.cumsum(S, 0, out=S)
    np.cumsum(S, 1, out=S)
    acc = np.zeros((H, W), np.float32)
    box = np.empty((H, W), np.int32)
    for r in range(1, R + 1):
        lo, hi = R - r, R + r + 1
        np.subtract(S[hi:hi + H, hi:hi + W], S[lo:lo + H, hi:hi + W], out=box)
        box -= S[hi:hi + H, lo:lo + W]
        box += S[lo:lo + H, lo:lo + W]
        acc += box * np.float32(1.0 / (R * (2 * r + 1) ** 2))
    return acc


def sample_maps(maps: torch.Tensor, uv: torch.Tensor, zero_outside: bool = True) -> torch.Tensor:
    """Bilinearly sample per-view maps at pixel positions.

    Args:
        maps: (I, C, H, W) or (I, H, W).
        uv: (I, J, 2) pixel positions (u = column, v = row).
        zero_outside: values beyond the pixel-centre grid fall to 0 (else: clamp to border).

    Returns:
        (I, C, J) or (I, J).
    """
    squeeze = maps.ndim == 3
    if squeeze:
        maps = maps[:, None]
    I, C, H, W = maps.shape
    if uv.shape[0] != I or uv.shape[-1] != 2:
        raise ValueError(f"uv must be ({I}, J, 2), got {tuple(uv.shape)}")
    scale = uv.new_tensor([2.0 / max(W - 1, 1), 2.0 / max(H - 1, 1)])
    # grid_sample may crash on non-finite coordinates: send them far outside instead
    grid = torch.nan_to_num(uv * scale - 1.0, nan=-4.0, posinf=4.0, neginf=-4.0)[:, None]
    pad = "zeros" if zero_outside else "border"
    out = F.grid_sample(maps, grid, mode="bilinear", padding_mode=pad, align_corners=True)
    out = out[:, :, 0]  # (I, C, J)
    return out[:, 0] if squeeze else out


def outside_distance(sd: torch.Tensor, uv: torch.Tensor,
                     sampled: torch.Tensor | None = None) -> torch.Tensor:
    """Pixels between uv and the silhouette: relu(-sd(uv)) with sd bilinear, extended beyond
    the image by the distance to it. sd (I, H, W), uv (I, J, 2) -> (I, J) >= 0.

    0 inside up to the pixel edges; slope 1 per pixel outside, so every outside point (also
    one far off the image) gets a gradient pointing back towards the silhouette.
    ``sampled``: ``sample_maps(sd, uv, zero_outside=False)`` when the caller has it already.
    """
    _, H, W = sd.shape
    val = sample_maps(sd, uv, zero_outside=False) if sampled is None else sampled
    lo = uv.new_zeros(2)
    hi = uv.new_tensor([W - 1.0, H - 1.0])
    excess = torch.relu(lo - uv) + torch.relu(uv - hi)  # (I, J, 2)
    dist = torch.sqrt((excess**2).sum(-1) + 1e-12) - 1e-6
    return torch.relu(dist.clamp_min(0.0) - val)


class SilhouetteMaps:
    """Per-view maps of a scene: on ``device``, each (I, H, W), ``sd`` (signed distance),
    ``mask`` and ``bias`` (δ over ``R`` rings, the paper's name, kept for FitConfig.R); and
    ``field_np``, vG as numpy for display (the losses take vG from ``sd``)."""

    def __init__(self, masks: np.ndarray, rings: int, device: torch.device | str = "cpu"
                 ) -> None:
        self.masks_np = np.asarray(masks, bool)
        self.device = torch.device(device)
        self.field_np = smooth_field(self.masks_np)
        self.sd = torch.from_numpy(signed_distance(self.masks_np)).to(self.device)
        self.mask = torch.from_numpy(self.masks_np.astype(np.float32)).to(self.device)
        self.R = -1
        self.set_R(rings)

    def set_R(self, rings: int) -> None:
        """Recompute δ for a new ring count R (no-op when unchanged)."""
        if rings != self.R:
            self.bias = torch.from_numpy(boundary_bias(self.masks_np, rings)).to(self.device)
            self.R = rings

    @property
    def size(self) -> tuple[int, int]:
        return int(self.masks_np.shape[1]), int(self.masks_np.shape[2])
