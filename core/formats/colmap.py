"""COLMAP text models: ``cameras.txt`` + ``images.txt`` with ``images/`` and ``masks/``.

Layout (a COLMAP project after ``colmap model_converter --output_type TXT``)::

    project/
      images/IMG_0001.jpg ...
      masks/IMG_0001.jpg.png ...   or masks/IMG_0001.jpg, or masks/IMG_0001.png
      sparse/0/cameras.txt         (also accepted: sparse/cameras.txt or project/cameras.txt)
      sparse/0/images.txt

Conventions (source: COLMAP documentation, "Output format" and "Camera models"):

- ``cameras.txt``: ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS...``. Supported: ``PINHOLE``
  (fx fy cx cy) and ``SIMPLE_PINHOLE`` (f cx cy). Models with distortion (SIMPLE_RADIAL,
  RADIAL, OPENCV, FULL_OPENCV, ...) are rejected with the model and file named: undistort
  first (``colmap image_undistorter`` writes PINHOLE cameras). Binary models (``*.bin``) are
  rejected with a hint to convert them to text.
- COLMAP puts the centre of the top-left pixel at (0.5, 0.5): our ``cx, cy`` are COLMAP's minus
  0.5.
- ``images.txt``: two lines per image, ``IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`` then
  the 2-D points (possibly empty). The quaternion (Hamilton, w first) and t are world->camera
  in OpenCV axes, as ours. Views are ordered by IMAGE_ID.
- Masks: ``masks/NAME.png``, ``masks/NAME`` or ``masks/<NAME without extension>.png``; an
  image's mask must have the camera's WIDTH x HEIGHT; foreground > 127.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from core.io.scene import Scene, SceneError, check_rotation, read_mask
from .common import View, add_view, finish, read_rgb_alpha, select

__all__ = ["load_colmap", "is_colmap", "model_dir", "qvec_to_rotmat"]

_SUBDIRS = ("", "sparse/0", "sparse")
_UNSUPPORTED = ("SIMPLE_RADIAL", "RADIAL", "OPENCV", "FULL_OPENCV", "OPENCV_FISHEYE", "FOV",
                "SIMPLE_RADIAL_FISHEYE", "RADIAL_FISHEYE", "THIN_PRISM_FISHEYE")


def model_dir(path: Path) -> Path | None:
    """The folder holding cameras.txt + images.txt (or their .bin), or None."""
    for sub in _SUBDIRS:
        d = path / sub if sub else path
        if ((d / "cameras.txt").is_file() and (d / "images.txt").is_file()) or (
                (d / "cameras.bin").is_file() and (d / "images.bin").is_file()):
            return d
    return None


def is_colmap(path: Path) -> bool:
    return model_dir(path) is not None


def qvec_to_rotmat(q: Sequence[float]) -> np.ndarray:
    """(3, 3) rotation of a unit quaternion (qw, qx, qy, qz) (COLMAP's order)."""
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the non-comment lines, blank ones kept (images.txt needs them)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SceneError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    return [(n + 1, ln) for n, ln in enumerate(text.splitlines()) if not ln.startswith("#")]


def _cameras(path: Path) -> dict[int, tuple[np.ndarray, int, int]]:
    """camera id -> (K in our convention, width, height)."""
    cams = {}
    for n, ln in _lines(path):
        tok = ln.split()
        if not tok:
            continue
        where = f"{path} line {n}"
        if len(tok) < 4:
            raise SceneError(f"{where}: expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS...")
        model = tok[1].upper()
        try:
            cid, w, h = int(tok[0]), int(tok[2]), int(tok[3])
            params = [float(x) for x in tok[4:]]
        except ValueError:
            raise SceneError(f"{where}: not a camera line: {ln.strip()!r}") from None
        if model == "PINHOLE" and len(params) == 4:
            fx, fy, cx, cy = params
        elif model == "SIMPLE_PINHOLE" and len(params) == 3:
            fx, cx, cy = params
            fy = fx
        elif model in ("PINHOLE", "SIMPLE_PINHOLE"):
            raise SceneError(f"{where}: camera model {model} has {len(params)} parameters")
        else:
            hint = ("it models lens distortion: undistort the images first (colmap "
                    "image_undistorter writes PINHOLE cameras)") if model in _UNSUPPORTED else \
                "unknown camera model"
            raise SceneError(f"{where}: camera {cid} uses camera model {model}, which is not "
                             f"supported ({hint}); supported: PINHOLE, SIMPLE_PINHOLE")
        if fx <= 0 or fy <= 0 or w < 1 or h < 1:
            raise SceneError(f"{where}: focal length and image size must be positive")
        K = np.array([[fx, 0.0, cx - 0.5], [0.0, fy, cy - 0.5], [0.0, 0.0, 1.0]])
        cams[cid] = (K, w, h)
    return cams


def _images(path: Path) -> list[tuple[int, np.ndarray, np.ndarray, int, str, str]]:
    """(image id, R, t, camera id, name, where) per image, sorted by image id."""
    lines = _lines(path)
    out = []
    k = 0
    while k < len(lines):
        n, ln = lines[k]
        if not ln.strip():
            k += 1
            continue
        tok = ln.split(maxsplit=9)
        where = f"{path} line {n}"
        if len(tok) < 10:
            raise SceneError(f"{where}: expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME")
        try:
            iid, cid = int(tok[0]), int(tok[8])
            q = [float(x) for x in tok[1:5]]
            t = np.array([float(x) for x in tok[5:8]])
        except ValueError:
            raise SceneError(f"{where}: not an image line: {ln.strip()!r}") from None
        if not np.all(np.isfinite(q)) or not np.all(np.isfinite(t)) or np.linalg.norm(q) < 1e-9:
            raise SceneError(f"{where}: quaternion or translation is not finite / zero")
        R = check_rotation(qvec_to_rotmat(q), where)
        out.append((iid, R, t, cid, tok[9].strip(), where))
        k += 2  # skip the POINTS2D line
    return sorted(out, key=lambda r: r[0])


def _mask_file(masks: Path, name: str) -> Path:
    cands = [masks / (name + ".png"), masks / name, masks / (str(Path(name).with_suffix("")) +
                                                             ".png")]
    for c in cands:
        if c.is_file():
            return c
    raise SceneError(f"{cands[0]}: mask file is missing (looked for masks/{name}.png, "
                     f"masks/{name} and masks/{Path(name).stem}.png)")


def load_colmap(path: str | Path, res: int | None = None, views: Sequence[int] | None = None,
                max_views: int | None = None) -> Scene:
    """Read a COLMAP text model with masks (see the module docstring)."""
    root = Path(path)
    d = model_dir(root)
    if d is None:
        raise SceneError(f"{root}: no COLMAP model (cameras.txt + images.txt in the folder, "
                         "sparse/0/ or sparse/)")
    if not (d / "cameras.txt").is_file():
        raise SceneError(f"{d / 'cameras.bin'}: binary COLMAP models are not read; convert: "
                         f"colmap model_converter --input_path {d} --output_path {d} "
                         "--output_type TXT")
    cams = _cameras(d / "cameras.txt")
    imgs = _images(d / "images.txt")
    if not (root / "masks").is_dir():
        raise SceneError(f"{root / 'masks'}: folder is missing (one mask per image, matched "
                         "by image name)")
    out = []
    for k in select(len(imgs), views, max_views, str(d / "images.txt")):
        _, R, t, cid, name, where = imgs[k]
        if cid not in cams:
            raise SceneError(f"{where}: camera {cid} is not in {d / 'cameras.txt'}")
        K, w, h = cams[cid]
        img_path = root / "images" / name
        rgb, _ = read_rgb_alpha(img_path)
        if rgb.shape[:2] != (h, w):
            raise SceneError(f"{img_path}: image is {rgb.shape[1]}x{rgb.shape[0]} but camera "
                             f"{cid} is {w}x{h}")
        mfile = _mask_file(root / "masks", name)
        mask = read_mask(mfile)
        if mask.shape != (h, w):
            raise SceneError(f"{mfile}: mask is {mask.shape[1]}x{mask.shape[0]} but camera {cid}"
                             f" (image {name}) is {w}x{h}")
        add_view(out, View(K, R, t, mask, rgb, f"{where} ({name})", str(mfile)), res)
    return finish(out, name=root.name, path=root,
                  extra={"source": str(root), "format": "colmap"})
