"""DPC / DRC ShapeNet renders: ``render_{i}.png`` + ``camera_{i}.mat`` per view.

Layout (one model folder of the renders DPC's ``data/download_train_data.sh`` fetches, e.g.
``03001627/1a6f615e8b1b5ae4dbbc9440457e303e/``)::

    model/
      render_0.png ...   RGBA; the object is where alpha > 127
      camera_0.mat ...   "extrinsic": 4x4 (or 3x4) world->camera; "pos": camera position
      depth_0.png ...    ignored
      <any>.mat          optional ground truth: a .mat (not camera_*.mat) holding "points" (N,3)

Conventions (source: DPC ``dpc/run/create_tf_records.py``, ``dpc/util/camera.py``,
``dpc/util/point_cloud.py: pc_perspective_transform``, ``dpc/resources/default_config.yaml``):

- Intrinsics: DPC's ``focal_length: 1.875`` relative to the image width (projected x/z times
  1.875 spans [-0.5, 0.5] over the image): ``fx = fy = 1.875 * W``, principal point at the image
  centre, ``(W-1)/2`` in our pixel-centre convention.
- ``extrinsic``: **assumed** world->camera in OpenCV-like axes of the render (Blender) world:
  camera x right, y down, z forward (depth). Evidence: DPC's ``camera_from_blender`` reads row
  2 as depth with translation ``+camera_distance`` (so depth = row 2 is positive in front),
  takes row 0 as image x, negates row 1 (image up) and flips the projected image vertically —
  together an OpenCV camera. This was not checked against a real ``camera_*.mat``; if a real
  file loads with empty hulls, this assumption is the first suspect.
- World frame: ``camera_from_blender`` also permutes the world axes into DPC's canonical frame,
  the frame of its ground-truth point clouds and predictions: ``x_render = A @ x_dpc`` with
  ``A = [[-1, 0, 0], [0, 0, 1], [0, 1, 0]]`` (a rotation). We use DPC's frame as the original
  world (``R_dpc = R_render @ A``), so exported clouds compare directly with DPC's ground truth
  and predictions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.io

from core.io.scene import Scene, SceneError, check_rotation
from .common import View, add_view, finish, read_rgb_alpha, select

__all__ = ["load_dpc", "is_dpc", "FOCAL", "RENDER_TO_DPC"]

FOCAL = 1.875  # DPC's focal_length, in image widths
#: x_render = A @ x_dpc (DPC util/camera.py camera_from_blender)
RENDER_TO_DPC = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
_RENDER = re.compile(r"render_(\d+)\.png$", re.IGNORECASE)


def is_dpc(path: Path) -> bool:
    return any(path.glob("render_*.png")) and any(path.glob("camera_*.mat"))


def read_mat(path: Path) -> dict:
    """A MATLAB .mat file as a dict; SceneError naming the file when missing or unreadable."""
    if not path.is_file():
        raise SceneError(f"{path}: camera file is missing")
    try:
        return scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises several kinds for bad files
        raise SceneError(f"{path}: cannot read .mat ({exc.__class__.__name__})") from None


def _ground_truth(folder: Path) -> tuple[np.ndarray | None, str | None]:
    """(points (N, 3) in DPC's frame, file name) of the first .mat with 'points', or None."""
    for p in sorted(folder.glob("*.mat")):
        if p.name.lower().startswith("camera_"):
            continue
        data = read_mat(p)
        if "points" not in data:
            continue
        pts = np.asarray(data["points"], np.float64)
        if pts.ndim != 2 or pts.shape[1] != 3 or not np.all(np.isfinite(pts)) or not len(pts):
            raise SceneError(f"{p}: 'points' must be a finite (N, 3) array, got {pts.shape}")
        return pts, p.name
    return None, None


def render_view(folder: Path, num: int, img_path: Path) -> View:
    """One DPC render: ``render_<num>.png`` (mask = alpha) with ``camera_<num>.mat``."""
    cam_path = folder / f"camera_{num}.mat"
    data = read_mat(cam_path)
    if "extrinsic" not in data:
        raise SceneError(f"{cam_path}: no 'extrinsic' matrix")
    E = np.asarray(data["extrinsic"], np.float64)
    if E.shape not in ((3, 4), (4, 4)) or not np.all(np.isfinite(E)):
        raise SceneError(f"{cam_path}: 'extrinsic' must be a finite 4x4 or 3x4 matrix, got "
                         f"{E.shape}")
    R = check_rotation(E[:3, :3], str(cam_path)) @ RENDER_TO_DPC
    rgb, alpha = read_rgb_alpha(img_path)
    if alpha is None:
        raise SceneError(f"{img_path}: image has no alpha channel (the mask of a DPC render "
                         "is its alpha)")
    H, W = alpha.shape
    f = FOCAL * W
    K = np.array([[f, 0.0, (W - 1) / 2], [0.0, f, (H - 1) / 2], [0.0, 0.0, 1.0]])
    return View(K, R, E[:3, 3].copy(), alpha > 127, rgb, str(cam_path), str(img_path))


def load_dpc(path: str | Path, res: int | None = None, views: Sequence[int] | None = None,
             max_views: int | None = None) -> Scene:
    """Read a DPC / DRC render folder (see the module docstring)."""
    folder = Path(path)
    renders = sorted((int(m.group(1)), p) for p in folder.glob("render_*.png")
                     if (m := _RENDER.search(p.name)))
    out = []
    for k in select(len(renders), views, max_views, str(folder)):
        num, img_path = renders[k]
        add_view(out, render_view(folder, num, img_path), res)
    gt, gt_name = _ground_truth(folder)
    extra = {"source": str(folder), "format": "dpc"}
    if gt_name:
        extra["ground_truth_source"] = gt_name
    return finish(out, name=folder.name, path=folder, gt_points=gt, extra=extra)
