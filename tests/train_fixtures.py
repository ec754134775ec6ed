"""A tiny drwr-dataset for the training tests, made here from the procedural shapes.

Written with write_scene + a hand-written dataset.json (only the reader under test is used):
objects are chairs, tables and airplanes stretched by random per-axis factors, each seen by
``views`` random cameras at ``res``², optional shaded RGB images, ground-truth points.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.evalsets import named_mesh
from core.io.mesh_scene import make_scene
from core.io.scene import write_scene

CATEGORIES = ("chair", "table", "airplane")


def shaded_images(masks: np.ndarray, colour: np.ndarray) -> list[np.ndarray]:
    """(I,H,W) masks -> I RGB uint8 images: a vertical gradient of ``colour`` on white."""
    out = []
    for m in masks:
        H, W = m.shape
        shade = np.linspace(1.0, 0.6, H)[:, None, None] * colour[None, None, :]
        img = np.where(m[..., None], shade * 255, 255.0)
        out.append(np.broadcast_to(img, (H, W, 3)).astype(np.uint8).copy())
    return out


def make_tiny_dataset(root: str | Path, per_category: int = 4, views: int = 3, res: int = 32,
                      seed: int = 0, images: bool = True, categories=CATEGORIES,
                      gt_points: int = 2000, holdout: tuple[int, int] = (1, 1)) -> Path:
    """Write a dataset of ``per_category`` objects per category; splits: the first
    ``holdout[0]`` objects of each category are val, the next ``holdout[1]`` test (when
    per_category > their sum), the rest train."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    cats: dict[str, str] = {}
    for c in categories:
        base = named_mesh(c)
        for k in range(per_category):
            mesh = base.copy()
            mesh.apply_scale(rng.uniform(0.7, 1.3, size=3))
            sc = make_scene(mesh, views=views, res=res, layout="random", gt_points=gt_points,
                            seed=int(rng.integers(1 << 30)))
            if images:
                sc.images = shaded_images(sc.masks, rng.uniform(0.2, 0.9, size=3))
            oid = f"{c}_{k:03d}"
            write_scene(sc, root / oid)
            cats[oid] = c
            nv, nt = holdout if per_category > sum(holdout) else (0, 0)
            split = "val" if k < nv else ("test" if k < nv + nt else "train")
            splits[split].append(oid)
    (root / "dataset.json").write_text(json.dumps(
        {"format": "drwr-dataset", "version": 1, "splits": splits, "categories": cats,
         "extra": {}}, indent=1))
    return root


if __name__ == "__main__":  # python tests/train_fixtures.py OUT PER_CATEGORY VIEWS RES N_VAL N_TEST
    import sys

    a = sys.argv[1:]
    make_tiny_dataset(a[0], int(a[1]), int(a[2]), int(a[3]), holdout=(int(a[4]), int(a[5])))
