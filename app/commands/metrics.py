"""`metrics`: score a cloud against a scene or a ground-truth cloud."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli import (
    UserError,
    metrics_reference,
    print_metrics,
    write_json,
)


def cmd_metrics(args: argparse.Namespace) -> int:
    from core.formats.loaders import load_scene
    from core.io.points import read_points
    from core.metrics import evaluate

    try:
        pred = read_points(args.pred)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    ref_path = Path(args.ref)
    if ref_path.is_dir():
        ref = metrics_reference(load_scene(ref_path))
    else:
        try:
            ref = read_points(ref_path)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    m = evaluate(pred, ref)
    print_metrics(m)
    write_json(args.json, m)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("metrics", help="Chamfer ×100, F-score, silhouette IoU, inside fraction")
    e.add_argument("pred", help="predicted cloud (.ply, .obj, .xyz)")
    e.add_argument("ref", help="scene folder (uses its ground truth and masks) or a GT cloud")
    e.add_argument("--json", help="also write the metrics to this JSON file")
    e.set_defaults(func=cmd_metrics)
