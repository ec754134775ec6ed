"""What the window costs the optimiser, and how fast the 3D view draws.

1. it/s of the same demo fit headless (a plain ``Fitter.step`` loop, 1 torch thread) and in
   the GUI (the worker thread running with the main window shown), side by side, and their
   ratio (target: the GUI costs <= 10 %). Segments alternate so that other load on a shared
   machine hits both alike; medians are compared.
2. 3D view frames per second at 100k points: update the PolyData in place + one synchronous
   repaint, as the window does each tick.

Needs an X display; without DISPLAY it starts Xvfb itself when it is installed.

    python benchmarks/bench_gui.py [--points 2000] [--seconds 6] [--rounds 3] [--view-points 100000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("LP_NUM_THREADS", "1")


def _its(step_count: callable, run_for: callable, seconds: float) -> float:
    n0, t0 = step_count(), time.perf_counter()
    run_for(seconds)
    return (step_count() - n0) / (time.perf_counter() - t0)


def compare_its(points: int, seconds: float, rounds: int) -> tuple[list, list, float]:
    """Alternate headless and GUI segments of ``seconds`` (``rounds`` each), so that load from
    other processes on a shared machine hits both alike. Returns it/s lists and GUI fps."""
    import torch
    from PyQt5 import QtCore, QtWidgets

    from app.window import MainWindow
    from core.config import apply_preset
    from core.demo import demo_scene
    from core.fit import Fitter

    torch.set_num_threads(1)
    cfg = apply_preset("drwr-paper", points=points, iterations=100_000)
    fitter = Fitter(demo_scene(), cfg)
    for _ in range(3):  # warm-up
        fitter.step()

    def run_headless(sec: float) -> None:
        end = time.perf_counter() + sec
        while time.perf_counter() < end:
            fitter.step()

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    settings = QtCore.QSettings(tempfile.mktemp(suffix=".ini"), QtCore.QSettings.IniFormat)
    win = MainWindow(settings=settings, autosave_s=0, show_dialogs=False)
    win.show()
    win.controller.load(demo_scene(), cfg, run=False)

    def spin(sec: float) -> None:  # a real event loop: idle waits hold no GIL
        loop = QtCore.QEventLoop()
        QtCore.QTimer.singleShot(int(sec * 1000), loop.quit)
        loop.exec_()

    while win.controller.worker.fitter is None or win.controller.state() != "paused":
        spin(0.05)
    gui_fitter = win.controller.worker.fitter

    def run_gui(sec: float) -> None:
        win.controller.command("run")
        spin(sec)
        win.controller.command("pause")
        spin(0.3)  # let the current step finish

    run_gui(2.0)  # warm-up
    head, gui, frames, gui_time = [], [], 0, 0.0
    for _ in range(rounds):
        head.append(_its(lambda: fitter.iteration, run_headless, seconds))
        f0, t0 = win.frames_drawn, time.perf_counter()
        gui.append(_its(lambda: gui_fitter.iteration, run_gui, seconds))
        frames += win.frames_drawn - f0
        gui_time += time.perf_counter() - t0
    win.close()
    return head, gui, frames / gui_time


def view_fps(n: int, frames: int = 40) -> float:
    import numpy as np
    from PyQt5 import QtWidgets

    from widgets.cloud_view import CloudView

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    v = CloudView()
    v.resize(900, 650)
    v.show()
    rng = np.random.default_rng(0)
    base = rng.normal(size=(n, 3)).astype(np.float32) * 0.3
    vals = rng.random(n, dtype=np.float32)
    v.set_points(base, vals)
    app.processEvents()
    v.plotter.interactor.repaint()
    t0 = time.perf_counter()
    for k in range(frames):
        v.set_points(base + 0.01 * np.sin(k), vals)
        v.plotter.interactor.repaint()  # one synchronous render
    dt = time.perf_counter() - t0
    v.close_view()
    v.close()
    return frames / dt


def ensure_display() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY"):
        return None
    if not shutil.which("Xvfb"):
        sys.exit("bench_gui: needs an X display (set DISPLAY or install Xvfb)")
    disp = ":97"
    proc = subprocess.Popen(["Xvfb", disp, "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    os.environ["DISPLAY"] = disp
    return proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=6.0, help="per segment")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--view-points", type=int, default=100_000)
    args = ap.parse_args()
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="drwr-xdg-"))
    xvfb = ensure_display()
    try:
        head, gui, fps_gui = compare_its(args.points, args.seconds, args.rounds)
        fps = view_fps(args.view_points)
    finally:
        if xvfb is not None:
            xvfb.terminate()
    h, g = statistics.median(head), statistics.median(gui)
    print(f"demo fit, J={args.points}, {args.rounds} alternating rounds of {args.seconds:.0f} s, "
          "torch threads=1")
    print(f"  headless  {h:8.2f} it/s  (rounds: {', '.join(f'{x:.2f}' for x in head)})")
    print(f"  GUI       {g:8.2f} it/s  (rounds: {', '.join(f'{x:.2f}' for x in gui)}; "
          f"window drew {fps_gui:.1f} frames/s)")
    print(f"  GUI / headless = {g / h:.3f}  (cost {100 * (1 - g / h):+.1f} %, target <= 10 %)")
    print(f"3D view, {args.view_points} points: {fps:.1f} fps (in-place update + render)")


if __name__ == "__main__":
    main()
