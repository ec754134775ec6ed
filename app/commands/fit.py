"""`fit`: a point cloud from a scene's silhouettes (DRWR), run by the driver loop
(app/driver.py: progress bar, autosave, Ctrl-C/SIGTERM export, divergence, --resume)."""

from __future__ import annotations

import argparse

from app.cli import (
    UserError,
    check_output,
    parse_views,
    print_metrics,
    write_json,
)


def cmd_fit(args: argparse.Namespace) -> int:
    if args.threads < 0:
        raise UserError(f"--threads must be 0 (torch's default) or more, got {args.threads}")
    if not args.autosave > 0:
        raise UserError(f"--autosave must be a number of seconds > 0, got {args.autosave}")
    out = check_output(args.out)  # before loading anything: a bad --out fails at once
    import torch

    from core.fit.fitter import Fitter
    from core.formats.loaders import load_scene

    from app.config_cli import config_from_args
    from app.driver import drive

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = config_from_args(args)
    scene = load_scene(args.scene, res=args.res, views=parse_views(args.views))
    if args.mesh_out:  # mesh output: fail before the fit, not after it
        from app.commands.mesh import check_mesh_out
        check_mesh_out(args.mesh_out)
    res = drive(lambda: Fitter(scene, cfg), out=out, autosave_s=args.autosave,
                desc=f"fit {scene.name}", quiet=args.quiet, resume=args.resume)
    job = res.job
    if res.status != "done":
        return res.code
    pts = job.snapshot().points  # the result as written (before the original-frame map)
    n = len(pts)
    print(f"wrote {n} points to {out} ({job.iteration} iterations, {res.elapsed:.1f} s)")
    result = {"scene": str(args.scene), "iterations": job.iteration, "time_s": res.elapsed,
              "points": n, "config": vars(cfg)}
    metrics = job.evaluate()  # in the dataset's original frame, as written
    result["metrics"] = metrics
    print_metrics(metrics)
    if args.mesh_out:  # mesh output: mesh of the fitted cloud, held to the silhouettes
        from app.commands.mesh import export_fit_mesh
        result["mesh"] = export_fit_mesh(args.mesh_out, pts, scene)
    write_json(args.metrics_json, result)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from app.config_cli import add_config_flags
    from app.output_guard import reads, value, writes

    f = sub.add_parser("fit", help="fit a point cloud to a scene's silhouettes (DRWR)")
    reads(f.add_argument("scene", help="scene folder (drwr-scene or a supported dataset)"), "scene")
    writes(f.add_argument("--out", required=True, help="output cloud (.ply, .obj or .xyz)"))
    f.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    writes(f.add_argument("--metrics-json", help="write config, time and metrics to this JSON "
                          "file"))
    f.add_argument("--res", type=int, help="working resolution for dataset folders")
    value(f.add_argument("--views", help="use only these views, e.g. 0,3,5"))
    f.add_argument("--autosave", type=float, default=60.0,
                   help="seconds between autosaves of the cloud to --out and of the resume "
                   "file <out>.resume.pt (default 60)")
    f.add_argument("--resume", action="store_true",
                   help="continue from <out>.resume.pt (written by autosaves and on Ctrl-C; "
                   "give the same scene and flags) instead of starting over")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    writes(f.add_argument("--mesh-out", help="also write a watertight mesh of the cloud "
                          "(.obj, .ply, .stl, .glb; see the mesh command)"))
    add_config_flags(f)
    f.set_defaults(func=cmd_fit)
