"""Choose between surface-correction weights on *training-distribution* scenes, never on the
held-out sets: fresh random assemblies and demo shapes (scene indices from 1 000 000 on, which
training never draws), with the training script's random views, layouts and sizes.

    python scripts/validate_surface_correction.py --weights old.npz,new.npz --scenes 12

Per weights file (and for the 2-output ones, the median and the cautious rule) it prints the
mean ratio of the fit start's CD (hull-surface samples, corrected, farthest-point thinned to
J = 2000, snapped into the masks) to the uncorrected start's, and the worst scene's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_surface_correction as tsc  # noqa: E402

FIRST = 1_000_000


def main(argv: list[str] | None = None) -> int:
    import torch

    from core.geometry.shapes import normalise
    from core.hull.correction import correct_points, load_model
    from core.hull.prior import HullPrior, farthest_point_sample
    from core.hull.snap import snap_inside
    from core.hull.visual_hull import carving_maps
    from core.io.mesh_scene import make_scene, sample_surface
    from core.io.scene import SceneError
    from core.metrics import evaluate

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True, help="comma list of .npz files")
    ap.add_argument("--scenes", type=int, default=12)
    ap.add_argument("--seed", type=int, default=2000)
    ap.add_argument("--points", type=int, default=2000)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    variants = []
    for w in a.weights.split(","):
        m = load_model(w)
        variants += [(f"{Path(w).name} median", m, False)]
        if m.outputs > 1:
            variants += [(f"{Path(w).name} cautious", m, True)]
    ratios = {v[0]: [] for v in variants}
    for i in range(FIRST, FIRST + a.scenes):
        spec = tsc.scene_spec(i, a.seed, 0.7)
        mesh = tsc.scene_mesh(spec)
        try:
            scene = make_scene(mesh, views=spec["views"], res=spec["res"],
                               layout=spec["layout"], seed=spec["cam_seed"], gt_points=0)
        except SceneError:
            continue
        norm = normalise(mesh)
        scene.gt_points = sample_surface(norm.vertices, norm.faces, 30_000, 1)
        prior = HullPrior(scene, 128, level=0.5)
        cand = sample_surface(prior.vertices, prior.faces, 4 * a.points, 0)
        maps = carving_maps(scene.masks, level=0.5)

        def cd(P):
            return evaluate(snap_inside(farthest_point_sample(P, a.points, 0), scene), scene)["cd"]

        plain = cd(cand)
        row = [f"{i}: {spec['source']:10s} {spec['views']:2d} {spec['layout']:9s} "
               f"{spec['res']:3d}px plain {plain:.3f}"]
        for name, m, cautious in variants:
            r = cd(correct_points(scene, prior.volume, maps, cand, 0.5, m, cautious).points) / plain
            ratios[name].append(r)
            row.append(f"{r:.3f}")
        print(" ".join(row), flush=True)
    for name, r in ratios.items():
        print(f"{name}: mean ratio {np.mean(r):.3f}, worst {np.max(r):.3f} ({len(r)} scenes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
