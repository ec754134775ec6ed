"""A folder of DPC / DRC ShapeNet renders read as a training dataset (:class:`DrwrDataset`).

Layout (DPC's ``data/`` folder after ``download_train_data.sh <synset>`` and, optionally, the
ground-truth scripts), every part but the renders optional::

    data/
      renders/<synset>/<model>/render_0.png, camera_0.mat, ...   (one folder per object)
      splits/<synset>_train.txt, <synset>_val.txt, <synset>_test.txt   (one model id a line)
      splits/<synset>.file                                       (DRC's split file, used
                                                                  when a synset has no .txt)
      gt/downsampled/<synset>/<model>.mat                        ({"points": (N, 3)})

The folder given may also be ``renders/`` itself (``<synset>/<model>/``) or one synset folder
(``<model>/``; the folder's name is then the synset). Views and cameras are read as
:mod:`core.formats.dpc` reads one object (DPC's default camera path, from ``pos``), with
one difference: **no per-object normalisation**. ShapeNet models are already normalised and
aligned per category, so the OBJ files' frame is the dataset's canonical frame, the frame of
DPC's ground truth and predictions.

Ids are ``<synset>_<model>``; categories the ShapeNet names of the synsets (the synset id when
unknown). Splits come from ``splits/<synset>_<split>.txt`` when that synset has them, else
from DRC's ``splits/<synset>.file`` (read as DPC's ``create_tf_records.py: load_drc_split``
reads it: three header lines, then per split six lines ending in its name and model count,
then five lines per model ending in its id); a listed model without a render folder is an
error naming the split file. Without either a model goes to
train / val / test (70 / 10 / 20 %) by a hash of its id, which is stable as models are added.
Ground truth: ``gt/downsampled/<synset>/<model>.mat``, else ``gt/dense/...``, else a ``.mat``
with ``points`` in the model folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import scipy.io

from core.io.dataset import DrwrDataset, check_sizes
from core.io.scene import MAX_VIEWS, Scene, SceneError
from .common import View, add_view
from .dpc import is_dpc, read_mat, render_view

__all__ = ["is_dpc_dataset", "read_dpc_dataset", "load_dpc_object", "read_drc_split", "SYNSETS"]

#: ShapeNet synset id -> category name (the 13 categories of the single-view literature)
SYNSETS = {
    "02691156": "airplane", "02828884": "bench", "02933112": "cabinet", "02958343": "car",
    "03001627": "chair", "03211117": "display", "03636649": "lamp", "03691459": "speaker",
    "04090263": "rifle", "04256520": "sofa", "04379243": "table", "04401088": "telephone",
    "04530566": "watercraft",
}
SPLITS = ("train", "val", "test")


def _subdirs(p: Path) -> list[Path]:
    return sorted(q for q in p.iterdir() if q.is_dir()) if p.is_dir() else []


def _categories(root: Path) -> dict[str, Path]:
    """synset -> folder of its model folders ({} when the layout is not DPC's)."""
    base = root / "renders" if (root / "renders").is_dir() else root
    subs = _subdirs(base)
    if any(is_dpc(s) for s in subs[:3]):  # base is one synset folder
        return {base.name: base}
    out = {}
    for s in subs:
        models = _subdirs(s)
        if models and is_dpc(models[0]):
            out[s.name] = s
    return out


def is_dpc_dataset(path: str | Path) -> bool:
    """True when ``path`` holds DPC renders as <synset>/<model>/render_*.png (see module)."""
    p = Path(path)
    return p.is_dir() and not is_dpc(p) and bool(_categories(p))


def _hash_split(obj_id: str) -> str:
    h = int(hashlib.md5(obj_id.encode()).hexdigest()[:8], 16) / 16 ** 8
    return "train" if h < 0.7 else "val" if h < 0.8 else "test"


def read_drc_split(path: Path) -> dict[str, list[str]]:
    """DRC's ``splits/<synset>.file``: {split name: [model id, ...]} (see the module docstring;
    the layout is that of a Torch ASCII-serialised table). SceneError naming the file when it
    does not follow that layout."""
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    out: dict[str, list[str]] = {}
    k = 3  # a header of three lines
    try:
        while k < len(lines):
            name, count = lines[k + 2], int(lines[k + 5])
            k += 6
            if count < 0 or k + 5 * count > len(lines):
                raise ValueError
            out[name] = [lines[k + 5 * i + 4] for i in range(count)]
            k += 5 * count
    except (IndexError, ValueError):
        raise SceneError(f"{path}: not a DRC split file (line {k + 1}: expected a split name "
                         "and its model count)") from None
    return out


def _split_lists(root: Path, synset: str) -> dict[str, tuple[Path, list[str]]]:
    """split -> (file, model ids) from the .txt lists, else DRC's .file ({} when neither)."""
    files = {s: root / "splits" / f"{synset}_{s}.txt" for s in SPLITS}
    if any(f.is_file() for f in files.values()):
        return {s: (f, f.read_text().split()) for s, f in files.items() if f.is_file()}
    drc = root / "splits" / f"{synset}.file"
    if not drc.is_file():
        return {}
    lists = read_drc_split(drc)
    unknown = sorted(set(lists) - set(SPLITS))
    if unknown:
        raise SceneError(f"{drc}: unknown split {unknown[0]!r} (expected {', '.join(SPLITS)})")
    return {s: (drc, ids) for s, ids in lists.items()}


def _gt_file(root: Path, synset: str, folder: Path) -> Path | None:
    for kind in ("downsampled", "dense"):
        p = root / "gt" / kind / synset / f"{folder.name}.mat"
        if p.is_file():
            return p
    for p in sorted(folder.glob("*.mat")):
        if p.name.lower().startswith("camera_"):
            continue
        try:
            names = [n for n, *_ in scipy.io.whosmat(str(p))]
        except Exception:  # scipy raises several kinds for bad files
            raise SceneError(f"{p}: cannot read .mat") from None
        if "points" in names:
            return p
    return None


def load_dpc_object(folder: Path, gt_file: Path | None = None, res: int | None = None,
                    name: str | None = None) -> Scene:
    """One model folder as a Scene in the OBJ frame (no normalisation); masks from the renders'
    alpha, RGB composited on white, ``fx = fy = 1.875 W``. ``res``: longest side to
    area-average down to (default: native size)."""
    renders = []
    for p in folder.glob("render_*.png"):
        try:
            renders.append((int(p.stem.split("_", 1)[1]), p))
        except ValueError:
            continue
    if not renders:
        raise SceneError(f"{folder}: no render_<i>.png files")
    if len(renders) > MAX_VIEWS:
        raise SceneError(f"{folder}: {len(renders)} render_<i>.png files; a scene holds at most "
                         f"{MAX_VIEWS}")
    views: list[View] = []
    renders.sort()
    for num, img_path in renders:
        view = render_view(folder, num, img_path)
        add_view(views, view, res or max(view.mask.shape))
    gt = None
    if gt_file is not None:
        pts = np.asarray(read_mat(gt_file).get("points", np.zeros(0)), np.float64)
        if pts.ndim != 2 or pts.shape[1] != 3 or not len(pts) or not np.all(np.isfinite(pts)):
            raise SceneError(f"{gt_file}: 'points' must be a finite (N, 3) array, got "
                             f"{pts.shape}")
        gt = pts
    return Scene(masks=np.stack([v.mask for v in views]), K=np.stack([v.K for v in views]),
                 R=np.stack([v.R for v in views]), t=np.stack([v.t for v in views]),
                 images=[v.image for v in views], gt_points=gt, name=name or folder.name,
                 path=folder, extra={"format": "dpc", "source": str(folder),
                                     "ground_truth_source": str(gt_file) if gt_file else None,
                                     "render_files": [str(p) for _, p in renders]})


def read_dpc_dataset(path: str | Path, check_scenes: bool = True,
                     res: int | None = None) -> DrwrDataset:
    """The DPC renders under ``path`` as a DrwrDataset (see the module docstring).

    check_scenes: read every object (all rules of the drwr-dataset format: readable views,
    one image size); with False only the first training object is read. ``res``: working
    resolution (longest side; default native). SceneError naming the file otherwise."""
    root = Path(path)
    cats = _categories(root)
    if not cats:
        raise SceneError(f"{root}: no DPC renders found (expected <synset>/<model>/render_*.png "
                         "+ camera_*.mat, optionally under renders/)")
    folders: dict[str, tuple[str, Path]] = {}
    splits: dict[str, list[str]] = {s: [] for s in SPLITS}
    categories: dict[str, str] = {}
    for synset, base in cats.items():
        models = {m.name: m for m in _subdirs(base)}
        lists = _split_lists(root, synset)
        listed: dict[str, str] = {}
        if lists:
            for s, (f, ids) in lists.items():
                for line in ids:
                    if line not in models:
                        raise SceneError(f"{f}: model {line!r} has no render folder under "
                                         f"{base}")
                    if line in listed:
                        raise SceneError(f"{f}: model {line!r} is also in the {listed[line]!r} "
                                         "split (a model appears in at most one split)")
                    listed[line] = s
        else:
            listed = {m: _hash_split(f"{synset}_{m}") for m in models}
        for m, s in listed.items():
            obj_id = f"{synset}_{m}"
            splits[s].append(obj_id)
            folders[obj_id] = (synset, models[m])
            categories[obj_id] = SYNSETS.get(synset, synset)
    if not splits["train"]:
        raise SceneError(f"{root}: the 'train' split is empty (no model listed in "
                         "splits/<synset>_train.txt)")

    def loader(obj_id: str) -> Scene:
        if obj_id not in folders:
            raise SceneError(f"{root}: no object {obj_id!r}")
        synset, folder = folders[obj_id]
        return load_dpc_object(folder, _gt_file(root, synset, folder), res, obj_id)

    ds = DrwrDataset(root=root, splits={k: v for k, v in splits.items() if v or k == "train"},
                     categories=categories, extra={"format": "dpc"}, loader=loader)
    first = ds.splits["train"][0]
    size = ds.scene(first).resolution
    if check_scenes:
        for i in ds.all_ids():
            scene = ds.scene(i)
            files = scene.extra["render_files"]
            check_sizes(scene, i, size, first, lambda k, key, f=files: Path(f[k]))
    ds.image_size = size
    return ds
