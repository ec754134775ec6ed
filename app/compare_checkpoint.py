"""Training mode's compare: a checkpoint's prediction of the validation object shown, beside
the window's training (or the run it follows).

View → "Compare with checkpoint…" (or ``--compare-checkpoint PATH`` with ``--dataset`` or
``--follow``) loads a ``.pt`` checkpoint as ``train`` writes it (``best.pt``, ``latest.pt``,
a saved one; ``core.train.predict.load_checkpoint``) and shows, in the compare layout
(``app.compare_layout``: a second 3D view B beside A, cameras linked, one table):

- A: what the window shows now, the live training's prediction (it updates as the training
  steps) or the followed run's latest checkpoint's;
- B: the checkpoint's prediction of the SAME object from its view 0, its projections over
  A's in the silhouette panels;
- the table: each side's step, CD ×100 and F-score against that object's ground truth
  (``app.compare_metrics``) and the share of points inside every silhouette.

The checkpoint is fixed: it is loaded once and predicts each object once (cached); loading
and predicting run in a background task (``app.tasks.run_task``), never on the GUI thread.
Picking another object updates both sides; A's row follows its newest cloud of the object
shown (a frame of the object shown before is not scored). View → "Leave checkpoint
compare", a new training, a followed run or a fit ends it.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from PyQt5 import QtCore, QtWidgets

from .compare_layout import SideBySide
from .compare_metrics import RunScorer
from .tasks import run_task

__all__ = ["CheckpointCompare", "check_checkpoint", "install_checkpoint_compare"]

TICK_MS = 200


def check_checkpoint(path: str) -> str:
    """The problem with checkpoint ``path`` (one line naming it), or '' (command line)."""
    from core.train.predict import load_checkpoint

    try:
        load_checkpoint(path, "cpu")
    except (OSError, ValueError) as exc:
        return str(exc)
    return ""


def _predict(pred: Any, ds: Any, oid: str) -> dict[str, Any]:
    """Background task: ``pred``'s prediction of object ``oid`` and its snapshot."""
    import torch

    from core.drwr.silhouette import SilhouetteMaps
    from core.drwr.snapshot import make_snapshot

    scene = ds.scene(oid)
    t0 = time.perf_counter()
    pts = pred.predict_scene(scene, 0, refine=0)  # raw, as the live training shows it
    ms = (time.perf_counter() - t0) * 1000
    maps = SilhouetteMaps(scene.masks, pred.config.R, "cpu")
    sigma = pred.config.sigma * max(scene.resolution) / 64.0
    snap = make_snapshot(torch.from_numpy(pts), scene, maps, sigma=sigma,
                         iteration=pred.iteration)
    return {"oid": oid, "scene": scene, "snapshot": snap, "predict_ms": ms}


def _inside_share(points: np.ndarray, scene: Any) -> float | None:
    from core.drwr.snapshot import inside_per_view

    inside = inside_per_view(points, scene)[2]
    return float(inside.all(0).mean()) if inside.size else None


class CheckpointCompare(QtCore.QObject):
    """Checkpoint compare of a :class:`app.window.MainWindow` in training mode."""

    errored = QtCore.pyqtSignal(str)  # loading or predicting failed
    changed = QtCore.pyqtSignal(bool)  # entered / left

    def __init__(self, win: Any) -> None:
        super().__init__(win)
        self.win = win
        self.tm = win.train_mode
        self.path: Path | None = None
        self.predictor: Any = None
        self._layout: SideBySide | None = None
        self._gen = 0  # results of an earlier compare (or object) are dropped
        self._source: tuple[Any, Any] | None = None  # (dataset, follower) compared on
        self._cache: dict[str, dict[str, Any]] = {}  # object id -> B's prediction
        self._busy = False
        self._oid: str | None = None  # the object both sides show
        self._scorers: list[RunScorer] = []
        self._a_key: tuple | None = None
        self.predict_ms: list[float] = []  # the network's time per object predicted
        self.task: Any = None  # the thread of the newest load or prediction
        self.timer = QtCore.QTimer(self, interval=TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.tm.object_box.currentIndexChanged.connect(lambda _i: self._tick())
        win.controller.scene_changed.connect(lambda _s: self.leave())  # a new job was loaded
        menu = win.view_menu
        win._add(menu, "Compare with chec&kpoint…", self.ask)
        self.leave_action = win._add(menu, "Leave checkpoint compare", self.leave)
        self.leave_action.setEnabled(False)

    @property
    def active(self) -> bool:
        return self._layout is not None

    @property
    def view(self) -> Any:
        return None if self._layout is None else self._layout.view

    @property
    def table(self) -> Any:
        return None if self._layout is None else self._layout.table

    def shown(self) -> dict[str, Any] | None:
        """B's prediction of the object shown now ({"oid", "scene", "snapshot"}), if made."""
        return self._cache.get(self._oid) if self._oid is not None else None

    # -- entering and leaving ------------------------------------------------------------
    def ask(self) -> None:
        folder = self.tm.run_dir or (self.tm.follower.run if self.tm.follower else Path.home())
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self.win, "Compare with checkpoint", str(folder), "Checkpoint (*.pt)")
        if path:
            self.start(path)

    def start(self, path: str | Path) -> None:
        """Compare the window's training (or followed run) with checkpoint ``path``, loaded in
        the background; RuntimeError when the window is not in training mode."""
        if not self.tm.active:
            raise RuntimeError("compare with a checkpoint works in training mode: open a "
                               "dataset for training or a run folder first")
        from core.train.predict import load_checkpoint

        self.leave()
        self.path = Path(path)
        self._gen += 1
        gen = self._gen
        self._source = (self.tm.ds, self.tm.follower)
        self._layout = SideBySide(self.win, (
            "A  followed run" if self.tm.follower is not None else "A  this training",
            f"B  {self.path.name}"))
        self._busy = True
        self.win.statusBar().showMessage(f"loading checkpoint {self.path}…")
        self.task = run_task(lambda: load_checkpoint(self.path, "cpu"),
                 lambda pred: self._loaded(gen, pred), lambda msg: self._failed(gen, msg))
        self.timer.start()
        self.leave_action.setEnabled(True)
        self.changed.emit(True)

    def leave(self) -> None:
        """Remove B's view and the table; a load or prediction still running is ignored."""
        self._gen += 1
        self.timer.stop()
        self._busy = False
        was = self._layout is not None
        if self._layout is not None:
            self._layout.remove()
            self._layout = None
            self.win.panels.set_overlay(None)
        self.predictor = None
        self._cache = {}
        self._scorers = []
        self._oid = self._a_key = self._source = None
        self.leave_action.setEnabled(False)
        if was:
            self.changed.emit(False)

    def _loaded(self, gen: int, pred: Any) -> None:
        if gen != self._gen:
            return
        self._busy = False
        self.predictor = pred
        self.win.statusBar().showMessage(f"comparing with {self.path} (step {pred.iteration})",
                                         5000)
        self._tick()

    def _failed(self, gen: int, msg: str) -> None:
        if gen != self._gen:
            return
        self.leave()
        self.win.show_error(f"compare with checkpoint: {msg}")
        self.errored.emit(msg)

    # -- following the window ----------------------------------------------------------------
    def _dataset(self) -> Any:
        f = self.tm.follower
        return self.tm.ds if f is None else f.ds

    def _tick(self) -> None:
        try:
            if self._layout is None:
                return
            if not self.tm.active or (self.tm.ds, self.tm.follower) != self._source:
                self.leave()  # a fit, another training or another run: B no longer fits
                return
            oid = self.tm.current_object()
            if oid is not None and oid != self._oid:
                self._switch(oid)
            self._predict_shown()
            self._update_a()
        except Exception as exc:  # a slot must never raise (PyQt5 aborts)
            self.leave()
            self.win.show_error(f"compare with checkpoint failed: "
                                f"{exc.__class__.__name__}: {exc}")

    def _switch(self, oid: str) -> None:
        """Another object is shown: B's cached prediction of it, if any; new scores."""
        self._oid, self._a_key, self._scorers = oid, None, []
        for row in (0, 1):
            self.table.set_values(row, dict.fromkeys(("iteration", "cd", "fscore", "inside")))
        if oid in self._cache:
            self._show_b(self._cache[oid])

    def _predict_shown(self) -> None:
        if self.predictor is None or self._busy or self._oid is None \
                or self._oid in self._cache:
            return
        ds = self._dataset()
        if ds is None:
            return
        gen, pred, oid = self._gen, self.predictor, self._oid
        self._busy = True
        self.task = run_task(lambda: _predict(pred, ds, oid),
                             lambda res: self._predicted(gen, res),
                             lambda msg: self._failed(gen, f"{oid}: {msg}"))

    def _predicted(self, gen: int, res: dict[str, Any]) -> None:
        if gen != self._gen:
            return
        self._busy = False
        self._cache[res["oid"]] = res
        self.predict_ms.append(res["predict_ms"])
        if res["oid"] == self._oid:
            self._show_b(res)
        self._tick()  # the object may have changed meanwhile

    def _show_b(self, res: dict[str, Any]) -> None:
        snap, scene = res["snapshot"], res["scene"]
        self.view.set_points(snap.points, snap.point_loss)
        self.win.panels.set_overlay(snap.uv, snap.inside)
        gt = scene.gt_points
        scorers: list[RunScorer] = []  # scores of another object never reach this table
        scorers += [RunScorer(gt, lambda _i, s, r=r: self._scored(scorers, r, s),
                              self._score_failed) for r in range(2)]
        self._scorers = scorers
        self.table.set_values(1, {"iteration": int(snap.iteration),
                                  "inside": float(snap.inside.all(0).mean())})
        scorers[1].offer(snap, settled=True)

    def _a_cloud(self, scene: Any) -> tuple[Any, bool] | None:
        """A's newest cloud of ``scene`` as (snapshot-like, settled), or None."""
        from core.geometry.cameras import project_np

        win = self.win
        if self.tm.follower is not None:
            pts = win.controller.static_points
            shown = win.controller.scene
            if pts is None or shown is None or shown.name != scene.name:
                return None
            it = self.tm.follower.predicted_iteration
            return SimpleNamespace(iteration=it, points=pts, inside=None), True
        frame = win._last_frame
        if frame is None:
            return None
        snap = frame.snapshot
        uv = project_np(snap.points, scene.K, scene.R, scene.t)[0]
        if uv.shape != snap.uv.shape or not np.allclose(uv, snap.uv, atol=1e-3):
            return None  # a frame of the object shown before
        return snap, win.controller.state() != "running"

    def _update_a(self) -> None:
        res = self.shown()
        if res is None or not self._scorers:
            return
        got = self._a_cloud(res["scene"])
        if got is None:
            return
        snap, settled = got
        key = (int(snap.iteration), settled)
        if key == self._a_key:
            return
        self._a_key = key
        inside = snap.inside
        share = float(inside.all(0).mean()) if inside is not None and inside.size \
            else _inside_share(snap.points, res["scene"])
        self.table.set_values(0, {"iteration": int(snap.iteration), "inside": share})
        self._scorers[0].offer(snap, settled=settled)

    def _scored(self, scorers: list[RunScorer], row: int, scores: dict) -> None:
        if self.table is not None and scorers is self._scorers:
            self.table.set_values(row, scores)

    def _score_failed(self, msg: str) -> None:
        self.win.show_error(f"compare with checkpoint: {msg}")

    # -- results -----------------------------------------------------------------------------
    def waiting(self) -> bool:
        """True while B's cloud of the object shown is still being made."""
        return self.active and self.shown() is None

    def latest_points(self) -> np.ndarray | None:
        res = self.shown()
        return None if res is None else res["snapshot"].points

    def export(self, path: str) -> Any:
        """Write B's cloud of the object shown as File → Export writes A's (in the dataset's
        original frame); returns the path."""
        from core.io.atomic import write_points_atomic

        res = self.shown()
        if res is None:
            raise RuntimeError("checkpoint compare has no cloud of the object shown")
        self.win.check_save(path, "the exported cloud")
        return write_points_atomic(path, res["scene"].to_original(res["snapshot"].points))

    def refresh_now(self) -> None:
        """Catch up with the window and render B's view now (screenshots)."""
        self._tick()
        if self.view is not None:
            self.view.plotter.render()


def install_checkpoint_compare(win: Any) -> CheckpointCompare:
    return CheckpointCompare(win)
