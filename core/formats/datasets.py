"""Datasets of many objects as training reads them: a ``drwr-dataset`` folder
(core.io.dataset) or a folder of DPC ShapeNet renders (:mod:`core.formats.dpc_dataset`, whose
docstring states its conventions)."""

from __future__ import annotations

from pathlib import Path

from core.io.dataset import INDEX, DrwrDataset, dataset_root, is_drwr_dataset, read_drwr_dataset
from core.io.scene import SceneError

from .dpc_dataset import is_dpc_dataset, read_dpc_dataset

__all__ = ["read_dataset", "is_dataset"]


def is_dataset(path: str | Path) -> bool:
    """True when ``path`` is a folder holding a dataset.json (or is that file), or a folder of
    DPC renders that :func:`read_dataset` reads as a dataset."""
    p = Path(path)
    if is_drwr_dataset(p):
        return True
    return p.is_dir() and not (p / "scene.json").is_file() and is_dpc_dataset(p)


def read_dataset(path: str | Path, check_scenes: bool = True) -> DrwrDataset:
    """A drwr-dataset folder (or its dataset.json), or a folder of DPC renders, read and
    checked (``check_scenes``: see core.io.dataset.read_drwr_dataset). Raises SceneError with
    one message naming the file and the problem."""
    root = dataset_root(path)
    if root.is_dir() and not (root / INDEX).is_file():
        if is_dpc_dataset(root):
            return read_dpc_dataset(root, check_scenes=check_scenes)
        raise SceneError(f"{root / INDEX}: missing (a drwr-dataset folder needs dataset.json; a "
                         "folder of DPC renders needs <synset>/<model>/render_*.png + "
                         "camera_*.mat)")
    return read_drwr_dataset(root, check_scenes=check_scenes)
