"""Score single-view predictions on a dataset split, beside the two baselines.

For every object of the split, the input is view ``view`` (its image or mask); the network's
prediction (``predict_fn(scene, view) -> (J, 3)`` in the canonical frame), the category medoid
and the silhouette-retrieval result are each scored against the object's ``gt_points`` with
the DPC protocol (core.metrics.chamfer: CD ×100, mean Euclidean nearest-neighbour distance of
both directions) and F-score at 0.01 — no alignment, the canonical frame is shared.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from core.io.dataset import DrwrDataset
from core.io.scene import Scene, SceneError
from core.metrics import chamfer, fscore
from core.train.baselines import SilhouetteRetrieval, category_medoids

__all__ = ["evaluate_split", "format_table", "METHODS", "FSCORE_TAU", "DEFAULT_POINTS"]

METHODS = ("network", "medoid", "retrieval")
FSCORE_TAU = 0.01
DEFAULT_POINTS = 2048
PredictFn = Callable[[Scene, int], np.ndarray]


def _predict(fn: PredictFn, scene: Scene, view: int, obj_id: str) -> np.ndarray:
    if not 0 <= view < scene.n_views:
        raise SceneError(f"{obj_id}: view {view} does not exist ({scene.n_views} views)")
    pred = np.asarray(fn(scene, view), np.float64)
    if pred.ndim != 2 or pred.shape[1] != 3 or not len(pred):
        raise ValueError(f"{obj_id}: the network predicted an array of shape {pred.shape}, "
                         "not (J, 3)")
    return pred


def _score(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    return {"cd": chamfer(pred, gt)["cd"], "fscore": fscore(pred, gt, FSCORE_TAU)}


def _mean(rows: list[dict], method: str) -> dict[str, float] | None:
    vals = [r[method] for r in rows if r.get(method)]
    if not vals:
        return None
    return {"cd": float(np.mean([v["cd"] for v in vals])),
            "fscore": float(np.mean([v["fscore"] for v in vals])), "n": len(vals)}


def evaluate_split(ds: DrwrDataset, split: str = "test", predict_fn: PredictFn | None = None,
                   view: int = 0, n_points: int | None = None, progress: bool = False) -> dict:
    """Per-object, per-category and overall CD ×100 and F-score@0.01 of the network (when
    ``predict_fn``), the category medoid and silhouette retrieval (both fitted on "train").

    n_points: points of the baselines' predictions (subsampled ground truth of training
    objects); default: as many as the network predicts (its first prediction's length), so
    every method is scored with the same density, or DEFAULT_POINTS without a network. Chamfer
    and above all F-score depend on it.

    Returns {"split", "view", "methods", "objects": [{"id", "category", "medoid_id",
    "retrieved_id", <method>: {"cd", "fscore"}}], "categories": {cat: {<method>: {"cd",
    "fscore", "n"}}}, "overall": {<method>: ...} (mean over objects), "category_mean":
    {<method>: ...} (mean of the category means)}. SceneError naming the object when it has
    no ground truth or no view ``view``; ValueError for an empty split.
    """
    ids = ds.ids(split)
    if not ids:
        raise ValueError(f"{ds.root}: split {split!r} is empty or missing (splits: "
                         f"{', '.join(ds.splits)})")
    first: tuple[str, np.ndarray] | None = None
    if n_points is None:
        if predict_fn is not None:
            first = (ids[0], _predict(predict_fn, ds.scene(ids[0]), view, ids[0]))
            n_points = len(first[1])
        else:
            n_points = DEFAULT_POINTS
    medoids = category_medoids(ds, "train", n_points)
    retrieval = SilhouetteRetrieval(n_points=n_points).fit(ds, "train")
    methods = [m for m in METHODS if m != "network" or predict_fn is not None]
    rows = []
    from tqdm import tqdm

    for obj_id in tqdm(ids, desc=f"evaluate {split}", unit="obj", disable=not progress):
        scene = ds.scene(obj_id)
        if scene.gt_points is None or not len(scene.gt_points):
            raise SceneError(f"{obj_id}: {scene.path or obj_id}: no ground truth (gt_points) to "
                             "score against")
        if not 0 <= view < scene.n_views:
            raise SceneError(f"{obj_id}: view {view} does not exist ({scene.n_views} views)")
        gt = scene.gt_points
        cat = ds.category(obj_id)
        row: dict = {"id": obj_id, "category": cat}
        if predict_fn is not None:
            if first is not None and first[0] == obj_id:
                pred = first[1]
            else:
                pred = _predict(predict_fn, scene, view, obj_id)
            row["network"] = _score(pred, gt)
        if cat in medoids:
            row["medoid_id"] = medoids[cat][0]
            row["medoid"] = _score(medoids[cat][1], gt)
        rid, rpts = retrieval.predict(scene.masks[view])
        row["retrieved_id"] = rid
        row["retrieval"] = _score(rpts, gt)
        rows.append(row)
    cats = sorted({r["category"] for r in rows})
    per_cat = {c: {m: _mean([r for r in rows if r["category"] == c], m) for m in methods}
               for c in cats}
    overall = {m: _mean(rows, m) for m in methods}
    cat_mean = {}
    for m in methods:
        vals = [per_cat[c][m] for c in cats if per_cat[c][m]]
        cat_mean[m] = None if not vals else {
            "cd": float(np.mean([v["cd"] for v in vals])),
            "fscore": float(np.mean([v["fscore"] for v in vals])), "n": len(vals)}
    return {"split": split, "view": view, "n_points": n_points, "fscore_tau": FSCORE_TAU,
            "methods": methods, "objects": rows, "categories": per_cat, "overall": overall,
            "category_mean": cat_mean}


def _cells(entry: dict, methods: list[str]) -> str:
    out = []
    for m in methods:
        v = entry.get(m)
        out.append(f"{v['cd']:9.3f} {v['fscore']:6.3f}" if v else f"{'-':>9} {'-':>6}")
    return "  ".join(out)


def format_table(result: dict, per_object: bool = True) -> str:
    """Plain-text tables (per object, per category, overall) of :func:`evaluate_split`."""
    methods = result["methods"]
    head = "  ".join(f"{m + ' CD':>9} {'F@.01':>6}" for m in methods)
    lines = []
    if per_object:
        lines += [f"{'object':<28} {'category':<10} {head}"]
        for r in result["objects"]:
            lines.append(f"{r['id'][:28]:<28} {r['category'][:10]:<10} {_cells(r, methods)}")
        lines.append("")
    lines.append(f"{'category':<28} {'n':>10} {head}")
    for c, entry in result["categories"].items():
        n = max((v["n"] for v in entry.values() if v), default=0)
        lines.append(f"{(c or '(none)')[:28]:<28} {n:>10} {_cells(entry, methods)}")
    n = len(result["objects"])
    lines.append(f"{'overall (mean of objects)':<28} {n:>10} {_cells(result['overall'], methods)}")
    lines.append(f"{'mean of categories':<28} {len(result['categories']):>10} "
                 f"{_cells(result['category_mean'], methods)}")
    return "\n".join(lines)
