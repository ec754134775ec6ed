"""Training mode in the main window: a network trained on a drwr-dataset, shown as a fit is.

:func:`install_train_mode` adds File → "Open dataset for training…" and "Open run folder…"
and a "Training" dock (hidden until used): the validation object shown (a list), a
ground-truth toggle, "Save checkpoint…", "Export prediction…" and the last validation.

Training runs in the window's one job worker: the controller gets a factory that builds a
:class:`core.train.trainer.Trainer` (in the worker thread), the panel its TrainConfig
controls (``app.param_specs.param_specs``), Run/Pause/Step/Stop/Reset work as for a fit.
Frames are the Trainer's snapshots (``core.drwr.snapshot.make_snapshot`` of the prediction
for the shown object): the 3D view, the silhouette panels and the loss curves update from
them, and the validation CD×100 the snapshot carries (``val_cd``/``val_step``) becomes a
point on the plot's CD axis. Picking another object sends ``display=<id>`` to the job
(``set_params``, applied between steps; it answers {"fields"}, so the panels' silhouettes
are fetched again).

In-window training writes a run folder like the CLI's (metrics.jsonl, config.json,
checkpoints/latest|best.pt at each validation): ``--run-dir`` or
``~/.cache/drwr-studio/runs/<dataset>-<time>``. Loading runs on one thread (workers 0):
no processes are forked from the window; it validates every 50 steps (the CLI: 200), so the
first CD points come within a minute.

Following a run written elsewhere (``app.follow.RunFollower``) uses the same dock.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

from PyQt5 import QtCore, QtWidgets

from .tasks import run_task
from .follow import RunFollower, display_ids

#: the window's TrainConfig changes: no forked loader processes; validation points early
WINDOW_DEFAULTS = {"workers": 0, "val_every": 50}

__all__ = ["WINDOW_DEFAULTS", "TrainMode", "default_run_dir", "install_train_mode",
           "training_inputs"]


def default_run_dir(dataset_root: Any) -> Path:
    """Where an in-window training writes when no run folder is given."""
    name = Path(str(dataset_root)).name or "dataset"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path.home() / ".cache" / "drwr-studio" / "runs" / f"{name}-{stamp}"


def _make_trainer(ds: Any, config: Any, run_dir: Any, display: str) -> Any:
    """The job the worker runs (built in the worker's thread)."""
    from core.train.trainer import Trainer

    trainer = Trainer(ds, config, run_dir=run_dir)
    trainer.set_display(display)
    return trainer


class TrainMode(QtCore.QObject):
    """The training dock and menu actions of one window (see the module docstring)."""

    def __init__(self, win: Any) -> None:
        super().__init__(win)
        self.win = win
        self.ds: Any = None
        self.run_dir: Path | None = None
        self.run_lock: Any = None  # core.train.run_lock.RunLock of run_dir while training
        self.active = False  # a training (or a followed run) is what the window shows
        self.follower: Any = None
        self._loading = False
        self._val_step = -1
        self._last_it = -1
        self._build_dock()
        self._add_menu_actions()
        win.frame_hooks.append(self._on_frame)
        c = win.controller
        c.scene_changed.connect(self._on_scene_changed)
        c.saved.connect(lambda p: win.statusBar().showMessage(f"saved checkpoint {p}", 8000))

    # -- widgets ---------------------------------------------------------------------------
    def _build_dock(self) -> None:
        w = QtWidgets.QWidget()
        lay = QtWidgets.QFormLayout(w)
        self.source_label = QtWidgets.QLabel("")
        self.source_label.setWordWrap(True)
        self.source_label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.object_box = QtWidgets.QComboBox()
        self.object_box.setToolTip("validation object whose prediction (from its view 0) the "
                                   "3D view and the silhouette panels show")
        self.object_box.currentIndexChanged.connect(self._on_object)
        self.gt_box = QtWidgets.QCheckBox("show ground truth")
        self.gt_box.toggled.connect(self._on_gt_toggled)
        self.win.cloud_view.layer_boxes["gt"].toggled.connect(self._sync_gt_box)
        self.val_label = QtWidgets.QLabel("validation: –")
        self.save_button = QtWidgets.QPushButton("Save checkpoint…")
        self.save_button.clicked.connect(lambda: self.win._safe(self.save_checkpoint_dialog))
        self.export_button = QtWidgets.QPushButton("Export prediction…")
        self.export_button.clicked.connect(lambda: self.win._safe(self.win.export_dialog))
        lay.addRow("Source", self.source_label)
        lay.addRow("Object", self.object_box)
        lay.addRow("", self.gt_box)
        lay.addRow("", self.val_label)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.export_button)
        lay.addRow(buttons)
        self.dock = QtWidgets.QDockWidget("Training", self.win)
        self.dock.setObjectName("training_dock")
        self.dock.setWidget(w)
        self.win.addDockWidget(QtCore.Qt.RightDockWidgetArea, self.dock)
        self.dock.hide()

    def _add_menu_actions(self) -> None:
        file_menu = self.win.menuBar().actions()[0].menu()
        anchor = next((a for a in file_menu.actions() if a.menu() is self.win.recent_menu), None)
        for text, slot in (("Open dataset for &training…", self.open_dataset_dialog),
                           ("Open r&un folder…", self.open_run_dialog)):
            act = QtWidgets.QAction(text, self.win)
            act.triggered.connect(lambda _=False, s=slot: self.win._safe(s))
            file_menu.insertAction(anchor, act)

    # -- opening ---------------------------------------------------------------------------
    def open_dataset_dialog(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self.win, "Open dataset for training")
        if path:
            self.open_dataset(path, run=False)

    def open_run_dialog(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self.win, "Open run folder")
        if path:
            self.follow(path)

    def open_dataset(self, path: str, run: bool = False, config: Any = None,
                     run_dir: str | None = None) -> None:
        """Read the dataset off the GUI thread, then :meth:`start`."""
        from core.formats.datasets import read_dataset

        self.win.statusBar().showMessage(f"reading dataset {path}…")

        def build() -> Any:
            return read_dataset(path)

        run_task(build, lambda ds: self.win._safe(self.start, ds, run, config, run_dir),
                 lambda msg: self.win.show_error(f"{path}: {msg}"))

    def start(self, ds: Any, run: bool = False, config: Any = None,
              run_dir: str | Path | None = None) -> None:
        """Train on dataset ``ds`` in the window's worker (paused unless ``run``), holding
        the run folder's writer lock: RunLocked (a ValueError naming the folder) when another
        process is writing it; OutputClash when the run folder lies inside the dataset."""
        from core.train.config import TrainConfig
        from core.train.run_lock import RunLock

        from .output_guard import check_clash

        folder = Path(run_dir) if run_dir else default_run_dir(ds.root)
        check_clash([("the run folder", str(folder), False)], [("dataset", str(ds.root))],
                    reader="the window")
        if self.run_lock is None or self.run_lock.run != folder:
            lock = RunLock(folder).acquire()
            self.release_run()
            self.run_lock = lock
        self.stop_follow()
        cfg = config or TrainConfig(**WINDOW_DEFAULTS)
        split, ids = display_ids(ds)
        self.ds = ds
        self.run_dir = folder
        self._fill_objects(ids, split)
        oid = ids[0]
        self._loading = True
        try:
            self.win.controller.load(ds.scene(oid), cfg, run=run,
                                     make_job=partial(_make_trainer, ds, cfg, self.run_dir, oid),
                                     cd_every=0, autosave_s=0)
        finally:
            self._loading = False
        # Ctrl-C/SIGTERM in the window: the checkpoint (written before the worker quits)
        self.win.controller.interrupt_save = self._save_on_interrupt
        self.win.params.setEnabled(True)
        self._activate(f"dataset {ds.root}\nrun folder {self.run_dir}")
        self.win.setWindowTitle(f"DRWR Studio — training on {Path(str(ds.root)).name}")
        self.save_button.setEnabled(True)

    def follow(self, run: str) -> None:
        """Follow a run folder another process writes (app/follow.py)."""
        self.stop_follow()
        self.win.controller.stop_worker()
        self.release_run()
        self.win.controller.interrupt_save = None
        self.win.run_controls.set_state("none")
        self.ds = None
        self.object_box.clear()
        self.follower = RunFollower(self.win, run)
        self.follower.objects_found.connect(self._fill_objects)
        self.follower.validated.connect(self._show_validation)
        self.follower.scene_shown.connect(self.show_scene)
        self._activate(f"following run {Path(run).resolve()}")
        self.win.setWindowTitle(f"DRWR Studio — following {Path(run).name}")
        self.save_button.setEnabled(False)
        self.follower.start()

    def release_run(self) -> None:
        """Give up the run folder's writer lock (a new training, following a run)."""
        if self.run_lock is not None:
            self.run_lock.release()
            self.run_lock = None

    def stop_follow(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower.deleteLater()  # a child of the window: Qt would keep it (and its data)
            self.follower = None

    def _activate(self, source: str) -> None:
        self.active = True
        self._val_step, self._last_it = -1, -1
        self.val_label.setText("validation: –")
        self.source_label.setText(source)
        self.win.show_main()
        self.dock.show()

    def _on_scene_changed(self, scene: Any) -> None:
        if not self._loading:  # a fit was opened: leave training mode
            self.win.params.setEnabled(True)
            self.stop_follow()
            self.active = False
            self.dock.hide()

    def _fill_objects(self, ids: list[str], split: str, ds: Any = None) -> None:
        ds = ds or self.ds
        with QtCore.QSignalBlocker(self.object_box):
            self.object_box.clear()
            for oid in ids:
                cat = ds.category(oid) if ds is not None else ""
                self.object_box.addItem(f"{oid} ({cat}, {split})" if cat else f"{oid} ({split})",
                                        oid)

    # -- live ------------------------------------------------------------------------------
    def _on_frame(self, frame: Any) -> None:
        if not self.active:
            return
        snap = frame.snapshot
        if snap.iteration < self._last_it:  # reset: the plot was cleared
            self._val_step = -1
        self._last_it = snap.iteration
        losses = snap.losses or {}
        if "val_cd" in losses and int(losses.get("val_step", -1)) != self._val_step:
            self._val_step = int(losses["val_step"])
            self.win.loss_plot.add_cd(self._val_step, float(losses["val_cd"]))
            self._show_validation(self._val_step, float(losses["val_cd"]))

    def _show_validation(self, step: int, cd: float) -> None:
        self.val_label.setText(f"validation CD×100 {cd:.3f} (step {step})")

    def current_object(self) -> str | None:
        return self.object_box.currentData()

    def select_object(self, obj_id: str) -> None:
        """Show ``obj_id`` (as picking it in the list does)."""
        i = self.object_box.findData(obj_id)
        if i < 0:
            raise ValueError(f"{obj_id}: not in the list")
        self.object_box.setCurrentIndex(i)

    def _on_object(self, index: int) -> None:
        oid = self.object_box.itemData(index)
        if oid is None:
            return
        if self.follower is not None:
            self.follower.set_object(oid)
            return
        c = self.win.controller
        if self.ds is None or c.worker is None:
            return
        try:
            scene = self.ds.scene(oid)  # 5 small masks: read here, the job reads its own
        except Exception as exc:
            self.win.show_error(f"{oid}: {exc}")
            return
        self.show_scene(scene)
        c.worker.set_params(display=oid)  # applied between steps; panels follow its fields

    def show_scene(self, scene: Any) -> None:
        """``scene`` is the one displayed now: overlays (ground truth, cameras) follow it."""
        win = self.win
        win.controller.scene = scene
        view = win.cloud_view
        view.set_layer_available("gt", scene.gt_points is not None)
        for name in ("gt", "frusta", "hull"):
            view.remove_layer(name)
            box = view.layer_boxes[name]
            if box.isChecked():
                if name == "hull":  # a slow hull is not recomputed for every pick
                    with QtCore.QSignalBlocker(box):
                        box.setChecked(False)
                else:
                    win._on_layer_requested(name)
        view.refresh()

    def _on_gt_toggled(self, on: bool) -> None:
        box = self.win.cloud_view.layer_boxes["gt"]
        if box.isEnabled() and box.isChecked() != on:
            box.setChecked(on)

    def _sync_gt_box(self, on: bool) -> None:
        with QtCore.QSignalBlocker(self.gt_box):
            self.gt_box.setChecked(on)

    # -- saving ----------------------------------------------------------------------------
    def save_checkpoint(self, path: str) -> None:
        """Write the training's checkpoint (model, optimiser, step, config, RNG) to ``path``
        between steps (the worker does it; the status bar says when)."""
        self.win.check_save(path, "the checkpoint")
        self.win.controller.save_job(path)

    def _save_on_interrupt(self) -> Path | None:
        if self.win.controller.worker is None or self.run_dir is None:
            return None
        path = self.run_dir / "checkpoints" / "latest.pt"
        self.save_checkpoint(str(path))  # queued before the quit request: done first
        return path

    def save_checkpoint_dialog(self) -> None:
        if self.win.controller.worker is None:
            raise RuntimeError("no training is running")
        folder = (self.run_dir / "checkpoints") if self.run_dir else Path.home()
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.win, "Save checkpoint", str(folder / "saved.pt"), "Checkpoint (*.pt)")
        if path:
            self.save_checkpoint(path)


def training_inputs(dataset: str | None, follow: str | None) -> tuple[Any, str | None]:
    """The window's --dataset (read) and --follow folder (checked); ValueError naming the
    path."""
    from core.io.scene import SceneError

    ds = None
    if dataset:
        from core.formats.datasets import read_dataset

        try:
            ds = read_dataset(dataset)
        except (SceneError, OSError) as exc:
            raise ValueError(str(exc)) from None
    if follow:
        run = Path(follow)
        if not run.is_dir():
            raise ValueError(f"{run}: no such run folder")
        if not ((run / "metrics.jsonl").exists() or (run / "config.json").exists()
                or (run / "checkpoints").is_dir()):
            raise ValueError(f"{run}: not a training run folder (no metrics.jsonl, config.json "
                             "or checkpoints/)")
    return ds, follow


def install_train_mode(win: Any) -> TrainMode:
    return TrainMode(win)
