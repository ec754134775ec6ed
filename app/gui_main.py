"""Start the desktop window: ``run_gui(argv) -> exit code``.

    (no args)                      welcome page (Run demo, open, recent files)
    --demo                         fit the bundled demo scene
    --scene PATH [--run]           open a scene folder (and start fitting)
    --points J                     number of points
    --exit-after S                 run for S seconds, then save --screenshot/--export, exit 0
    --screenshot FILE, --export FILE

A scene that cannot be read: with --exit-after the message goes to stderr and the exit code
is 2; otherwise a dialog explains it and the welcome page stays.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

__all__ = ["run_gui", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python main.py", description="DRWR Studio desktop window (no command)")
    p.add_argument("--demo", action="store_true", help="fit the bundled demo scene")
    p.add_argument("--scene", metavar="PATH", help="drwr-scene folder to open")
    p.add_argument("--run", action="store_true", help="start fitting the --scene at once")
    p.add_argument("--points", type=int, metavar="J", help="number of points")
    p.add_argument("--preset", choices=["default", "drwr-paper"],
                   help="fit preset (default: 'default'; --demo uses 'drwr-paper' so the cloud "
                   "visibly forms from a uniform box)")
    p.add_argument("--exit-after", type=float, metavar="SECONDS",
                   help="run for SECONDS, save --screenshot/--export, then exit")
    p.add_argument("--screenshot", metavar="FILE", help="PNG of the whole window (--exit-after)")
    p.add_argument("--export", metavar="FILE", help="write the cloud (.ply/.obj) (--exit-after)")
    return p


def _prepare_env() -> None:
    if not os.environ.get("XDG_RUNTIME_DIR"):
        d = tempfile.mkdtemp(prefix="drwr-xdg-")
        os.environ["XDG_RUNTIME_DIR"] = d
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # Mesa's software renderer spawns a thread per core; one is plenty for a point cloud and
    # leaves the other core to the fit.
    os.environ.setdefault("LP_NUM_THREADS", "1")


def run_gui(argv: list[str]) -> int:
    """Run the window; returns the process exit code."""
    args = build_parser().parse_args(argv)
    _prepare_env()
    from PyQt5 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["drwr-studio"])

    from .window import MainWindow

    headless = args.exit_after is not None
    try:
        from core.fit.config import apply_preset

        preset = args.preset or ("drwr-paper" if args.demo else "default")
        config = apply_preset(preset, points=args.points)
    except ValueError as exc:
        print(f"drwr-studio: {exc}", file=sys.stderr)
        return 2
    scene = None
    if args.scene and not args.demo:
        from core.io.loaders import load_scene
        from core.io.scene import SceneError

        try:
            scene = load_scene(args.scene)
        except (SceneError, OSError, ValueError) as exc:
            if headless:
                print(f"drwr-studio: {exc}", file=sys.stderr)
                return 2
            QtWidgets.QMessageBox.critical(None, "DRWR Studio", f"Cannot open the scene:\n{exc}")
    win = MainWindow(show_dialogs=not headless)
    win.controller.config = config
    win.params.set_values({f: getattr(config, f) for f in win.params.controls})
    win.show()
    if args.demo:
        from core.io.demo import demo_scene

        win.controller.load(demo_scene(), config, run=True)
    elif scene is not None:
        win.add_recent(str(args.scene))
        win.controller.load(scene, config, run=args.run)
    result: dict[str, Any] = {"code": 0}
    if headless:
        def finish() -> None:
            try:
                win.refresh_now()
                if args.screenshot:
                    win.save_screenshot(args.screenshot)
                if args.export:
                    win.export_cloud(args.export)
            except Exception as exc:
                print(f"drwr-studio: {exc}", file=sys.stderr)
                result["code"] = 1
            if win.last_error:
                print(f"drwr-studio: {win.last_error}", file=sys.stderr)
            win.close()
            app.exit(result["code"])

        QtCore.QTimer.singleShot(int(args.exit_after * 1000), finish)
    code = app.exec_()
    return result["code"] if headless else code
