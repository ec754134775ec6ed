"""`hull`: the visual-hull baseline."""

from __future__ import annotations

import argparse
import time

from app.cli import (
    atomic_write,
    check_output,
    metrics_reference,
    parse_views,
    print_metrics,
    write_json,
)


def cmd_hull(args: argparse.Namespace) -> int:
    from core.hull.visual_hull import visual_hull
    from core.formats.loaders import load_scene
    from core.metrics import cloud_metrics

    out = check_output(args.out)  # before the work: a bad --out fails at once
    scene = load_scene(args.scene, res=args.res, views=parse_views(args.views))
    t0 = time.perf_counter()
    hull = visual_hull(scene, res=args.grid, n_points=args.points, seed=args.seed)
    elapsed = time.perf_counter() - t0
    pts = scene.to_original(hull.points)
    atomic_write(out, pts)
    print(f"wrote {len(pts)} visual-hull points to {out} ({elapsed:.1f} s)")
    m = cloud_metrics(pts, metrics_reference(scene))
    print_metrics(m)
    write_json(args.metrics_json, {"scene": str(args.scene), "time_s": elapsed, "metrics": m})
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    h = sub.add_parser("hull", help="visual-hull baseline (voxel carving + marching cubes)")
    from app.output_guard import reads, value, writes

    reads(h.add_argument("scene", help="scene folder (drwr-scene or a supported dataset)"),
          "scene")
    writes(h.add_argument("--out", required=True, help="output cloud (.ply, .obj or .xyz)"))
    h.add_argument("--points", type=int, default=10_000, help="surface points to sample")
    h.add_argument("--grid", type=int, default=128, help="voxel grid resolution (default 128, the baseline's setting; >= 8)")
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--res", type=int)
    value(h.add_argument("--views", help="use only these views, e.g. 0,3,5"))
    writes(h.add_argument("--metrics-json", help="write time and metrics to this JSON file"))
    h.set_defaults(func=cmd_hull)
