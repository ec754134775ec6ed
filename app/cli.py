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


def check_output(out: str | Path) -> Path:
    """``out`` as a Path after checking, before any work, that it is a point-cloud file name
    that can be written (that it clobbers no input is app.output_guard's check of every
    command's flags)."""
    from core.io.atomic import check_writable
    from core.io.points import POINT_FORMATS

    out = Path(out)
    if out.suffix.lower() not in POINT_FORMATS:
        raise UserError(f"{out}: output must end in {', '.join(POINT_FORMATS)}")
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


def command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Command name -> its sub-parser, for a parser made by :func:`build_parser`."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def run_cli(argv: list[str]) -> int:
    """Run a CLI command; returns the exit status."""
    from core.io.scene import SceneError

    from app.driver import exit_code, sigterm_as_interrupt
    from app.output_guard import check_args

    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        check_args(command_parsers(parser)[args.command], args)  # before any work
        with sigterm_as_interrupt():
            return func(args)
    except KeyboardInterrupt as exc:  # Ctrl-C/SIGTERM before a command's own handling
        print("interrupted", file=sys.stderr)
        return exit_code(exc)
    except (UserError, SceneError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # validation errors from config, readers
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing file, output path is a file, no permission, disk full
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 2


def os_error_line(exc: OSError) -> str:
    """``<file>: <problem>`` for an OSError (never "[Errno N] ..."); the message alone when
    the error names no file."""
    if exc.filename is None:
        return str(exc)
    return f"{exc.filename}: {exc.strerror or os.strerror(exc.errno or 0)}"
