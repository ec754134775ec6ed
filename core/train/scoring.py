"""Score single-view predictions on a dataset split, beside the two baselines.

For every object of the split the network's prediction from one input view
(``predict_fn(scene, view) -> (J, 3)`` in the canonical frame), the category medoid and the
silhouette-retrieval result are each scored against the object's ``gt_points``
(core.metrics.chamfer: CD ×100, the mean of its two halves, each a mean Euclidean
nearest-neighbour distance; and F-score at 0.01) — no alignment, the canonical frame is
shared. Which input views, by ``protocol``:

- ``view``: view ``view`` of every object (one prediction per object);
- ``dpc``: every view in turn, the object's numbers the mean over its views (DPC's
  ``dpc/run/eval_chamfer.py``: each half averaged over objects and views);
- ``drwr``: every view in turn, the object's numbers those of its best view, the one with the
  lowest CD (DRWR's released ``drwr/scripts/eval_chamfer_distance.py`` keeps, per object, the
  minimum over views of the two halves' sum).

The medoid is the same whatever the view; retrieval and the network are scored view by view.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from core.io.dataset import DrwrDataset
from core.io.scene import Scene, SceneError
from core.metrics import chamfer, fscore, silhouette_cover
from core.train.baselines import SilhouetteRetrieval, category_medoids

__all__ = ["score_split", "score_predictions", "format_table", "METHODS", "PROTOCOLS",
           "FSCORE_TAU", "DEFAULT_POINTS"]

METHODS = ("network", "medoid", "retrieval")
PROTOCOLS = ("view", "dpc", "drwr")
FSCORE_TAU = 0.01
DEFAULT_POINTS = 2048
PredictFn = Callable[[Scene, int], np.ndarray]


def score_predictions(pred: np.ndarray, cache: Any) -> dict[str, float]:
    """Scores of predictions pred (N, J, 3) for the N objects of a view cache
    (core.train.data.ViewCache: rows(k), K, R, t, mask, gt): silhouette coverage and inside
    fraction (core.metrics.silhouette_cover) always; CD×100, F-score@0.01 and the number of
    objects scored when some object has ground truth."""
    cds, fs, cover, inside = [], [], [], []
    for k, (p, gt) in enumerate(zip(pred, cache.gt)):
        r = cache.rows(k)
        cv, ins = silhouette_cover(p, cache.K[r], cache.R[r], cache.t[r], cache.mask[r] > 0)
        cover.append(cv)
        inside.append(ins)
        if gt is not None:
            cds.append(chamfer(p, gt)["cd"])
            fs.append(fscore(p, gt, 0.01))
    out = {"val_coverage": float(np.mean(cover)), "val_inside": float(np.mean(inside))}
    if cds:
        out.update(val_cd=float(np.mean(cds)), val_fscore=float(np.mean(fs)),
                   val_objects=len(cds))
    return out


def _predict(fn: PredictFn, scene: Scene, view: int, obj_id: str) -> np.ndarray:
    if not 0 <= view < scene.n_views:
        raise SceneError(f"{obj_id}: view {view} does not exist ({scene.n_views} views)")
    pred = np.asarray(fn(scene, view), np.float64)
    if pred.ndim != 2 or pred.shape[1] != 3 or not len(pred):
        raise ValueError(f"{obj_id}: the network predicted an array of shape {pred.shape}, "
                         "not (J, 3)")
    return pred


def _score(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    return {**chamfer(pred, gt), "fscore": fscore(pred, gt, FSCORE_TAU)}


def _combine(per_view: list[dict[str, float]], views: list[int], protocol: str) -> dict:
    """One object's score from its per-view scores: the mean (dpc) or the lowest-CD view's
    (drwr, recorded as ``view``); ``view`` protocol: the only one."""
    if protocol == "drwr":
        k = int(np.argmin([s["cd"] for s in per_view]))
        return {**per_view[k], "view": views[k]}
    return {key: float(np.mean([s[key] for s in per_view])) for key in per_view[0]}


def _mean(rows: list[dict], method: str) -> dict[str, float] | None:
    vals = [r[method] for r in rows if r.get(method)]
    if not vals:
        return None
    return {"cd": float(np.mean([v["cd"] for v in vals])),
            "fscore": float(np.mean([v["fscore"] for v in vals])), "n": len(vals)}


def score_split(ds: DrwrDataset, split: str = "test", predict_fn: PredictFn | None = None,
                   view: int = 0, n_points: int | None = None, progress: bool = False,
                   protocol: str = "view") -> dict:
    """Per-object, per-category and overall CD ×100 and F-score@0.01 of the network (when
    ``predict_fn``), the category medoid and silhouette retrieval (both fitted on "train"),
    from the input views of ``protocol`` (see the module docstring).

    n_points: points of the baselines' predictions (subsampled ground truth of training
    objects); default: as many as the network predicts (its first prediction's length), so
    every method is scored with the same density, or DEFAULT_POINTS without a network. Chamfer
    and above all F-score depend on it.

    Returns {"split", "view", "protocol", "methods", "objects": [{"id", "category",
    "medoid_id", "retrieved_id", <method>: {"cd", "cd_pred_gt", "cd_gt_pred", "fscore"(,
    "view" for drwr)}}], "categories": {cat: {<method>: {"cd", "fscore", "n"}}}, "overall":
    {<method>: ...} (mean over objects), "category_mean": {<method>: ...} (mean of the
    category means)}. SceneError naming the object when it has no ground truth or no view
    ``view``; ValueError for an empty split or an unknown protocol.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
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
        views = [view] if protocol == "view" else list(range(scene.n_views))
        if predict_fn is not None:
            scores = []
            for v in views:
                if first is not None and first[0] == obj_id and v == view:
                    pred = first[1]
                else:
                    pred = _predict(predict_fn, scene, v, obj_id)
                scores.append(_score(pred, gt))
            row["network"] = _combine(scores, views, protocol)
        if cat in medoids:
            row["medoid_id"] = medoids[cat][0]
            row["medoid"] = _score(medoids[cat][1], gt)
        found = [retrieval.predict(scene.masks[v]) for v in views]
        row["retrieved_id"] = found[0][0] if protocol == "view" else [f[0] for f in found]
        row["retrieval"] = _combine([_score(pts, gt) for _, pts in found], views, protocol)
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
    return {"split": split, "view": view, "protocol": protocol, "n_points": n_points,
            "fscore_tau": FSCORE_TAU,
            "methods": methods, "objects": rows, "categories": per_cat, "overall": overall,
            "category_mean": cat_mean}


def _cells(entry: dict, methods: list[str]) -> str:
    out = []
    for m in methods:
        v = entry.get(m)
        out.append(f"{v['cd']:9.3f} {v['fscore']:6.3f}" if v else f"{'-':>9} {'-':>6}")
    return "  ".join(out)


def format_table(result: dict, per_object: bool = True) -> str:
    """Plain-text tables (per object, per category, overall) of :func:`score_split`."""
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
