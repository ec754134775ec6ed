"""Compare mode: a second run of the window's scene with other settings, side by side.

View → "Compare with…" (or ``--compare SPEC``) reads SPEC (``app.compare_spec``: overrides of
the current FitConfig) and starts a :class:`CompareController` on the same scene: a second
JobWorker in its own thread. The window's controller holds it as its ``partner``, so Run,
Pause, Step, Stop and Reset drive both runs, and live parameter changes reach the second run
except where SPEC sets the field. On screen:

- a second 3D view (B) beside the first (A), cameras linked (``widgets.linked_views``), its
  colouring and point size following A's toolbar;
- one small table with each run's iteration, CPU time, speed, CD ×100, F-score and inside
  share (``widgets.compare_table``; scores from ``app.compare_metrics``);
- B's projections drawn over A's in the silhouette panels in their own colours.

B is drawn when A is (so the window's drawing budget covers both); while A does not run, a
timer here draws B within the same budget. View → "Leave compare mode", opening another
scene or closing the window stops B's worker and waits for its thread. B never autosaves
(the autosave file is A's).
"""

from __future__ import annotations

import time
from dataclasses import fields
from typing import Any

from PyQt5 import QtCore, QtWidgets

from widgets.cloud_view import CloudView
from widgets.compare_table import CompareTable
from widgets.linked_views import CameraLink

from core.fit.config import FitConfig

from .compare_layout import SideBySide
from .compare_metrics import RunScorer
from .compare_spec import SpecError, compare_config, describe
from .controller import JobController

__all__ = ["CompareController", "CompareMode", "install_compare"]

TICK_MS = 33
DRAW_SHARE = 0.1  # B's own draws (while A does not run) keep to this share of wall time
PANEL_S = 1.0  # while B runs, its projections reach the panels at most this often
LABEL_A = "A  current settings"


class CompareController(JobController):
    """The second run: the main controller's scene with the settings of ``spec`` applied over
    the main config (recomputed on each Reset and live change)."""

    def __init__(self, spec: str, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent, autosave_s=0.0)
        self.spec = spec

    def drive_both(self, main: JobController, name: str, values: Any = None) -> None:
        """The window's run control ``name`` for both runs. A finished run sits out Run, Pause
        and Step while the other still has work (Run would extend it); when both are
        finished, Run extends both. Reset: the main run with ``values``, this one with the
        new main config and SPEC (not when the main run refused the values)."""
        states = (main.state(), self.state())
        sit_out = name in ("run", "pause", "step") and "done" in states \
            and states != ("done", "done")
        if not (sit_out and states[0] == "done"):
            if not main.own_command(name, values) and name == "reset":
                return
        if not (sit_out and states[1] == "done"):
            self.mirror_command(name, main.config)

    def mirror_command(self, name: str, base: Any) -> None:
        """Run control ``name`` for this run; on Reset the main config ``base`` with SPEC."""
        if self.worker is None:
            return
        if name != "reset":
            self.own_command(name)
            return
        try:
            self.config = compare_config(self.spec, base)
        except SpecError as exc:
            self.errored.emit(f"reset: {exc}")
            return
        self.worker.reset(self.config)

    def mirror_config(self, base: Any) -> None:
        """The main config changed live: send the live fields that now differ (SPEC's own
        fields keep SPEC's values)."""
        try:
            want = compare_config(self.spec, base)
        except SpecError as exc:
            self.errored.emit(str(exc))
            return
        changes = {f.name: getattr(want, f.name) for f in fields(want)
                   if f.metadata.get("live") and getattr(want, f.name) != getattr(self.config,
                                                                                  f.name)}
        if changes:
            self.set_live(changes)


class CompareMode(QtCore.QObject):
    """Compare mode of a :class:`app.window.MainWindow` (``install_compare``)."""

    errored = QtCore.pyqtSignal(str)  # the second run failed
    changed = QtCore.pyqtSignal(bool)  # compare mode entered / left

    def __init__(self, win: Any) -> None:
        super().__init__(win)
        self.win = win
        self.spec = "preset=drwr-paper"
        self.controller: CompareController | None = None
        self._layout: SideBySide | None = None  # B's view, the table, the camera link
        self._scorers: list[RunScorer] = []
        self._its = [0.0, 0.0]
        self._panels_t = 0.0
        self._next_draw = 0.0
        self._cpu: float | None = None
        self.frames_drawn = 0  # B's frames drawn
        self.timer = QtCore.QTimer(self, interval=TICK_MS)
        self.timer.timeout.connect(self._tick)
        win.controller.partner_left.connect(self._teardown)
        menu = win.view_menu
        menu.addSeparator()
        win._add(menu, "&Compare with…", self.ask, "Ctrl+K")
        self.leave_action = win._add(menu, "&Leave compare mode", self.leave)
        self.leave_action.setEnabled(False)

    @property
    def active(self) -> bool:
        return self.controller is not None

    @property
    def view(self) -> CloudView | None:
        return None if self._layout is None else self._layout.view

    @property
    def table(self) -> CompareTable | None:
        return None if self._layout is None else self._layout.table

    @property
    def _link(self) -> CameraLink | None:
        return None if self._layout is None else self._layout.link

    # -- entering and leaving ------------------------------------------------------------
    def ask(self) -> None:
        """Ask for SPEC and start comparing (an invalid SPEC is reported, nothing starts)."""
        text, ok = QtWidgets.QInputDialog.getText(
            self.win, "Compare with…", "Settings of the second run, as field=value, "
            "comma-separated (e.g. beta=3,sigma=2 or preset=drwr-paper):", text=self.spec)
        if ok:
            try:
                self.start(text)
            except (SpecError, RuntimeError) as exc:
                self.win.show_error(f"compare: {exc}")

    def start(self, spec: str, run: bool | None = None) -> Any:
        """Start the second run with ``spec`` applied over the current config; ``run``:
        start it running (default: when the window's run runs). Returns its config; raises
        SpecError for a bad spec, RuntimeError when no fit is open."""
        main = self.win.controller
        if main.scene is None or main.worker is None:
            raise RuntimeError("open a scene and fit it first")
        if not isinstance(main.config, FitConfig):  # a training's config
            raise RuntimeError("compare works on fits (not in training mode)")
        config = compare_config(spec, main.config)
        self.leave()
        self.spec = spec
        if run is None:
            run = main.state() == "running"
        ctl = CompareController(spec, self)
        ctl.errored.connect(self._on_error)
        ctl.state_changed.connect(self._show_state)
        main.state_changed.connect(self._show_state)  # after the window's own slot
        ctl.load(main.scene, config, run=run)
        self.controller = ctl
        main.partner = ctl
        self._build(main.scene)
        self.timer.start()
        self.leave_action.setEnabled(True)
        self.changed.emit(True)
        return config

    def leave(self) -> bool:
        """Stop the second run (its thread joined) and remove its view; True when it
        stopped (or there was none)."""
        main = self.win.controller
        ctl, main.partner = main.partner, None
        ok = True
        if ctl is not None:
            ok = ctl.stop_worker()
        self._teardown()
        return ok

    def _build(self, scene: Any) -> None:
        win = self.win
        self._layout = SideBySide(win, (LABEL_A, f"B  {describe(self.spec)}"))
        gt = getattr(scene, "gt_points", None)
        scorers: list[RunScorer] = []  # scores of an earlier compare never reach this table
        scorers += [RunScorer(gt, lambda i, s, r=r: self._scored(scorers, r, s),
                              self._on_error) for r in range(2)]
        self._scorers = scorers
        self._its = [0.0, 0.0]
        self.frames_drawn = 0
        win.frame_hooks.append(self._on_main_frame)

    def _show_state(self, _state: str = "") -> None:
        """The run controls follow both runs: running while either runs, and so on."""
        states = (self.win.controller.state(),
                  "none" if self.controller is None else self.controller.state())
        shown = next((s for s in ("running", "starting", "paused") if s in states), states[0])
        self.win.run_controls.set_state(shown)

    def _teardown(self) -> None:
        """Remove compare mode's widgets (the second worker is already stopped)."""
        self.timer.stop()
        self.controller = None
        try:
            self.win.controller.state_changed.disconnect(self._show_state)
        except TypeError:
            pass
        self.win.run_controls.set_state(self.win.controller.state())
        if self._on_main_frame in self.win.frame_hooks:
            self.win.frame_hooks.remove(self._on_main_frame)
        if self._layout is not None:
            self._layout.remove()
            self._layout = None
        self._scorers = []
        self.win.panels.set_overlay(None)
        self.win.cloud_view.refresh()
        self.leave_action.setEnabled(False)
        self.changed.emit(False)

    # -- display ---------------------------------------------------------------------------
    def _on_main_frame(self, frame: Any) -> None:
        """A's frame was drawn: score it, and draw B's newest frame with it."""
        self._its[0] = frame.its
        self._update_row(0, frame.snapshot, frame.state)
        self._draw_second()

    def _tick(self) -> None:
        """While A does not run, B's frames are drawn here, within DRAW_SHARE."""
        try:
            main = self.win.controller
            if main.state() != "running":
                snap = None if main.worker is None else main.worker.last_snapshot()
                if snap is not None:
                    self._update_row(0, snap, main.state())
            if main.state() == "running" or self.controller is None:
                self._cpu = None
                return
            now = time.perf_counter()
            if now < self._next_draw:
                return
            running = self.controller.state() == "running"
            cpu = time.process_time() - main.fit_cpu_s()  # display CPU: the fits' excluded
            if not self._draw_second():
                return
            if running and self._cpu is not None:  # what the previous draw cost, paints too
                self._next_draw = now + min(max(0.0, cpu - self._cpu), 0.5) / DRAW_SHARE
            self._cpu = cpu if running else None
        except Exception as exc:  # a slot must never raise (PyQt5 aborts)
            self.timer.stop()
            self.win.show_error(f"compare display failed: {exc.__class__.__name__}: {exc}")

    def _draw_second(self) -> bool:
        """Draw B's newest frame if there is one; True when drawn."""
        ctl = self.controller
        frame = None if ctl is None or self.view is None else ctl.take()
        if frame is None:
            return False
        snap = frame.snapshot
        self.view.set_points(snap.points, snap.point_loss)
        now = time.perf_counter()
        if frame.state != "running" or now - self._panels_t >= PANEL_S:
            self.win.panels.set_overlay(snap.uv, snap.inside)
            self._panels_t = now
        self._its[1] = frame.its
        self._update_row(1, snap, frame.state)
        self.frames_drawn += 1
        ctl.request_frame()  # B's next frame is ready at A's next draw, not every other one
        return True

    def _update_row(self, row: int, snap: Any, state: str) -> None:
        if self.table is None or snap is None:
            return
        ctl = self.win.controller if row == 0 else self.controller
        worker = None if ctl is None else ctl.worker
        self.table.set_values(row, {
            "iteration": int(snap.iteration), "its": self._its[row] or None,
            "time": None if worker is None else worker.cpu_s,
            "inside": float(snap.inside.all(0).mean()) if snap.inside.size else None})
        self._scorers[row].offer(snap, settled=state != "running")

    def _scored(self, scorers: list[RunScorer], row: int, scores: dict) -> None:
        if self.table is not None and scorers is self._scorers:
            self.table.set_values(row, scores)

    def _on_error(self, msg: str) -> None:
        self.win.show_error(f"compare run: {msg}")
        self.errored.emit(msg)

    # -- results ---------------------------------------------------------------------------
    def latest_points(self) -> Any:
        return None if self.controller is None else self.controller.latest_points()

    def export(self, path: str) -> Any:
        """Write B's latest cloud as File → Export writes A's; returns the path."""
        if self.controller is None:
            raise RuntimeError("compare mode is off: there is no second cloud")
        return self.controller.export(path)

    def refresh_now(self) -> None:
        """Draw B's newest frame and render both views now (screenshots)."""
        self._draw_second()
        if self.view is not None:
            self.view.plotter.render()


def install_compare(win: Any) -> CompareMode:
    return CompareMode(win)
