"""`metrics`: score a cloud against a scene or a ground-truth cloud."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from app.cli import (
    UserError,
    metrics_reference,
    print_metrics,
    write_json,
)


def _cloud(path: str | Path) -> np.ndarray:
    """The cloud in ``path``; UserError naming the file when it cannot be read or is empty."""
    from core.io.points import read_points

    try:
        pts = read_points(path)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if len(pts) == 0:
        raise UserError(f"{path}: the cloud is empty (no points)")
    return pts


def cmd_metrics(args: argparse.Namespace) -> int:
    from core.formats.loaders import load_scene
    from core.metrics import cloud_metrics

    pred = _cloud(args.pred)
    ref_path = Path(args.ref)
    if ref_path.is_dir():
        ref = metrics_reference(load_scene(ref_path))
        if ref.gt_points is not None and len(ref.gt_points) == 0:
            raise UserError(f"{ref_path}: the scene's ground truth has no points")
    else:
        ref = _cloud(ref_path)
    m = cloud_metrics(pred, ref)
    print_metrics(m)
    write_json(args.json, m)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("metrics", help="Chamfer ×100, F-score, silhouette IoU, inside fraction")
    from app.output_guard import reads, writes

    reads(e.add_argument("pred", help="predicted cloud (.ply, .obj, .xyz)"), "cloud")
    reads(e.add_argument("ref", help="scene folder (uses its ground truth and masks) or a GT "
                         "cloud"), "reference")
    writes(e.add_argument("--json", help="also write the metrics to this JSON file"))
    e.set_defaults(func=cmd_metrics)
