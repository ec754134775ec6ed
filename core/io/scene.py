"""Read and write ``drwr-scene`` v1 folders (see docs/scene-format.md).

A :class:`Scene` holds I views of binary masks (I, H, W) with cameras K (I,3,3), R (I,3,3),
t (I,3) in the OpenCV world->camera convention, optional RGB images and optional
ground-truth surface points (N, 3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["Scene", "SceneError", "read_scene", "write_scene", "load_json", "FORMAT", "VERSION"]

FORMAT = "drwr-scene"
VERSION = 1
ROTATION_TOL = 1e-4


class SceneError(ValueError):
    """A user-facing problem with input data; the message names the file and the problem."""


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
        T = np.asarray(T, np.float64)
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


def _load_mask(path: Path, where: str) -> np.ndarray:
    if not path.is_file():
        raise SceneError(f"{path}: mask file is missing ({where})")
    try:
        with Image.open(path) as im:
            im.load()
            arr = None
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                alpha = np.asarray(im.convert("RGBA").getchannel("A"))
                if alpha.min() != alpha.max():  # a real cut-out: alpha is the mask
                    arr = alpha
            if arr is None:  # opaque (or no alpha): the grey values are the mask
                arr = np.asarray(im.convert("L"))
    except (UnidentifiedImageError, OSError) as exc:
        raise SceneError(f"{path}: cannot read mask image ({exc.__class__.__name__})") from None
    return arr > 127


def _load_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise SceneError(f"{path}: image file is missing")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise SceneError(f"{path}: cannot read image ({exc.__class__.__name__})") from None


def load_json(path: Path) -> Any:
    """Parsed JSON of ``path``; SceneError naming the file when it is missing or not JSON."""
    if not path.is_file():
        raise SceneError(f"{path}: file is missing")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SceneError(f"{path}: not valid JSON ({exc})") from None


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
    masks, Ks, Rs, ts, images = [], [], [], [], []
    for i, v in enumerate(views):
        where = f"{sj} view {i}"
        if not isinstance(v, dict):
            raise SceneError(f"{where}: must be an object")
        for key in ("mask", "K", "R", "t"):
            if key not in v:
                raise SceneError(f"{where}: missing key {key!r}")
        K = _matrix(v["K"], (3, 3), where, "K")
        R = _matrix(v["R"], (3, 3), where, "R")
        t = _matrix(v["t"], (3,), where, "t")
        if np.abs(R @ R.T - np.eye(3)).max() > ROTATION_TOL or np.linalg.det(R) < 0:
            raise SceneError(f"{where}: R is not a rotation (R R^T != I or det(R) = -1)")
        mpath = folder / str(v["mask"])
        m = _load_mask(mpath, where)
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
        images.append(_load_image(folder / str(v["image"])) if v.get("image") else None)
    gt = None
    if meta.get("ground_truth"):
        gpath = folder / str(meta["ground_truth"])
        try:
            gt = read_points(gpath)
        except (OSError, ValueError) as exc:
            raise SceneError(f"{gpath}: ground truth unreadable: {exc}") from None
    imgs = images if all(im is not None for im in images) else None
    extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
    return Scene(
        masks=np.stack(masks), K=np.stack(Ks), R=np.stack(Rs), t=np.stack(ts),
        images=imgs, gt_points=gt, name=folder.name, path=folder, extra=extra,
    )


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
