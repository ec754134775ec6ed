"""NeRF-synthetic / Blender scenes: ``transforms_{train,val,test}.json`` + RGBA PNGs.

Layout (as in the NeRF paper's ``nerf_synthetic`` data, e.g. ``lego/``)::

    lego/
      transforms_train.json   {"camera_angle_x": a, "frames": [{"file_path": "./train/r_0",
      transforms_val.json                                      "transform_matrix": 4x4}, ...]}
      transforms_test.json
      train/r_0.png ...       RGBA; the object is where alpha > 127

Conventions (source: NeRF's ``load_blender.py`` / ``run_nerf_helpers.get_rays``, and Blender):

- Split: ``train`` by default (``split="all"`` reads train, val and test in that order, from
  Python: ``load_blender(path, split="all")``). ``file_path`` is relative to the folder, usually
  without an extension (``.png`` is tried next).
- Mask: alpha > 127 (a PNG without alpha is rejected: there is no silhouette).
- Focal: ``fx = fy = 0.5 * W / tan(0.5 * camera_angle_x)`` (``camera_angle_x`` is the horizontal
  field of view in radians; square pixels).
- Principal point: Blender renders with the optical axis through the image centre, i.e. at
  ``W/2`` in pixel-corner coordinates (pixel edges at integers), which is ``(W-1)/2`` in our
  pixel-centre convention: ``cx = (W-1)/2``, ``cy = (H-1)/2``. (NeRF's ``get_rays`` shoots the
  ray of pixel i at ``(i - W/2) / focal``, i.e. half a pixel off the rendered geometry; we follow
  the rendering, not that shortcut.)
- ``transform_matrix`` is camera-to-world in OpenGL/Blender camera axes (x right, y up, the
  camera looks along -z). World->camera OpenCV: flip the camera's y and z axes, invert.
- The world frame is the dataset's own: exported clouds are in the same coordinates as the
  ``transform_matrix`` translations.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core.io.scene import Scene, SceneError, load_json
from .common import (View, add_view, finish, opengl_c2w_to_opencv, read_rgb_alpha,
                     select)

__all__ = ["load_blender", "is_blender", "SPLITS"]

SPLITS = ("train", "val", "test")


def is_blender(path: Path) -> bool:
    return any((path / f"transforms_{s}.json").is_file() for s in SPLITS)


def read_json(path: Path) -> dict[str, Any]:
    meta = load_json(path)
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list):
        raise SceneError(f"{path}: expected an object with a 'frames' list")
    return meta


def image_file(folder: Path, file_path: Any, where: str) -> Path:
    """The image of a frame: ``file_path`` as given, else with ``.png`` appended."""
    if not isinstance(file_path, str) or not file_path:
        raise SceneError(f"{where}: frame has no 'file_path'")
    p = folder / file_path
    if p.is_file() or p.suffix.lower() in (".png", ".jpg", ".jpeg", ".exr", ".tif", ".tiff"):
        return p
    return p.with_name(p.name + ".png")


def _number(meta: dict[str, Any], key: str, where: str) -> float:
    try:
        val = float(meta[key])
    except KeyError:
        raise SceneError(f"{where}: missing {key!r}") from None
    except (TypeError, ValueError):
        raise SceneError(f"{where}: {key!r} is not a number") from None
    if not math.isfinite(val):
        raise SceneError(f"{where}: {key!r} is not finite")
    return val


def load_blender(path: str | Path, res: int | None = None, views: Sequence[int] | None = None,
                 max_views: int | None = None, split: str = "train") -> Scene:
    """Read a NeRF-synthetic / Blender folder (see the module docstring) as a normalised Scene."""
    folder = Path(path)
    splits = SPLITS if split == "all" else (split,)
    if split != "all" and split not in SPLITS:
        raise SceneError(f"{folder}: unknown split {split!r} (train, val, test or all)")
    frames: list[tuple[Path, int, dict[str, Any], float]] = []
    for s in splits:
        jf = folder / f"transforms_{s}.json"
        if split == "all" and not jf.is_file():
            continue
        meta = read_json(jf)
        angle = _number(meta, "camera_angle_x", str(jf))
        if not 0 < angle < math.pi:
            raise SceneError(f"{jf}: camera_angle_x must be in (0, pi) radians, got {angle}")
        frames += [(jf, i, fr, angle) for i, fr in enumerate(meta["frames"])]
    out = []
    for k in select(len(frames), views, max_views, str(folder)):
        jf, i, fr, angle = frames[k]
        where = f"{jf} frame {i}"
        if not isinstance(fr, dict):
            raise SceneError(f"{where}: must be an object")
        img_path = image_file(folder, fr.get("file_path"), where)
        rgb, alpha = read_rgb_alpha(img_path)
        if alpha is None:
            raise SceneError(f"{img_path}: image has no alpha channel (the mask of a Blender "
                             "scene is its alpha)")
        H, W = alpha.shape
        f = 0.5 * W / math.tan(0.5 * angle)
        K = np.array([[f, 0.0, (W - 1) / 2], [0.0, f, (H - 1) / 2], [0.0, 0.0, 1.0]])
        R, t = opengl_c2w_to_opencv(fr.get("transform_matrix"), where)
        add_view(out, View(K, R, t, alpha > 127, rgb, f"{where} ({img_path.name})",
                           str(img_path)), res)
    return finish(out, name=folder.name, path=folder,
                  extra={"source": str(folder), "format": "blender", "split": split})
