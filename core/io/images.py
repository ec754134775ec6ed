"""Pixel values of any image PIL opens, as 8 bits per channel scaled from the file's true
bit depth.

``Image.convert("RGB")`` clips 16-bit greyscale (PIL modes ``I;16*``) and 32-bit integer
(``I``) samples at 255, so a 16-bit photograph turns white. Every reader of user images (scene
images and masks, dataset images, ``predict`` inputs) goes through :func:`image_rgb_alpha`,
which maps the full range of the stored depth onto 0..255:

- ``I;16``, ``I;16L``, ``I;16B``, ``I;16N``: ``v8 = round(v * 255 / 65535)``;
- ``I``: the depth the file declares (TIFF ``BitsPerSample``, less the sign bit for signed
  samples; a PNG stores at most 16 bits), 32 when unknown; negative values read as 0;
- ``F`` (float samples): full scale 1.0, i.e. ``v8 = round(clip(v, 0, 1) * 255)``; NaN reads 0;
- every other mode (8-bit grey, palette, RGB(A), CMYK, ...; PIL already reads 48/64-bit RGB(A)
  files as 8 bits per channel) through PIL's own conversion.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["HIGH_DEPTH_MODES", "composite_on_white", "grey_full_scale", "image_rgb_alpha"]

#: PIL modes whose samples hold more than 8 bits
HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_TIFF_BITS_PER_SAMPLE = 258
_TIFF_SAMPLE_FORMAT = 339  # 1 unsigned, 2 signed integers


def grey_full_scale(im: Image.Image) -> float:
    """The sample value that means full white for ``im``'s mode: 65535 for 16-bit grey, the
    declared depth's maximum for 32-bit integer images, 1.0 for float images, else 255."""
    if im.mode.startswith("I;16"):
        return 65535.0
    if im.mode == "F":
        return 1.0
    if im.mode != "I":
        return 255.0
    bits = 32 if im.format != "PNG" else 16
    tag = getattr(im, "tag_v2", None)
    if tag is not None and _TIFF_BITS_PER_SAMPLE in tag:
        declared = tag[_TIFF_BITS_PER_SAMPLE]
        declared = declared[0] if isinstance(declared, tuple) else declared
        if isinstance(declared, int) and 1 <= declared <= 32:
            bits = declared
        fmt = tag.get(_TIFF_SAMPLE_FORMAT, 1)
        if (fmt[0] if isinstance(fmt, tuple) else fmt) == 2:
            bits -= 1  # signed: the sign bit carries no brightness
    return float(2 ** bits - 1)


def _grey8(im: Image.Image) -> np.ndarray:
    """(H, W) uint8 grey levels of a high-depth grey image, scaled from its full scale."""
    arr = np.asarray(im, np.float64)
    arr = np.nan_to_num(arr, nan=0.0, posinf=np.inf, neginf=0.0)
    scaled = np.clip(arr / grey_full_scale(im), 0.0, 1.0) * 255.0
    return np.rint(scaled).astype(np.uint8)


def image_rgb_alpha(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(rgb (H, W, 3) uint8, alpha (H, W) uint8 or None) of an opened image, scaled from its
    true bit depth (see the module docstring); alpha only for modes that carry one (RGBA, LA,
    PA, or a palette / grey image with a transparent colour). The colour is not composited:
    see :func:`composite_on_white`."""
    if im.mode in HIGH_DEPTH_MODES:
        g = _grey8(im)
        return np.repeat(g[..., None], 3, axis=-1), None
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"))
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    return np.asarray(im.convert("RGB")), None


def composite_on_white(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """rgb (H, W, 3) uint8 over a white background by alpha (H, W) uint8 (None: unchanged)."""
    if alpha is None:
        return rgb
    a = alpha[..., None].astype(np.float32) / 255.0
    return np.rint(rgb * a + 255.0 * (1.0 - a)).astype(np.uint8)
