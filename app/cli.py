"""Headless command line: ``python main.py COMMAND ...``.

Commands: fit, make-scene, hull, metrics, convert. With no command, main.py opens the GUI.
User errors (bad files, bad values) print one line ``error: ...`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

COMMANDS = ("fit", "make-scene", "hull", "metrics", "convert")


class UserError(Exception):
    """A problem with the user's input: reported in one line, no traceback."""


def _parse_views(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--views must be a comma-separated list of integers, got {text!r}") from None


def _write_json(path: str | None, data: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=1))


def _print_metrics(m: dict) -> None:
    keys = ["cd", "cd_pred_gt", "cd_gt_pred", "fscore_0.01", "fscore_0.02", "inside_fraction",
            "iou_mean"]
    print("  ".join(f"{k}={m[k]:.4f}" for k in keys if k in m))


def _atomic_write(out: Path, points) -> None:
    from core.pointio import write_points

    tmp = out.with_name(out.stem + ".tmp" + out.suffix)
    write_points(tmp, points)
    os.replace(tmp, out)


# -- fit -------------------------------------------------------------------------------------
def cmd_fit(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from core.fit import FitDiverged, Fitter
    from core.loaders import load_scene
    from core.metrics import evaluate

    from .config_cli import config_from_args

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = config_from_args(args)
    scene = load_scene(args.scene, res=args.res, views=_parse_views(args.views))
    out = Path(args.out)
    if out.suffix.lower() not in (".ply", ".obj", ".xyz"):
        raise UserError(f"{out}: output must end in .ply, .obj or .xyz")
    out.parent.mkdir(parents=True, exist_ok=True)
    fitter = Fitter(scene, cfg)
    t0 = time.perf_counter()
    last_save = t0
    interrupted = False
    bar = tqdm(total=cfg.iterations, desc=f"fit {scene.name}", unit="it",
               disable=args.quiet, dynamic_ncols=True)
    try:
        while not fitter.done:
            losses = fitter.step()
            bar.update(1)
            if fitter.iteration % 10 == 0:
                bar.set_postfix(loss=f"{losses['total']:.4g}", sil=f"{losses['silhouette']:.3g}",
                                rep=f"{losses['repulsion']:.3g}")
            if time.perf_counter() - last_save > args.autosave:
                _atomic_write(out, fitter.points_np())
                last_save = time.perf_counter()
    except KeyboardInterrupt:
        interrupted = True
    except FitDiverged as exc:
        bar.close()
        _atomic_write(out, fitter.points_np())
        raise UserError(f"{exc}; the last good points were written to {out}") from None
    bar.close()
    elapsed = time.perf_counter() - t0
    pts = fitter.points_np()
    points_out = scene.to_original(pts)
    _atomic_write(out, points_out)
    print(f"wrote {len(pts)} points to {out} ({fitter.iteration} iterations, {elapsed:.1f} s)")
    if interrupted:
        print("interrupted: exported the points as they were")
        return 130
    result = {"scene": str(args.scene), "iterations": fitter.iteration, "time_s": elapsed,
              "points": len(pts), "config": vars(cfg)}
    metrics = evaluate(points_out, _metrics_reference(scene))
    result["metrics"] = metrics
    _print_metrics(metrics)
    _write_json(args.metrics_json, result)
    return 0


def _metrics_reference(scene):
    """The scene for metrics in the coordinates of exported points (the dataset's original
    world when scene.extra has 'to_original': cameras and ground truth mapped back)."""
    from core.datasets import original_scene

    return original_scene(scene)


# -- make-scene ------------------------------------------------------------------------------
def cmd_make_scene(args: argparse.Namespace) -> int:
    from core.make_scene import make_scene
    from core.scene import write_scene

    scene = make_scene(args.source, views=args.views, res=args.res, layout=args.layout,
                       radius=args.radius, fov_deg=args.fov_deg, gt_points=args.gt_points,
                       seed=args.seed)
    folder = write_scene(scene, args.out)
    print(f"wrote {scene.n_views} views at {args.res}x{args.res} to {folder}")
    return 0


# -- hull ------------------------------------------------------------------------------------
def cmd_hull(args: argparse.Namespace) -> int:
    from core.hull import visual_hull
    from core.loaders import load_scene
    from core.metrics import evaluate

    scene = load_scene(args.scene, res=args.res, views=_parse_views(args.views))
    t0 = time.perf_counter()
    hull = visual_hull(scene, res=args.grid, n_points=args.points, seed=args.seed)
    elapsed = time.perf_counter() - t0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pts = scene.to_original(hull.points)
    _atomic_write(out, pts)
    print(f"wrote {len(pts)} visual-hull points to {out} ({elapsed:.1f} s)")
    m = evaluate(pts, _metrics_reference(scene))
    _print_metrics(m)
    _write_json(args.metrics_json, {"scene": str(args.scene), "time_s": elapsed, "metrics": m})
    return 0


# -- metrics ---------------------------------------------------------------------------------
def cmd_metrics(args: argparse.Namespace) -> int:
    from core.loaders import load_scene
    from core.metrics import evaluate
    from core.pointio import read_points

    try:
        pred = read_points(args.pred)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    ref_path = Path(args.ref)
    if ref_path.is_dir():
        ref = _metrics_reference(load_scene(ref_path))
    else:
        try:
            ref = read_points(ref_path)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    m = evaluate(pred, ref)
    _print_metrics(m)
    _write_json(args.json, m)
    return 0


# -- convert ---------------------------------------------------------------------------------
def cmd_convert(args: argparse.Namespace) -> int:
    from core.loaders import load_scene
    from core.scene import write_scene

    scene = load_scene(args.src, res=args.res, views=_parse_views(args.views),
                       max_views=args.max_views, fmt=args.format)
    folder = write_scene(scene, args.out)
    H, W = scene.resolution
    fmt = scene.extra.get("format", "drwr-scene")
    print(f"wrote {scene.n_views} views ({fmt}, {W}x{H}) to {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from core.cameras import LAYOUTS

    from .config_cli import add_config_flags

    p = argparse.ArgumentParser(prog="python main.py",
                                description="DRWR Studio: silhouettes with known cameras -> 3D "
                                "point clouds. Without a command the desktop window opens.")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("fit", help="fit a point cloud to a scene's silhouettes (DRWR)")
    f.add_argument("scene", help="scene folder (drwr-scene or a supported dataset)")
    f.add_argument("--out", required=True, help="output cloud (.ply, .obj or .xyz)")
    f.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    f.add_argument("--metrics-json", help="write config, time and metrics to this JSON file")
    f.add_argument("--res", type=int, help="working resolution for dataset folders")
    f.add_argument("--views", help="use only these views, e.g. 0,3,5")
    f.add_argument("--autosave", type=float, default=60.0,
                   help="seconds between autosaves of the cloud to --out (default 60)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_flags(f)
    f.set_defaults(func=cmd_fit)

    m = sub.add_parser("make-scene", help="render a mesh or bundled shape into a drwr-scene")
    m.add_argument("source", help="mesh file (OBJ, PLY, STL, OFF, GLB) or bundled shape name")
    m.add_argument("out", help="output scene folder")
    m.add_argument("--views", type=int, default=8)
    m.add_argument("--res", type=int, default=64)
    m.add_argument("--layout", default="fibonacci", choices=list(LAYOUTS))
    m.add_argument("--radius", type=float, default=2.0, help="camera distance from the centre")
    m.add_argument("--fov-deg", type=float, default=None, help="field of view (default: fit)")
    m.add_argument("--gt-points", type=int, default=100_000)
    m.add_argument("--seed", type=int, default=0)
    m.set_defaults(func=cmd_make_scene)

    h = sub.add_parser("hull", help="visual-hull baseline (voxel carving + marching cubes)")
    h.add_argument("scene")
    h.add_argument("--out", required=True)
    h.add_argument("--points", type=int, default=10_000, help="surface points to sample")
    h.add_argument("--grid", type=int, default=128, help="voxel grid resolution (default 128, the baseline's setting; >= 8)")
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--res", type=int)
    h.add_argument("--views")
    h.add_argument("--metrics-json")
    h.set_defaults(func=cmd_hull)

    e = sub.add_parser("metrics", help="Chamfer ×100, F-score, silhouette IoU, inside fraction")
    e.add_argument("pred", help="predicted cloud (.ply, .obj, .xyz)")
    e.add_argument("ref", help="scene folder (uses its ground truth and masks) or a GT cloud")
    e.add_argument("--json", help="also write the metrics to this JSON file")
    e.set_defaults(func=cmd_metrics)

    c = sub.add_parser("convert", help="convert a dataset folder into a drwr-scene folder")
    c.add_argument("src")
    c.add_argument("out")
    c.add_argument("--format", help="force a format: blender, nerfstudio, dtu, dpc, colmap or "
                   "drwr-scene (default: detect from the folder's contents)")
    c.add_argument("--res", type=int, help="working resolution, longest side (default 128)")
    c.add_argument("--views", help="comma-separated view indices")
    c.add_argument("--max-views", type=int)
    c.set_defaults(func=cmd_convert)
    return p


def run_cli(argv: list[str]) -> int:
    """Run a CLI command; returns the exit status."""
    from core.scene import SceneError

    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (UserError, SceneError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # validation errors from config, readers
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # output path is a file, no permission, disk full ...
        where = exc.filename or ""
        print(f"error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
