"""Fit accuracy with each repulsion kernel: the grid must not cost accuracy.

For every held-out shape (core.evalsets.HELDOUT_SHAPES; cameras as in
benchmarks/accuracy.py setting 1: I=8 views, 64², fibonacci layout with a per-shape random
rotation), run ``--preset drwr-paper --iterations 200`` (J=2000, box start, β=3, σ=1.5 px,
same seed) once per kernel (``FitConfig.repulsion``) and report CD×100 (core.metrics.cloud_metrics)
and the relative CD difference of each kernel against the reference kernel (``cells``: exact
pairs to 1e-9, so it stands in for ``exact`` at a fraction of the cost; ``--methods`` can add
``exact``).  Target: grid within 1 % of the reference on every shape.

    python benchmarks/accuracy_repulsion.py          # -> benchmarks/results_accuracy_repulsion.md
    python benchmarks/accuracy_repulsion.py --shapes table,mug --methods grid,cells,exact
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.fit.config import apply_preset  # noqa: E402
from core.fit.fitter import Fitter  # noqa: E402
from core.evalsets import HELDOUT_SHAPES, named_mesh  # noqa: E402
from core.io.mesh_scene import make_scene  # noqa: E402
from core.metrics import cloud_metrics  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_results import results_path, write_results  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default=",".join(HELDOUT_SHAPES))
    ap.add_argument("--methods", default="grid,cells", help="comma list; the last is the reference")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--views", type=int, default=8)
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--out", default=str(results_path("accuracy_repulsion")),
                    help="write the markdown table here too (default: %(default)s)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    methods = args.methods.split(",")
    ref = "cells" if "cells" in methods else methods[-1]
    lines = [f"drwr-paper preset, {args.iterations} iterations, I={args.views}, {args.res}², "
             f"J={args.points}, seed 0, torch {torch.__version__}, 1 thread, CPU", "",
             "| shape | " + " | ".join(f"CD×100 {m}" for m in methods) + " | "
             + " | ".join(f"{m} vs {ref}" for m in methods if m != ref) + " | "
             + " | ".join(f"s {m}" for m in methods) + " |",
             "|---|" + "---|" * (2 * len(methods) + len(methods) - 1)]
    worst = 0.0
    for name in args.shapes.split(","):
        k = list(HELDOUT_SHAPES).index(name) if name in HELDOUT_SHAPES else 0
        scene = make_scene(named_mesh(name), views=args.views, res=args.res, layout="random", seed=100 + k,
                           gt_points=50_000)
        cd, sec = {}, {}
        for m in methods:
            cfg = apply_preset("drwr-paper", points=args.points, iterations=args.iterations,
                               repulsion=m, seed=0)
            t0 = time.perf_counter()
            pts = Fitter(scene, cfg).run()
            sec[m] = time.perf_counter() - t0
            cd[m] = float(cloud_metrics(pts, scene)["cd"])  # already x100
        rel = {m: (cd[m] - cd[ref]) / cd[ref] for m in methods if m != ref}
        worst = max([worst] + [abs(v) for v in rel.values()])
        row = (f"| {name} | " + " | ".join(f"{cd[m]:.4f}" for m in methods) + " | "
               + " | ".join(f"{100 * v:+.2f} %" for v in rel.values()) + " | "
               + " | ".join(f"{sec[m]:.0f}" for m in methods) + " |")
        lines.append(row)
        print(row, flush=True)
    lines += ["", f"Largest |relative CD difference| against {ref}: {100 * worst:.2f} % "
              f"(target ≤ 1 %: {'MET' if worst <= 0.01 else 'NOT MET'})."]
    text = "\n".join(lines)
    print(text)
    write_results(args.out, text, "accuracy_repulsion.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
