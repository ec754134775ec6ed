"""The window's compare mode (two runs side by side) against two headless runs: bench_gui's
compare block.

1. it/s of runs A (the demo fit) and B (the same scene with SPEC over A's settings) in two
   kinds of segment, alternated: **headless** (two ``Fitter.step`` loops in two Python
   threads at once, one torch thread each; torch releases the GIL in its ops) and **GUI**
   (the window in compare mode, Run driving both workers, both 3D views drawing). Each GUI
   segment's A+B it/s is divided by the mean A+B it/s of its two headless neighbours; the
   median of these paired ratios is the window's cost.
2. CPU ms per call (all threads) of the compared window's display parts on the paused runs:
   each 3D view's update + repaint (half width now) and B's overlay on the silhouette panels.

Used by ``bench_gui.py`` (``--compare SPEC``, ``--no-compare``).
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import threading
import time
from typing import Any

DEFAULT_SPEC = "beta=3"  # the drwr-paper preset's own beta: B's step costs what A's does


def base_config(points: int) -> Any:
    """The config of run A (bench_gui's demo fit)."""
    from core.fit.config import apply_preset

    return apply_preset("drwr-paper", points=points, iterations=100_000)


_APP: Any = None  # the QApplication, alive while the script runs


def qt_app() -> Any:
    """The process's QApplication (made on the first call)."""
    global _APP
    from PyQt5 import QtWidgets

    _APP = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    return _APP


def release_app() -> None:
    """Let the QApplication go (before the X server it draws on stops)."""
    global _APP
    _APP = None
    gc.collect()


def spin(sec: float) -> None:
    """Run the Qt event loop for ``sec`` (idle waits hold no GIL)."""
    from PyQt5 import QtCore

    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(int(sec * 1000), loop.quit)
    loop.exec_()


def run_pair(fitters: list, seconds: float) -> list[float]:
    """Step each fitter in its own thread, all at once, for ``seconds``; each one's it/s."""
    import torch

    out = [0.0] * len(fitters)
    start = threading.Barrier(len(fitters))

    def loop(k: int) -> None:
        torch.set_num_threads(1)
        start.wait()
        n0, t0 = fitters[k].iteration, time.perf_counter()
        end = t0 + seconds
        while time.perf_counter() < end:
            fitters[k].step()
        out[k] = (fitters[k].iteration - n0) / (time.perf_counter() - t0)

    threads = [threading.Thread(target=loop, args=(k,)) for k in range(len(fitters))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def wait_until(cond: Any, timeout: float = 60.0) -> None:
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise RuntimeError("bench_gui: the compared window did not get ready in time")
        spin(0.05)


def compare_two_its(points: int, seconds: float, rounds: int, spec: str,
                    draw_share: float | None = None) -> dict[str, Any]:
    """Alternate headless-pair and compared-window segments of ``seconds`` (H G H ... H,
    ``rounds`` GUI segments). Returns the per-round it/s lists ``head_a``, ``head_b``,
    ``gui_a``, ``gui_b``, the frames/s drawn ``fps_a``, ``fps_b`` and the frame ``parts``."""
    import torch
    from PyQt5 import QtCore

    import app.window as window_module
    from app.compare_spec import compare_config
    from app.window import MainWindow
    from core.fit.fitter import Fitter
    from core.io.demo import demo_scene

    torch.set_num_threads(1)
    if draw_share is not None:
        window_module.DRAW_SHARE = draw_share
    cfg = base_config(points)
    fitters = [Fitter(demo_scene(), cfg), Fitter(demo_scene(), compare_config(spec, cfg))]
    for f in fitters:  # warm-up
        for _ in range(3):
            f.step()
    run_pair(fitters, 1.0)

    qt_app()
    settings = QtCore.QSettings(tempfile.mktemp(suffix=".ini"), QtCore.QSettings.IniFormat)
    win = MainWindow(settings=settings, autosave_s=0, show_dialogs=False)
    win.show()
    main = win.controller
    main.load(demo_scene(), cfg, run=False)
    wait_until(lambda: main.worker.job is not None and main.state() == "paused")
    win.compare.start(spec, run=False)
    ctl = win.compare.controller
    wait_until(lambda: ctl.worker.job is not None and ctl.state() == "paused")
    jobs = (main.worker.job, ctl.worker.job)

    def counts() -> tuple:
        return (jobs[0].iteration, jobs[1].iteration, win.frames_drawn,
                win.compare.frames_drawn, time.perf_counter())

    def run_gui(sec: float) -> tuple:
        """(A it/s, B it/s, A's frames, B's frames, seconds) of ``sec`` of steady running of
        both (counted between two reads while running, as bench_gui's single run)."""
        main.command("run")  # drives both runs
        spin(0.4)
        c0 = counts()
        spin(sec)
        c1 = counts()
        main.command("pause")
        spin(0.3)
        wait_until(lambda: "running" not in (main.state(), ctl.state()), 10.0)
        dt = c1[4] - c0[4]
        return ((c1[0] - c0[0]) / dt, (c1[1] - c0[1]) / dt, c1[2] - c0[2], c1[3] - c0[3], dt)

    parts = compared_frame_parts(win, jobs)
    run_gui(2.0)  # warm-up
    out: dict[str, Any] = {k: [] for k in ("head_a", "head_b", "gui_a", "gui_b")}
    frames_a = frames_b = 0
    gui_time = 0.0
    for k in range(rounds + 1):  # every GUI segment between two headless ones
        a, b = run_pair(fitters, seconds)
        out["head_a"].append(a)
        out["head_b"].append(b)
        if k == rounds:
            break
        a, b, fa, fb, dt = run_gui(seconds)
        out["gui_a"].append(a)
        out["gui_b"].append(b)
        frames_a, frames_b, gui_time = frames_a + fa, frames_b + fb, gui_time + dt
    win.close()
    out.update(fps_a=frames_a / gui_time, fps_b=frames_b / gui_time, parts=parts,
               config_b=ctl.config)
    return out


def compared_frame_parts(win: Any, jobs: tuple, n: int = 20) -> dict[str, float]:
    """CPU ms per call, process-wide, of the compared window's display parts (paused runs)."""
    from PyQt5 import QtWidgets

    app = QtWidgets.QApplication.instance()
    snap_a, snap_b = jobs[0].snapshot(), jobs[1].snapshot()

    def cpu_ms(fn: Any) -> float:
        app.processEvents()
        c0 = time.process_time()
        for k in range(n):
            fn(k)
        return 1000 * (time.process_time() - c0) / n

    def view(cv: Any, snap: Any) -> Any:
        return lambda k: (cv.set_points(snap.points + 1e-4 * k, snap.point_loss),
                          cv.plotter.interactor.repaint())

    return {
        "3D view A: update + repaint": cpu_ms(view(win.cloud_view, snap_a)),
        "3D view B: update + repaint": cpu_ms(view(win.compare.view, snap_b)),
        "silhouette panels: B's overlay + repaint": cpu_ms(
            lambda k: (win.panels.set_overlay(snap_b.uv + 0.01 * k, snap_b.inside),
                       win.panels.repaint())),
    }


def _rounds(xs: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in xs)


def report(res: dict[str, Any], spec: str, points: int, seconds: float, rounds: int) -> None:
    """Print the compare block."""
    ha, hb, ga, gb = (res[k] for k in ("head_a", "head_b", "gui_a", "gui_b"))
    head = [a + b for a, b in zip(ha, hb)]
    gui = [a + b for a, b in zip(ga, gb)]
    ratios = sorted(g / ((head[k] + head[k + 1]) / 2) for k, g in enumerate(gui))
    r = statistics.median(ratios)
    med = statistics.median
    print(f"compare mode, B = A with {spec} (B's config differs from A's in: "
          f"{_differs(res['config_b'], points)}), J={points}, {rounds} alternating rounds of "
          f"{seconds:.0f} s, torch threads=1 per run")
    print(f"  headless A    {med(ha):8.2f} it/s  (two Fitters stepping at once in two threads; "
          f"rounds: {_rounds(ha)})")
    print(f"  headless B    {med(hb):8.2f} it/s  (rounds: {_rounds(hb)})")
    print(f"  headless A+B  {med(head):8.2f} it/s  (rounds: {_rounds(head)})")
    print(f"  GUI A         {med(ga):8.2f} it/s  (rounds: {_rounds(ga)}; view A drew "
          f"{res['fps_a']:.1f} frames/s)")
    print(f"  GUI B         {med(gb):8.2f} it/s  (rounds: {_rounds(gb)}; view B drew "
          f"{res['fps_b']:.1f} frames/s)")
    print(f"  GUI A+B       {med(gui):8.2f} it/s  (rounds: {_rounds(gui)})")
    print(f"  GUI / headless (A+B) = {r:.3f}  (median of the {len(ratios)} paired ratios, range "
          f"{ratios[0]:.3f}-{ratios[-1]:.3f}; cost {100 * (1 - r):+.1f} %, target <= 10 %)")
    print(f"where a compared frame's time goes (CPU ms per call, all threads; J={points}, the "
          "two views side by side; B's view is drawn with each frame of A's, B's overlay at "
          "most once a second):")
    for name, ms in res["parts"].items():
        print(f"  {name:40s} {ms:6.2f} ms")


def _differs(config_b: Any, points: int) -> str:
    from dataclasses import fields

    a = base_config(points)
    diff = [f"{f.name}={getattr(config_b, f.name)}" for f in fields(a)
            if getattr(a, f.name) != getattr(config_b, f.name)]
    return ", ".join(diff) or "nothing"
