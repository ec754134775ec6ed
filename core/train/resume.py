"""What a resumed training must share with the run it continues, and how its worker processes
treat stop signals.

A checkpoint's ``info`` (core.train.checkpoint) records the data the run was trained on: the
dataset folder, a key of its index (:func:`data_key`: splits, categories and the generator's
settings in dataset.json, and the validation objects used), the image size and the input
kind (RGB images or masks). :func:`resume_problem` compares that record
with the data of the training about to continue it: another set of objects, another image
size or input kind would silently change what the network learns from (and best.pt, scored
on other validation objects, would never be replaced), so the resume is refused, naming what
differs. A moved or copied dataset with the same objects and sizes resumes.
"""

from __future__ import annotations

import hashlib
import json
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["data_key", "ignore_stop_signals", "resume_problem", "run_data"]


def data_key(dataset: Any, val_ids: Sequence[str]) -> str:
    """16 hex digits that change with ``dataset``'s index (its splits in order, categories
    and ``extra``: the generator's seed, views, resolution...) and the validation ids used."""
    text = json.dumps({"splits": dataset.splits, "categories": dataset.categories,
                       "extra": dataset.extra, "val": list(val_ids)}, sort_keys=True,
                      default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def run_data(dataset: Any, val_objects: int) -> dict[str, Any]:
    """The data record of a training of ``dataset`` (a core.io.dataset.DrwrDataset) that
    validates on its first ``val_objects`` validation objects (the train split's when it has
    none): dataset, data_key, train_objects, val_split, data_image_size (H, W: the dataset's
    images; a run's ``image_size`` is the grid it trains on, which a preset may make smaller)."""
    val_split = "val" if dataset.ids("val") else "train"
    train_ids = dataset.ids("train")
    return {"dataset": str(dataset.root), "train_objects": len(train_ids),
            "data_key": data_key(dataset, dataset.ids(val_split)[:val_objects]),
            "val_split": val_split, "data_image_size": list(dataset.image_size)}


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, (list, tuple)) else v


def _size(v: Any) -> str:
    return "x".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


def resume_problem(path: str | Path, saved: dict[str, Any], now: dict[str, Any]) -> str | None:
    """None when a run whose checkpoint ``path`` recorded ``saved`` (its ``info``) can continue
    on the data described by ``now`` (:func:`run_data`, plus ``input_kind`` once known); else
    one line naming the file and every difference. Keys missing on either side (older
    checkpoints have no data_key) are not compared; without a data_key the folders are."""
    diffs = []
    if "data_key" in saved and "data_key" in now:
        if saved["data_key"] != now["data_key"]:
            n, m = now.get("train_objects"), saved.get("train_objects")
            counts = f" ({n} train objects here, {m} in the run)" if n != m else ""
            diffs.append("another dataset index (objects, splits or generator settings in "
                         f"dataset.json) or validation set{counts}")
    elif "dataset" in saved and "dataset" in now:
        if Path(saved["dataset"]).resolve() != Path(now["dataset"]).resolve():
            diffs.append("another dataset folder")
    for key, name, show in (("data_image_size", "image size", _size),
                            ("input_kind", "input kind", str),
                            ("val_split", "validation split", str)):
        if key in saved and key in now and _plain(saved[key]) != _plain(now[key]):
            diffs.append(f"{name} {show(now[key])} here, {show(saved[key])} in the run")
    if not diffs:
        return None
    return (f"{path}: the run was trained on {saved.get('dataset', 'another dataset')}, not on "
            f"this data: {'; '.join(diffs)}; resume it with its own dataset or train into a "
            "new --out")


def ignore_stop_signals(*_: Any) -> None:
    """Worker-process initialiser (DataLoader ``worker_init_fn``, a process pool's
    ``initializer``): Ctrl-C and SIGTERM sent to the whole process group are left to the main
    process, which stops between steps and then ends its workers itself."""
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)
