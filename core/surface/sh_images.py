"""Coefficient amplitude images of a shape code (PNG via PIL).

One image per channel group: row l (degree 0 at the top), column m from -L to L (m = 0 in the
middle), so the coefficients fill a triangle; the colour is log10 of the amplitude (for the
geometry image, the length of the (x, y, z) coefficient vector) on a viridis-like ramp from
``floor`` decades below the largest to the largest; outside the triangle stays black.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.surface.sh import ShapeCode

__all__ = ["amplitude_grid", "amplitude_image", "write_images"]

_RAMP = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
                 np.float64)


def amplitude_grid(code: ShapeCode, channels: slice = slice(0, 3)) -> np.ndarray:
    """(L + 1, 2L + 1) float64 amplitudes (NaN outside |m| <= l) of the channels' vector."""
    L = code.degree
    amp = np.linalg.norm(code.coeffs[:, channels], axis=1)
    grid = np.full((L + 1, 2 * L + 1), np.nan)
    for ell in range(L + 1):
        grid[ell, L - ell : L + ell + 1] = amp[ell * ell : (ell + 1) ** 2]
    return grid


def amplitude_image(grid: np.ndarray, floor: float = 5.0, cell: int = 0) -> np.ndarray:
    """(h, w, 3) uint8 picture of an amplitude grid (see the module docstring); ``cell``
    pixels per coefficient (0: chosen so the picture is about 256 px wide)."""
    g = np.asarray(grid, np.float64)
    top = np.nanmax(g) if np.isfinite(g).any() else 1.0
    lg = np.log10(np.maximum(g, 1e-300) / max(top, 1e-300))
    t = np.nan_to_num(np.clip(1 + lg / floor, 0, 1))
    pos = t * (len(_RAMP) - 1)
    i = np.clip(np.floor(pos).astype(int), 0, len(_RAMP) - 2)
    frac = (pos - i)[..., None]
    rgb = (1 - frac) * _RAMP[i] + frac * _RAMP[i + 1]
    rgb[~np.isfinite(g)] = 0
    cell = cell or max(1, 256 // g.shape[1])
    return np.repeat(np.repeat(rgb, cell, 0), cell, 1).astype(np.uint8)


def write_images(code: ShapeCode, folder: str | Path) -> list[Path]:
    """Write geometry.png (|(x, y, z)|), x.png, y.png, z.png and colour.png when coloured."""
    from PIL import Image

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [("geometry", slice(0, 3)), ("x", slice(0, 1)), ("y", slice(1, 2)),
            ("z", slice(2, 3))]
    if code.has_color:
        jobs.append(("colour", slice(3, 6)))
    paths = []
    for name, ch in jobs:
        p = out / f"{name}.png"
        Image.fromarray(amplitude_image(amplitude_grid(code, ch))).save(p)
        paths.append(p)
    return paths
