"""Readers for the dataset layouts users already have, detected from a folder's contents.

``detect_and_load(path, res=None, fmt=None, views=None, max_views=None) -> Scene``

=============  =================================================  ==============================
format         recognised by                                      module
=============  =================================================  ==============================
blender        transforms_{train,val,test}.json                   :mod:`.blender` (NeRF-synthetic)
nerfstudio     transforms.json                                    :mod:`.nerfstudio`
dtu            cameras_sphere.npz / cameras.npz (+ image/, mask/) :mod:`.dtu` (IDR / NeuS)
dpc            render_*.png + camera_*.mat                        :mod:`.dpc` (DPC / DRC ShapeNet)
colmap         cameras.txt + images.txt (here, sparse/0, sparse)  :mod:`.colmap`
=============  =================================================  ==============================

Every reader returns a Scene normalised into the canonical box (visual-hull bounding box
centred, diagonal 1) with ``extra["to_original"]`` (4x4, normalised -> the dataset's original
world); :func:`original_scene` gives the scene back in original coordinates (for metrics).
Bad data raises :class:`core.io.scene.SceneError` naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from core.io.scene import Scene, SceneError
from .blender import is_blender, load_blender
from .colmap import is_colmap, load_colmap
from .common import DEFAULT_RES, original_scene
from .dpc import is_dpc, load_dpc
from .dtu import is_dtu, load_dtu
from .nerfstudio import is_nerfstudio, load_nerfstudio

__all__ = ["detect_and_load", "detect_format", "original_scene", "FORMATS", "ALIASES",
           "DEFAULT_RES"]

#: name -> (detector, loader(path, res, views, max_views)), in detection order
FORMATS: dict[str, tuple[Callable[[Path], bool], Callable[..., Scene]]] = {
    "blender": (is_blender, load_blender),
    "nerfstudio": (is_nerfstudio, load_nerfstudio),
    "dtu": (is_dtu, load_dtu),
    "dpc": (is_dpc, load_dpc),
    "colmap": (is_colmap, load_colmap),
}
ALIASES = {"nerf": "blender", "nerf-synthetic": "blender", "nerf_synthetic": "blender",
           "idr": "dtu", "neus": "dtu", "drc": "dpc", "shapenet": "dpc"}


def detect_format(path: str | Path) -> str:
    """The format name of the dataset folder ``path``; SceneError when none matches."""
    p = Path(path)
    if not p.is_dir():
        raise SceneError(f"{p}: not a folder (datasets are folders)")
    for name, (detect, _) in FORMATS.items():
        if detect(p):
            return name
    raise SceneError(
        f"{p}: not a drwr-scene (no scene.json) and no known dataset layout found; looked for "
        "transforms_train.json (blender), transforms.json (nerfstudio), cameras.npz / "
        "cameras_sphere.npz (dtu), render_*.png + camera_*.mat (dpc), cameras.txt + images.txt "
        "(colmap)")


def detect_and_load(path: str | Path, res: int | None = None, fmt: str | None = None,
                    views: Sequence[int] | None = None,
                    max_views: int | None = None) -> Scene:
    """Read the dataset folder ``path`` as a normalised Scene.

    res: working resolution, longest image side in pixels (default 128; never upsampled).
    fmt: force a format (a key of FORMATS or an alias) instead of detecting it.
    views / max_views: keep only these view indices / the first N views (in the reader's
    order: split order, sorted files, or image id).
    """
    p = Path(path)
    if fmt is None:
        name = detect_format(p)
    else:
        name = ALIASES.get(fmt.lower(), fmt.lower())
        if name not in FORMATS:
            raise SceneError(f"unknown dataset format {fmt!r}; choose one of "
                             f"{', '.join(FORMATS)}")
        if not p.is_dir():
            raise SceneError(f"{p}: not a folder (datasets are folders)")
        if not FORMATS[name][0](p):
            raise SceneError(f"{p}: does not look like a {name} dataset (detected: "
                             f"{_try_detect(p)})")
    return FORMATS[name][1](p, res=res, views=views, max_views=max_views)


def _try_detect(p: Path) -> str:
    try:
        return detect_format(p)
    except SceneError:
        return "nothing known"
