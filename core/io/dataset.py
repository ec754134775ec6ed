"""Read and write ``drwr-dataset`` v1 folders (see shared/DATASET-FORMAT.md, docs/datasets.md).

A dataset is a folder of ``drwr-scene`` folders plus ``dataset.json``::

    {"format": "drwr-dataset", "version": 1,
     "splits": {"train": [ids], "val": [ids], "test": [ids]},
     "categories": {id: category}, "extra": {}}

All objects share one canonical frame: a scene's world frame *is* that frame (no per-object
normalisation). :func:`read_drwr_dataset` checks every rule of the format and raises
:class:`core.io.scene.SceneError` with one message naming the file and the problem.
:func:`core.formats.datasets.read_dataset` reads this format or a folder of DPC ShapeNet
renders.

"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from PIL import Image, UnidentifiedImageError

from core.io.scene import Scene, SceneError, load_json, read_scene, write_scene

__all__ = ["DrwrDataset", "read_drwr_dataset", "write_dataset", "is_drwr_dataset", "check_sizes",
           "DATASET_FORMAT", "DATASET_VERSION", "INDEX"]

DATASET_FORMAT = "drwr-dataset"
DATASET_VERSION = 1
INDEX = "dataset.json"


@dataclass
class DrwrDataset:
    """An index of objects: ``splits`` name -> ids ("train" non-empty), ``categories`` id ->
    category, ``image_size`` (H, W) shared by every view of every object.

    ``loader`` reads one object's Scene given its id (default: the drwr-scene folder
    ``root/id``); other layouts (DPC renders) set their own.
    """

    root: Path
    splits: dict[str, list[str]]
    categories: dict[str, str] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    image_size: tuple[int, int] = (0, 0)
    loader: Callable[[str], Scene] | None = field(default=None, repr=False, compare=False)

    def ids(self, split: str) -> list[str]:
        """The ids of ``split`` ([] when the dataset has no such split)."""
        return list(self.splits.get(split, []))

    def category(self, obj_id: str) -> str:
        """The category of ``obj_id`` ("" when unknown)."""
        return str(self.categories.get(obj_id, "") or "")

    def all_ids(self) -> list[str]:
        """Every listed id, split by split (train first)."""
        return [i for s in _split_order(self.splits) for i in self.splits[s]]

    def scene(self, obj_id: str) -> Scene:
        """The Scene of ``obj_id``; SceneError prefixed by the id (the scene reader's message
        names the file)."""
        try:
            if self.loader is not None:
                return self.loader(obj_id)
            return read_scene(self.root / obj_id)
        except SceneError as exc:
            raise SceneError(f"{obj_id}: {exc}") from None


def _split_order(splits: dict[str, list[str]]) -> list[str]:
    known = [s for s in ("train", "val", "test") if s in splits]
    return known + sorted(s for s in splits if s not in known)


def is_drwr_dataset(path: str | Path) -> bool:
    """True when ``path`` is a folder holding a dataset.json (or is that file)."""
    p = Path(path)
    return (p.is_dir() and (p / INDEX).is_file()) or (p.is_file() and p.name == INDEX)


def _check_index(meta: Any, index: Path) -> tuple[dict[str, list[str]], dict[str, str], dict]:
    """Splits, categories and extra of a parsed dataset.json; SceneError naming ``index``."""
    if not isinstance(meta, dict):
        raise SceneError(f"{index}: top level must be an object")
    if meta.get("format") != DATASET_FORMAT:
        raise SceneError(f"{index}: format must be {DATASET_FORMAT!r}, got "
                         f"{meta.get('format')!r}")
    if meta.get("version") != DATASET_VERSION:
        raise SceneError(f"{index}: unsupported version {meta.get('version')!r} (expected "
                         f"{DATASET_VERSION})")
    raw = meta.get("splits")
    if not isinstance(raw, dict):
        raise SceneError(f"{index}: 'splits' must be an object mapping split names to id lists")
    splits: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for name, ids in raw.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise SceneError(f"{index}: split {name!r} must be a list of id strings")
        for i in ids:
            if not i or i in (".", "..") or "/" in i or "\\" in i:
                raise SceneError(f"{index}: id {i!r} in split {name!r} is not a plain folder "
                                 "name")
            if i in seen:
                where = "twice in split" if seen[i] == name else f"in splits {seen[i]!r} and"
                raise SceneError(f"{index}: id {i!r} is listed {where} {name!r} (an id appears "
                                 "in at most one split, once)")
            seen[i] = name
        splits[str(name)] = list(ids)
    if not splits.get("train"):
        raise SceneError(f"{index}: the 'train' split is missing or empty")
    cats = meta.get("categories", {}) or {}
    if not isinstance(cats, dict) or not all(isinstance(v, str) for v in cats.values()):
        raise SceneError(f"{index}: 'categories' must map ids to category strings")
    extra = meta.get("extra", {}) or {}
    if not isinstance(extra, dict):
        raise SceneError(f"{index}: 'extra' must be an object")
    return splits, {str(k): v for k, v in cats.items()}, extra


def _image_size(path: Path) -> tuple[int, int]:
    """(H, W) of an image file from its header; SceneError naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return int(im.size[1]), int(im.size[0])
    except FileNotFoundError:
        raise SceneError(f"{path}: file is missing") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SceneError(f"{path}: image is too large to read ({exc})") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise SceneError(f"{path}: cannot read image ({exc.__class__.__name__})") from None


def _first_mask_size(folder: Path, obj_id: str) -> tuple[int, int]:
    sj = folder / "scene.json"
    try:
        views = load_json(sj).get("views") or []
        return _image_size(folder / str(views[0]["mask"]))
    except SceneError as exc:
        raise SceneError(f"{obj_id}: {exc}") from None
    except (AttributeError, IndexError, KeyError, TypeError):
        raise SceneError(f"{obj_id}: {sj}: no readable first view (not a drwr-scene)") from None


def _view_file(folder: Path, k: int, key: str) -> Path:
    """The file of view ``k``'s ``key`` ("mask" or "image") in a drwr-scene folder (the folder
    itself when scene.json does not say)."""
    try:
        return folder / str(json.loads((folder / "scene.json").read_text())["views"][k][key])
    except (OSError, ValueError, LookupError, TypeError, RecursionError):
        return folder


def check_sizes(scene: Scene, obj_id: str, size: tuple[int, int], first: str,
                view_file: Callable[[int, str], Path]) -> None:
    """SceneError naming the file when a mask or image of ``scene`` is not ``size`` (H, W).

    ``view_file(k, "mask" | "image")``: the file of view k's mask / image, for the message."""
    H, W = size
    if scene.resolution != size:
        h, w = scene.resolution
        raise SceneError(f"{view_file(0, 'mask')}: mask size {w}x{h} differs from the first "
                         f"object's ({first}) {W}x{H} (all views of all objects must share one "
                         "size)")
    for k, im in enumerate(scene.images or []):
        if im.shape[:2] != size:
            h, w = im.shape[:2]
            raise SceneError(f"{view_file(k, 'image')}: image size {w}x{h} differs from the "
                             f"first object's ({first}) {W}x{H} (all views of all objects must "
                             "share one size)")


def dataset_root(path: str | Path) -> Path:
    """The dataset folder of ``path`` (a folder, or its dataset.json)."""
    p = Path(path)
    return p.parent if p.is_file() and p.name == INDEX else p


def read_drwr_dataset(path: str | Path, check_scenes: bool = True) -> DrwrDataset:
    """Read a ``drwr-dataset`` v1 folder (or its dataset.json), checking every rule.

    check_scenes: read every listed scene (validating it and every mask/image size); with
    False only the folders' existence is checked and ``image_size`` is taken from the first
    object's first mask (fast for big datasets; a bad scene then surfaces when it is read).
    Raises SceneError with one message naming the file and the problem.
    """
    root = dataset_root(path)
    index = root / INDEX
    if not root.is_dir():
        raise SceneError(f"{root}: no such dataset folder")
    if not index.is_file():
        raise SceneError(f"{index}: missing (a drwr-dataset folder needs dataset.json)")
    splits, cats, extra = _check_index(load_json(index), index)
    ds = DrwrDataset(root=root, splits=splits, categories=cats, extra=extra)
    ids = ds.all_ids()
    for i in ids:
        if not (root / i).is_dir():
            raise SceneError(f"{index}: id {i!r} has no folder {root / i}")
    first = splits["train"][0]
    if not check_scenes:
        ds.image_size = _first_mask_size(root / first, first)
        return ds
    size: tuple[int, int] | None = None
    for i in [first] + [j for j in ids if j != first]:
        scene = ds.scene(i)
        if size is None:
            size = scene.resolution
        check_sizes(scene, i, size, first, lambda k, key, f=root / i: _view_file(f, k, key))
    ds.image_size = size  # type: ignore[assignment]
    return ds


def write_dataset(root: str | Path, scenes: dict[str, Scene], splits: dict[str, list[str]],
                  categories: dict[str, str], extra: dict | None = None) -> Path:
    """Write ``scenes`` (id -> Scene) as drwr-scene folders ``root/id`` plus dataset.json.

    Every id of ``splits`` must be a key of ``scenes`` or an existing drwr-scene folder under
    ``root`` (so objects can be written one by one, e.g. by worker processes). The index is
    checked with the reader's rules before anything is written (SceneError, a ValueError,
    otherwise); dataset.json is written last and atomically. Returns ``root``.
    """
    out = Path(root)
    meta = {"format": DATASET_FORMAT, "version": DATASET_VERSION,
            "splits": {k: list(v) for k, v in splits.items()},
            "categories": {k: v for k, v in categories.items()}, "extra": dict(extra or {})}
    _check_index(meta, out / INDEX)
    missing = [i for ids in splits.values() for i in ids
               if i not in scenes and not (out / i / "scene.json").is_file()]
    if missing:
        raise ValueError(f"write_dataset: no scene given for id {missing[0]!r}")
    out.mkdir(parents=True, exist_ok=True)
    for i, scene in scenes.items():
        write_scene(scene, out / i)
    tmp = out / (INDEX + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, out / INDEX)
    return out
