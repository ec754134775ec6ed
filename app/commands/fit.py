"""`fit`: a point cloud from a scene's silhouettes (DRWR)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from app.cli import (
    UserError,
    atomic_write,
    metrics_reference,
    parse_views,
    print_metrics,
    write_json,
)


def cmd_fit(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from core.fit.fitter import FitDiverged, Fitter
    from core.io.loaders import load_scene
    from core.metrics import evaluate

    from app.config_cli import config_from_args

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = config_from_args(args)
    scene = load_scene(args.scene, res=args.res, views=parse_views(args.views))
    out = Path(args.out)
    if out.suffix.lower() not in (".ply", ".obj", ".xyz"):
        raise UserError(f"{out}: output must end in .ply, .obj or .xyz")
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.mesh_out:  # surface helper: fail before the fit, not after it
        from app.commands.mesh import check_mesh_out
        check_mesh_out(args.mesh_out)
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
                atomic_write(out, fitter.points_np())
                last_save = time.perf_counter()
    except KeyboardInterrupt:
        interrupted = True
    except FitDiverged as exc:
        bar.close()
        atomic_write(out, fitter.points_np())
        raise UserError(f"{exc}; the last good points were written to {out}") from None
    bar.close()
    elapsed = time.perf_counter() - t0
    pts = fitter.points_np()
    points_out = scene.to_original(pts)
    atomic_write(out, points_out)
    print(f"wrote {len(pts)} points to {out} ({fitter.iteration} iterations, {elapsed:.1f} s)")
    if interrupted:
        print("interrupted: exported the points as they were")
        return 130
    result = {"scene": str(args.scene), "iterations": fitter.iteration, "time_s": elapsed,
              "points": len(pts), "config": vars(cfg)}
    metrics = evaluate(points_out, metrics_reference(scene))
    result["metrics"] = metrics
    print_metrics(metrics)
    if args.mesh_out:  # surface helper: mesh of the fitted cloud, held to the silhouettes
        from app.commands.mesh import export_fit_mesh
        result["mesh"] = export_fit_mesh(args.mesh_out, pts, scene)
    write_json(args.metrics_json, result)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from app.config_cli import add_config_flags

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
    f.add_argument("--mesh-out", help="also write a watertight mesh of the cloud "
                   "(.obj, .ply, .stl, .glb; see the mesh command)")
    add_config_flags(f)
    f.set_defaults(func=cmd_fit)
