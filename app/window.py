"""The DRWR Studio main window: 3D view + loss plot on the left; run controls, silhouette
panels and parameters on the right; a welcome page until a scene is open.

Display path: the worker publishes frames into a latest slot; a ~30 Hz QTimer here takes the
newest one and updates the 3D view, panels, plot and status bar (see app/worker.py).
"""

from __future__ import annotations

import os
import resource
import time
from typing import Any

import numpy as np
from PyQt5 import QtCore, QtGui, QtWidgets

from widgets.cloud_view import CloudView
from widgets.loss_plot import LossPlot
from widgets.param_panel import ParamPanel
from widgets.run_controls import RunControls
from widgets.silhouette_panels import SilhouettePanels
from widgets.welcome import WelcomePage

from core.fit.config import FitConfig
from core.geometry.cameras import frusta_segments

from .controller import JobController
from .param_specs import param_specs
from .tasks import run_task
from .window_menus import MenuMixin

__all__ = ["MainWindow"]

TICK_MS = 33
#: while a fit runs, the display (this thread, its paint events and the GL driver's threads:
#: the process's CPU time minus the fit worker's) may use at most this share of wall time.
#: On 2 shared cores with software OpenGL every CPU millisecond of drawing slows the fit.
DRAW_SHARE = 0.1
#: seconds between refreshes of the silhouette panels and loss plot while a fit runs
PANEL_S = 1.0
GT_DISPLAY = 20000  # ground-truth points drawn at most
HULL_RES = 96


def rss_mb() -> float:
    """Resident memory of this process in MiB."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MainWindow(MenuMixin, QtWidgets.QMainWindow):
    """The main window. ``controller`` owns the fit; this class only displays and forwards."""

    def __init__(self, settings: QtCore.QSettings | None = None, autosave_s: float = 60.0,
                 show_dialogs: bool = True) -> None:
        super().__init__()
        from .gui_gc import install as install_gc

        self.collector = install_gc()  # Qt and VTK objects are freed on this thread only
        self.setWindowTitle("DRWR Studio")
        self.resize(1400, 900)
        self.settings = settings or QtCore.QSettings("drwr-studio", "DRWR Studio")
        self.show_dialogs = show_dialogs
        self.last_error = ""
        self.frames_drawn = 0
        self.last_iteration = -1
        self._error_box: QtWidgets.QMessageBox | None = None
        self._hull_busy = False
        self.controller = JobController(self, autosave_s=autosave_s)

        # widgets
        self.welcome = WelcomePage()
        self.cloud_view = CloudView()
        self.loss_plot = LossPlot()
        self.run_controls = RunControls()
        self.panels = SilhouettePanels(panel_size=120)
        self.params = ParamPanel(param_specs(config_cls=FitConfig))
        self._params_cls: type = FitConfig  # the config class the panel was built from
        self.frame_hooks: list[Any] = []  # called with each frame drawn (e.g. training mode)
        self._build_layout()
        self._build_status()
        self.build_menus()
        # surface tools: Shape dock, Export mesh; training mode: dataset, run folder;
        # View → Compare with…, Compare with checkpoint… (training mode)
        from .compare import install_compare
        from .compare_checkpoint import install_checkpoint_compare
        from .shape_tab import install_shape_tab
        from .train_mode import install_train_mode

        self.shape_tab = install_shape_tab(self)
        self.train_mode = install_train_mode(self)
        self.compare = install_compare(self)
        self.checkpoint_compare = install_checkpoint_compare(self)
        # history slider, looking through a view's camera, recording the 3D view
        from .look_through import install_look_through
        from .recorder import install_recorder
        from .timeline import install_timeline

        self.timeline = install_timeline(self)
        self.look_through = install_look_through(self)
        self.recording = install_recorder(self)

        # wiring
        c = self.controller
        c.scene_changed.connect(self._on_scene)
        c.state_changed.connect(self._on_state)
        c.errored.connect(self.show_error)
        c.cd_ready.connect(self.loss_plot.add_cd)
        c.fields_ready.connect(self.panels.set_fields)
        c.job_ready.connect(self._on_job_ready)
        c.start_failed.connect(self._on_start_failed)
        self.run_controls.triggered.connect(self._on_command)
        self.params.live_changed.connect(c.set_live)
        self.params.pending_changed.connect(self.run_controls.mark_reset_pending)
        self.cloud_view.layer_requested.connect(self._on_layer_requested)
        self.welcome.action.connect(self.on_welcome_action)
        self.welcome.recent.connect(self.open_recent)
        self.refresh_recent()

        self._last_frame: Any = None
        self._pending_recent = ""  # enters Recent files once its fit has started
        self._pending_rows: list[np.ndarray] = []  # loss rows not yet in the plot
        self._panels_t = 0.0
        self.timer = QtCore.QTimer(self, interval=TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    # -- layout ----------------------------------------------------------------------------
    def _build_layout(self) -> None:
        left = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        self.views = QtWidgets.QSplitter(QtCore.Qt.Horizontal)  # compare mode adds a 2nd view
        self.views.addWidget(self.cloud_view)
        left.addWidget(self.views)
        left.addWidget(self.loss_plot)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 1)
        left.setSizes([620, 220])

        right = QtWidgets.QWidget()
        rl = QtWidgets.QVBoxLayout(right)
        rl.setContentsMargins(4, 4, 4, 4)
        rl.addWidget(self.run_controls)
        rl.addWidget(_heading("Silhouettes (smoothed field; dots = projected points, "
                              "red = outside)"))
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.params)
        self.params_scroll = scroll
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        params = QtWidgets.QWidget()
        pl = QtWidgets.QVBoxLayout(params)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(_heading("Parameters"))
        pl.addWidget(scroll)
        split = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        split.addWidget(self.panels)
        split.addWidget(params)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setSizes([400, 380])
        rl.addWidget(split, 1)

        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([820, 580])

        self.stack = QtWidgets.QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.splitter)
        self.setCentralWidget(self.stack)

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.iter_label = QtWidgets.QLabel("iteration –")
        self.speed_label = QtWidgets.QLabel("– it/s")
        self.mem_label = QtWidgets.QLabel("")
        for w in (self.iter_label, self.speed_label, self.mem_label):
            w.setMinimumWidth(110)
            sb.addPermanentWidget(w)

    def show_main(self) -> None:
        self.stack.setCurrentIndex(1)

    # -- controller events -----------------------------------------------------------------
    def _on_scene(self, scene: Any) -> None:
        self.show_main()
        self.cloud_view.clear()
        self.loss_plot.clear()
        self.loss_plot.set_cd_visible(False)
        self.panels.set_fields(np.zeros((scene.n_views, *scene.masks.shape[1:]), np.float32))
        self.cloud_view.set_layer_available("gt", scene.gt_points is not None)
        self.cloud_view.set_layer_available("hull", True)
        self.cloud_view.set_layer_available("frusta", True)
        self.last_iteration = -1
        self.setWindowTitle(f"DRWR Studio — {scene.name}")
        self.statusBar().showMessage(
            f"{scene.name}: {scene.n_views} views, {scene.masks.shape[2]}×{scene.masks.shape[1]}",
            5000)
        self.use_config_panel(self.controller.config)
        self.params.set_values({f: getattr(self.controller.config, f)
                                for f in self.params.controls})
        self.params.mark_applied()

    def use_config_panel(self, config: Any) -> None:
        """Parameter controls for ``config``'s class (rebuilt when the job kind changes)."""
        if type(config) is self._params_cls or config is None:
            return
        self.params = ParamPanel(param_specs(config))
        self.params.live_changed.connect(self.controller.set_live)
        self.params.pending_changed.connect(self.run_controls.mark_reset_pending)
        self.params_scroll.setWidget(self.params)  # deletes the old panel
        self._params_cls = type(config)

    def _on_job_ready(self, loss_names: Any) -> None:
        self.loss_plot.set_names(tuple(loss_names))
        self._pending_rows = []
        self.params.mark_applied()
        self.last_iteration = -1
        if self._pending_recent:  # the scene could be fitted: remember it
            self.add_recent(self._pending_recent)
            self._pending_recent = ""

    def _on_start_failed(self, msg: str) -> None:
        self._pending_recent = ""
        self.run_controls.set_state("none")

    def _on_state(self, state: str) -> None:
        self.run_controls.set_state(state)
        if state == "done":
            self.statusBar().showMessage("fit finished (Run continues for more iterations)", 8000)

    def _on_command(self, name: str) -> None:
        if name == "reset":
            self.controller.command("reset", self.params.values())
        else:
            self.controller.command(name)

    def show_error(self, msg: str) -> None:
        self.last_error = msg
        self.statusBar().showMessage(f"Error: {msg}", 15000)
        if not self.show_dialogs:
            return
        if self._error_box is None:
            self._error_box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Warning, "DRWR Studio",
                                                    "", parent=self)
            self._error_box.setModal(False)
        self._error_box.setText(msg)
        self._error_box.show()

    # -- display ---------------------------------------------------------------------------
    _next_draw = 0.0
    _display_cpu: float | None = None  # display CPU seconds when the last frame began

    def _tick(self) -> None:
        now = time.perf_counter()
        running = self.controller.state() == "running"
        if not running:  # the budget holds while a fit runs
            self._display_cpu, self._next_draw = None, 0.0
        if now < self._next_draw:  # keep the display's CPU to <= DRAW_SHARE of wall time
            return
        try:
            frame = self.controller.take()
            self._update_status(frame)
            if frame is not None:
                # what the previous frame cost, its deferred paints and GL work included
                cpu = time.process_time() - self.controller.fit_cpu_s()
                last, self._display_cpu = self._display_cpu, (cpu if running else None)
                self.draw_frame(frame)
                if running and last is not None:
                    self._next_draw = now + min(max(0.0, cpu - last), 0.5) / DRAW_SHARE
        except Exception as exc:  # a slot must never raise (PyQt5 aborts)
            self.timer.stop()
            self.show_error(f"display failed: {exc.__class__.__name__}: {exc}")

    def draw_frame(self, frame: Any) -> None:
        snap = frame.snapshot
        if snap.iteration < self.last_iteration:  # after a reset
            self.loss_plot.clear()
            self._pending_rows = []
        if self.timeline.record(frame):  # False while the timeline shows an earlier one
            self.cloud_view.set_points(snap.points, snap.point_loss)  # renders in the next paint
        if tuple(frame.names) != self.loss_plot.names:  # the first frame of another job
            self.loss_plot.set_names(tuple(frame.names))
            self._pending_rows = []
        if frame.names:
            self._pending_rows.append(np.asarray(frame.history).reshape(-1, 1 + len(frame.names)))
        self._last_frame = frame
        for hook in self.frame_hooks:
            hook(frame)
        # While a fit runs the panels and the plot refresh at most every PANEL_S (the 3D
        # view each frame); at once when paused, stepping or finished (the final snap).
        if frame.state != "running" or self.controller.state() != "running" \
                or time.perf_counter() - self._panels_t >= PANEL_S:
            self._draw_panels()
        self.last_iteration = snap.iteration
        self.frames_drawn += 1
        self.iter_label.setText(f"iteration {snap.iteration}")
        self.speed_label.setText(f"{frame.its:.1f} it/s" if frame.its else "– it/s")

    def _draw_panels(self) -> None:
        """Panels from the newest frame; loss rows collected since the last panel refresh."""
        if self._last_frame is None:
            return
        snap = self._last_frame.snapshot
        if self.timeline.is_live():
            self.panels.set_projections(snap.uv, snap.inside)
        if self._pending_rows:
            self.loss_plot.add_rows(np.concatenate(self._pending_rows))
            self._pending_rows = []
        self._panels_t = time.perf_counter()

    def refresh_now(self) -> None:
        """Draw the newest frame (if any) immediately and flush paints (screenshots)."""
        self._tick()
        self._draw_panels()
        QtWidgets.QApplication.processEvents()
        self.cloud_view.plotter.render()

    _mem_tick = 0

    def _update_status(self, frame: Any) -> None:
        self._mem_tick += 1
        if self._mem_tick % 15 == 1:
            self.mem_label.setText(f"{rss_mb():.0f} MiB")
        if self.controller.state() == "paused" and frame is None:
            self.speed_label.setText("paused")

    # -- overlays --------------------------------------------------------------------------
    def _on_layer_requested(self, name: str) -> None:
        scene = self.controller.scene
        if scene is None:
            return
        if name == "gt" and scene.gt_points is not None:
            gt = np.asarray(scene.gt_points)
            if len(gt) > GT_DISPLAY:
                gt = gt[np.random.default_rng(0).choice(len(gt), GT_DISPLAY, replace=False)]
            self.cloud_view.set_layer_points("gt", gt)
        elif name == "frusta":
            H, W = scene.masks.shape[1:]
            self.cloud_view.set_layer_lines("frusta", frusta_segments(scene.K, scene.R,
                                                                      scene.t, H, W))
        elif name == "hull" and not self._hull_busy:
            self._hull_busy = True
            self.statusBar().showMessage("computing the visual hull…")

            def compute() -> Any:
                from core.hull.visual_hull import visual_hull

                return visual_hull(scene, res=HULL_RES, n_points=1)

            def done(hull: Any) -> None:
                self._hull_busy = False
                if scene is self.controller.scene:
                    self.cloud_view.set_layer_mesh("hull", hull.vertices, hull.faces)
                    self.statusBar().showMessage("visual hull ready", 3000)

            def failed(msg: str) -> None:
                self._hull_busy = False
                self.cloud_view.set_layer_available("hull", False)
                self.show_error(f"visual hull: {msg}")

            run_task(compute, done, failed)

    # -- closing ---------------------------------------------------------------------------
    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt name)
        self.timer.stop()
        self.controller.stop_worker()
        self._safe(self.recording.stop)  # the recording is finished at exit
        self.cloud_view.close_view()
        super().closeEvent(ev)


def _heading(text: str) -> QtWidgets.QLabel:
    lab = QtWidgets.QLabel(text)
    lab.setStyleSheet("font-weight: bold; padding-top: 4px;")
    lab.setWordWrap(True)
    return lab
