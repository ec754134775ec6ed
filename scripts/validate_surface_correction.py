"""Choose between surface-correction weights on *training-distribution* scenes, never on the
held-out sets: fresh random assemblies, demo shapes and solids (scene indices from 1 000 000
on, which training never draws), with the training script's random views, layouts and sizes.

    python scripts/validate_surface_correction.py --weights old.npz,new.npz --scenes 12
    python scripts/validate_surface_correction.py --weights a.npz,b.npz --fit --first 1000100 --scenes 76

Per weights file (and for the 2-output ones, the median and the cautious rule) it prints the
mean ratio of the fit start's CD (hull-surface samples, corrected, farthest-point thinned to
J = 2000, snapped into the masks) to the uncorrected start's, and the worst scene's.
``--fit``: instead, the whole default fit with each weights file, as the ratio of its CD to
the plain 128³ voxel hull's (J = 2000 below 128 px, 8000 from 16 views at 128 px and more,
else 4000): how docs/accuracy.md chose the default's parts (``--min-views``, ``--rough-only``
select scenes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from core.correction.recipe import SOLID_P, scene_mesh, scene_spec  # noqa: E402

FIRST = 1_000_000


def main(argv: list[str] | None = None) -> int:
    import torch

    from core.correction.depth import correct_points, load_model
    from core.correction.hull_field import HullField
    from core.geometry.pointcloud import farthest_point_sample
    from core.hull.snap import snap_inside
    from core.hull.visual_hull import carving_maps
    from core.io.mesh_scene import sample_surface
    from core.metrics import cloud_metrics

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True, help="comma list of .npz files")
    ap.add_argument("--scenes", type=int, default=12)
    ap.add_argument("--seed", type=int, default=2000)
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--first", type=int, default=FIRST, help=f"first scene index (>= {FIRST})")
    ap.add_argument("--fit", action="store_true", help="whole default fit vs the voxel hull")
    ap.add_argument("--min-views", type=int, default=0)
    ap.add_argument("--rough-only", action="store_true", help="only scanner-like scenes")
    ap.add_argument("--solids", type=float, default=SOLID_P,
                    help="fraction of flat-faced solids among the scenes, as in training; 0 "
                    "draws the same scenes without any solid")
    a = ap.parse_args(argv)
    if a.first < FIRST:
        ap.error(f"--first must be >= {FIRST}: lower indices are training scenes")
    torch.set_num_threads(1)
    if a.fit:
        return _fit_ratios(a)
    variants = []
    for w in a.weights.split(","):
        m = load_model(w)
        variants += [(f"{Path(w).name} median", m, False)]
        if m.outputs > 1:
            variants += [(f"{Path(w).name} cautious", m, True)]
    ratios = {v[0]: [] for v in variants}
    for i, spec, scene in _validation_scenes(a):
        prior = HullField(scene, 128, level=0.5)
        cand = sample_surface(prior.vertices, prior.faces, 4 * a.points, 0)
        maps = carving_maps(scene.masks, level=0.5)

        def cd(P):
            return cloud_metrics(snap_inside(farthest_point_sample(P, a.points, 0), scene), scene)["cd"]

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


def _validation_scenes(a):
    """(index, spec, scene with 50k ground-truth samples) of the selected validation scenes."""
    from core.geometry.shapes import normalise
    from core.io.mesh_scene import make_scene, sample_surface
    from core.io.scene import SceneError

    for i in range(a.first, a.first + a.scenes):
        spec = scene_spec(i, a.seed, 0.7, a.solids)
        if spec["views"] < a.min_views or (a.rough_only and spec["rough"] <= 0):
            continue
        mesh = scene_mesh(spec)
        try:
            scene = make_scene(mesh, views=spec["views"], res=spec["res"],
                               layout=spec["layout"], seed=spec["cam_seed"], gt_points=0)
        except SceneError:
            continue
        norm = normalise(mesh)
        scene.gt_points = sample_surface(norm.vertices, norm.faces, 50_000, 1)
        yield i, spec, scene


def _fit_ratios(a) -> int:
    """--fit: the default fit's CD over the voxel hull's, per weights file."""
    from core.fit.config import apply_preset
    from core.fit.fitter import Fitter
    from core.correction import depth as correction
    from core.hull.visual_hull import voxel_hull
    from core.io.scene import SceneError
    from core.metrics import cloud_metrics

    files = a.weights.split(",")
    ratios: dict[str, list[float]] = {w: [] for w in files}
    for i, spec, scene in _validation_scenes(a):
        J = 2000 if spec["res"] <= 96 else (8000 if spec["views"] >= 16 else 4000)
        try:
            base = cloud_metrics(voxel_hull(scene, 128, J), scene)["cd"]
        except SceneError:
            continue
        row = [f"{i}: {spec['source']:10s} {spec['views']:2d} {spec['layout']:9s} "
               f"{spec['res']:3d}px J={J} voxel hull {base:.3f}"]
        for w in files:
            correction.WEIGHTS = Path(w).resolve()
            cd = cloud_metrics(Fitter(scene, apply_preset("default", points=J)).run(), scene)["cd"]
            ratios[w].append(cd / base)
            row.append(f"{cd / base:.3f}")
        print(" ".join(row), flush=True)
    for w, r in ratios.items():
        if r:
            print(f"{Path(w).name}: mean x voxel hull {np.mean(r):.4f}, worst {np.max(r):.3f} "
                  f"({len(r)} scenes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
