"""nerfstudio data: one ``transforms.json`` with pixel intrinsics, images and optional masks.

Layout (what ``ns-process-data`` writes)::

    scene/
      transforms.json   {"fl_x", "fl_y", "cx", "cy", "w", "h", "camera_model": "OPENCV",
                         "k1".."p2": 0, "frames": [{"file_path": "images/frame_00001.png",
                         "transform_matrix": 4x4, "mask_path": "masks/frame_00001.png"}]}
      images/...        RGB(A)
      masks/...         optional; foreground > 127 (nerfstudio: 0 = ignore)

Conventions (source: nerfstudio ``data/dataparsers/nerfstudio_dataparser.py`` and
``cameras/cameras.py``):

- Intrinsics ``fl_x, fl_y, cx, cy, w, h`` at the top level or per frame (per frame wins).
  nerfstudio shoots the ray of pixel (i, j) through ``i + 0.5`` (``pixel_offset=0.5``): its
  ``cx, cy`` are in pixel-corner coordinates, so ours are ``cx - 0.5, cy - 0.5``.
- Camera models: PINHOLE, and OPENCV / OPENCV_FISHEYE only when every distortion coefficient
  (k1..k4, p1, p2) is 0; anything else is rejected (undistort first, e.g. with COLMAP's
  ``image_undistorter``).
- ``transform_matrix`` is camera-to-world in OpenGL axes (x right, y up, looking along -z), as
  in Blender scenes; converted like :mod:`core.formats.blender`.
- Mask: ``mask_path`` when given, else the image's alpha channel; a frame with neither is
  rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core.io.scene import Scene, SceneError, read_mask
from .blender import _number, image_file, read_json
from .common import View, add_view, finish, opengl_c2w_to_opencv, read_rgb_alpha, select

__all__ = ["load_nerfstudio", "is_nerfstudio"]

_DISTORTION = ("k1", "k2", "k3", "k4", "p1", "p2")
_MODELS = ("PINHOLE", "OPENCV", "OPENCV_FISHEYE")


def is_nerfstudio(path: Path) -> bool:
    return (path / "transforms.json").is_file()


def _intrinsics(meta: dict[str, Any], fr: dict[str, Any], where: str) -> tuple[np.ndarray, int,
                                                                                     int]:
    """K in our pixel-centre convention, and the (w, h) the frame declares."""
    merged = {**meta, **fr}
    model = str(merged.get("camera_model", "OPENCV")).upper()
    if model not in _MODELS:
        raise SceneError(f"{where}: camera_model {model!r} is not supported (supported: "
                         "PINHOLE, and OPENCV without distortion)")
    dist = [float(merged.get(k, 0.0) or 0.0) for k in _DISTORTION]
    if any(abs(d) > 1e-12 for d in dist):
        raise SceneError(f"{where}: camera_model {model} with lens distortion "
                         f"({', '.join(k for k, d in zip(_DISTORTION, dist) if d)}) is not "
                         "supported; undistort the images first")
    fx, fy = _number(merged, "fl_x", where), _number(merged, "fl_y", where)
    cx, cy = _number(merged, "cx", where), _number(merged, "cy", where)
    w, h = int(_number(merged, "w", where)), int(_number(merged, "h", where))
    if fx <= 0 or fy <= 0:
        raise SceneError(f"{where}: focal lengths must be positive")
    K = np.array([[fx, 0.0, cx - 0.5], [0.0, fy, cy - 0.5], [0.0, 0.0, 1.0]])
    return K, w, h


def load_nerfstudio(path: str | Path, res: int | None = None,
                    views: Sequence[int] | None = None,
                    max_views: int | None = None) -> Scene:
    """Read a nerfstudio ``transforms.json`` folder (see the module docstring)."""
    folder = Path(path)
    jf = folder / "transforms.json"
    meta = read_json(jf)
    frames = meta["frames"]
    out = []
    for i in select(len(frames), views, max_views, str(jf)):
        fr = frames[i]
        where = f"{jf} frame {i}"
        if not isinstance(fr, dict):
            raise SceneError(f"{where}: must be an object")
        K, w, h = _intrinsics(meta, fr, where)
        img_path = image_file(folder, fr.get("file_path"), where)
        rgb, alpha = read_rgb_alpha(img_path)
        if rgb.shape[:2] != (h, w):
            raise SceneError(f"{img_path}: image is {rgb.shape[1]}x{rgb.shape[0]} but "
                             f"{jf.name} says w={w}, h={h}")
        if fr.get("mask_path"):
            mask_file = folder / str(fr["mask_path"])
            mask = read_mask(mask_file)
        elif alpha is not None:
            mask_file, mask = img_path, alpha > 127
        else:
            raise SceneError(f"{where}: no 'mask_path' and {img_path.name} has no alpha "
                             "channel: no silhouette for this view")
        R, t = opengl_c2w_to_opencv(fr.get("transform_matrix"), where)
        add_view(out, View(K, R, t, mask, rgb, f"{where} ({img_path.name})",
                           str(mask_file)), res)
    return finish(out, name=folder.name, path=folder,
                  extra={"source": str(folder), "format": "nerfstudio"})
