"""What the window costs the optimiser, and how fast the 3D view draws.

1. it/s of the same demo fit headless (a plain ``Fitter.step`` loop, 1 torch thread) and in
   the GUI (the worker thread running with the main window shown), side by side, and their
   ratio (target: the GUI costs <= 10 %). Segments alternate so that other load on a shared
   machine hits both alike; medians are compared.
2. Where a frame's time goes: CPU milliseconds (all threads of the process, GL driver's
   included) of each part of the window's display path on the paused demo fit at the same J:
   the worker's snapshot, the 3D view (update in place + one synchronous repaint), the
   silhouette panels and the loss plot (each redrawn once).
3. 3D view frames per second at 100k points: update the PolyData in place + one synchronous
   repaint, as the window does each tick.
4. Compare mode (``--compare SPEC``, default ``beta=3``; ``--no-compare`` skips it): it/s of
   runs A and B in the compared window against two headless Fitters stepping at once in two
   threads, paired per round as in 1, the frames/s of both views and what B's view and
   overlay cost per frame (``bench_gui_compare.py``).

Needs an X display; without DISPLAY it starts Xvfb itself when it is installed.

    python benchmarks/bench_gui.py [--points 2000] [--seconds 3] [--rounds 10] [--view-points 100000]
        [--compare SPEC | --no-compare]
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
sys.path.insert(1, str(Path(__file__).resolve().parent))
import bench_gui_compare  # noqa: E402
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("LP_NUM_THREADS", "1")


def _its(step_count: callable, run_for: callable, seconds: float) -> float:
    n0, t0 = step_count(), time.perf_counter()
    run_for(seconds)
    return (step_count() - n0) / (time.perf_counter() - t0)


def compare_its(points: int, seconds: float, rounds: int,
                draw_share: float | None = None) -> tuple[list, list, list, float]:
    """Alternate headless, GUI and GUI-without-display segments of ``seconds`` (``rounds``
    each), so that load from other processes on a shared machine hits all alike. Returns the
    three it/s lists and the GUI's frames/s."""
    import torch
    from PyQt5 import QtCore

    import app.window as window_module
    from app.window import MainWindow
    from core.fit.config import apply_preset
    from core.io.demo import demo_scene
    from core.fit.fitter import Fitter

    torch.set_num_threads(1)
    if draw_share is not None:
        window_module.DRAW_SHARE = draw_share
    cfg = apply_preset("drwr-paper", points=points, iterations=100_000)
    fitter = Fitter(demo_scene(), cfg)
    for _ in range(3):  # warm-up
        fitter.step()

    def run_headless(sec: float) -> None:
        end = time.perf_counter() + sec
        while time.perf_counter() < end:
            fitter.step()

    bench_gui_compare.qt_app()
    settings = QtCore.QSettings(tempfile.mktemp(suffix=".ini"), QtCore.QSettings.IniFormat)
    win = MainWindow(settings=settings, autosave_s=0, show_dialogs=False)
    win.show()
    win.controller.load(demo_scene(), cfg, run=False)

    def spin(sec: float) -> None:  # a real event loop: idle waits hold no GIL
        loop = QtCore.QEventLoop()
        QtCore.QTimer.singleShot(int(sec * 1000), loop.quit)
        loop.exec_()

    while win.controller.worker.job is None or win.controller.state() != "paused":
        spin(0.05)
    gui_fitter = win.controller.worker.job

    def run_gui(sec: float, display: bool = True) -> tuple[float, int, float]:
        """Run for ``sec`` of steady running; (it/s, frames drawn, seconds) of that span.
        Counted between two reads while running, so neither the worker's start (it polls
        requests every 0.1 s when paused) nor the wait for the pause counts. ``display``
        False stops the window's draw timer: the same worker thread, nothing drawn."""
        if not display:
            win.timer.stop()
        win.controller.command("run")
        spin(0.4)  # started, and the window's first frames drawn
        n0, f0, t0 = gui_fitter.iteration, win.frames_drawn, time.perf_counter()
        spin(sec)
        n1, f1, t1 = gui_fitter.iteration, win.frames_drawn, time.perf_counter()
        win.controller.command("pause")
        spin(0.3)  # let the current step finish
        win.timer.start()
        return (n1 - n0) / (t1 - t0), f1 - f0, t1 - t0

    parts = frame_parts(win, gui_fitter)
    run_gui(2.0)  # warm-up
    head, gui, bare, frames, gui_time = [], [], [], 0, 0.0
    for k in range(rounds + 1):  # H G H G ... H: every GUI segment between two headless ones
        head.append(_its(lambda: fitter.iteration, run_headless, seconds))
        if k == rounds:
            break
        its, n_frames, dt = run_gui(seconds)
        gui.append(its)
        frames += n_frames
        gui_time += dt
        bare.append(run_gui(seconds, display=False)[0])
    win.close()
    return head, gui, bare, frames / gui_time, parts


def frame_parts(win, job, n: int = 20) -> dict[str, float]:
    """CPU ms per call of each part of a frame (see the module docstring), process-wide."""
    import numpy as np
    from PyQt5 import QtWidgets

    app = QtWidgets.QApplication.instance()
    snap = job.snapshot()
    rows = np.zeros((5, 1 + len(win.loss_plot.names)))

    def cpu_ms(fn) -> float:
        app.processEvents()
        c0 = time.process_time()
        for k in range(n):
            fn(k)
        return 1000 * (time.process_time() - c0) / n

    def plot(k: int) -> None:
        rows[:, 0] = np.arange(5) + 5 * k + 10**6
        rows[:, 1:] = 1.0
        win.loss_plot.add_rows(rows)
        win.loss_plot.plot.repaint()

    cv = win.cloud_view
    return {
        "worker snapshot (job.snapshot)": cpu_ms(lambda k: job.snapshot()),
        "3D view: update + repaint": cpu_ms(lambda k: (cv.set_points(snap.points + 1e-4 * k,
                                                                     snap.point_loss),
                                                       cv.plotter.interactor.repaint())),
        "3D view: plotter.render() alone": cpu_ms(lambda k: cv.plotter.render()),
        "silhouette panels: update + repaint": cpu_ms(
            lambda k: (win.panels.set_projections(snap.uv + 0.01 * k, snap.inside),
                       win.panels.repaint())),
        "loss plot: 5 rows + repaint": cpu_ms(plot),
    }


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=3.0, help="per segment")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--view-points", type=int, default=100_000)
    ap.add_argument("--draw-share", type=float, default=None,
                    help="the window's display CPU budget (default: app.window.DRAW_SHARE)")
    ap.add_argument("--compare", metavar="SPEC", default=bench_gui_compare.DEFAULT_SPEC,
                    help="B's settings over A's for the compare-mode block (default: "
                    f"{bench_gui_compare.DEFAULT_SPEC})")
    ap.add_argument("--no-compare", action="store_true", help="skip the compare-mode block")
    args = ap.parse_args()
    if not args.no_compare:
        from app.compare_spec import SpecError, compare_config

        try:
            compare_config(args.compare, bench_gui_compare.base_config(args.points))
        except SpecError as exc:
            print(f"error: --compare: {exc}", file=sys.stderr)
            return 2
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="drwr-xdg-"))
    xvfb = ensure_display()
    try:
        head, gui, bare, fps_gui, parts = compare_its(args.points, args.seconds, args.rounds,
                                           args.draw_share)
        fps = view_fps(args.view_points)
        print_single(args, head, gui, bare, fps_gui, parts, fps)
        if not args.no_compare:
            res = bench_gui_compare.compare_two_its(args.points, args.seconds, args.rounds,
                                                    args.compare, args.draw_share)
            bench_gui_compare.report(res, args.compare, args.points, args.seconds,
                                     args.rounds)
    finally:
        bench_gui_compare.release_app()
        if xvfb is not None:
            xvfb.terminate()
    return 0


def print_single(args: argparse.Namespace, head: list, gui: list, bare: list, fps_gui: float,
                 parts: dict, fps: float) -> None:
    """Print the single-run blocks (1-3 of the module docstring)."""
    h, g = statistics.median(head), statistics.median(gui)
    # each GUI segment against the mean of the headless segments just before and after it:
    # the machine's speed drifts by several % over tens of seconds on a shared VM
    ratios = sorted(gk / ((head[k] + head[k + 1]) / 2) for k, gk in enumerate(gui))
    r = statistics.median(ratios)
    # and against the same worker thread with the display off (the GUI segment's neighbours)
    prev = [bare[k - 1] if k else bare[0] for k in range(len(gui))]
    dratios = sorted(gk / ((prev[k] + bare[k]) / 2) for k, gk in enumerate(gui))
    d = statistics.median(dratios)
    print(f"demo fit, J={args.points}, {args.rounds} alternating rounds of {args.seconds:.0f} s, "
          "torch threads=1")
    print(f"  headless  {h:8.2f} it/s  (rounds: {', '.join(f'{x:.2f}' for x in head)})")
    print(f"  GUI       {g:8.2f} it/s  (rounds: {', '.join(f'{x:.2f}' for x in gui)}; "
          f"window drew {fps_gui:.1f} frames/s)")
    print(f"  no draw   {statistics.median(bare):8.2f} it/s  (the GUI's worker with the window's "
          f"draw timer stopped; rounds: {', '.join(f'{x:.2f}' for x in bare)})")
    print(f"  GUI / headless = {r:.3f}  (median of the {len(ratios)} paired ratios, range "
          f"{ratios[0]:.3f}-{ratios[-1]:.3f}; cost {100 * (1 - r):+.1f} %, target <= 10 %)")
    print(f"  GUI / no draw  = {d:.3f}  (range {dratios[0]:.3f}-{dratios[-1]:.3f}; what drawing "
          "alone costs, same thread)")
    print(f"where a frame's time goes (CPU ms per call, all threads; J={args.points}, window "
          "1400x900; the window draws the 3D view each frame, the panels and the plot at most "
          "once a second):")
    for name, ms in parts.items():
        print(f"  {name:40s} {ms:6.2f} ms")
    print(f"3D view, {args.view_points} points: {fps:.1f} fps (in-place update + render)")


if __name__ == "__main__":
    from bench_results import record

    raise SystemExit(record("gui", main))
