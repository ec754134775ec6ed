"""core.io.readers: every reader on a tiny dataset written the way that format's own tools write it.

The object is the procedural "blob" placed in an *original* world ``x_o = S * x_n + O`` (x_n:
the shape's normalised frame); cameras look at it from a sphere around it. Each test checks the
conventions end to end: the mesh's surface points, mapped into the loaded (normalised) frame
with ``to_original``, project into the loaded masks; the masks re-rendered with the loaded
cameras match the loaded ones; and ``original_scene`` maps cameras and ground truth back.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.io
from scipy import ndimage
from PIL import Image
from scipy.spatial.transform import Rotation

from app.cli import metrics_reference, run_cli
from core.geometry.cameras import look_at, project_np, view_directions
from core.fit.config import FitConfig
from core.io.readers import detect_and_load, detect_format, original_scene
from core.io.readers.dpc import FOCAL, RENDER_TO_DPC
from core.fit.fitter import Fitter
from core.io.loaders import load_scene
from core.io.mesh_scene import sample_surface
from core.metrics import chamfer
from core.geometry.rasterize import render_silhouettes
from core.io.scene import Scene, SceneError, read_scene
from core.geometry.shapes import get_shape

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
    """DPC: render_i.png RGBA, camera_i.mat {extrinsic: 4x4 world->camera (OpenCV axes) in the
    render frame, pos}, ground truth .mat {points} in DPC's frame (= our original frame)."""
    H, f = W, FOCAL * W
    K = pinhole(f, f, (W - 1) / 2, (W - 1) / 2)
    R, t = cameras_orig(n)  # in DPC's frame
    masks = render(K, R, t, W, W)
    folder.mkdir(parents=True)
    for i in range(n):
        E = np.eye(4)
        E[:3, :3] = R[i] @ RENDER_TO_DPC.T  # x_render = A x_dpc
        E[:3, 3] = t[i]
        rgba(masks[i], i).save(folder / f"render_{i}.png")
        scipy.io.savemat(folder / f"camera_{i}.mat",
                         {"extrinsic": E, "pos": -E[:3, :3].T @ E[:3, 3], "K": K})
    if gt:
        scipy.io.savemat(folder / "model_gt.mat", {"points": to_orig(SURF_N[:2000])})
    return K, R, t, H, W


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


# -- conventions -----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", list(WRITERS))
def test_reader_conventions(tmp_path, fmt):
    K, R, t, H, W = WRITERS[fmt](tmp_path / fmt)
    assert detect_format(tmp_path / fmt) == fmt
    scene = detect_and_load(tmp_path / fmt, res=64)
    assert scene.n_views == N_VIEWS and max(scene.resolution) == 64
    assert scene.extra["format"] == fmt and np.asarray(scene.extra["to_original"]).shape == (4, 4)
    # rotations are exact, the box is canonical (hull box centred, diagonal 1)
    assert np.abs(np.einsum("iab,icb->iac", scene.R, scene.R) - np.eye(3)).max() < 1e-9
    pts = normalised_points(scene, to_orig(SURF_N))
    assert np.abs(pts.mean(0)).max() < 0.1 and 0.5 < np.ptp(pts, 0).max() < 1.0
    assert inside_per_view(pts, scene) >= 0.99
    # exact: the loaded cameras project like the writer's, rescaled about pixel centres
    h, w = scene.resolution
    uv_true, _ = project_np(to_orig(SURF_N[:300]), np.repeat(K[None], N_VIEWS, 0), R, t)
    uv, _ = project_np(pts[:300], scene.K, scene.R, scene.t)
    assert np.abs((uv_true + 0.5) * [w / W, h / H] - 0.5 - uv).max() < 1e-6
    # the masks re-rendered with the loaded cameras match the loaded ones
    T = np.asarray(scene.extra["to_original"])
    vn = (to_orig(MESH.vertices) - T[:3, 3]) @ np.linalg.inv(T[:3, :3]).T
    again = render_silhouettes(vn, MESH.faces, scene.K, scene.R, scene.t, *scene.resolution)
    iou = (again & scene.masks).sum((1, 2)) / (again | scene.masks).sum((1, 2))
    assert iou.min() > 0.94, iou
    # the original-coordinates scene sees the original-coordinates object
    orig = original_scene(scene)
    assert "to_original" not in orig.extra
    assert inside_per_view(to_orig(SURF_N), orig) >= 0.99
    assert np.allclose(orig.K, scene.K, atol=1e-6)


def test_blender_uses_train_split_and_images(tmp_path):
    write_blender(tmp_path / "b")
    s = detect_and_load(tmp_path / "b", res=32, views=[1, 3])
    assert s.n_views == 2 and s.resolution == (32, 32)
    assert s.images is not None and s.images[0].shape == (32, 32, 3)
    assert detect_and_load(tmp_path / "b", res=32, max_views=4).n_views == 4


def test_dpc_ground_truth_in_original_frame(tmp_path):
    write_dpc(tmp_path / "d")
    s = detect_and_load(tmp_path / "d", res=64)
    ref = original_scene(s)
    assert np.allclose(ref.gt_points, to_orig(SURF_N[:2000]), atol=1e-9)
    # gt lies in the normalised frame of the scene itself
    assert inside_per_view(s.gt_points, s) >= 0.99


def test_resize_keeps_pixel_centres(tmp_path):
    """A 128-px dataset at res 64 and at res 128: the same points land in the same places."""
    write_blender(tmp_path / "b")
    lo, hi = detect_and_load(tmp_path / "b", res=64), detect_and_load(tmp_path / "b", res=128)
    p = normalised_points(hi, to_orig(SURF_N[:200]))
    uv_hi, _ = project_np(p, hi.K, hi.R, hi.t)
    uv_lo, _ = project_np(normalised_points(lo, to_orig(SURF_N[:200])), lo.K, lo.R, lo.t)
    assert np.allclose((uv_hi + 0.5) * 0.5 - 0.5, uv_lo, atol=1e-6)


def test_views_of_different_sizes(tmp_path):
    """Same aspect ratio: fine (each view's intrinsics follow its own size); else refused."""
    write_blender(tmp_path / "b")
    small = tmp_path / "b" / "train" / "r_2.png"
    Image.open(small).resize((64, 64), Image.BOX).save(small)
    s = detect_and_load(tmp_path / "b", res=64)
    assert inside_per_view(normalised_points(s, to_orig(SURF_N)), s) >= 0.99
    Image.open(small).crop((0, 0, 64, 48)).save(small)
    with pytest.raises(SceneError, match=r"r_2\.png: a 64x48 view becomes 64x48 at the working "
                                         r"resolution, the first view 64x64"):
        detect_and_load(tmp_path / "b", res=64)


# -- convert and fit through the CLI ---------------------------------------------------------
def test_convert_round_trip(tmp_path, capsys):
    write_dpc(tmp_path / "src")
    out = tmp_path / "out"
    assert run_cli(["convert", str(tmp_path / "src"), str(out), "--res", "48", "--max-views",
                    "4"]) == 0
    s = read_scene(out)
    assert s.n_views == 4 and s.resolution == (48, 48) and s.images is not None
    assert s.extra["format"] == "dpc" and "to_original" in s.extra
    assert inside_per_view(s.gt_points, s) >= 0.99
    ref = metrics_reference(s)  # ground truth back in DPC's (original) coordinates
    assert np.allclose(ref.gt_points, to_orig(SURF_N[:2000]), atol=1e-5)
    # a converted scene reads like the dataset itself
    direct = load_scene(tmp_path / "src", res=48, max_views=4)
    assert np.allclose(direct.K, s.K) and np.allclose(direct.t, s.t)
    # forcing the format: right one works, wrong one is refused, views are selected
    assert run_cli(["convert", str(tmp_path / "src"), str(tmp_path / "o2"), "--format", "drc",
                    "--views", "0,2", "--res", "32"]) == 0
    assert read_scene(tmp_path / "o2").n_views == 2
    capsys.readouterr()
    assert run_cli(["convert", str(tmp_path / "src"), str(tmp_path / "o3"), "--format",
                    "colmap"]) == 2
    assert "does not look like a colmap dataset (detected: dpc)" in capsys.readouterr().err
    assert run_cli(["convert", str(tmp_path / "src"), str(tmp_path / "o4"), "--format",
                    "ply"]) == 2
    assert "unknown dataset format 'ply'" in capsys.readouterr().err


def _fit_cd(scene: Scene, gt_orig: np.ndarray, scale: float, init: str) -> float:
    cfg = FitConfig(points=300, iterations=150, seed=0, device="cpu", init=init,
                    beta=3.0 if init == "box" else 0.0)
    pts = Fitter(scene, cfg).run()
    return chamfer(scene.to_original(pts), gt_orig)["cd"] / scale


@pytest.mark.parametrize(("fmt", "init"), [("blender", "box"), ("dtu", "surface")])
def test_fit_matches_native_scene(tmp_path, fmt, init):
    """The same fit on the dataset and on the equivalent drwr-scene (the shape's normalised
    frame, same cameras and masks): Chamfer in original coordinates agrees within 10%.

    The default (surface) start is equivariant under the normalisation, so it agrees to
    rounding; the paper's box start with repulsion moves every point in world units, so the
    different canonical box shows (about 1.5% here)."""
    W, H = (64, 64) if fmt == "blender" else (64, 56)
    K, R, t, _, _ = WRITERS[fmt](tmp_path / fmt, W=W, **({} if fmt == "blender" else {"H": H}))
    data = detect_and_load(tmp_path / fmt, res=W)
    # the equivalent native scene: cameras in the normalised frame (t_n = (t_o + R O) / S)
    tn = (t + np.einsum("iab,b->ia", R, O)) / S
    Ks = np.repeat(K[None], N_VIEWS, 0)
    native = Scene(masks=render_silhouettes(MESH.vertices, MESH.faces, Ks, R, tn, H, W), K=Ks,
                   R=R, t=tn, name="native")
    assert np.array_equal(native.masks, data.masks)
    cd_native = _fit_cd(native, SURF_N, 1.0, init)
    cd_data = _fit_cd(data, to_orig(SURF_N), S, init)
    assert cd_native < 5.0
    assert abs(cd_data - cd_native) <= 0.1 * cd_native, (cd_data, cd_native)


def test_cli_fit_exports_original_coordinates(tmp_path, capsys):
    write_dtu(tmp_path / "d")
    out = tmp_path / "cloud.ply"
    mj = tmp_path / "m.json"
    assert run_cli(["fit", str(tmp_path / "d"), "--out", str(out), "--res", "48", "--points",
                    "200", "--iterations", "30", "--quiet", "--metrics-json", str(mj)]) == 0
    from core.io.points import read_points

    pts = read_points(out)
    # the cloud is in DTU's original world: it sits on the object there
    assert chamfer(pts, to_orig(SURF_N))["cd"] / S < 5.0
    m = json.loads(mj.read_text())["metrics"]
    assert m["inside_fraction"] > 0.9  # evaluated with the original-coordinates cameras


# -- bad data --------------------------------------------------------------------------------
def test_missing_image(tmp_path):
    write_blender(tmp_path / "b", W=32)
    (tmp_path / "b" / "train" / "r_2.png").unlink()
    with pytest.raises(SceneError, match=r"r_2\.png: image file is missing"):
        detect_and_load(tmp_path / "b")


def test_wrong_size_mask(tmp_path):
    write_colmap(tmp_path / "c")
    Image.new("L", (40, 30), 255).save(tmp_path / "c" / "masks" / "view 3.png.png")
    with pytest.raises(SceneError, match=r"view 3\.png\.png: mask is 40x30 but camera 1"):
        detect_and_load(tmp_path / "c")
    write_dtu(tmp_path / "d")
    Image.new("L", (40, 30), 255).save(tmp_path / "d" / "mask" / "002.png")
    with pytest.raises(SceneError, match=r"002\.png: mask is 40x30 but its image is 96x80"):
        detect_and_load(tmp_path / "d")


def test_unknown_camera_model(tmp_path):
    write_colmap(tmp_path / "c", model="SIMPLE_RADIAL")
    with pytest.raises(SceneError, match=r"cameras\.txt line 4: camera 1 uses camera model "
                                         r"SIMPLE_RADIAL, which is not supported"):
        detect_and_load(tmp_path / "c")
    write_nerfstudio(tmp_path / "n")
    meta = json.loads((tmp_path / "n" / "transforms.json").read_text())
    meta["k1"] = 0.05
    (tmp_path / "n" / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(SceneError, match=r"transforms\.json frame 0: camera_model OPENCV with "
                                         r"lens distortion \(k1\)"):
        detect_and_load(tmp_path / "n")


def test_empty_mask(tmp_path):
    write_dpc(tmp_path / "d", gt=False)
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(tmp_path / "d" / "render_4.png")
    with pytest.raises(SceneError, match=r"render_4\.png: mask is empty"):
        detect_and_load(tmp_path / "d")


def test_camera_missing_the_object(tmp_path):
    write_blender(tmp_path / "b", W=32)
    jf = tmp_path / "b" / "transforms_train.json"
    meta = json.loads(jf.read_text())
    meta["frames"][3]["transform_matrix"][0][3] += 40.0  # moved far sideways
    jf.write_text(json.dumps(meta))
    with pytest.raises(SceneError, match=r"transforms_train\.json frame 3 \(r_3\.png\): this "
                                         r"camera does not see the object"):
        detect_and_load(tmp_path / "b")


def test_not_a_dataset(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(SceneError, match="no known dataset layout"):
        load_scene(tmp_path / "x")
    with pytest.raises(SceneError, match=r"scene\.json: missing"):
        load_scene(tmp_path / "x", fmt="drwr-scene")
