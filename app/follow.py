"""Follow a training run that another process writes (CLI ``train``, torchrun), as
nerfstudio's viewer follows a run: :class:`RunFollower`.

A QTimer on the GUI thread polls the run folder every ``POLL_MS``:

- ``metrics.jsonl``: the bytes added since the last poll (complete lines only; a file that
  shrank, as a resumed run truncates it, is read again from the start) become loss rows and
  validation-CD points on the window's plot. A damaged line (core.train.runlog.parse_record)
  is skipped and named, file and line, in one message; the following goes on.
- ``checkpoints/latest.pt``: when its size or modification time changes, the network is
  loaded (``core.train.predict.load_run``) and the prediction for the chosen object of the
  run's dataset (``config.json`` ``_run.dataset``) is made, with its snapshot
  (``core.drwr.snapshot.make_snapshot``) and silhouette fields, in a background task
  (``app.tasks.run_task``); only the finished result touches widgets.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PyQt5 import QtCore

from .tasks import run_task

__all__ = ["POLL_MS", "MetricsTail", "RunFollower", "display_ids"]

POLL_MS = 1000
NOT_LOSSES = ("step", "lr", "time")


def display_ids(ds: Any) -> tuple[str, list[str]]:
    """The split whose objects a list offers (validation, else train) and their ids."""
    split = "val" if ds.ids("val") else "train"
    return split, list(ds.ids(split))


class MetricsTail:
    """Reads the records appended to a metrics.jsonl since the last call (no Qt)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.lines = 0  # complete lines read so far
        self.restarted = False  # the last read() started over (the file shrank)
        self.problems: list[str] = []  # "<file>: line N: <problem>" of the last read()

    def read(self) -> list[dict[str, Any]]:
        from core.train.runlog import parse_record

        self.restarted = False
        self.problems = []
        try:
            size = self.path.stat().st_size
        except OSError:
            return []
        if size < self.offset:
            self.offset, self.lines, self.restarted = 0, 0, True
        if size == self.offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(size - self.offset)
        end = data.rfind(b"\n")
        if end < 0:
            return []  # a line still being written
        self.offset += end + 1
        out = []
        for line in data[:end].split(b"\n"):
            self.lines += 1
            rec = parse_record(line)
            if isinstance(rec, dict):
                out.append(rec)
            elif rec is not None:  # a damaged line: skip it, keep following
                self.problems.append(f"{self.path}: line {self.lines}: {rec}")
        return out


def _value(v: Any) -> float:
    """A record's value as a float (a JSON null is NaN: no point drawn)."""
    return math.nan if v is None else float(v)


def _prediction(run: Path, ds: Any, oid: str) -> dict[str, Any]:
    """Background task: the latest checkpoint's prediction for ``oid`` and its snapshot."""
    import torch

    from core.drwr.silhouette import SilhouetteMaps
    from core.drwr.snapshot import make_snapshot
    from core.train.predict import load_run

    pred = load_run(run, "latest", device="cpu")
    scene = ds.scene(oid)
    pts = pred.predict_scene(scene, 0, refine=0)  # raw, as the live training shows it
    maps = SilhouetteMaps(scene.masks, pred.config.R, "cpu")
    sigma = pred.config.sigma * max(scene.resolution) / 64.0
    snap = make_snapshot(torch.from_numpy(pts), scene, maps, sigma=sigma,
                         iteration=pred.iteration)
    return {"oid": oid, "scene": scene, "snapshot": snap, "fields": maps.field_np.copy(),
            "iteration": pred.iteration}


class RunFollower(QtCore.QObject):
    """Polls run folder ``run`` and draws it in window ``win`` (see the module docstring).

    ``objects_found(ids, split, ds)`` is emitted when the run's dataset is read (the objects
    a list may offer), ``validated(step, cd)`` for each validation CD×100 read from the run,
    ``scene_shown(scene)`` before a prediction for that scene is drawn."""

    objects_found = QtCore.pyqtSignal(object, str, object)
    validated = QtCore.pyqtSignal(int, float)
    scene_shown = QtCore.pyqtSignal(object)  # the scene whose prediction is drawn next

    def __init__(self, win: Any, run: str | Path) -> None:
        super().__init__(win)
        self.win = win
        self.run = Path(run)
        self.tail = MetricsTail(self.run / "metrics.jsonl")
        self.names: tuple[str, ...] = ()
        self.ds: Any = None
        self.oid: str | None = None
        self._ckpt_key: tuple[int, int] | None = None
        self._busy = False
        self._again = False
        self.predicted_iteration = -1
        self.stopped = False
        self._config_error = ""
        self.timer = QtCore.QTimer(self, interval=POLL_MS)
        self.timer.timeout.connect(self.poll)

    def start(self) -> None:
        self.win.loss_plot.set_names(())
        self._load_dataset()
        self.poll()
        self.timer.start()

    def stop(self) -> None:
        self.stopped = True
        self.timer.stop()

    def _load_dataset(self) -> None:
        from core.formats.datasets import read_dataset
        from core.train.runlog import read_run_config

        cfg_path = self.run / "config.json"
        try:
            run_cfg = read_run_config(self.run)
        except FileNotFoundError:
            self.win.statusBar().showMessage(f"{cfg_path}: not written yet; curves only", 8000)
            return
        except ValueError as exc:  # names the file: damaged, nested too deep...
            msg = f"{exc}; showing the curves only"
            if msg != self._config_error:  # said once, not at every new checkpoint
                self._config_error = msg
                self.win.show_error(msg)
            return
        try:
            self._show_config(run_cfg)
            info = run_cfg.get("_run", {})
            ds = read_dataset(info["dataset"], check_scenes=False)
        except (ValueError, KeyError, OSError, TypeError) as exc:
            self.win.show_error(f"{cfg_path}: cannot open the run's dataset ({exc}); "
                                "showing the curves only")
            return
        self.ds = ds
        split, ids = display_ids(ds)
        self.objects_found.emit(ids, split, ds)
        self.oid = ids[0] if ids else None

    def _show_config(self, run_cfg: dict[str, Any]) -> None:
        """The run's TrainConfig in the parameter panel, read-only (another process owns it)."""
        from core.train.config import config_from_dict

        try:
            cfg = config_from_dict({k: v for k, v in run_cfg.items() if not k.startswith("_")})
        except (TypeError, ValueError):
            return
        self.win.use_config_panel(cfg)
        self.win.params.set_values({f: getattr(cfg, f) for f in self.win.params.controls})
        self.win.params.setEnabled(False)

    # -- polling (GUI thread, timer) -------------------------------------------------------
    def poll(self) -> None:
        try:
            self._poll_metrics()
            self._poll_checkpoint()
        except Exception as exc:  # a slot must never raise
            self.win.show_error(f"following {self.run}: {exc.__class__.__name__}: {exc}")

    def _poll_metrics(self) -> None:
        recs = self.tail.read()
        if self.tail.problems:
            more = len(self.tail.problems) - 1
            self.win.show_error(self.tail.problems[0] + "; skipped" +
                                (f" (and {more} more damaged lines)" if more else ""))
        plot = self.win.loss_plot
        if self.tail.restarted:
            plot.set_names(self.names)
        if not recs:
            return
        if not self.names:
            first = next((r for r in recs if "total" in r), None)
            if first is None:
                return self._add_cd(recs)
            self.names = tuple(k for k, v in first.items()
                               if k not in NOT_LOSSES and not isinstance(v, str))
            plot.set_names(self.names)
        rows = [[r["step"], *(_value(r.get(n, 0.0)) for n in self.names)]
                for r in recs if "total" in r]
        if rows:
            plot.add_rows(np.asarray(rows, float))
            last = rows[-1]
            self.win.iter_label.setText(f"step {int(last[0])}")
            self.win.speed_label.setText("following")
        self._add_cd(recs)

    def _add_cd(self, recs: list[dict[str, Any]]) -> None:
        for r in recs:
            if r.get("val_cd") is not None:
                self.win.loss_plot.add_cd(int(r["step"]), float(r["val_cd"]))
                self.validated.emit(int(r["step"]), float(r["val_cd"]))

    def _poll_checkpoint(self) -> None:
        path = self.run / "checkpoints" / "latest.pt"
        try:
            st = path.stat()
        except OSError:
            return
        key = (st.st_mtime_ns, st.st_size)
        if key != self._ckpt_key:
            self._ckpt_key = key
            self.refresh()

    def set_object(self, oid: str) -> None:
        self.oid = oid
        self.refresh()

    def refresh(self) -> None:
        """Predict the chosen object with the latest checkpoint (in the background)."""
        if self.ds is None:
            self._load_dataset()
        if self.ds is None or self.oid is None or self._ckpt_key is None:
            return
        if self._busy:
            self._again = True
            return
        self._busy = True
        run_task(partial_prediction(self.run, self.ds, self.oid), self._show, self._failed)

    def _failed(self, msg: str) -> None:
        self._busy = False
        self.win.show_error(f"{self.run}: {msg}")

    def _show(self, res: dict[str, Any]) -> None:
        self._busy = False
        if self._again:
            self._again = False
            self.refresh()
        if self.stopped or res["oid"] != self.oid:
            return  # a result that arrived after the window moved on
        win, snap = self.win, res["snapshot"]
        self.scene_shown.emit(res["scene"])
        win.controller.static_points = snap.points
        win.cloud_view.set_points(snap.points, snap.point_loss)
        win.panels.set_fields(res["fields"])
        win.panels.set_projections(snap.uv, snap.inside)
        self.predicted_iteration = res["iteration"]
        win.statusBar().showMessage(f"prediction of {res['oid']} by the checkpoint of step "
                                    f"{res['iteration']}", 5000)


def partial_prediction(run: Path, ds: Any, oid: str) -> Any:
    return lambda: _prediction(run, ds, oid)
