"""Soak test of the window: fit, reset, change parameters, open other scenes, toggle overlays
and export in a loop for a given number of minutes, sampling the process's resident memory
(RSS) every minute, then print the curve and its slope. RSS counts shared-library pages the
kernel may drop under memory pressure from other processes, so the anonymous part (RssAnon:
heap, tensors, buffers: where a leak shows) is printed beside it, and so is the longest gap
between two actions (a stall of the event loop, ours or the machine's).

    xvfb-run -a python benchmarks/soak_gui.py --minutes 60      # or with a real DISPLAY

One action every ``--every`` seconds, in turn: open the demo (default preset, running), move
β and R live, Reset, pause/step/run, toggle ground truth, cameras and visual hull, export,
open a made scene folder (chair or blob, read from disk like a user's), ... Memory that
grows with the number of actions (not levelling off) is a leak.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("LP_NUM_THREADS", "1")


def anon_mb() -> float:
    """Anonymous resident memory of this process (RssAnon) in MiB; 0 where unknown."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--every", type=float, default=3.0, help="seconds between actions")
    ap.add_argument("--points", type=int, default=2000)
    args = ap.parse_args()

    from PyQt5 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["soak"])
    from app.window import MainWindow, rss_mb
    from core.fit.config import apply_preset
    from core.io.demo import demo_scene
    from core.io.mesh_scene import make_scene
    from core.io.scene import write_scene

    tmp = Path(tempfile.mkdtemp(prefix="drwr-soak-"))
    scenes = [write_scene(make_scene(shape, views=8, res=64, gt_points=5000, seed=1),
                          tmp / shape) for shape in ("chair", "blob")]
    settings = QtCore.QSettings(str(tmp / "settings.ini"), QtCore.QSettings.IniFormat)
    win = MainWindow(settings=settings, autosave_s=30, show_dialogs=False)
    win.resize(1400, 900)
    win.show()
    cfg = apply_preset("default", points=args.points)
    counts = {"actions": 0, "fits": 0, "errors": 0}
    n_scene = [0]

    def toggle(name: str) -> None:
        box = win.cloud_view.layer_boxes[name]
        if box.isEnabled():
            box.setChecked(not box.isChecked())

    def open_folder() -> None:
        win.load_scene_path(str(scenes[n_scene[0] % len(scenes)]))
        n_scene[0] += 1
        counts["fits"] += 1

    def open_demo() -> None:
        win.start_fit(demo_scene(), cfg, run=True)
        counts["fits"] += 1

    c = win.controller
    actions = [
        open_demo,
        lambda: c.set_live({"beta": 1.5}),
        lambda: c.set_live({"R": 3}),
        lambda: c.command("reset", win.params.values()),
        lambda: c.command("pause"),
        lambda: c.command("step"),
        lambda: c.command("run"),
        lambda: toggle("gt"),
        lambda: toggle("frusta"),
        lambda: toggle("hull"),
        lambda: win.export_cloud(str(tmp / "export.ply")) if c.latest_points() is not None
        else None,
        lambda: c.set_live({"beta": 0.0, "R": 5}),
        open_folder,
        lambda: c.set_live({"iterations": 400}),
        lambda: c.command("reset", win.params.values()),
        open_folder,
    ]

    last_tick = [time.monotonic(), 0.0]  # time of the last action, longest gap

    def act() -> None:
        now = time.monotonic()
        last_tick[1] = max(last_tick[1], now - last_tick[0])
        last_tick[0] = now
        try:
            actions[counts["actions"] % len(actions)]()
        except Exception as exc:  # keep soaking; count it
            counts["errors"] += 1
            print(f"  action {counts['actions']}: {exc}", file=sys.stderr)
        counts["actions"] += 1

    t0 = time.monotonic()
    samples: list[tuple[float, float, float, int, int]] = []

    def sample() -> None:
        m = (time.monotonic() - t0) / 60
        samples.append((m, rss_mb(), anon_mb(), counts["actions"], counts["fits"]))
        print(f"  {m:5.1f} min  RSS {samples[-1][1]:7.1f} MiB  anon {samples[-1][2]:7.1f} MiB"
              f"  actions {counts['actions']:5d}  fits {counts['fits']:4d}"
              f"  longest gap {last_tick[1]:5.1f} s", flush=True)
        last_tick[1] = 0.0
        if m >= args.minutes - 0.1:  # timers fire a little early or late
            win.close()
            app.quit()

    every = QtCore.QTimer(interval=int(args.every * 1000))
    every.timeout.connect(act)
    minute = QtCore.QTimer(interval=60_000)
    minute.timeout.connect(sample)
    print(f"soak: {args.minutes:g} min, one action every {args.every:g} s, J = {args.points}")
    sample()
    every.start()
    minute.start()
    app.exec_()
    if len(samples) >= 3:
        import numpy as np

        m = np.array([s[0] for s in samples])
        half = m >= m[-1] / 2
        for k, name in ((1, "RSS"), (2, "anon")):
            r = np.array([s[k] for s in samples])
            slope = np.polyfit(m[half], r[half], 1)[0] if half.sum() >= 2 else float("nan")
            print(f"{name}: start {r[0]:.1f} MiB, after 1 min {r[1]:.1f}, end {r[-1]:.1f}, "
                  f"max {r.max():.1f}; slope over the second half {slope:+.2f} MiB/min")
        print(f"{counts['actions']} actions, {counts['fits']} fits, {counts['errors']} errors")
    return 0


if __name__ == "__main__":
    from bench_results import record

    raise SystemExit(record("soak_gui", main))
