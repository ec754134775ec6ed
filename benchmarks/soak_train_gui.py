"""Soak test of the window in training mode: train a small network on a made dataset, run,
pause, step, move β and λ live through the parameter panel, switch the validation object
shown, save checkpoints, export the prediction, reset, and every few minutes follow a run
folder that a CLI training writes in a background process, then train the dataset again.
Resident memory (RSS) and its anonymous part (RssAnon: heap, tensors, buffers: where a leak
shows) are sampled every minute, with the longest gap between two actions (a stall of the
event loop, ours or the machine's); the curve and the slope over its second half are printed.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/soak_train_gui.py --minutes 60

One action every ``--every`` seconds, in turn (the buttons are pressed as a user would; a
disabled one does nothing): Run, β live (panel), next object, export .ply, λ live (panel),
Pause, save checkpoint, Step, ground truth on/off, Run, β and λ live (controller), next
object, export .xyz, Reset, Run, ground truth on/off. Every ``--follow-every`` minutes:
``python main.py train DS --out RUN --minutes M --quiet`` starts in a subprocess, the window
follows RUN (next object, export, ground truth) until that process ends, then trains the
dataset again. Memory that grows with the number of actions (not levelling off) is a leak.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("LP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak_gui import anon_mb  # noqa: E402  (the fit-mode soak's RssAnon reader)

#: a small network, so a step takes well under a second on a shared CPU
NET = {"points": 256, "input_size": 32, "width": 8, "hidden": 128, "batch_size": 4,
       "views_per_object": 2, "workers": 0, "val_every": 50, "val_objects": 4}


def cli_flags() -> list[str]:
    """NET as `train` flags."""
    out = []
    for k, v in NET.items():
        out += [f"--{k.replace('_', '-')}", str(v)]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--every", type=float, default=3.0, help="seconds between actions")
    ap.add_argument("--follow-every", type=float, default=5.0,
                    help="minutes between the starts of two follow phases")
    ap.add_argument("--follow-minutes", type=float, default=2.0,
                    help="--minutes of the CLI training that is followed")
    ap.add_argument("--per-category", type=int, default=6)
    args = ap.parse_args()

    from PyQt5 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["soak"])
    from app.window import MainWindow, rss_mb
    from core.formats.datasets import read_dataset
    from core.train.config import TrainConfig
    from core.train.synth import make_dataset

    tmp = Path(tempfile.mkdtemp(prefix="drwr-soak-train-"))
    t_make = time.monotonic()
    ds_root = make_dataset(tmp / "ds", per_category=args.per_category, views=3, res=32,
                           progress=False, workers=1, n_points=600)
    ds = read_dataset(ds_root)
    print(f"dataset: {len(ds.ids('train'))} train / {len(ds.ids('val'))} val objects, 3 views, "
          f"32², made in {time.monotonic() - t_make:.0f} s")
    cfg = TrainConfig(**NET, iterations=10_000_000)
    win_run = tmp / "window-run"
    settings = QtCore.QSettings(str(tmp / "settings.ini"), QtCore.QSettings.IniFormat)
    win = MainWindow(settings=settings, autosave_s=30, show_dialogs=False)
    win.resize(1400, 900)
    win.show()
    tm, c = win.train_mode, win.controller
    counts = {"actions": 0, "errors": 0, "exports": 0, "checkpoints": 0, "follows": 0,
              "objects": 0, "steps": 0}
    errors: dict[str, int] = {}
    state = {"mode": "train", "proc": None, "run": None, "k": 0, "since": 0.0, "last_it": -1,
             "next_follow": args.follow_every}

    def train_again() -> None:
        tm.start(ds, run=True, config=cfg, run_dir=str(win_run))
        state["mode"] = "train"

    def press(name: str) -> None:
        win.run_controls.buttons[name].click()  # disabled: nothing, as for a user

    def panel(name: str, value: float) -> None:  # typed into the spin box: debounced live
        win.params.controls[name].spin.setValue(value)

    def next_object() -> None:
        n = tm.object_box.count()
        if n:
            tm.select_object(tm.object_box.itemData(counts["objects"] % n))
            counts["objects"] += 1

    def export(suffix: str) -> None:
        if c.latest_points() is not None and c.scene is not None:
            win.export_cloud(str(tmp / f"export{suffix}"))
            counts["exports"] += 1

    def save_checkpoint() -> None:
        if c.worker is not None:
            tm.save_checkpoint(str(tmp / "saved.pt"))
            counts["checkpoints"] += 1

    def toggle_gt() -> None:
        tm.gt_box.setChecked(not tm.gt_box.isChecked())

    n_live = [0]

    def live_both() -> None:
        n_live[0] += 1
        c.set_live({"beta": (0.02, 0.05, 0.01)[n_live[0] % 3],
                    "sil_weight": (3.0, 5.0, 1.0)[n_live[0] % 3]})

    training = [
        lambda: press("run"),
        lambda: panel("beta", (0.05, 0.01, 0.02)[counts["actions"] % 3]),
        next_object,
        lambda: export(".ply"),
        lambda: panel("sil_weight", (5.0, 1.0, 3.0)[counts["actions"] % 3]),
        lambda: press("pause"),
        save_checkpoint,
        lambda: press("step"),
        toggle_gt,
        lambda: press("run"),
        live_both,
        next_object,
        lambda: export(".xyz"),
        lambda: press("reset"),
        lambda: press("run"),
        toggle_gt,
    ]
    following = [next_object, lambda: export(".ply"), toggle_gt]

    def start_follow() -> None:
        state["k"] += 1
        run = tmp / f"cli-run-{state['k']}"
        state["run"], state["mode"], state["since"] = run, "follow", time.monotonic()
        cmd = [sys.executable, str(ROOT / "main.py"), "train", str(ds_root), "--out", str(run),
               "--minutes", f"{args.follow_minutes:g}", "--quiet", *cli_flags()]
        with open(tmp / "cli-stderr.txt", "w") as err:  # a pipe could fill and block it
            state["proc"] = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                             stderr=err)
        tm.follow(str(run))  # config.json not written yet: the follower waits for it
        counts["follows"] += 1

    def end_follow() -> None:
        proc = state["proc"]
        shown = tm.follower.predicted_iteration if tm.follower is not None else -1
        print(f"  {(time.monotonic() - t0) / 60:5.1f} min  followed {state['run'].name} for "
              f"{time.monotonic() - state['since']:.0f} s: CLI exit {proc.returncode}, "
              f"{len(win.loss_plot.history())} loss rows plotted, prediction of step {shown} "
              "shown", flush=True)
        if proc.returncode != 0:
            err = (tmp / "cli-stderr.txt").read_text(errors="replace")
            note("the followed CLI training", f"exit {proc.returncode}: {err.strip()[-300:]}")
        train_again()
        shutil.rmtree(state["run"], ignore_errors=True)
        state["proc"] = None

    def note(where: str, msg: str) -> None:
        counts["errors"] += 1
        key = f"{where}: {msg}"[:200]
        errors[key] = errors.get(key, 0) + 1
        if errors[key] == 1:
            print(f"  error ({where}): {msg}", file=sys.stderr, flush=True)

    last_tick = [time.monotonic(), 0.0]  # time of the last action, longest gap
    t0 = time.monotonic()
    k_mode = [0]

    def act() -> None:
        now = time.monotonic()
        last_tick[1] = max(last_tick[1], now - last_tick[0])
        last_tick[0] = now
        minutes = (now - t0) / 60
        it = win.last_iteration
        if it > state["last_it"]:
            counts["steps"] += it - max(state["last_it"], 0)
        state["last_it"] = it
        try:
            if win.last_error:
                note("window", win.last_error)
                win.last_error = ""
            if state["mode"] == "train" and minutes >= state["next_follow"]:
                state["next_follow"] += args.follow_every
                start_follow()
                k_mode[0] = 0
            elif state["mode"] == "follow" and state["proc"].poll() is not None:
                end_follow()
                state["last_it"] = -1  # a new training: it counts from 0
                k_mode[0] = 0
            else:
                todo = training if state["mode"] == "train" else following
                todo[k_mode[0] % len(todo)]()
                k_mode[0] += 1
        except Exception as exc:  # keep soaking; count it
            note(f"action {counts['actions']}", f"{exc.__class__.__name__}: {exc}")
        counts["actions"] += 1

    samples: list[tuple[float, float, float, int, float]] = []

    def sample() -> None:
        m = (time.monotonic() - t0) / 60
        gap = max(last_tick[1], time.monotonic() - last_tick[0]) if counts["actions"] else 0.0
        samples.append((m, rss_mb(), anon_mb(), counts["actions"], gap))
        qobjects = len(win.findChildren(QtCore.QObject))  # widgets, timers, followers...
        print(f"  {m:5.1f} min  RSS {samples[-1][1]:7.1f} MiB  anon {samples[-1][2]:7.1f} MiB"
              f"  actions {counts['actions']:5d}  longest gap {gap:5.1f} s"
              f"  steps {counts['steps']:6d}  QObjects {qobjects:5d}"
              f"  py objects {len(gc.get_objects()):7d}  {state['mode']}", flush=True)
        last_tick[1] = 0.0
        if m >= args.minutes - 0.1:  # timers fire a little early or late
            every.stop()
            minute.stop()
            win.close()
            app.quit()

    every = QtCore.QTimer(interval=int(args.every * 1000))
    every.timeout.connect(act)
    minute = QtCore.QTimer(interval=60_000)
    minute.timeout.connect(sample)
    print(f"soak (training mode): {args.minutes:g} min, one action every {args.every:g} s, "
          f"a followed CLI training of {args.follow_minutes:g} min every "
          f"{args.follow_every:g} min; network {NET}")
    train_again()
    sample()
    every.start()
    minute.start()
    app.exec_()
    proc = state["proc"]
    if proc is not None and proc.poll() is None:
        proc.terminate()
        proc.wait(60)
    if len(samples) >= 3:
        import numpy as np

        m = np.array([s[0] for s in samples])
        half = m >= m[-1] / 2
        for k, name in ((1, "RSS"), (2, "anon")):
            r = np.array([s[k] for s in samples])
            slope = np.polyfit(m[half], r[half], 1)[0] if half.sum() >= 2 else float("nan")
            print(f"{name}: start {r[0]:.1f} MiB, after 1 min {r[1]:.1f}, end {r[-1]:.1f}, "
                  f"max {r.max():.1f}; slope over the second half {slope:+.2f} MiB/min")
    print(f"{counts['actions']} actions, {counts['steps']} training steps drawn, "
          f"{counts['objects']} object switches, {counts['exports']} exports, "
          f"{counts['checkpoints']} checkpoints saved, {counts['follows']} follows, "
          f"{counts['errors']} errors")
    for msg, n in errors.items():
        print(f"  {n}× {msg}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    from bench_results import record

    raise SystemExit(record("soak_train_gui", main))
