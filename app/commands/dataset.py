"""`make-dataset` (synthetic drwr-dataset from the bundled families) and `evaluate`
(network and baselines on a dataset split)."""

from __future__ import annotations

import argparse

from app.cli import UserError, write_json


def _categories(values: list[str] | None) -> list[str]:
    out = [c.strip() for v in values or [] for c in v.split(",") if c.strip()]
    return out or ["chair", "table", "airplane"]


def _elevation(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise UserError(f"--elevation must be LO,HI in degrees, got {text!r}") from None
    return lo, hi


def cmd_make_dataset(args: argparse.Namespace) -> int:
    """Ctrl-C/SIGTERM stop it between objects (app.driver.stop_signals): the partial
    dataset is removed, one line says so, exit status 130/143."""
    import sys

    from app.driver import stop_signals
    from core.train.synth import DatasetStopped, make_dataset

    if args.per_category < 1:
        raise UserError(f"--per-category must be >= 1, got {args.per_category}")
    try:
        with stop_signals() as stop:
            out = make_dataset(args.out, per_category=args.per_category,
                               categories=_categories(args.categories), views=args.views,
                               res=args.res, seed=args.seed, progress=not args.quiet,
                               workers=args.workers, n_points=args.points,
                               elevation=_elevation(args.elevation), stop=stop)
    except DatasetStopped as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        return stop.code
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from core.formats.datasets import read_dataset

    ds = read_dataset(out, check_scenes=False)
    sizes = ", ".join(f"{k} {len(v)}" for k, v in ds.splits.items())
    print(f"wrote {out}: {len(ds.all_ids())} objects ({sizes}), {args.views} views at "
          f"{args.res}x{args.res}")
    return 0


def _load_predictor(run: str, refine: int | None = None):
    """The trained network of ``run`` (core.train.predict.load_run: a Predictor), with
    ``refine`` test-time refinement steps (None: the run's own)."""
    try:
        from core.train.predict import load_run
    except ImportError as exc:
        raise UserError(f"{run}: cannot load a trained network here ({exc})") from None
    return load_run(run, refine_steps=refine)


PROTOCOL_LINES = {
    "view": "protocol view: input view {view} of every object",
    "dpc": "protocol dpc: every view of an object in turn as the input, its numbers the mean "
           "over its views",
    "drwr": "protocol drwr: every view of an object in turn as the input, its numbers those "
            "of its best view (lowest CD)",
}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core.formats.datasets import read_dataset
    from core.train.scoring import score_split, format_table

    paths = list(args.paths)
    if args.baselines_only:
        if len(paths) != 1:
            raise UserError("evaluate --baselines-only takes one argument: DATASET")
        run, data = None, paths[0]
    else:
        if len(paths) != 2:
            raise UserError("evaluate takes RUN DATASET (or --baselines-only DATASET)")
        run, data = paths
    if args.view < 0:
        raise UserError(f"--view must be >= 0, got {args.view}")
    ds = read_dataset(data)  # every rule checked; the baselines read every object anyway
    if args.refine_steps is not None and args.refine_steps < 0:
        raise UserError(f"--refine-steps must be >= 0, got {args.refine_steps}")
    pred = _load_predictor(run, args.refine_steps) if run else None
    predict = pred.predict_scene if pred is not None else None
    if args.points is not None and args.points < 1:
        raise UserError(f"--points must be >= 1, got {args.points}")
    result = score_split(ds, args.split, predict, view=args.view, n_points=args.points,
                            progress=not args.quiet, protocol=args.protocol)
    result.update({"dataset": str(data), "run": run,
                   "refine_steps": pred.refine_steps if pred is not None else None,
                   "refine_feature_steps": (pred.refine_feature_steps if pred is not None
                                            and pred.refine_steps else None)})
    print(PROTOCOL_LINES[args.protocol].format(view=args.view))
    if pred is not None:
        print(f"network: test-time refinement on the input view, "
              f"{pred.refine_feature_steps} steps on the network's feature, then "
              f"{pred.refine_steps} on the points"
              if pred.refine_steps else "network: raw output (no test-time refinement)")
    print(format_table(result, per_object=not args.no_objects))
    write_json(args.json, result)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from app.output_guard import reads, value, writes

    e = sub.add_parser("evaluate", help="CD×100 and F-score per object and per category of a "
                       "trained network on a dataset split, beside the category-medoid and "
                       "silhouette-retrieval baselines")
    reads(e.add_argument("paths", nargs="+", metavar="RUN DATASET",
                         help="run folder of `train` and a dataset (drwr-dataset or DPC "
                         "renders); with --baselines-only just the dataset"), "input")
    value(e.add_argument("--split", default="test", help="split to score (default test)"))
    e.add_argument("--view", type=int, default=0, help="input view of each object with "
                   "--protocol view (default 0)")
    e.add_argument("--protocol", choices=("view", "dpc", "drwr"), default="view",
                   help="which input views: 'view' (--view only; default), 'dpc' (every view "
                   "in turn, scores averaged over an object's views, as DPC's eval_chamfer.py) "
                   "or 'drwr' (every view in turn, an object's best view kept, as DRWR's "
                   "released eval_chamfer_distance.py)")
    writes(e.add_argument("--json", help="also write all numbers to this JSON file"))
    e.add_argument("--refine-steps", type=int, default=None, metavar="N",
                   help="test-time refinement of each prediction towards its input view's "
                   "silhouette: the run's refine_feature_steps (50) on the network's feature, "
                   "then N steps on the points (default: the run's refine_steps, 20 unless "
                   "trained with another value; 0 = the network's raw output)")
    e.add_argument("--points", type=int, default=None,
                   help="points of the baselines' clouds (default: as many as the network "
                   "predicts; 2048 with --baselines-only)")
    e.add_argument("--baselines-only", action="store_true",
                   help="no network: score only the medoid and retrieval baselines")
    e.add_argument("--no-objects", action="store_true", help="print only the category table")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_evaluate)

    m = sub.add_parser("make-dataset", help="synthetic drwr-dataset from the bundled "
                       "parametric families (masks, shaded RGB images, random cameras, "
                       "ground-truth points, splits)")
    writes(m.add_argument("out", help="output folder (new or empty)"), replaces=True)
    m.add_argument("--per-category", type=int, default=50,
                   help="objects per category, split 70/10/20 %% train/val/test (default 50)")
    value(m.add_argument("--categories", nargs="+", metavar="NAME",
                         help="families (chair table airplane lamp; default chair table "
                         "airplane)"))
    m.add_argument("--views", type=int, default=5, help="random views per object (default 5)")
    m.add_argument("--res", type=int, default=64, help="image size in pixels (default 64)")
    m.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    m.add_argument("--points", type=int, default=8192,
                   help="ground-truth surface points per object (default 8192)")
    value(m.add_argument("--elevation", default="-90,90",
                         help="camera elevation range LO,HI in degrees (default -90,90: the "
                         "sphere)"))
    m.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: one per CPU, at most 4)")
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    m.set_defaults(func=cmd_make_dataset)
