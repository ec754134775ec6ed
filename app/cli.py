"""Headless command line: ``python main.py COMMAND ...``.

Each command lives in ``app/commands/<module>.py`` with a ``register(subparsers)`` function;
``COMMAND_MODULES`` maps command names to those modules. With no command, main.py opens the
GUI. User errors (bad files, bad values) print one line ``error: ...`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from app.errors import UserError

#: command name -> module in app/commands that registers it
COMMAND_MODULES: dict[str, str] = {
    "fit": "fit", "make-scene": "scene", "convert": "scene", "hull": "hull", "metrics": "metrics",
    "make-dataset": "dataset", "evaluate": "dataset",
    "mesh": "mesh", "sh-encode": "shape_code", "sh-decode": "shape_code",
    "train": "train", "predict": "train",
}
COMMANDS = tuple(COMMAND_MODULES)


def parse_views(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--views must be a comma-separated list of integers, got {text!r}") from None


def write_json(path: str | None, data: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=1))


def print_metrics(m: dict) -> None:
    keys = ["cd", "cd_pred_gt", "cd_gt_pred", "fscore_0.01", "fscore_0.02", "inside_fraction",
            "iou_mean"]
    print("  ".join(f"{k}={m[k]:.4f}" for k in keys if k in m))


def atomic_write(out: Path, points: Any) -> None:
    """Write a cloud atomically (unique temp file + os.replace; core.io.atomic)."""
    from core.io.atomic import write_points_atomic

    write_points_atomic(out, points)


def check_output(out: str | Path, scene: Any = None) -> Path:
    """``out`` as a Path after checking, before any work, that it is a point-cloud file name
    that can be written and is not the ground truth ``scene`` was read with."""
    from core.io.atomic import check_writable
    from core.io.points import POINT_FORMATS

    out = Path(out)
    if out.suffix.lower() not in POINT_FORMATS:
        raise UserError(f"{out}: output must end in {', '.join(POINT_FORMATS)}")
    folder = getattr(scene, "path", None)
    if folder is not None:
        gt = Path(folder) / "gt_points.ply"
        if gt.exists() and out.exists() and os.path.samefile(gt, out):
            raise UserError(f"{out}: is the scene's own ground truth; choose another --out")
    return check_writable(out)


def metrics_reference(scene: Any) -> Any:
    """The scene for metrics in the coordinates of exported points (the dataset's original
    world when scene.extra has 'to_original': cameras and ground truth mapped back)."""
    from core.formats import original_scene

    return original_scene(scene)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python main.py",
                                description="DRWR Studio: silhouettes with known cameras -> 3D "
                                "point clouds. Without a command the desktop window opens.")
    sub = p.add_subparsers(dest="command", required=True)
    for module in dict.fromkeys(COMMAND_MODULES.values()):
        importlib.import_module(f"app.commands.{module}").register(sub)
    return p


def run_cli(argv: list[str]) -> int:
    """Run a CLI command; returns the exit status."""
    from core.io.scene import SceneError

    from app.driver import exit_code, sigterm_as_interrupt

    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with sigterm_as_interrupt():
            return func(args)
    except KeyboardInterrupt as exc:  # Ctrl-C/SIGTERM before a command's own handling
        print("interrupted", file=sys.stderr)
        return exit_code(exc)
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
