"""Render the parametric families (core.train.families) into a ``drwr-dataset``.

One object = one random family member in the canonical frame (z up, front +x, bounding box
centred, diagonal 1), ``views`` random cameras looking at the origin from distance
``CAMERA_RADIUS`` (field of view chosen so the ball of radius 0.58 fits the image), exact
masks (core.geometry.rasterize), flat-shaded Lambertian RGB on white (core.geometry.shade)
and ``n_points`` ground-truth points on the outer surface. Objects are independent and seeded
by (seed, family, index), so the output is the same for any number of worker processes.
"""

from __future__ import annotations

import colorsys
import math
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from core.geometry.cameras import intrinsics, look_at
from core.geometry.rasterize import render_silhouettes
from core.geometry.shade import shade_mesh
from core.io.dataset import write_dataset
from core.io.scene import Scene, write_scene
from core.train.families import CATEGORIES, build
from core.train.parts import Assembly, surface_points
from core.train.resume import ignore_stop_signals

__all__ = ["make_dataset", "make_object", "random_cameras", "split_counts", "CAMERA_RADIUS",
           "FRAME", "DatasetStopped"]


class DatasetStopped(Exception):
    """``make_dataset`` was asked to stop: ``done`` of ``total`` objects had been written,
    and were removed again with the folder it made (``out`` is as it was before)."""

    def __init__(self, out: Path, done: int, total: int) -> None:
        super().__init__(f"{out}: stopped after {done} of {total} objects; the partial "
                         "dataset was removed (run make-dataset again to write it)")
        self.done, self.total = done, total

CAMERA_RADIUS = 2.0
FOV_DEG = 2 * math.degrees(math.asin(0.58 / CAMERA_RADIUS))
FRAME = ("z up, front towards +x; bounding box centred at the origin with diagonal 1 (inside "
         "the unit cube [-0.5, 0.5]^3)")


def random_cameras(n: int, res: int, rng: np.random.Generator,
                   elevation: tuple[float, float] = (-90.0, 90.0)
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` cameras at distance CAMERA_RADIUS looking at the origin (image up = world +z),
    directions uniform by area over azimuth [0, 360) and ``elevation`` (degrees) — the whole
    sphere by default. Returns K, R (n,3,3), t (n,3)."""
    lo, hi = (math.sin(math.radians(e)) for e in elevation)
    z = rng.uniform(lo, hi, n)
    az = rng.uniform(0, 2 * math.pi, n)
    rxy = np.sqrt(np.clip(1 - z * z, 0, None))
    dirs = np.stack([rxy * np.cos(az), rxy * np.sin(az), z], 1)
    Rs, ts = zip(*(look_at(CAMERA_RADIUS * d) for d in dirs))
    K = np.repeat(intrinsics(res, FOV_DEG)[None], n, 0)
    return K, np.stack(Rs), np.stack(ts)


def _colours(kinds: list[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """An albedo per part kind: one colour for the whole object (30 %) or one per kind."""
    def one() -> np.ndarray:
        return np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.15, 0.8),
                                            rng.uniform(0.3, 0.85)))
    uniq = sorted(set(kinds))
    if rng.random() < 0.3:
        c = one()
        return {k: c for k in uniq}
    return {k: one() for k in uniq}


def make_object(category: str, index: int, views: int = 5, res: int = 64, seed: int = 0,
                n_points: int = 8192, elevation: tuple[float, float] = (-90.0, 90.0)
                ) -> Scene:
    """Object ``index`` of ``category`` for ``seed``: a Scene with masks, RGB images, cameras
    and ground truth, named ``<category>_<index:04d>``."""
    fam = CATEGORIES.index(category) if category in CATEGORIES else -1
    rng = np.random.default_rng([seed, fam + 1, index])
    obj = Assembly.of(build(category, rng))
    K, R, t = random_cameras(views, res, rng, elevation)
    masks = render_silhouettes(obj.vertices, obj.faces, K, R, t, res, res)
    col = _colours(obj.kinds, rng)
    fc = np.stack([col[obj.kinds[p]] for p in obj.face_part])
    images, _ = shade_mesh(obj.vertices, obj.faces, fc, K, R, t, res, res)
    gt = surface_points(obj, n_points, seed=int(rng.integers(1 << 31)))
    extra = {"category": category, "index": index, "seed": seed, "frame": FRAME,
             "camera_radius": CAMERA_RADIUS, "fov_deg": FOV_DEG}
    return Scene(masks=masks, K=K, R=R, t=t, images=list(images), gt_points=gt,
                 name=f"{category}_{index:04d}", extra=extra)


def split_counts(n: int, fractions: Sequence[float] = (0.7, 0.1, 0.2)) -> tuple[int, int, int]:
    """(train, val, test) counts of ``n`` objects: rounded fractions, at least one val object
    from 4 objects on and one test object from 2 on (when their fraction is > 0), train >= 1."""
    if n < 1:
        raise ValueError(f"need at least one object per category, got {n}")
    fv, ft = fractions[1], fractions[2]
    n_test = max(round(ft * n), 1 if ft > 0 and n >= 2 else 0)
    n_val = max(round(fv * n), 1 if fv > 0 and n >= 4 else 0)
    n_test = min(n_test, n - 1)
    n_val = min(n_val, n - 1 - n_test)
    return n - n_val - n_test, n_val, n_test


def _write_one(job: tuple) -> tuple[str, str]:
    out, category, index, views, res, seed, n_points, elevation = job
    scene = make_object(category, index, views, res, seed, n_points, elevation)
    write_scene(scene, Path(out) / scene.name)
    return scene.name, category


def make_dataset(out: str | Path, per_category: int = 50,
                 categories: Sequence[str] = ("chair", "table", "airplane"), views: int = 5,
                 res: int = 64, seed: int = 0, progress: bool = True, workers: int | None = None,
                 n_points: int = 8192, fractions: Sequence[float] = (0.7, 0.1, 0.2),
                 elevation: tuple[float, float] = (-90.0, 90.0),
                 stop: Callable[[], bool] | None = None) -> Path:
    """Write a drwr-dataset of ``per_category`` objects of each family in ``categories`` to
    ``out`` (a new or empty folder) and return it. Splits per category by
    :func:`split_counts` in index order (objects are i.i.d.); ids ``<category>_<index:04d>``.
    ``workers`` processes (default: up to 4, one per CPU; they leave Ctrl-C and SIGTERM to
    this process); ``progress`` shows a tqdm bar. ``stop()`` is asked between objects: when
    it says True, the objects being made are finished, no others are started, everything
    written is removed and :class:`DatasetStopped` raised. Raises ValueError for bad
    arguments or a non-empty ``out``."""
    from tqdm import tqdm

    cats = list(dict.fromkeys(categories))
    bad = [c for c in cats if c not in CATEGORIES]
    if bad or not cats:
        raise ValueError(f"unknown category {bad[0] if bad else '(none)'!r}; choose from "
                         f"{', '.join(CATEGORIES)}")
    if views < 1 or res < 8 or n_points < 1:
        raise ValueError(f"need views >= 1, res >= 8 and points >= 1 (got {views}, {res}, "
                         f"{n_points})")
    lo, hi = elevation
    if not -90 <= lo < hi <= 90:
        raise ValueError(f"elevation range must satisfy -90 <= lo < hi <= 90, got {elevation}")
    root = Path(out)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ValueError(f"{root}: exists and is not an empty folder (will not overwrite)")
    made = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    counts = split_counts(per_category, fractions)
    jobs = [(str(root), c, k, views, res, seed, n_points, (lo, hi))
            for c in cats for k in range(per_category)]
    n_workers = min(len(jobs), workers if workers else min(os.cpu_count() or 1, 4))
    bar = tqdm(total=len(jobs), desc="make-dataset", unit="obj", disable=not progress)
    stop = stop or (lambda: False)
    results: list[tuple[str, str]] = []
    if n_workers <= 1:
        for j in jobs:
            if stop():
                break
            results.append(_write_one(j))
            bar.update()
    else:
        ex = ProcessPoolExecutor(n_workers, initializer=ignore_stop_signals)
        try:
            futures = [ex.submit(_write_one, j) for j in jobs]
            for f in futures:
                if stop():
                    break
                results.append(f.result())
                bar.update()
        finally:  # a stop: the objects under way finish, the others never start
            ex.shutdown(wait=True, cancel_futures=True)
    bar.close()
    if len(results) < len(jobs):
        for j in jobs:
            shutil.rmtree(root / f"{j[1]}_{j[2]:04d}", ignore_errors=True)
        if made:
            shutil.rmtree(root, ignore_errors=True)
        raise DatasetStopped(root, len(results), len(jobs))
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for c in cats:
        ids = [i for i, cat in results if cat == c]
        a, b = counts[0], counts[0] + counts[1]
        splits["train"] += ids[:a]
        splits["val"] += ids[a:b]
        splits["test"] += ids[b:]
    splits = {k: v for k, v in splits.items() if v or k == "train"}
    extra = {"generator": "drwr-studio make-dataset", "seed": seed, "views": views, "res": res,
             "points": n_points, "frame": FRAME, "elevation_deg": [lo, hi],
             "camera_radius": CAMERA_RADIUS, "fov_deg": FOV_DEG}
    return write_dataset(root, {}, splits, {i: c for i, c in results}, extra)
