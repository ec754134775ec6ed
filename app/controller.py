"""The controller: owns the scene, the job's config, the job worker and its thread. It hands
the worker a factory (a :class:`core.fit.fitter.Fitter` for a scene, or the factory a
training mode gives it); the worker only knows the job protocol (core.job).

The window talks to this object only; it turns GUI intents (run, pause, a slider moved, open
a scene) into worker requests, and forwards the worker's signals. Everything here runs on the
GUI thread except the worker loop and :func:`run_task` functions.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import numpy as np
from PyQt5 import QtCore

from .worker import Frame, JobWorker, start_worker

__all__ = ["JobController"]


def _make_fitter(scene: Any, config: Any) -> Any:
    """The job the worker runs (built in the worker's thread)."""
    from core.fit.fitter import Fitter

    return Fitter(scene, config)


class JobController(QtCore.QObject):
    """One scene and one fit at a time."""

    scene_changed = QtCore.pyqtSignal(object)  # Scene
    state_changed = QtCore.pyqtSignal(str)
    errored = QtCore.pyqtSignal(str)
    cd_ready = QtCore.pyqtSignal(int, float)
    job_ready = QtCore.pyqtSignal(object)  # the job's loss names (after start and reset)
    start_failed = QtCore.pyqtSignal(str)  # the scene could not be fitted
    fields_ready = QtCore.pyqtSignal(object)  # (I, H, W) float32
    published = QtCore.pyqtSignal()
    saved = QtCore.pyqtSignal(str)  # a save_job request was written to this path
    partner_left = QtCore.pyqtSignal()  # stop_worker stopped the compare partner (see below)

    def __init__(self, parent: QtCore.QObject | None = None, autosave_s: float = 60.0) -> None:
        super().__init__(parent)
        from core.fit.config import FitConfig

        self.config = FitConfig()
        self.scene: Any = None
        self.worker: JobWorker | None = None
        self.thread: QtCore.QThread | None = None
        self.autosave_s = autosave_s
        self._old: list[tuple[JobWorker, QtCore.QThread]] = []
        #: points shown without a job (a followed run's prediction): export falls back to them
        self.static_points: np.ndarray | None = None
        self.interrupt_save: Callable[[], Any] | None = None
        #: compare mode's second run (app.compare.CompareController): Run/Pause/Step/Stop/
        #: Reset and live changes drive it too; stop_worker stops it and ends compare mode
        self.partner: Any = None

    # -- scene and fit ---------------------------------------------------------------------
    def load(self, scene: Any, config: Any = None, run: bool = True,
             make_job: Callable[[], Any] | None = None, **worker_kw: Any) -> None:
        """Start fitting ``scene`` (stopping any previous job). Another kind of job: give
        its factory ``make_job`` (built in the worker thread), its ``config`` and the scene
        it displays first; ``worker_kw`` go to the JobWorker (cd_every, autosave_s)."""
        from core.fit.config import FitConfig

        self.stop_worker()
        self.static_points = None
        self.interrupt_save = None
        self.scene = scene
        if config is not None:
            self.config = config
        elif make_job is None and not isinstance(self.config, FitConfig):
            self.config = FitConfig()  # a fit after another kind of job
        self.scene_changed.emit(scene)
        factory = make_job or partial(_make_fitter, scene, self.config)
        w, th = start_worker(factory, run=run, **{"autosave_s": self.autosave_s, **worker_kw})
        w.errored.connect(self.errored)
        w.start_failed.connect(self.start_failed)
        w.state_changed.connect(self.state_changed)
        w.cd_ready.connect(self.cd_ready)
        w.ready.connect(self.job_ready)
        w.published.connect(self.published)
        w.fields_ready.connect(self.fields_ready)
        w.saved.connect(self.saved)
        self.worker, self.thread = w, th

    def save_job(self, path: str) -> None:
        """Ask the worker to write the job's result (``job.save``; a training's checkpoint)
        between steps; ``saved(path)`` or ``errored`` follows."""
        if self.worker is None:
            raise RuntimeError("nothing is running")
        self.worker.request("save", str(path))

    def command(self, name: str, values: dict[str, Any] | None = None) -> None:
        """run, pause, step, stop, or reset (applying ``values``, e.g. the panel's); in
        compare mode the partner decides how the command drives both runs."""
        if self.partner is not None:
            self.partner.drive_both(self, name, values)
        else:
            self.own_command(name, values)

    def own_command(self, name: str, values: dict[str, Any] | None = None) -> bool:
        """:meth:`command` for this controller's worker alone; False when it was refused."""
        w = self.worker
        if w is None:
            return False
        if name == "reset":
            try:
                self.config = self.config.replace(**(values or {}))
            except (ValueError, TypeError) as exc:
                self.errored.emit(f"reset: {exc}")
                return False
            w.reset(self.config)
        elif name == "step":
            w.step_once()
        else:
            getattr(w, name)()
        return True

    def set_live(self, changes: dict[str, Any]) -> None:
        """Forward live parameter changes (validated here, applied between steps)."""
        try:
            self.config = self.config.replace(**changes)
        except (ValueError, TypeError) as exc:
            self.errored.emit(str(exc))
            return
        if self.worker is not None:
            self.worker.set_params(**changes)
        if self.partner is not None:
            self.partner.mirror_config(self.config)

    def take(self) -> Frame | None:
        return None if self.worker is None else self.worker.take()

    def request_frame(self) -> None:
        """Have the running job publish a frame after its current step (JobWorker.want_frame)."""
        if self.worker is not None:
            self.worker.want_frame()

    def latest_points(self) -> np.ndarray | None:
        snap = None if self.worker is None else self.worker.last_snapshot()
        return self.static_points if snap is None else snap.points

    def export(self, path: str) -> Any:
        """Write the latest snapshot's cloud (works while the job runs) in the dataset's
        original frame, atomically, never with non-finite points; returns the path."""
        from core.io.atomic import write_points_atomic

        pts = self.latest_points()
        if pts is None or self.scene is None:
            raise RuntimeError("there is no cloud to export yet")
        return write_points_atomic(path, self.scene.to_original(pts))

    def save_autosave(self) -> Any:
        """Export to the autosave file of the current scene (Ctrl-C in the window);
        None when there is no cloud. A job whose work is not its cloud (a training) sets
        ``interrupt_save`` (called instead; returns the path it writes)."""
        from .worker import autosave_path

        if self.interrupt_save is not None:
            return self.interrupt_save()
        if self.latest_points() is None or self.scene is None:
            return None
        path = autosave_path(self.scene)
        path.parent.mkdir(parents=True, exist_ok=True)
        return self.export(str(path))

    def state(self) -> str:
        return "none" if self.worker is None else self.worker.state

    _retired_cpu_s = 0.0  # CPU seconds of the workers already stopped

    def fit_cpu_s(self) -> float:
        """CPU seconds all fit workers have used (the rest of the process is the display)."""
        own = self._retired_cpu_s + (0.0 if self.worker is None else self.worker.cpu_s)
        return own + (0.0 if self.partner is None else self.partner.fit_cpu_s())

    # -- shutdown --------------------------------------------------------------------------
    def stop_worker(self, wait_ms: int = 5000) -> bool:
        """Ask the worker (and a compare partner's) to quit and wait for the threads; True
        when they stopped."""
        ok = True
        if self.partner is not None:
            partner, self.partner = self.partner, None
            self._retired_cpu_s += partner.fit_cpu_s()
            ok = partner.stop_worker(wait_ms)
            self.partner_left.emit()
        if self.worker is not None and self.thread is not None:
            w, th = self.worker, self.thread
            self.worker = self.thread = None
            self._retired_cpu_s += w.cpu_s
            for sig in (w.errored, w.state_changed, w.cd_ready, w.ready, w.published,
                        w.fields_ready, w.start_failed, w.saved):
                try:
                    sig.disconnect()
                except TypeError:
                    pass
            w.quit()
            ok = th.wait(wait_ms)
            if not ok:  # keep references alive; a stuck step finishes later
                self._old.append((w, th))
        return ok
