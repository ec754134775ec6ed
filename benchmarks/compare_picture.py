"""Picture comparing the visual hull, the ``drwr-paper`` preset and the default fit on one shape.

    python benchmarks/compare_picture.py [--shape table] [--out resources/compare_table.png]

The scene is the accuracy benchmark's setting 1 for the shape (8 views at 64², random layout
seeded as there); "visual hull" is the plain 128³ voxel hull the benchmark compares against.

Needs a screen (or Xvfb) for pyvista's off-screen plotter; prints the metrics it shows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.fit.config import apply_preset  # noqa: E402
from core.fit.fitter import Fitter  # noqa: E402
from core.hull.visual_hull import voxel_hull  # noqa: E402
from core.io.mesh_scene import make_scene  # noqa: E402
from core.metrics import cloud_metrics  # noqa: E402
from core.evalsets import HELDOUT_SHAPES, named_mesh  # noqa: E402
from core.geometry.shapes import SHAPES  # noqa: E402

ALL_SHAPES = {**SHAPES, **HELDOUT_SHAPES}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="table", choices=sorted(ALL_SHAPES))
    ap.add_argument("--out", default="resources/compare_table.png")
    ap.add_argument("--points", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    names = list(HELDOUT_SHAPES) if args.shape in HELDOUT_SHAPES else sorted(ALL_SHAPES)
    scene = make_scene(named_mesh(args.shape), views=8, res=64, layout="random",
                       seed=100 + names.index(args.shape), gt_points=30000)
    clouds = {
        "visual hull (128³ voxels)": voxel_hull(scene, res=128, n_points=args.points),
        "drwr-paper preset": Fitter(scene, apply_preset("drwr-paper", points=args.points)).run(),
        "default": Fitter(scene, apply_preset("default", points=args.points)).run(),
    }
    import pyvista as pv

    pv.global_theme.anti_aliasing = None
    pl = pv.Plotter(shape=(1, 3), off_screen=True, window_size=(1500, 520))
    for k, (name, pts) in enumerate(clouds.items()):
        m = cloud_metrics(pts, scene)
        label = f"{name}\nCD×100 {m['cd']:.2f}  inside {m['inside_fraction']:.2f}"
        print(label.replace("\n", ": "))
        pl.subplot(0, k)
        pl.add_text(label, font_size=11)
        pl.add_points(pv.PolyData(pts), color="#3a86ff", point_size=4,
                      render_points_as_spheres=False)
        pl.camera_position = [(1.6, -1.6, 0.9), (0, 0, 0), (0, 0, 1)]
    pl.screenshot(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    from bench_results import record

    raise SystemExit(record("compare_picture", main))
