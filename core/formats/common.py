"""What every dataset reader shares: reading masks and images, the working resolution, view
subsets, camera decomposition, and the normalisation into a canonical box.

A reader turns each view into a :class:`View` (cameras in the OpenCV world->camera convention
of ``drwr-scene``, pixel centres at integer coordinates, in the *file frame* the dataset's
cameras live in) and hands it to :func:`add_view`, which

1. checks sizes and empty masks (SceneError naming the file);
2. resizes the view to the working resolution (longest side ``res``, default 128, never
   upsampled): masks by area-averaging then ``>= 0.5``, RGB by area-averaging, intrinsics by
   ``u' = (u + 0.5) * s - 0.5`` (pixel centres stay pixel centres);

then calls :func:`finish`, which

3. normalises: the visual hull's bounding box (carved from cameras and masks alone by
   :func:`core.hull.interior.scene_box`, then tightened to the points of a 40^3 grid inside every
   mask) gets its centre at the origin and its diagonal 1, ``x_new = (x - c) / s``, which keeps
   every projection identical with ``R' = R``, ``t' = (R c + t) / s``; ground truth moves along;
4. records ``extra["to_original"]``: the 4x4 matrix mapping normalised coordinates to the
   dataset's original world coordinates (file frame -> original included, e.g. DTU's
   ``scale_mat``), as a nested list. :func:`original_scene` undoes it for metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.linalg
from PIL import Image

from core.io.images import composite_on_white
from core.io.scene import (MAX_VIEWS, Scene, SceneError, check_intrinsics, check_rotation,
                           check_to_original, check_translation, check_views, read_image)

__all__ = [
    "DEFAULT_RES", "View", "add_view", "finish", "original_scene", "decompose_projection",
    "read_rgb_alpha", "select", "opengl_c2w_to_opencv",
]

DEFAULT_RES = 128
_REFINE = 40  # grid resolution of the visual-hull bounding box refinement


@dataclass
class View:
    """One view as read from disk, before resizing.

    K, R: (3, 3); t: (3,) world->camera (OpenCV axes, pixel (0, 0) centred at u = v = 0) in the
    reader's file frame. mask: (H, W) bool. image: (H, W, 3) uint8 or None. source: the file
    (and entry) describing this view, for messages; mask_file: the file the mask came from.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    mask: np.ndarray
    image: np.ndarray | None
    source: str
    mask_file: str


# -- files -----------------------------------------------------------------------------------
def read_rgb_alpha(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(rgb (H, W, 3) uint8, alpha (H, W) uint8 or None) of an image file.

    RGBA images are composited over white (as DPC does), so the background reads as white;
    16-bit images are scaled from their bit depth (core.io.scene.read_image).
    """
    rgb, alpha = read_image(path)
    return composite_on_white(rgb, alpha), alpha


def select(n: int, views: Sequence[int] | None, max_views: int | None, where: str) -> list[int]:
    """Indices of the views to keep out of ``n`` (``views`` wins over ``max_views``); at most
    MAX_VIEWS of them (SceneError naming ``where`` beyond)."""
    idx = _select(n, views, max_views, where)
    if len(idx) > MAX_VIEWS:
        raise SceneError(f"{where}: {len(idx)} views selected; a scene holds at most "
                         f"{MAX_VIEWS} (choose some with --views or --max-views)")
    return idx


def _select(n: int, views: Sequence[int] | None, max_views: int | None, where: str
            ) -> list[int]:
    if n == 0:
        raise SceneError(f"{where}: the dataset lists no views")
    if views is not None:
        idx = [int(i) for i in views]
        bad = [i for i in idx if not 0 <= i < n]
        if bad:
            raise SceneError(f"{where}: view {bad[0]} does not exist ({n} views: 0..{n - 1})")
        if not idx:
            raise SceneError(f"{where}: no views selected")
        return idx
    if max_views is not None:
        if max_views < 1:
            raise SceneError(f"{where}: max_views must be >= 1, got {max_views}")
        return list(range(min(n, max_views)))
    return list(range(n))


# -- cameras ---------------------------------------------------------------------------------
def opengl_c2w_to_opencv(c2w: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """World->camera (R, t), OpenCV axes, of a camera-to-world 4x4 (or 3x4) in OpenGL axes
    (x right, y up, camera looking along -z; Blender, NeRF, nerfstudio): flip y and z."""
    try:
        M = np.asarray(c2w, np.float64)
    except (TypeError, ValueError):
        raise SceneError(f"{where}: transform_matrix is not numeric") from None
    if M.shape not in ((4, 4), (3, 4)) or not np.all(np.isfinite(M)):
        raise SceneError(f"{where}: transform_matrix must be a finite 4x4 matrix, got {M.shape}")
    Rc2w = check_rotation(M[:3, :3] * np.array([1.0, -1.0, -1.0]), where)
    R = Rc2w.T
    return R, -R @ M[:3, 3]


def decompose_projection(P: np.ndarray, where: str = "camera") -> tuple[np.ndarray, ...]:
    """K (3,3), R (3,3), t (3,) with P ~ K [R | t] for a 3x4 projection matrix (any scale).

    RQ decomposition of P[:, :3] (scipy.linalg.rq); signs fixed so K has a positive diagonal
    and det(R) = +1 (P and -P are the same camera); K normalised so K[2, 2] = 1.
    """
    P = np.asarray(P, np.float64)[:3, :4]
    if not np.all(np.isfinite(P)) or abs(np.linalg.det(P[:, :3])) < 1e-12 * max(
            1.0, np.abs(P).max() ** 3):
        raise SceneError(f"{where}: projection matrix is singular or not finite")
    K, R = scipy.linalg.rq(P[:, :3])
    D = np.diag(np.sign(np.diag(K)))
    K, R = K @ D, D @ R
    if np.linalg.det(R) < 0:
        R, P = -R, -P
    t = np.linalg.solve(K, P[:, 3])
    return K / K[2, 2], R, t


# -- resizing --------------------------------------------------------------------------------
def _resize(v: View, res: int) -> View:
    H, W = v.mask.shape
    s = min(1.0, res / max(H, W))
    if s >= 1.0:
        return v
    W2, H2 = max(1, round(W * s)), max(1, round(H * s))
    sx, sy = W2 / W, H2 / H
    m = Image.fromarray(v.mask.astype(np.float32)).resize((W2, H2), Image.BOX)
    img = None
    if v.image is not None:
        img = np.asarray(Image.fromarray(v.image).resize((W2, H2), Image.BOX))
    A = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return View(A @ v.K, v.R, v.t, np.asarray(m) >= 0.5, img, v.source, v.mask_file)


def add_view(views: list[View], v: View, res: int | None) -> None:
    """Check ``v`` (mask size against its image, empty mask), bring it to the working resolution
    (longest side ``res``, default 128) and append it to ``views``; views of different original
    sizes are fine when they reach the same working size (same aspect ratio)."""
    res = DEFAULT_RES if res is None else int(res)
    if res < 8:
        raise SceneError(f"{v.source}: working resolution must be >= 8 pixels, got {res}")
    H, W = v.mask.shape
    if v.image is not None and v.image.shape[:2] != (H, W):
        h, w = v.image.shape[:2]
        raise SceneError(f"{v.mask_file}: mask is {W}x{H} but its image is {w}x{h} "
                         f"({v.source})")
    check_intrinsics(v.K, v.source)
    check_translation(v.t, v.source)
    if not v.mask.any():
        raise SceneError(f"{v.mask_file}: mask is empty (no foreground pixel > 127)")
    r = _resize(v, res)
    if not r.mask.any():
        raise SceneError(f"{v.mask_file}: mask becomes empty at the working resolution {res} "
                         "(object too small; use a larger --res)")
    if views and r.mask.shape != views[0].mask.shape:
        h, w = views[0].mask.shape
        raise SceneError(f"{v.mask_file}: a {W}x{H} view becomes {r.mask.shape[1]}x"
                         f"{r.mask.shape[0]} at the working resolution, the first view {w}x{h} "
                         "(all views must share one aspect ratio)")
    views.append(r)


# -- normalisation ---------------------------------------------------------------------------
def _hull_box(scene: Scene, sources: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box (lo, hi) of the visual hull; names the camera that misses the object."""
    from core.hull.interior import scene_box
    from core.hull.visual_hull import carving_maps, carving_margin

    try:
        lo, hi = scene_box(scene)
    except SceneError as exc:
        _name_bad_view(scene, sources, exc)
        raise
    axes = [np.linspace(lo[k], hi[k], _REFINE) for k in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    occ = carving_margin(scene, carving_maps(scene.masks), grid, 0.0) > 0.0  # in every mask
    if not occ.any():
        return lo, hi
    step = (hi - lo) / (_REFINE - 1)
    pts = grid[occ]
    return np.maximum(pts.min(0) - step, lo), np.minimum(pts.max(0) + step, hi)


def _name_bad_view(scene: Scene, sources: list[str], exc: SceneError) -> None:
    """Raise a SceneError naming the one view whose removal makes the hull non-empty."""
    from core.hull.interior import scene_box

    if scene.n_views < 3:
        return
    bad = []
    for i in range(scene.n_views):
        try:
            scene_box(scene.subset([j for j in range(scene.n_views) if j != i]))
        except SceneError:
            continue
        bad.append(i)
    if len(bad) == 1:
        raise SceneError(
            f"{sources[bad[0]]}: this camera does not see the object the other views agree on "
            "(its frustum misses the visual hull, or the object is behind it); check its pose "
            "and intrinsics") from exc


def finish(views: list[View], *, name: str, path: Path, to_original: np.ndarray | None = None,
           gt_points: np.ndarray | None = None, extra: dict[str, Any] | None = None) -> Scene:
    """The normalised Scene of ``views`` (collected with :func:`add_view`; see the module
    docstring).

    to_original: 4x4 file frame -> original world (default identity); gt_points (N, 3) in the
    file frame, or None.
    """
    images = [v.image for v in views]
    scene = Scene(
        masks=np.stack([v.mask for v in views]), K=np.stack([v.K for v in views]),
        R=np.stack([v.R for v in views]), t=np.stack([v.t for v in views]),
        images=images if all(im is not None for im in images) else None,
        name=name, path=path,
    )
    lo, hi = _hull_box(scene, [v.source for v in views])
    c, s = (lo + hi) / 2, float(np.linalg.norm(hi - lo))
    if not s > 0 or not math.isfinite(s):
        raise SceneError(f"{path}: the visual hull is degenerate (zero size)")
    scene.t = (np.einsum("iab,b->ia", scene.R, c) + scene.t) / s
    if gt_points is not None:
        scene.gt_points = (np.asarray(gt_points, np.float64) - c) / s
    N = np.eye(4)
    N[:3, :3] *= s
    N[:3, 3] = c
    T = (np.eye(4) if to_original is None else np.asarray(to_original, np.float64)) @ N
    scene.extra = {**(extra or {}), "to_original": T.tolist()}
    check_views(scene, str(path))
    return scene


def original_scene(scene: Scene) -> Scene:
    """``scene`` in its dataset's original world coordinates (``extra["to_original"]``).

    Cameras are re-derived from ``P_orig = K [R | t] @ inverse(to_original)`` (any invertible
    affine map), ground truth is mapped by ``to_original``; scenes without the key come back
    unchanged.
    """
    T = scene.extra.get("to_original") if scene.extra else None
    if T is None:
        return scene
    T = check_to_original(T, f"{scene.path or scene.name} extra.to_original")
    Tinv = np.linalg.inv(T)
    Ks, Rs, ts = [], [], []
    for i in range(scene.n_views):
        P = scene.K[i] @ np.hstack([scene.R[i], scene.t[i][:, None]]) @ Tinv
        K, R, t = decompose_projection(P, f"{scene.path or scene.name} view {i}")
        Ks.append(K)
        Rs.append(R)
        ts.append(t)
    gt = None if scene.gt_points is None else scene.to_original(scene.gt_points)
    extra = {k: v for k, v in scene.extra.items() if k != "to_original"}
    return Scene(masks=scene.masks, K=np.stack(Ks), R=np.stack(Rs), t=np.stack(ts),
                 images=scene.images, gt_points=gt, name=scene.name, path=scene.path,
                 extra=extra)
