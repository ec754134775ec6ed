"""Tiny datasets written the way each format's own tools write them (for test_datasets.py
and test_dataset_errors.py).

The object is the procedural "blob" placed in an *original* world ``x_o = S * x_n + O`` (x_n:
the shape's normalised frame); cameras look at it from a sphere around it.
"""

from __future__ import annotations

import json
import math

import numpy as np
import scipy.io
from scipy import ndimage
from PIL import Image
from scipy.spatial.transform import Rotation

from core.geometry.cameras import look_at, project_np, view_directions
from core.io.mesh_scene import sample_surface
from core.geometry.rasterize import render_silhouettes
from core.io.scene import Scene
from core.geometry.shapes import get_shape
from drc_renders import write_render_folder

S = 3.0  # original = S * normalised + O
O = np.array([1.0, -2.0, 0.5])
RADIUS = 2.5  # camera distance in the shape's normalised units
N_VIEWS = 6
MESH = get_shape("blob")
SURF_N = sample_surface(MESH.vertices, MESH.faces, 4000, seed=1)  # normalised frame


def to_orig(x: np.ndarray) -> np.ndarray:
    return S * np.asarray(x) + O


def cameras_orig(n: int = N_VIEWS) -> tuple[np.ndarray, np.ndarray]:
    """World->camera R (n,3,3), t (n,3) in the original world, looking at the object."""
    Rs, ts = zip(*(look_at(RADIUS * d) for d in view_directions(n, "fibonacci")))
    R, t = np.stack(Rs), np.stack(ts)
    return R, S * t - R @ O  # x_cam * S = R x_o + (S t - R O)


def pinhole(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def render(K: np.ndarray, R: np.ndarray, t: np.ndarray, H: int, W: int) -> np.ndarray:
    Ks = np.repeat(K[None], len(R), 0) if K.ndim == 2 else K
    return render_silhouettes(to_orig(MESH.vertices), MESH.faces, Ks, R, t, H, W)


def rgba(mask: np.ndarray, i: int) -> Image.Image:
    H, W = mask.shape
    img = np.zeros((H, W, 4), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 40 * i % 255, 120, 200
    img[..., 3] = mask * 255
    return Image.fromarray(img, "RGBA")


def rgb(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(mask[..., None], 200, 30).astype(np.uint8).repeat(3, 2))


# -- writers: each format as its own tools write it -----------------------------------------
def write_blender(folder, W=128, n=N_VIEWS):
    """NeRF-synthetic: transforms_train.json (camera_angle_x, OpenGL c2w), train/r_i.png RGBA."""
    H, angle = W, 2 * math.atan(0.5 / 1.9)
    f = 0.5 * W / math.tan(0.5 * angle)
    K = pinhole(f, f, (W - 1) / 2, (W - 1) / 2)
    R, t = cameras_orig(n)
    masks = render(K, R, t, W, W)
    (folder / "train").mkdir(parents=True)
    frames = []
    for i in range(n):
        c2w = np.eye(4)
        c2w[:3, :3] = R[i].T @ np.diag([1.0, -1.0, -1.0])  # OpenCV -> OpenGL camera axes
        c2w[:3, 3] = -R[i].T @ t[i]
        rgba(masks[i], i).save(folder / "train" / f"r_{i}.png")
        frames.append({"file_path": f"./train/r_{i}", "rotation": 0.1,
                       "transform_matrix": c2w.tolist()})
    (folder / "transforms_train.json").write_text(
        json.dumps({"camera_angle_x": angle, "frames": frames}))
    # a test split that must not be read by default
    (folder / "transforms_test.json").write_text(
        json.dumps({"camera_angle_x": angle, "frames": frames[:1]}))
    return K, R, t, H, W


def write_nerfstudio(folder, W=96, H=80, n=N_VIEWS):
    K = pinhole(190.0, 175.0, 47.2, 38.9)
    R, t = cameras_orig(n)
    masks = render(K, R, t, H, W)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    frames = []
    for i in range(n):
        c2w = np.eye(4)
        c2w[:3, :3] = R[i].T @ np.diag([1.0, -1.0, -1.0])
        c2w[:3, 3] = -R[i].T @ t[i]
        rgb(masks[i]).save(folder / "images" / f"frame_{i:05d}.png")
        Image.fromarray(masks[i].astype(np.uint8) * 255).save(folder / "masks" / f"m_{i}.png")
        frames.append({"file_path": f"images/frame_{i:05d}.png", "mask_path": f"masks/m_{i}.png",
                       "transform_matrix": c2w.tolist()})
    meta = {"camera_model": "OPENCV", "fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2] + 0.5,
            "cy": K[1, 2] + 0.5, "w": W, "h": H, "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0,
            "frames": frames}
    (folder / "transforms.json").write_text(json.dumps(meta))
    return K, R, t, H, W


def write_dtu(folder, W=96, H=80, n=N_VIEWS):
    """IDR / NeuS: cameras_sphere.npz (world_mat = lambda * K [R|t] in the original world,
    scale_mat = normalised -> original), image/000000.png, mask/000.png (3-channel)."""
    K = pinhole(1.93 * W, 1.88 * W, W / 2 + 1.0, H / 2 - 2.5)
    R, t = cameras_orig(n)
    masks = render(K, R, t, H, W)
    (folder / "image").mkdir(parents=True)
    (folder / "mask").mkdir()
    scale = np.eye(4)
    scale[:3, :3] *= S
    scale[:3, 3] = O
    npz = {}
    for i in range(n):
        lam = (0.5 + i) * (-1 if i == 2 else 1)  # any projective scale, even negative
        P = lam * K @ np.hstack([R[i], t[i][:, None]])
        npz[f"world_mat_{i}"] = np.vstack([P, [0, 0, 0, 1]])
        npz[f"scale_mat_{i}"] = scale
        rgb(masks[i]).save(folder / "image" / f"{i:06d}.png")
        Image.fromarray(masks[i].astype(np.uint8).repeat(3).reshape(H, W, 3) * 255).save(
            folder / "mask" / f"{i:03d}.png")
    np.savez(folder / "cameras_sphere.npz", **npz)
    return K, R, t, H, W


def write_dpc(folder, W=64, n=N_VIEWS, gt=True):
    """DPC: the object (OBJ frame = our original frame) rendered as DRC's Blender renderer
    writes it (drc_renders.py: render_i.png RGBA, camera_i.mat {pos, extrinsic}), ground truth
    .mat {points} in the OBJ frame."""
    poses = [(20.0, 360.0 * i / n + 15.0, (-15.0, 10.0, 35.0)[i % 3]) for i in range(n)]
    cams = write_render_folder(folder, to_orig(MESH.vertices), MESH.faces, poses, W)
    if gt:
        scipy.io.savemat(folder / "model_gt.mat", {"points": to_orig(SURF_N[:2000])})
    return cams["K"], cams["R"], cams["t"], W, W


def write_colmap(folder, W=96, H=80, n=N_VIEWS, model="PINHOLE"):
    """COLMAP: sparse/0/{cameras,images}.txt (quaternion world->camera, pixel centres at +0.5),
    images/NAME, masks/NAME.png (half of them) or masks/NAME (the other half)."""
    K = pinhole(182.0, 182.0, 48.3, 40.1)
    R, t = cameras_orig(n)
    masks = render(K, R, t, H, W)
    model_dir = folder / "sparse" / "0"
    model_dir.mkdir(parents=True)
    (folder / "images").mkdir()
    (folder / "masks").mkdir()
    params = f"{K[0, 0]} {K[1, 1]} {K[0, 2] + 0.5} {K[1, 2] + 0.5}"
    if model == "SIMPLE_RADIAL":
        params = f"{K[0, 0]} {K[0, 2] + 0.5} {K[1, 2] + 0.5} 0.01"
    (model_dir / "cameras.txt").write_text(
        "# Camera list with one line of data per camera:\n"
        "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n# Number of cameras: 1\n"
        f"1 {model} {W} {H} {params}\n")
    lines = ["# Image list with two lines of data per image:",
             "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
             "#   POINTS2D[] as (X, Y, POINT3D_ID)"]
    for i in reversed(range(n)):  # out of order on purpose: views are sorted by IMAGE_ID
        x, y, z, w = Rotation.from_matrix(R[i]).as_quat()
        name = f"view {i}.png"  # a space in the name, as phone photos have
        lines.append(f"{i + 1} {w} {x} {y} {z} {t[i][0]} {t[i][1]} {t[i][2]} 1 {name}")
        lines.append("" if i % 2 else "10.5 20.5 -1 11.5 21.5 -1")
        rgb(masks[i]).save(folder / "images" / name)
        mname = name + ".png" if i % 2 else name
        Image.fromarray(masks[i].astype(np.uint8) * 255).save(folder / "masks" / mname)
    (model_dir / "images.txt").write_text("\n".join(lines) + "\n")
    return K, R, t, H, W


WRITERS = {"blender": write_blender, "nerfstudio": write_nerfstudio, "dtu": write_dtu,
           "dpc": write_dpc, "colmap": write_colmap}


def normalised_points(scene: Scene, pts_orig: np.ndarray) -> np.ndarray:
    T = np.asarray(scene.extra["to_original"])
    return (pts_orig - T[:3, 3]) @ np.linalg.inv(T[:3, :3]).T


def inside_per_view(pts: np.ndarray, scene: Scene, tol_px: int = 1) -> float:
    """Fraction of (view, point) pairs whose nearest pixel is foreground in the mask dilated by
    ``tol_px`` pixels (surface points near the outline round to background pixels about 5% of
    the time even with exact cameras and exact masks, so exactly 0 cannot reach 99%)."""
    uv, z = project_np(pts, scene.K, scene.R, scene.t)
    H, W = scene.resolution
    c, r = np.rint(uv[..., 0]).astype(int), np.rint(uv[..., 1]).astype(int)
    ok = (z > 0) & (c >= 0) & (c < W) & (r >= 0) & (r < H)
    masks = np.stack([ndimage.binary_dilation(m, iterations=tol_px) if tol_px else m
                      for m in scene.masks])
    hit = masks[np.arange(scene.n_views)[:, None], r.clip(0, H - 1), c.clip(0, W - 1)]
    return float((hit & ok).mean())
