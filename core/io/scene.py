"""Read and write ``drwr-scene`` v1 folders (see docs/scene-format.md).

A :class:`Scene` holds I views of binary masks (I, H, W) with cameras K (I,3,3), R (I,3,3),
t (I,3) in the OpenCV world->camera convention, optional RGB images and optional
ground-truth surface points (N, 3).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.io.images import image_rgb_alpha

__all__ = ["Scene", "SceneError", "SceneWarning", "check_views", "check_to_original",
           "read_scene", "write_scene", "load_json", "open_image", "read_image",
           "read_mask", "check_rotation", "check_intrinsics", "check_translation", "FORMAT",
           "VERSION", "ROTATION_TOL", "CAMERA_LIMIT", "MAX_VIEWS"]

FORMAT = "drwr-scene"
VERSION = 1
#: Largest |R R^T - I| entry accepted as a rotation (see check_rotation).
ROTATION_TOL = 1e-3
#: Largest magnitude of a camera translation or intrinsic (scene units, pixels): beyond it the
#: float32 fit loses every digit of the object's size.
CAMERA_LIMIT = 1e8
#: Most views one scene holds: make_scene renders at most this many and readers refuse more.
MAX_VIEWS = 2000


class SceneError(ValueError):
    """A user-facing problem with input data; the message names the file and the problem."""


class SceneWarning(UserWarning):
    """Input that loads but will fit poorly (one view, masks without an edge); the message
    names the file."""


@dataclass
class Scene:
    """Multi-view silhouettes with known cameras.

    masks: (I, H, W) bool.  K, R: (I, 3, 3) float64.  t: (I, 3) float64.
    images: optional list of I arrays (H, W, 3|4) uint8.  gt_points: optional (N, 3) float64.
    extra: free-form dict stored in scene.json (e.g. a normalisation transform).
    """

    masks: np.ndarray
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    images: list[np.ndarray] | None = None
    gt_points: np.ndarray | None = None
    name: str = "scene"
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.masks = np.asarray(self.masks, bool)
        self.K = np.asarray(self.K, np.float64)
        self.R = np.asarray(self.R, np.float64)
        self.t = np.asarray(self.t, np.float64)
        if self.masks.ndim != 3:
            raise SceneError(f"{self.name}: masks must be (I, H, W), got {self.masks.shape}")
        n = self.masks.shape[0]
        if self.K.shape != (n, 3, 3) or self.R.shape != (n, 3, 3) or self.t.shape != (n, 3):
            raise SceneError(f"{self.name}: cameras do not match {n} masks")

    @property
    def n_views(self) -> int:
        return int(self.masks.shape[0])

    @property
    def resolution(self) -> tuple[int, int]:
        """(H, W) of every mask."""
        return int(self.masks.shape[1]), int(self.masks.shape[2])

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) points mapped to the dataset's original world by ``extra["to_original"]``
        (a 4x4 affine, set by the dataset readers); unchanged when the scene has none."""
        T = self.extra.get("to_original") if self.extra else None
        if T is None:
            return points
        T = check_to_original(T, f"{self.path or self.name} extra.to_original")
        return np.asarray(points, np.float64) @ T[:3, :3].T + T[:3, 3]

    def subset(self, views: list[int]) -> "Scene":
        """A scene with only the given views (indices into this one)."""
        idx = list(views)
        for i in idx:
            if not 0 <= i < self.n_views:
                raise SceneError(f"{self.name}: view {i} does not exist ({self.n_views} views)")
        return Scene(
            masks=self.masks[idx], K=self.K[idx], R=self.R[idx], t=self.t[idx],
            images=None if self.images is None else [self.images[i] for i in idx],
            gt_points=self.gt_points, name=self.name, path=self.path, extra=dict(self.extra),
        )


def _matrix(value: Any, shape: tuple[int, ...], where: str, key: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SceneError(f"{where}: {key} is not a numeric array") from None
    if arr.shape != shape:
        raise SceneError(f"{where}: {key} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise SceneError(f"{where}: {key} has non-finite values")
    return arr


def check_rotation(R: np.ndarray, where: str, tol: float = ROTATION_TOL) -> np.ndarray:
    """R (3, 3) as an exact rotation; SceneError naming ``where`` when it is not one within
    ``tol`` (scale, shear or a reflection in the pose).

    One tolerance for every reader: 1e-3 accepts rotations printed with 3-4 decimals or
    stored as float32 (what hand-written and exported files hold) and moves a projection by
    at most ~1e-3 f pixels (0.2 px at f = 200), below the masks' pixel quantisation, while a
    1% scale or a visible shear is refused. R is returned unchanged when it is a rotation to
    round-off, else re-orthonormalised (the nearest rotation, by SVD).
    """
    R = np.asarray(R, np.float64)
    if R.shape != (3, 3) or not np.all(np.isfinite(R)):
        raise SceneError(f"{where}: R, the rotation, must be a finite 3x3 matrix")
    dev = float(np.abs(R @ R.T - np.eye(3)).max())
    if dev > tol or np.linalg.det(R) < 0:
        raise SceneError(f"{where}: R is not a rotation (R R^T differs from I by {dev:.2g} > "
                         f"{tol:g}, or det(R) = -1: a scaled, sheared or mirrored pose)")
    if dev <= 1e-12:
        return R
    u, _, vt = np.linalg.svd(R)
    return u @ vt


def check_intrinsics(K: np.ndarray, where: str) -> np.ndarray:
    """K (3, 3) checked: finite, fx, fy > 0, lower triangle 0 and last row [0, 0, 1] (what
    core.geometry.cameras.project assumes), entries below CAMERA_LIMIT; SceneError naming
    ``where`` otherwise."""
    K = np.asarray(K, np.float64)
    if K.shape != (3, 3) or not np.all(np.isfinite(K)):
        raise SceneError(f"{where}: K, the intrinsics, must be a finite 3x3 matrix")
    if not (K[0, 0] > 0 and K[1, 1] > 0):
        raise SceneError(f"{where}: K has focal lengths fx = {K[0, 0]:g}, fy = {K[1, 1]:g}; "
                         "both must be > 0")
    if K[1, 0] != 0 or not np.array_equal(K[2], [0.0, 0.0, 1.0]):
        raise SceneError(f"{where}: K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got rows "
                         f"{K[1].tolist()}, {K[2].tolist()}")
    if np.abs(K).max() >= CAMERA_LIMIT:
        raise SceneError(f"{where}: K has an entry of {np.abs(K).max():.3g}; intrinsics must "
                         f"be below {CAMERA_LIMIT:g} pixels")
    return K


def check_translation(t: np.ndarray, where: str) -> np.ndarray:
    """t (3,) checked: finite and every entry below CAMERA_LIMIT in magnitude."""
    t = np.asarray(t, np.float64)
    if t.shape != (3,) or not np.all(np.isfinite(t)):
        raise SceneError(f"{where}: t, the translation, must be 3 finite numbers")
    if np.abs(t).max() >= CAMERA_LIMIT:
        raise SceneError(f"{where}: t = {t.tolist()} is out of range; camera translations "
                         f"must be below {CAMERA_LIMIT:g} scene units")
    return t


def open_image(path: Path, what: str = "image", where: str = "") -> Image.Image:
    """The loaded PIL image of ``path``; SceneError naming the file when it is missing,
    unreadable or larger than PIL's pixel limit (``Image.MAX_IMAGE_PIXELS``: a decompression
    bomb). ``what`` names the role (mask, image) and ``where`` the entry that lists it."""
    ctx = f" ({where})" if where else ""
    if not path.is_file():
        raise SceneError(f"{path}: {what} file is missing{ctx}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SceneError(f"{path}: {what} is too large to read ({exc}){ctx}") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise SceneError(f"{path}: cannot read {what} ({exc.__class__.__name__}){ctx}") from None
    return im


def read_mask(path: Path, where: str = "") -> np.ndarray:
    """(H, W) bool mask of an image file, foreground = value > 127, in any mode PIL reads.

    The value is the alpha channel when the image has one that is not constant (a cut-out),
    else the grey level (an opaque RGBA mask as image editors write it reads by its grey
    values); 16-bit and float grey images holding values above 255 are scaled from 16 bits.
    SceneError naming the file (and ``where``) when it cannot be read.
    """
    with open_image(path, "mask", where) as im:
        if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
            alpha = np.asarray(im.convert("RGBA").getchannel("A"))
            if alpha.min() != alpha.max():
                return alpha > 127
        if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            arr = np.asarray(im, np.float64)
            return (arr * (255.0 / 65535.0) if arr.max() > 255 else arr) > 127
        return np.asarray(im.convert("L")) > 127


def read_image(path: Path, what: str = "image", where: str = ""
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """(rgb (H, W, 3) uint8, alpha (H, W) uint8 or None) of an image file, scaled from its true
    bit depth (16-bit grey reads as grey, not white; core.io.images); not composited.
    SceneError naming the file as :func:`open_image`, or when PIL cannot convert its mode."""
    with open_image(path, what, where) as im:
        try:
            return image_rgb_alpha(im)
        except (ValueError, OSError) as exc:
            raise SceneError(f"{path}: cannot read {what} mode {im.mode} ({exc})") from None


def _load_image(path: Path) -> np.ndarray:
    return read_image(path)[0]


def load_json(path: Path) -> Any:
    """Parsed JSON of ``path``; SceneError naming the file when it is missing or not JSON."""
    if not path.is_file():
        raise SceneError(f"{path}: file is missing")
    try:
        return json.loads(path.read_text())
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, over-long integers
        raise SceneError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise SceneError(f"{path}: JSON nested too deeply to read") from None


def _inside(folder: Path, value: object, where: str, key: str) -> Path:
    """``folder / value`` for a path that scene.json gives relative to the scene folder;
    SceneError naming ``where`` for an absolute one (it would read a file the scene does not
    hold)."""
    rel = Path(str(value))
    if rel.is_absolute():
        raise SceneError(f"{where}: {key} path {str(value)!r} is absolute; scene.json paths are "
                         "relative to the scene folder")
    return folder / rel


def read_scene(path: str | Path) -> Scene:
    """Read a ``drwr-scene`` v1 folder (or its scene.json), validating everything.

    Raises :class:`SceneError` naming the file and the problem.
    """
    from core.io.points import read_points  # local: pointio imports nothing from here

    p = Path(path)
    folder = p.parent if p.is_file() else p
    sj = folder / "scene.json"
    if not folder.exists():
        raise SceneError(f"{folder}: no such scene folder")
    if not sj.is_file():
        raise SceneError(f"{sj}: missing (a drwr-scene folder needs scene.json)")
    meta = load_json(sj)
    if not isinstance(meta, dict):
        raise SceneError(f"{sj}: top level must be an object")
    if meta.get("format") != FORMAT:
        raise SceneError(f"{sj}: format must be {FORMAT!r}, got {meta.get('format')!r}")
    if meta.get("version") != VERSION:
        raise SceneError(f"{sj}: unsupported version {meta.get('version')!r} (expected {VERSION})")
    views = meta.get("views")
    if not isinstance(views, list) or not views:
        raise SceneError(f"{sj}: 'views' must be a non-empty list")
    if len(views) > MAX_VIEWS:
        raise SceneError(f"{sj}: lists {len(views)} views; a scene holds at most {MAX_VIEWS}")
    masks, Ks, Rs, ts, images = [], [], [], [], []
    for i, v in enumerate(views):
        where = f"{sj} view {i}"
        if not isinstance(v, dict):
            raise SceneError(f"{where}: must be an object")
        for key in ("mask", "K", "R", "t"):
            if key not in v:
                raise SceneError(f"{where}: missing key {key!r}")
        K = check_intrinsics(_matrix(v["K"], (3, 3), where, "K"), where)
        R = check_rotation(_matrix(v["R"], (3, 3), where, "R"), where)
        t = check_translation(_matrix(v["t"], (3,), where, "t"), where)
        mpath = _inside(folder, v["mask"], where, "mask")
        m = read_mask(mpath, where)
        if masks and m.shape != masks[0].shape:
            raise SceneError(
                f"{mpath}: mask size {m.shape[1]}x{m.shape[0]} differs from the first mask's "
                f"{masks[0].shape[1]}x{masks[0].shape[0]}"
            )
        if not m.any():
            raise SceneError(f"{mpath}: mask is empty (no foreground pixel > 127)")
        masks.append(m)
        Ks.append(K)
        Rs.append(R)
        ts.append(t)
        images.append(_load_image(_inside(folder, v["image"], where, "image"))
                      if v.get("image") else None)
    gt = None
    if meta.get("ground_truth"):
        gpath = _inside(folder, meta["ground_truth"], str(sj), "ground_truth")
        try:
            gt = read_points(gpath)
        except (OSError, ValueError) as exc:
            raise SceneError(f"{gpath}: ground truth unreadable: {exc}") from None
        if len(gt) == 0:
            raise SceneError(f"{gpath}: ground truth has no points")
    imgs = images if all(im is not None for im in images) else None
    extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
    if "to_original" in extra:
        check_to_original(extra["to_original"], f"{sj} extra.to_original")
    scene = Scene(
        masks=np.stack(masks), K=np.stack(Ks), R=np.stack(Rs), t=np.stack(ts),
        images=imgs, gt_points=gt, name=folder.name, path=folder, extra=extra,
    )
    check_views(scene, str(sj))
    return scene


def check_to_original(T: Any, where: str) -> np.ndarray:
    """``extra["to_original"]`` as a (4, 4) float64 array: finite, invertible, last row
    [0, 0, 0, 1]; SceneError naming ``where`` otherwise."""
    try:
        M = np.asarray(T, np.float64)
    except (TypeError, ValueError):
        raise SceneError(f"{where}: must be a 4x4 matrix of numbers, got {T!r:.60}") from None
    if M.shape != (4, 4):
        raise SceneError(f"{where}: must be a 4x4 matrix, got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise SceneError(f"{where}: has non-finite values")
    if not np.array_equal(M[3], [0.0, 0.0, 0.0, 1.0]) or abs(np.linalg.det(M)) < 1e-12:
        raise SceneError(f"{where}: must be an invertible affine map (last row 0 0 0 1)")
    return M


def check_views(scene: Scene, where: str) -> None:
    """SceneError naming ``where`` when every mask is all foreground (no silhouette edge
    anywhere: inverted or blank masks); a SceneWarning when a single view or some full masks
    leave the shape unconstrained along lines of sight."""
    full = [i for i in range(scene.n_views) if scene.masks[i].all()]
    if len(full) == scene.n_views:
        raise SceneError(f"{where}: every mask is all foreground (no silhouette edge to fit; "
                         "are the masks inverted?)")
    if full:
        warnings.warn(f"{where}: mask of view {full[0]} is all foreground ({len(full)} such "
                      "views carry no silhouette)", SceneWarning, stacklevel=3)
    if scene.n_views == 1:
        warnings.warn(f"{where}: a single view fixes only the silhouette; depth is "
                      "unconstrained (use several views around the object)", SceneWarning,
                      stacklevel=3)


def write_scene(scene: Scene, path: str | Path) -> Path:
    """Write ``scene`` as a ``drwr-scene`` v1 folder at ``path``; returns the folder."""
    from core.io.points import write_ply

    folder = Path(path)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    views = []
    for i in range(scene.n_views):
        name = f"{i:03d}.png"
        Image.fromarray(scene.masks[i].astype(np.uint8) * 255).save(folder / "masks" / name)
        view: dict[str, Any] = {
            "mask": f"masks/{name}",
            "K": scene.K[i].tolist(),
            "R": scene.R[i].tolist(),
            "t": scene.t[i].tolist(),
        }
        if scene.images is not None:
            (folder / "images").mkdir(exist_ok=True)
            Image.fromarray(np.asarray(scene.images[i], np.uint8)).save(folder / "images" / name)
            view["image"] = f"images/{name}"
        views.append(view)
    meta: dict[str, Any] = {"format": FORMAT, "version": VERSION, "views": views}
    if scene.gt_points is not None:
        write_ply(folder / "gt_points.ply", scene.gt_points)
        meta["ground_truth"] = "gt_points.ply"
    # private keys (leading "_") may hold non-JSON objects; they are not part of the file
    meta["extra"] = {k: v for k, v in scene.extra.items() if not str(k).startswith("_")}
    (folder / "scene.json").write_text(json.dumps(meta, indent=1))
    return folder
