"""`train`: an image -> point cloud network from a dataset's silhouettes; `predict`: clouds
from a trained run.

``torchrun --nproc_per_node=N main.py train ...`` runs the same command as N
DistributedDataParallel processes (effective batch = --batch-size x N; rank 0 writes the run).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from pathlib import Path

from app.cli import UserError, atomic_write


def _config(args: argparse.Namespace, latest: Path):
    """The run's TrainConfig: defaults + flags, or (--resume) the checkpoint's + flags."""
    from app.config_cli import config_from_args, explicit_values
    from core.train.checkpoint import read_checkpoint
    from core.train.config import TrainConfig, config_from_dict
    from core.train.trainer import ARCH_FIELDS

    if not args.resume:
        return config_from_args(args, TrainConfig)
    ck = read_checkpoint(latest)
    given = explicit_values(args, TrainConfig)
    if "preset" in given:
        raise UserError(f"{latest}: a resumed run keeps its config; give the flags to change "
                        "instead of --preset")
    for f in ARCH_FIELDS:
        if f in given and given[f] != ck["config"].get(f):
            raise UserError(f"{latest}: --{f.replace('_', '-')} {given[f]} differs from the "
                            f"run's {ck['config'].get(f)}; a resumed run keeps its network")
    return config_from_dict(ck["config"]).replace(**given)


def _check_same_data(latest: Path, ds, cfg) -> None:
    """--resume: refuse, before any loading or writing, a dataset other than the run's."""
    from core.train.checkpoint import read_checkpoint
    from core.train.resume import resume_problem, run_data

    problem = resume_problem(latest, read_checkpoint(latest).get("info") or {},
                             run_data(ds, cfg.val_objects))
    if problem:
        raise UserError(problem)


def cmd_train(args: argparse.Namespace) -> int:
    """Train while holding the run folder's writer lock (core.train.run_lock; the process that
    writes, rank 0 under torchrun): a second `train` or `train --resume` of the same --out is
    refused at once. A run folder this call made and left empty (bad dataset) is removed."""
    from core.train.run_lock import LOCK_NAME, RunLock

    out = Path(args.out)
    if os.environ.get("RANK", "0") != "0":
        return _train(args)
    existed = out.exists()
    lock = RunLock(out).acquire()
    try:
        return _train(args)
    finally:
        if not existed and [p.name for p in out.iterdir()] == [LOCK_NAME]:
            with contextlib.suppress(OSError):  # unlinked while still locked: no one holds it
                (out / LOCK_NAME).unlink()
                out.rmdir()
        lock.release()


def _train(args: argparse.Namespace) -> int:
    """Build the Trainer and run it with the CLI driver loop (app/driver.py): progress bar,
    Ctrl-C/SIGTERM -> latest.pt (exit 130/143), divergence -> the last good weights."""
    import torch
    from tqdm import tqdm

    from app.driver import drive
    from core.formats.datasets import read_dataset
    from core.train.distributed import init_distributed, shutdown, wait_for_all
    from core.train.trainer import Trainer

    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    latest = out / "checkpoints" / "latest.pt"
    if args.resume and not latest.is_file():
        raise UserError(f"{latest}: no checkpoint to resume from")
    if not args.resume and latest.is_file():
        raise UserError(f"{out}: already holds a training run; add --resume to continue it or "
                        "choose another --out")
    cfg = _config(args, latest)
    ds = read_dataset(args.dataset, check_scenes=False)  # objects are checked as they are read
    if args.resume:
        _check_same_data(latest, ds, cfg)
    info, _ = init_distributed(cfg.device)
    main = info.main
    load_bar = tqdm if main and not args.quiet else None

    def make_trainer() -> Trainer:
        cache = None if args.cache_dir == "none" else args.cache_dir
        trainer = Trainer(ds, cfg, run_dir=out, dist_info=info, resume=args.resume,
                          progress=(lambda ids: load_bar(ids, desc="maps", unit="obj",
                                                         leave=False)) if load_bar else None,
                          cache_dir=cache)
        if args.resume:
            trainer.load_state(latest)
        where = trainer.train_cache.folder
        if main and where is not None:
            print(f"{'stored' if trainer.train_cache.store.built else 'reusing'} the training "
                  f"views' maps in {where}", file=sys.stderr)
        if main:
            eff = trainer.run_info()["effective_batch"]
            print(f"training on {len(trainer.train_cache)} objects ({trainer.input_kind} inputs, "
                  f"{'x'.join(map(str, trainer.train_cache.size))}), validating on "
                  f"{len(trainer.val_ids)} of '{trainer.val_split}'; {trainer.device}, "
                  f"{info.world} process(es), effective batch {eff}"
                  + (f" (--batch-size {cfg.batch_size} is more than the "
                     f"{len(trainer.train_cache)} training objects)"
                     if eff < cfg.batch_size * info.world else ""),
                  file=sys.stderr)
        return trainer

    try:
        desc = f"train (stops at {cfg.minutes:g} min)" if cfg.minutes > 0 else "train"
        res = drive(make_trainer, out=latest, autosave_s=math.inf, desc=desc,
                    quiet=args.quiet or not main, log=lambda m: None)
        if res.status != "done":
            return res.code
        trainer = res.job
        val = trainer.validate_and_save()
        if info.active:
            print(f"rank {info.rank} of {info.world}: {trainer.iteration} steps", file=sys.stderr)
            wait_for_all()
        if main:
            cd = val.get("val_cd")
            print(f"trained {trainer.iteration} steps in {res.elapsed:.0f} s; "
                  + (f"validation CD×100 {cd:.3f} (best {trainer.best_cd:.3f}); "
                     if cd is not None else "")
                  + f"run in {out}")
    finally:
        shutdown()
    return 0


def _write_mesh(pts, cloud_path: Path, scene, args: argparse.Namespace) -> str:
    """``predict --mesh``: a watertight mesh of the predicted cloud beside it, in the cloud's
    (the dataset's canonical) frame. With a scene (a scene or dataset input) core/surface's
    scene route: the cloud's IMLS surface intersected with the scene's visual hull; without
    one (an image, or --mesh-cloud-only) the cloud-only route with IMLS, which on predicted
    clouds (1024 points) stays much closer to the cloud than screened Poisson (measured on
    d3 test objects: Poisson's mesh reached up to 3x the cloud's extent). Returns the path."""
    from core.surface.mesh import mesh_from_cloud
    from core.surface.mesh_io import write_mesh

    out = cloud_path.with_suffix("." + args.mesh_format)
    if out == cloud_path:  # a PLY mesh beside a PLY cloud
        out = cloud_path.with_name(f"{cloud_path.stem}_mesh.{args.mesh_format}")
    try:
        use = None if args.mesh_cloud_only else scene
        sm = mesh_from_cloud(pts, use, method="imls", res=args.mesh_grid)
    except ValueError as exc:
        raise UserError(f"{out}: cannot mesh the prediction ({exc})") from None
    write_mesh(out, sm.vertices, sm.faces)
    return str(out)


def cmd_predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.formats.datasets import is_dataset, read_dataset
    from core.io.points import write_points
    from core.io.scene import read_scene
    from core.train.predict import image_input, load_run

    if args.mesh_cloud_only and not args.mesh:
        raise UserError("--mesh-cloud-only goes with --mesh")
    if args.refine_steps is not None and args.refine_steps < 0:
        raise UserError(f"--refine-steps must be >= 0, got {args.refine_steps}")
    pred = load_run(args.run, args.which, args.device, args.refine_steps)
    src, out = Path(args.input), Path(args.out)
    if not src.exists():
        raise UserError(f"{src}: no such file or folder")
    if is_dataset(src):
        ds = read_dataset(src)
        ids = ds.ids(args.split)
        if not ids:
            raise UserError(f"{src}: the dataset has no objects in split {args.split!r}")
        out.mkdir(parents=True, exist_ok=True)
        for oid in tqdm(ids, desc="predict", unit="obj", disable=args.quiet):
            scene = ds.scene(oid)
            pts = pred.predict_scene(scene, args.view)
            tmp = out / f"{oid}.tmp.ply"
            write_points(tmp, pts)
            tmp.replace(out / f"{oid}.ply")
            if args.mesh:
                _write_mesh(pts, out / f"{oid}.ply", scene, args)
        meshes = f" and {len(ids)} {args.mesh_format.upper()} meshes" if args.mesh else ""
        print(f"wrote {len(ids)} clouds of {pred.config.points} points{meshes} to {out}")
        return 0
    if out.suffix.lower() not in (".ply", ".obj", ".xyz"):
        raise UserError(f"{out}: output must end in .ply, .obj or .xyz")
    scene = None
    if src.is_dir() or src.name == "scene.json":
        scene = read_scene(src)
        pts = pred.predict_scene(scene, args.view)
    else:
        x = image_input(src, (pred.config.input_size,) * 2)
        pts = pred.predict(x[None])[0].numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, pts)
    print(f"wrote {len(pts)} points to {out}")
    if args.mesh:
        print(f"wrote a mesh to {_write_mesh(pts, out, scene, args)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from app.config_cli import add_config_flags
    from core.train.config import TrainConfig

    from app.output_guard import reads, value, writes

    t = sub.add_parser("train", help="train an image -> point cloud network on a drwr-dataset "
                       "from its silhouettes (DRWR losses); torchrun for several processes",
                       description="Train an image -> point cloud network on a drwr-dataset. "
                       "Stops at --iterations or --minutes, whichever comes first; Ctrl-C "
                       "saves a checkpoint. Under torchrun --nproc_per_node=N the effective "
                       "batch is --batch-size x N.")
    reads(t.add_argument("dataset", help="drwr-dataset folder (dataset.json)"), "dataset")
    writes(t.add_argument("--out", required=True, help="run folder: config.json, "
                          "metrics.jsonl, training.png, checkpoints/{latest,best}.pt"), folder=True)
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its "
                   "latest checkpoint (flags given override its config, except the network's "
                   "shape)")
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    # a cache, not a result: its own hashed subfolder, never a file the user gave
    value(t.add_argument("--cache-dir", default="auto", metavar="DIR", help="folder for the "
                         "training views' maps, made per object on first use and reused by later "
                         "runs on the same dataset files, read in place so memory does not grow with "
                         "the dataset (default auto: $XDG_CACHE_HOME or ~/.cache, then "
                         "drwr-studio/views; about 10 bytes per image pixel of each view, 170 KB "
                         "per 128² view; safe to delete); 'none' keeps them in memory"))
    add_config_flags(t, config_cls=TrainConfig, title="training parameters")
    t.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="point clouds from a trained run: an image, a scene "
                       "view or every object of a dataset split")
    reads(p.add_argument("run", help="training run folder"), "run folder")
    reads(p.add_argument("input", help="an image file, a drwr-scene folder or a drwr-dataset "
                         "folder"), "input")
    writes(p.add_argument("--out", required=True, help="cloud file (.ply/.obj/.xyz), or a "
                          "folder for a dataset (one <id>.ply per object)"), folder=True)
    p.add_argument("--view", type=int, default=0, help="input view of a scene (default 0)")
    value(p.add_argument("--split", default="test", help="dataset split to predict (default "
                         "test)"))
    p.add_argument("--which", choices=("best", "latest"), default="best",
                   help="checkpoint (default best)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--refine-steps", type=int, default=None, metavar="N",
                   help="test-time refinement of a scene or dataset prediction towards its "
                   "input view's silhouette: the run's refine_feature_steps (50) on the network's "
                   "feature, then N steps on the points (default: the run's refine_steps, 20 "
                   "unless trained with another value; 0 = the network's raw output; an image "
                   "file has no camera and is never refined)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--mesh", action="store_true", help="also write a watertight mesh beside "
                   "each cloud (<cloud>.obj; <cloud>_mesh.ply for a PLY mesh of a PLY cloud) "
                   "with core/surface: for a scene or dataset input the cloud's surface cut by "
                   "the object's visual hull (all its views' silhouettes); for an image the "
                   "cloud alone")
    p.add_argument("--mesh-format", choices=("obj", "ply", "stl", "glb"), default="obj",
                   help="mesh file type (default obj)")
    p.add_argument("--mesh-cloud-only", action="store_true", help="mesh the predicted cloud "
                   "alone, even for a scene input (uses nothing but the one input view the "
                   "network saw)")
    p.add_argument("--mesh-grid", type=int, default=128, help="mesh grid resolution "
                   "(default 128)")
    p.set_defaults(func=cmd_predict)
