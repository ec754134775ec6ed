"""Start the desktop window: ``run_gui(argv) -> exit code``.

    (no args)                      welcome page (Run demo, open, recent files)
    --demo                         fit the bundled demo scene
    --scene PATH [--run]           open a scene folder (and start fitting)
    --points J                     number of points
    --dataset PATH [--train]       training mode on a drwr-dataset (and start training)
        [--run-dir RUN]            where that training writes (default ~/.cache/drwr-studio/runs)
    --follow RUN                   follow a run folder another process writes
    --exit-after S                 run for S seconds, then save --screenshot/--export, exit 0
                                   (--export, --look-through and --record wait up to 2 min
                                   more for a job's first cloud)
    --screenshot FILE, --export FILE
    --compare SPEC                 also fit the scene with SPEC's settings, side by side
                                   (comma-separated field=value overrides, preset=NAME too)
    --compare-checkpoint PT        with --dataset/--follow: the checkpoint PT's prediction of
                                   the object shown, beside the training's
    --export-compare FILE          write the second cloud (--exit-after), as --export
    --look-through N               put the 3D view at view N's camera once the cloud is drawn
    --record FILE.gif|.mp4         record the 3D view, one frame per drawn snapshot; finished
                                   at exit (.mp4 needs imageio-ffmpeg)

A scene that cannot be read: with --exit-after the message goes to stderr and the exit code
is 2; otherwise a dialog explains it and the welcome page stays. With --exit-after, any error
the window reports (e.g. a scene that loads but cannot be fitted) ends the run at once with
exit code 1. Ctrl-C or SIGTERM: the cloud so far goes to the autosave file, the window closes
(exit 130 / 143). A runtime folder this function had to create is removed at exit.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import sys
import tempfile
from typing import Any

__all__ = ["build_parser", "run_gui"]


def build_parser() -> argparse.ArgumentParser:
    from .output_guard import reads, value, writes

    p = argparse.ArgumentParser(prog="python main.py", description="DRWR Studio desktop window (no command)")
    p.add_argument("--demo", action="store_true", help="fit the bundled demo scene")
    reads(p.add_argument("--scene", metavar="PATH", help="drwr-scene folder to open"), "scene")
    p.add_argument("--run", action="store_true", help="start fitting the --scene at once")
    p.add_argument("--points", type=int, metavar="J", help="number of points")
    p.add_argument("--preset", choices=["default", "drwr-paper"],
                   help="fit preset (default: 'default'; --demo uses 'drwr-paper' so the cloud "
                   "visibly forms from a uniform box)")
    reads(p.add_argument("--dataset", metavar="PATH", help="drwr-dataset to train a network on "
                         "(training mode)"), "dataset")
    p.add_argument("--train", action="store_true", help="start training the --dataset at once")
    writes(p.add_argument("--run-dir", metavar="RUN", help="run folder the window's training "
                          "writes (default ~/.cache/drwr-studio/runs/<dataset>-<time>)"),
           folder=True)
    reads(p.add_argument("--follow", metavar="RUN", help="follow a training run folder "
                         "(metrics.jsonl, checkpoints) that another process writes"),
          "run folder")
    p.add_argument("--exit-after", type=float, metavar="SECONDS",
                   help="run for SECONDS, save --screenshot/--export, then exit")
    writes(p.add_argument("--screenshot", metavar="FILE", help="PNG of the whole window "
                          "(--exit-after)"))
    writes(p.add_argument("--export", metavar="FILE", help="write the cloud (.ply/.obj/.xyz) "
                          "(--exit-after)"))
    value(p.add_argument("--compare", metavar="SPEC", help="compare mode: a second run of the "
                         "scene with SPEC's settings beside the first, e.g. preset=drwr-paper or "
                         "beta=3,sigma=2 (comma-separated field=value overrides of the fit "
                         "settings)"))
    reads(p.add_argument("--compare-checkpoint", metavar="PT", help="with --dataset or "
                         "--follow: a training checkpoint's (.pt) prediction of the validation "
                         "object shown, beside the training's"), "checkpoint")
    writes(p.add_argument("--export-compare", metavar="FILE", help="write the second run's "
                          "cloud (.ply/.obj/.xyz) (--exit-after)"))
    p.add_argument("--look-through", type=int, metavar="N", help="show the 3D view through "
                   "view N's camera, its silhouette behind the cloud (any camera move leaves)")
    writes(p.add_argument("--record", metavar="FILE", help="record the 3D view as the cloud "
                          "forms to a .gif or .mp4 (finished at exit; .mp4 needs imageio-ffmpeg)"))
    return p


MAX_EXIT_AFTER = 7 * 24 * 3600.0  # a week: QTimer takes at most ~24 days in milliseconds
#: with --export, --look-through or --record: how much longer than --exit-after the window
#: waits for a job's first cloud
FIRST_CLOUD_GRACE_S = 120.0


def _prepare_env() -> str | None:
    """Environment for Qt; returns the runtime folder it created (to remove at exit)."""
    made = None
    if not os.environ.get("XDG_RUNTIME_DIR"):
        made = tempfile.mkdtemp(prefix="drwr-xdg-")
        os.environ["XDG_RUNTIME_DIR"] = made
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # Mesa's software renderer spawns a thread per core; one is plenty for a point cloud and
    # leaves the other core to the fit.
    os.environ.setdefault("LP_NUM_THREADS", "1")
    return made


def _check_args(args: argparse.Namespace) -> str:
    """The first problem with the automation flags, or ''."""
    s = args.exit_after
    if s is not None and not (math.isfinite(s) and 0 <= s <= MAX_EXIT_AFTER):
        return f"--exit-after must be a number of seconds from 0 to {MAX_EXIT_AFTER:.0f}, got {s}"
    if sum(map(bool, (args.scene or args.demo, args.dataset, args.follow))) > 1:
        return "give one of --scene/--demo, --dataset and --follow"
    if (args.train or args.run_dir) and not args.dataset:
        return "--train and --run-dir go with --dataset"
    if (args.screenshot or args.export or args.export_compare) and s is None:
        return ("--screenshot, --export and --export-compare are written at --exit-after; "
                "give --exit-after too")
    clash = _check_outputs(args)  # an output on an input is named first, whatever else
    if clash:
        return clash
    if args.compare is not None and not (args.scene or args.demo):
        return "--compare goes with --scene or --demo (a fit)"
    if args.compare_checkpoint and not (args.dataset or args.follow):
        return "--compare-checkpoint goes with --dataset or --follow (training mode)"
    if args.export_compare and args.compare is None and not args.compare_checkpoint:
        return "--export-compare goes with --compare or --compare-checkpoint"
    if args.look_through is not None and args.look_through < 0:
        return f"--look-through takes a view number from 0, got {args.look_through}"
    if args.record:
        from .recorder import check_record_path

        return check_record_path(args.record)
    return ""


def _check_outputs(args: argparse.Namespace) -> str:
    """The first problem with --export/--export-compare/--screenshot/--run-dir, found before
    the window opens: an output that clobbers an input, a wrong suffix, a folder that cannot
    take the file."""
    from pathlib import Path

    from core.io.atomic import check_writable
    from core.io.points import POINT_FORMATS

    from .output_guard import check_args

    try:
        check_args(build_parser(), args, reader="the window")
        for flag, path in (("--export", args.export), ("--export-compare", args.export_compare)):
            if path and Path(path).suffix.lower() not in POINT_FORMATS:
                return f"{path}: {flag} must end in {', '.join(POINT_FORMATS)}"
        if args.screenshot and Path(args.screenshot).suffix.lower() != ".png":
            return f"{args.screenshot}: --screenshot must end in .png"
        for path in (args.export, args.export_compare, args.screenshot):
            if path:
                check_writable(path)
    except ValueError as exc:
        return str(exc)
    except OSError as exc:
        from app.cli import os_error_line

        return os_error_line(exc)
    return ""


def _fit_config(args: argparse.Namespace) -> Any:
    """The window's FitConfig from --preset (the demo: drwr-paper) and --points."""
    from core.fit.config import apply_preset

    return apply_preset(args.preset or ("drwr-paper" if args.demo else "default"),
                        points=args.points)


def _check_compare(args: argparse.Namespace) -> str:
    """The problem with --compare's SPEC or --compare-checkpoint's file, or '' (checked
    before any window opens)."""
    if args.compare_checkpoint:
        from .compare_checkpoint import check_checkpoint

        return check_checkpoint(args.compare_checkpoint)
    if args.compare is None:
        return ""
    from .compare_spec import SpecError, compare_config

    try:
        compare_config(args.compare, _fit_config(args))
    except ValueError as exc:  # SpecError, or --points out of range
        return f"--compare {args.compare}: {exc}" if isinstance(exc, SpecError) else str(exc)
    return ""


def run_gui(argv: list[str]) -> int:
    """Run the window; returns the process exit code."""
    args = build_parser().parse_args(argv)
    problem = _check_args(args) or _check_compare(args)
    if problem:
        print(f"drwr-studio: {problem}", file=sys.stderr)
        return 2
    made = _prepare_env()
    try:
        return _run(args)
    finally:
        if made:
            shutil.rmtree(made, ignore_errors=True)
            if os.environ.get("XDG_RUNTIME_DIR") == made:
                del os.environ["XDG_RUNTIME_DIR"]


def _run(args: argparse.Namespace) -> int:
    from PyQt5 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["drwr-studio"])

    from .window import MainWindow

    headless = args.exit_after is not None
    try:
        config = _fit_config(args)
    except ValueError as exc:
        print(f"drwr-studio: {exc}", file=sys.stderr)
        return 2
    scene = None
    if args.scene and not args.demo:
        from core.formats.loaders import load_scene
        from core.io.scene import SceneError

        try:
            scene = load_scene(args.scene)
        except (SceneError, OSError, ValueError) as exc:
            if headless:
                print(f"drwr-studio: {exc}", file=sys.stderr)
                return 2
            QtWidgets.QMessageBox.critical(None, "DRWR Studio", f"Cannot open the scene:\n{exc}")
    from .train_mode import training_inputs

    dataset = follow = None
    try:
        dataset, follow = training_inputs(args.dataset, args.follow)
    except ValueError as exc:
        if headless:
            print(f"drwr-studio: {exc}", file=sys.stderr)
            return 2
        QtWidgets.QMessageBox.critical(None, "DRWR Studio", str(exc))
    if args.demo:
        from core.io.demo import demo_scene

        scene = demo_scene()
    if args.look_through is not None and scene is not None \
            and args.look_through >= scene.n_views:
        msg = (f"--look-through {args.look_through}: the scene has {scene.n_views} views "
               f"(0 to {scene.n_views - 1})")
        if headless:
            print(f"drwr-studio: {msg}", file=sys.stderr)
            return 2
        QtWidgets.QMessageBox.critical(None, "DRWR Studio", msg)
        args.look_through = None
    win = MainWindow(show_dialogs=not headless)
    win.controller.config = config
    win.params.set_values({f: getattr(config, f) for f in win.params.controls})
    win.show()
    result: dict[str, Any] = {"code": 0}
    old_handlers = _on_signals(app, win, result)
    if headless:
        def failed(msg: str) -> None:  # automation: a failed run ends at once, non-zero
            if result.get("ending"):
                return
            result.update(code=1, ending=True)
            print(f"drwr-studio: {msg}", file=sys.stderr)
            win.close()
            app.exit(1)

        win.controller.errored.connect(failed)
        win.compare.errored.connect(failed)
        win.checkpoint_compare.errored.connect(failed)
    if args.demo:
        win.start_fit(scene, config, run=True)
    elif scene is not None:
        win.start_fit(scene, config, run=args.run, recent=str(args.scene))
    if args.compare is not None and win.controller.scene is not None:
        win.compare.start(args.compare, run=args.run or args.demo)
    elif dataset is not None:
        from core.train.config import TrainConfig

        from .train_mode import WINDOW_DEFAULTS

        tcfg = TrainConfig(**WINDOW_DEFAULTS, **({"points": args.points} if args.points else {}))
        try:
            win.train_mode.start(dataset, run=args.train, config=tcfg, run_dir=args.run_dir)
        except ValueError as exc:  # RunLocked: another process writes --run-dir
            if headless:
                print(f"drwr-studio: {exc}", file=sys.stderr)
                win.close()
                for sig, handler in old_handlers.items():
                    signal.signal(sig, handler)
                return 2
            win.show_error(str(exc))
    elif follow is not None:
        win.train_mode.follow(follow)
    if args.compare_checkpoint and win.train_mode.active:
        win.checkpoint_compare.start(args.compare_checkpoint)
    if args.look_through is not None:
        win.look_through.look_when_drawn(args.look_through)
    if args.record:
        win.recording.start(args.record)
    if headless:
        waited = {"s": 0.0}

        def finish() -> None:
            if result.get("ending"):
                return
            second = win.compare.controller
            starting = win.controller.state() in ("starting", "running")
            if ((args.export and win.controller.latest_points() is None and starting
                    or args.export_compare and second is not None
                    and second.latest_points() is None
                    and second.state() in ("starting", "running")
                    or win.look_through.pending is not None and starting
                    or args.record and starting and win.recording.frames() == 0
                    or win.checkpoint_compare.waiting())
                    and waited["s"] < FIRST_CLOUD_GRACE_S):
                # the job is still building its first cloud (a loaded machine), which the
                # exports, a --look-through screenshot and a --record need: wait for it
                waited["s"] += 0.5
                QtCore.QTimer.singleShot(500, finish)
                return
            result["ending"] = True
            try:
                win.refresh_now()
                win.compare.refresh_now()
                win.checkpoint_compare.refresh_now()
                if args.screenshot:
                    win.save_screenshot(args.screenshot)
                if args.export:
                    win.export_cloud(args.export)
                if args.export_compare:
                    (win.checkpoint_compare if args.compare_checkpoint
                     else win.compare).export(args.export_compare)
            except Exception as exc:
                print(f"drwr-studio: {exc}", file=sys.stderr)
                result["code"] = 1
            win.close()
            app.exit(result["code"])

        QtCore.QTimer.singleShot(int(args.exit_after * 1000), finish)
    try:
        code = app.exec_()
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
    if args.record:
        _report_recording(win, result)
    return result["code"] if (headless or "signal" in result) else code


def _report_recording(win: Any, result: dict[str, Any]) -> None:
    """Say what --record wrote (the window finished it when it closed)."""
    win.recording.stop()  # when the window was not closed
    last = win.recording.last
    if last is None:
        print(f"drwr-studio: {win.last_error or 'the recording failed'}", file=sys.stderr)
        result["code"] = result.get("code") or 1
    elif last[1]:
        print(f"drwr-studio: recorded {last[1]} frames to {last[0]}")
    else:
        print("drwr-studio: nothing was recorded (no frame was drawn)", file=sys.stderr)


def _on_signals(app: Any, win: Any, result: dict[str, Any]) -> dict[int, Any]:
    """Ctrl-C / SIGTERM: save the cloud so far to the autosave file, close, exit 130/143.
    Python handles signals only between bytecodes, so a timer wakes the interpreter."""
    from PyQt5 import QtCore

    def quit_on(signum: int) -> None:
        if result.get("ending"):
            return
        result.update(ending=True, signal=signum, code=143 if signum == signal.SIGTERM else 130)
        try:
            path = win.controller.save_autosave()
            note = (f"; the cloud so far was saved to {path}" if path
                    else "; there was no cloud to save yet")
        except Exception as exc:  # reported, never a traceback
            note = f"; the cloud could not be saved ({exc})"
        print(f"drwr-studio: interrupted{note}", file=sys.stderr)
        win.close()
        app.exit(result["code"])

    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        old[sig] = signal.signal(
            sig, lambda s, f: QtCore.QTimer.singleShot(0, lambda: quit_on(s)))
    wake = QtCore.QTimer(win, interval=200)
    wake.timeout.connect(lambda: None)
    wake.start()
    return old  # the handlers to restore
