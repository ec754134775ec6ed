"""DPC / DRC ShapeNet renders: ``render_{i}.png`` + ``camera_{i}.mat`` per view.

Layout (one model folder of the renders DPC's ``data/download_train_data.sh`` fetches, e.g.
``03001627/1a6f615e8b1b5ae4dbbc9440457e303e/``)::

    model/
      render_0.png ...   RGBA; the object is where alpha > 127
      camera_0.mat ...   "pos": camera position (Blender world); "extrinsic": 4x4 (or 3x4)
                         world->camera (OpenCV axes, Blender world), used without "pos"
      depth_0.png ...    ignored
      <any>.mat          optional ground truth: a .mat (not camera_*.mat) holding "points" (N,3)

Conventions: those of DPC's default camera path (``pose_quaternion: true``), which reads
``pos`` and ignores ``extrinsic``; docs/datasets.md names the upstream lines that define each.

- Rotation: DPC's ``quaternion_from_campos(pos)`` (``dpc/util/camera.py``; yaw, pitch from
  ``dpc/util/euler.py: ypr_from_campos``, yaw + 180°, composed by ``quaternionFromYawPitchRoll``)
  rotates a point into DPC's camera axes (depth, up, right); ``pc_perspective_transform``
  (``dpc/util/point_cloud.py``) divides by depth = component 0 + camera distance, and
  ``pointcloud_project_fast`` reverses the image rows, so row 0 of a render is "up": the PNG is
  used as stored, no flip. In OpenCV axes (x right, y down, z depth) that is
  ``R = CV_FROM_DPC_CAMERA @ R_q``, ``t = (0, 0, |pos|)`` (DPC's ``camera_distance: 2.0``; the
  DRC renders put the camera at ``|pos|`` looking at the origin, so we use ``|pos|``).
- World frame: that of the ShapeNet OBJ file, the frame of DPC's ground truth (its densify
  scripts read the OBJ vertices as they are) and of its predictions. DRC's Blender renderer
  (``render_model_views.py``) imports the OBJ with Blender's default axes, ``x_blender =
  BLENDER_FROM_OBJ @ x_obj``, and stores ``pos`` and ``extrinsic`` (OpenCV world->camera) in
  Blender's world. Both paths agree: ``R_q``-path rotation = ``extrinsic[:3, :3] @
  BLENDER_FROM_OBJ``. DPC's other path, ``camera_from_blender`` (``pose_quaternion: false``),
  uses ``x_blender = diag(-1, 1, -1) BLENDER_FROM_OBJ x_obj`` instead: its clouds come out
  turned 180° about the vertical axis relative to the ground truth, so it is not used.
- A camera file without ``pos`` falls back to ``extrinsic`` read the renderer's way
  (``R = extrinsic[:3, :3] @ BLENDER_FROM_OBJ``, ``t = extrinsic[:3, 3]``).
- Intrinsics: DPC's ``focal_length: 1.875`` relative to the image width (the renderer's 60 mm
  lens on a 32 mm sensor): ``fx = fy = 1.875 * W``, principal point at the image centre,
  ``(W-1)/2`` in our pixel-centre convention.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.io

from core.io.scene import Scene, SceneError, check_rotation
from .common import View, add_view, finish, read_rgb_alpha, select

__all__ = ["load_dpc", "is_dpc", "FOCAL", "BLENDER_FROM_OBJ", "CV_FROM_DPC_CAMERA",
           "camera_from_pos", "quaternion_from_campos"]

FOCAL = 1.875  # DPC's focal_length, in image widths
#: x_blender = BLENDER_FROM_OBJ @ x_obj: Blender's OBJ import with its default axes (forward
#: -Z, up Y), as DRC's renderer loads each ShapeNet model
BLENDER_FROM_OBJ = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
#: DPC's camera axes (depth, up, right) -> OpenCV's (right, down, depth)
CV_FROM_DPC_CAMERA = np.array([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])


def _axis_angle(angle: float, axis: tuple[float, float, float]) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation by ``angle`` about the unit ``axis``."""
    return np.array([math.cos(angle / 2), *(math.sin(angle / 2) * np.asarray(axis))])


def _q_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of quaternions (w, x, y, z)."""
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 + y1 * w2 + z1 * x2 - x1 * z2, w1 * z2 + z1 * w2 + x1 * y2 - y1 * x2])


def quaternion_from_campos(pos: np.ndarray) -> np.ndarray:
    """DPC's camera quaternion (w, x, y, z) of a camera at ``pos`` (3,) in Blender's world:
    yaw = azimuth of pos about the vertical (Blender z) measured DPC's way, plus 180°; pitch =
    its elevation; q = q_pitch * q_yaw (DPC's roll is 0) with yaw about y and pitch about z of
    DPC's frame (see the module docstring)."""
    x, y, z = np.asarray(pos, np.float64) / np.linalg.norm(pos)
    h = math.hypot(x, y)
    yaw = math.acos(max(-1.0, min(1.0, x / h)))
    if y / h > 0:
        yaw = 2 * math.pi - yaw
    yaw += math.pi
    pitch = math.asin(max(-1.0, min(1.0, z)))
    return _q_mul(_axis_angle(pitch, (0.0, 0.0, 1.0)), _axis_angle(yaw, (0.0, 1.0, 0.0)))


def _q_matrix(q: np.ndarray) -> np.ndarray:
    """(3, 3) rotation of the unit quaternion q = (w, x, y, z): v -> q v q*."""
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def camera_from_pos(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World (OBJ frame) -> camera R (3, 3), t (3,) in OpenCV axes of a DRC render whose camera
    is at ``pos`` (3,) in Blender's world, looking at the origin (DPC's default path)."""
    R = CV_FROM_DPC_CAMERA @ _q_matrix(quaternion_from_campos(pos))
    return R, np.array([0.0, 0.0, float(np.linalg.norm(pos))])
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
    """(points (N, 3) in the OBJ frame, file name) of the first .mat with 'points', or None."""
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


def read_camera(cam_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """World (OBJ frame) -> camera R (3, 3), t (3,) of a DPC ``camera_<i>.mat``: from ``pos``
    (DPC's default path), else from ``extrinsic`` (see the module docstring)."""
    data = read_mat(cam_path)
    if "pos" in data:
        pos = np.asarray(data["pos"], np.float64).ravel()
        if pos.shape != (3,) or not np.all(np.isfinite(pos)):
            raise SceneError(f"{cam_path}: 'pos' must be 3 finite numbers, got shape "
                             f"{np.shape(data['pos'])}")
        if math.hypot(pos[0], pos[1]) < 1e-9 * max(1.0, abs(pos[2])):
            raise SceneError(f"{cam_path}: 'pos' {pos.tolist()} lies on the vertical axis, "
                             "where DPC's camera rotation is undefined")
        return camera_from_pos(pos)
    if "extrinsic" not in data:
        raise SceneError(f"{cam_path}: neither 'pos' nor 'extrinsic' (the camera of a DPC "
                         "render)")
    E = np.asarray(data["extrinsic"], np.float64)
    if E.shape not in ((3, 4), (4, 4)) or not np.all(np.isfinite(E)):
        raise SceneError(f"{cam_path}: 'extrinsic' must be a finite 4x4 or 3x4 matrix, got "
                         f"{E.shape}")
    return check_rotation(E[:3, :3], str(cam_path)) @ BLENDER_FROM_OBJ, E[:3, 3].copy()


def render_view(folder: Path, num: int, img_path: Path) -> View:
    """One DPC render: ``render_<num>.png`` (mask = alpha) with ``camera_<num>.mat``."""
    cam_path = folder / f"camera_{num}.mat"
    R, t = read_camera(cam_path)
    rgb, alpha = read_rgb_alpha(img_path)
    if alpha is None:
        raise SceneError(f"{img_path}: image has no alpha channel (the mask of a DPC render "
                         "is its alpha)")
    H, W = alpha.shape
    f = FOCAL * W
    K = np.array([[f, 0.0, (W - 1) / 2], [0.0, f, (H - 1) / 2], [0.0, 0.0, 1.0]])
    return View(K, R, t, alpha > 127, rgb, str(cam_path), str(img_path))


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
