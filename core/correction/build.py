"""Build the learned depth correction's weights: make (or read from a cache) the samples of
core.correction.recipe, fit ``--members`` models (core.correction.training) and save them as a
DepthEnsemble. ``scripts/train_surface_correction.py`` runs :func:`main`; its docstring says
how the defaults rebuild resources/surface_correction.npz byte for byte."""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from core.correction.depth import TARGET_TOL_PX
from core.correction.recipe import (ASSEMBLIES_P, ATTACHED_P, MEMBERS, SCENES, SHRINK, SOLID_P,
                                    scene_samples)
from core.correction.training import train

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from core.correction.depth import WEIGHTS, DepthEnsemble

    ap = argparse.ArgumentParser(prog="scripts/train_surface_correction.py",
                                 description="Train the default fit's depth correction.")
    ap.add_argument("--scenes", type=int, default=SCENES, help="training scenes in all")
    ap.add_argument("--workers", type=int, default=2, help="processes making scenes")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=2000)
    ap.add_argument("--assemblies", type=float, default=ASSEMBLIES_P,
                    help="fraction of scenes showing random assemblies instead of demo shapes")
    ap.add_argument("--solids", type=float, default=SOLID_P,
                    help="fraction of scenes then replaced by a thick solid with flat faces")
    ap.add_argument("--attached", type=float, default=ATTACHED_P,
                    help="fraction of the solids with 1-3 thin parts attached")
    ap.add_argument("--per-scene", type=int, default=4000, help="hull samples per scene")
    ap.add_argument("--hidden", type=int, default=64, help="width of the MLP's hidden layers")
    ap.add_argument("--members", type=int, default=MEMBERS,
                    help="models in the ensemble, member k trained from seed --seed + k")
    ap.add_argument("--shrink", type=float, default=SHRINK,
                    help="how far the members' disagreement shrinks a depth towards 0 (the "
                    "hull surface); 0: their plain mean (core.correction.depth.DepthEnsemble)")
    ap.add_argument("--caution", type=float, default=0.0,
                    help="0: inward moves take the median depth; 1: the 0.25 quantile")
    ap.add_argument("--target-tol", type=float, default=TARGET_TOL_PX,
                    help="slack of the depth targets in pixels (core.correction.depth."
                    f"TARGET_TOL_PX = {TARGET_TOL_PX}); smaller makes bolder inward targets")
    ap.add_argument("--data", help="cache of the samples (.npz): read when present (it must have "
                    "been made with the same --scenes, --seed, --assemblies, --solids, "
                    "--attached, --per-scene and --target-tol), else written")
    ap.add_argument("--out", required=True,
                    help=f"weights file (.npz); the bundled one is {WEIGHTS}")
    a = ap.parse_args(argv)
    if a.members < 1:
        ap.error("--members must be at least 1")
    for name in ("assemblies", "solids", "attached"):
        if not 0.0 <= getattr(a, name) <= 1.0:
            ap.error(f"--{name} is a fraction of the scenes, in [0, 1]; got {getattr(a, name)}")
    made_with = {"scenes": a.scenes, "seed": a.seed, "assemblies": a.assemblies,
                 "solids": a.solids, "attached": a.attached, "per_scene": a.per_scene,
                 "target_tol": a.target_tol}
    if a.data and Path(a.data).is_file():
        with np.load(a.data) as z:
            cached = {k: z[k].item() for k in made_with if k in z.files}
            if cached != made_with:
                differ = [f"--{k.replace('_', '-')} {cached.get(k, '(not recorded)')}"
                          for k in made_with if cached.get(k) != made_with[k]]
                ap.error(f"{a.data}: the cached samples were made with {', '.join(differ)}; "
                         "delete the file or give --data a new path")
            X, y, ids = z["X"], z["y"], z["ids"]
    else:
        chunks = [list(range(w, a.scenes, a.workers)) for w in range(a.workers)]
        with ProcessPoolExecutor(a.workers) as ex:
            parts = list(ex.map(scene_samples, chunks, [a.seed] * a.workers,
                                [a.assemblies] * a.workers, [0.5] * a.workers,
                                [a.per_scene] * a.workers, [a.target_tol] * a.workers,
                                [a.solids] * a.workers, [a.attached] * a.workers))
        X, y, ids = (np.concatenate([p[k] for p in parts]) for k in range(3))
        order = np.argsort(ids, kind="stable")  # scene order, whatever the worker count
        X, y, ids = X[order], y[order], ids[order]
        if a.data:
            np.savez(a.data, X=X, y=y, ids=ids, **made_with)
    print(f"{len(X)} samples from {len(np.unique(ids))} scenes", flush=True)
    members = [train(X, y, ids, a.epochs, a.seed + k, hidden=a.hidden, caution=a.caution)
               for k in range(a.members)]
    model = members[0] if a.members == 1 else DepthEnsemble(members, a.shrink)
    model.save(a.out)
    print(f"wrote {a.out}")
    return 0
