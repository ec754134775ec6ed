"""IDR / NeuS DTU scans: ``image/``, ``mask/`` and ``cameras.npz`` / ``cameras_sphere.npz``.

Layout (IDR's ``data/DTU/scan65``, NeuS's ``public_data/dtu_scan65``)::

    scan65/
      cameras.npz | cameras_sphere.npz   world_mat_0, scale_mat_0, world_mat_1, ...
      image/000000.png ...               (``images/`` accepted too)
      mask/000.png ...                   (``masks/`` accepted too); foreground > 127 in grey

Images and masks are paired in sorted file-name order (as IDR and NeuS do); view i uses
``world_mat_i`` and ``scale_mat_i``.

Conventions (source: IDR ``utils/rend_util.py: load_K_Rt_from_P`` and NeuS
``models/dataset.py``):

- ``world_mat`` is the 4x4 projection ``K [R | t]`` of the original (DTU) world; ``scale_mat``
  maps the normalised unit-sphere frame to it. ``P = (world_mat @ scale_mat)[:3, :4]`` projects
  normalised coordinates; it is split into K, R, t by an RQ decomposition
  (:func:`core.formats.common.decompose_projection`: K with a positive diagonal and
  ``K[2, 2] = 1``, ``det(R) = +1``).
- Pixels: IDR and NeuS cast the ray of pixel (i, j) through the integer coordinates (i, j)
  (``np.mgrid`` / ``linspace(0, W-1, W)``), i.e. pixel centres at integers, as ours: K is used
  as is.
- ``to_original`` includes ``scale_mat``, so exported clouds are in DTU's original world
  coordinates (those of the DTU reference point clouds). A missing ``scale_mat_i`` counts as
  the identity.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from core.io.scene import Scene, SceneError, read_mask
from .common import View, add_view, decompose_projection, finish, read_rgb_alpha, select

__all__ = ["load_dtu", "is_dtu", "CAMERA_FILES"]

CAMERA_FILES = ("cameras_sphere.npz", "cameras.npz", "cameras_large.npz")
_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def is_dtu(path: Path) -> bool:
    return any((path / f).is_file() for f in CAMERA_FILES)


def _files(folder: Path, names: tuple[str, ...], what: str) -> list[Path]:
    for n in names:
        d = folder / n
        if d.is_dir():
            return sorted(p for p in d.iterdir() if p.suffix.lower() in _EXTS)
    raise SceneError(f"{folder}: no {what} folder (expected {' or '.join(names)}/)")


def _matrix(npz: dict, key: str, where: Path) -> np.ndarray:
    if key not in npz:
        raise SceneError(f"{where}: missing {key!r}")
    M = np.asarray(npz[key], np.float64)
    if M.shape not in ((4, 4), (3, 4)) or not np.all(np.isfinite(M)):
        raise SceneError(f"{where}: {key} must be a finite 4x4 matrix, got shape {M.shape}")
    return np.vstack([M[:3], [0.0, 0.0, 0.0, 1.0]])


def load_dtu(path: str | Path, res: int | None = None, views: Sequence[int] | None = None,
             max_views: int | None = None) -> Scene:
    """Read an IDR / NeuS DTU-style folder (see the module docstring)."""
    folder = Path(path)
    cam_file = next(folder / f for f in CAMERA_FILES if (folder / f).is_file())
    try:
        with np.load(cam_file, allow_pickle=False) as z:
            npz = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SceneError(f"{cam_file}: cannot read ({exc.__class__.__name__})") from None
    images = _files(folder, ("image", "images"), "image")
    masks = _files(folder, ("mask", "masks"), "mask")
    if len(masks) != len(images):
        raise SceneError(f"{folder}: {len(images)} images but {len(masks)} masks (one mask per "
                         "image, paired in sorted order)")
    idx = select(len(images), views, max_views, str(folder))
    scale0 = None
    out = []
    for i in idx:
        wm = _matrix(npz, f"world_mat_{i}", cam_file)
        key = f"scale_mat_{i}"
        sm = _matrix(npz, key, cam_file) if key in npz else np.eye(4)
        if scale0 is None:
            scale0 = sm
        elif not np.allclose(sm, scale0, rtol=1e-6, atol=1e-9):
            raise SceneError(f"{cam_file}: {key} differs from the first view's scale matrix "
                             "(all views must share one normalisation)")
        where = f"{cam_file} world_mat_{i}"
        K, R, t = decompose_projection(wm @ sm, where)
        rgb, _ = read_rgb_alpha(images[i])
        mask = read_mask(masks[i])
        add_view(out, View(K, R, t, mask, rgb, f"{where} ({images[i].name})",
                           str(masks[i])), res)
    if abs(np.linalg.det(scale0[:3, :3])) < 1e-300:
        raise SceneError(f"{cam_file}: scale_mat is singular")
    return finish(out, name=folder.name, path=folder, to_original=scale0,
                  extra={"source": str(folder), "format": "dtu", "cameras": cam_file.name})
