"""Neighbourhood context of the learned surface correction: the k-d tree's pair list against
the dense blocks (core.correction.context), on the hull-surface pools the default fit corrects.

    python benchmarks/context_speed.py

Both methods run on one thread (BLAS included, unless OMP_NUM_THREADS etc. say otherwise).

For each scene (a procedural shape, cameras all around): the pool of 4·J hull-surface
samples that ``HullField.surface_points`` corrects, the average number of context samples
in the largest ball (8 px), the seconds of ``context_features`` with each method, their
ratio (tree / dense), which one ``pairs="auto"`` takes, and the largest difference between
the two results (the same balls summed in another order: float32 rounding at most).
Small images are where the balls are crowded: 8 pixels are a large part of the object.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # one thread for both methods (the k-d tree's is one)

import numpy as np  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.correction import context as C  # noqa: E402
from core.correction.depth import N_OWN, point_features  # noqa: E402
from core.correction.hull_field import HullField  # noqa: E402
from core.hull.visual_hull import carving_maps  # noqa: E402
from core.io.mesh_scene import make_scene, sample_surface  # noqa: E402
from core.evalsets import named_mesh  # noqa: E402

#: (shape, views, image size, J)
SCENES = [("blob", 4, 32, 2000), ("chair", 4, 32, 2000), ("blob", 8, 64, 2000),
          ("chair", 8, 64, 2000), ("chair", 20, 128, 8000), ("airplane", 12, 128, 4000)]


def _time(fn, repeat: int) -> tuple[float, np.ndarray]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=1, help="timings per method (the best kept)")
    a = ap.parse_args(argv)
    print(f"{'scene':<22} {'pool':>6} {'ball':>6} {'tree s':>7} {'dense s':>8} "
          f"{'tree/dense':>10} {'auto':>6} {'max diff':>9}")
    for shape, views, res, J in SCENES:
        scene = make_scene(named_mesh(shape), views=views, res=res, layout="random", seed=1,
                           gt_points=0)
        prior = HullField(scene)
        P = sample_surface(prior.vertices, prior.faces, 4 * J, 0)
        maps = carving_maps(scene.masks, level=prior.level)
        X, n, px = point_features(scene, prior.volume, maps, P, prior.level, pairs="tree")
        own = X[:, :N_OWN].astype(np.float64)  # a sample's own features come first
        tree = cKDTree(P[C.context_subset(len(P))])
        scale = float(np.median(px))
        t_tree, x_tree = _time(lambda: C.context_features(P, n, px, own, "tree"), a.repeat)
        t_dense, x_dense = _time(lambda: C.context_features(P, n, px, own, "dense"), a.repeat)
        ball, auto = C.crowding(tree, scale), C.auto_pairs(tree, scale)
        print(f"{f'{shape} {views}v {res}px J={J}':<22} {len(P):>6} {ball:>6.0f} {t_tree:>7.2f} "
              f"{t_dense:>8.2f} {t_tree / t_dense:>10.1f} {auto:>6} "
              f"{np.abs(x_tree - x_dense).max():>9.1e}", flush=True)
    return 0


if __name__ == "__main__":
    from bench_results import record

    raise SystemExit(record("context_speed", main))
