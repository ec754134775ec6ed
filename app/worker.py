"""The fit worker: a QObject living in its own QThread that owns the :class:`core.fit.fitter.Fitter`.

Shape (after superqt / napari workers): one loop runs steps while *running*; between steps
it applies requests queued by the GUI thread (run, pause, step, stop, set_params, reset,
quit). The GUI never touches the Fitter or its tensors.

Publishing is on demand: while a fit runs, the worker copies a :class:`Frame` (a frozen
Snapshot plus it/s and the loss rows since the last take) into a lock-protected *latest* slot
only after the GUI asked for one (:meth:`FitWorker.take` on an empty slot asks), at most
every ``PUBLISH_S`` and never so often that snapshots cost more than ``SNAPSHOT_SHARE`` of the
loop; a lightweight ``published`` signal follows. So the window's frame rate, not a fixed
rate, sets how many snapshots are made, the frame drawn is at most a step old, and slow
renders neither queue snapshots nor slow the optimiser. Paused, stepping and finished fits
publish at once.

Errors: any exception in a step -> ``errored(str)``, the loop pauses and the last good
snapshot stays. Non-finite points (``FitDiverged``) stop the fit with a clear message.

Autosave: every ``autosave_s`` (60 s) of running time the latest cloud is written to
``<scene folder>/drwr_autosave.ply`` when the scene came from a writable folder, otherwise to
``~/.cache/drwr-studio/autosave.ply``.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PyQt5.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

__all__ = ["FitWorker", "Frame", "start_worker", "autosave_path"]

PUBLISH_S = 0.1  # at most 10 snapshots a second, and only as many as the window asks for
SNAPSHOT_SHARE = 0.02  # snapshots may take at most this share of the loop's time
CD_SHARE = 0.02  # the live Chamfer distance may take at most this share
CD_GT_SAMPLES = 3000


@dataclass(frozen=True)
class Frame:
    """What the GUI draws: the snapshot, speed, and loss rows (iteration, total, sil, rep)."""

    snapshot: Any
    its: float
    state: str
    history: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))


def autosave_path(scene: Any) -> Path:
    """Where the autosave of ``scene``'s cloud goes (see the module docstring)."""
    folder = getattr(scene, "path", None)
    if folder is not None:
        folder = Path(folder)
        if folder.is_file():
            folder = folder.parent
        if folder.is_dir() and os.access(folder, os.W_OK):
            return folder / "drwr_autosave.ply"
    return Path.home() / ".cache" / "drwr-studio" / "autosave.ply"


class FitWorker(QObject):
    """Runs a Fitter in a thread. Call the request methods from any thread."""

    published = pyqtSignal()  # a new Frame is in the latest slot
    errored = pyqtSignal(str)
    state_changed = pyqtSignal(str)  # "starting", "running", "paused", "done", "stopped"
    ready = pyqtSignal(int)  # the Fitter exists; number of points
    cd_ready = pyqtSignal(int, float)  # iteration, chamfer x100 against the scene's gt
    fields_ready = pyqtSignal(object)  # (I, H, W) float32 smoothed silhouettes, when they change
    finished = pyqtSignal()

    def __init__(self, scene: Any, config: Any, *, run: bool = False, cd_every: int = 50,
                 autosave_s: float = 60.0, autosave_to: Path | None = None) -> None:
        super().__init__()
        self.scene = scene
        self.config = config
        self.cd_every = cd_every
        self._next_cd = 0.0
        self.autosave_s = autosave_s
        self.autosave_to = autosave_to
        self._requests: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._wanted = True  # the GUI asked for a frame (take() found the slot empty)
        self._last_snapshot: Any = None
        self._rows: list[tuple[float, float, float, float]] = []
        self._running = run
        self._state = "starting"
        self.fitter: Any = None
        self._gt_sub: np.ndarray | None = None
        self.cpu_s = 0.0  # CPU seconds this worker's thread has used (updated after each step)

    # -- requests (any thread) -------------------------------------------------------------
    def request(self, kind: str, payload: Any = None) -> None:
        self._requests.put((kind, payload))

    def run(self) -> None:
        self.request("run")

    def pause(self) -> None:
        self.request("pause")

    def step_once(self) -> None:
        self.request("step")

    def stop(self) -> None:
        self.request("stop")

    def set_params(self, **changes: Any) -> None:
        self.request("set_params", changes)

    def reset(self, config: Any = None) -> None:
        self.request("reset", config)

    def quit(self) -> None:
        self.request("quit")

    # -- read-outs (any thread) ------------------------------------------------------------
    def take(self) -> Frame | None:
        """The newest unseen Frame, clearing the slot; or None, and then the running loop
        publishes one after its current step."""
        with self._lock:
            frame, self._latest = self._latest, None
            if frame is None:
                self._wanted = True
        return frame

    def last_snapshot(self) -> Any:
        """The last published Snapshot (kept after take, for export)."""
        with self._lock:
            return self._last_snapshot

    @property
    def state(self) -> str:
        return self._state

    # -- the loop (worker thread) ----------------------------------------------------------
    @pyqtSlot()
    def loop(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # never let an exception escape a slot (aborts PyQt5)
            self.errored.emit(f"{exc.__class__.__name__}: {exc}")
        finally:
            self._set_state("stopped")
            self.finished.emit()
            QThread.currentThread().quit()  # thread-safe; a queued quit would wait for the GUI

    def _loop(self) -> None:
        import torch

        from core.fit.fitter import Fitter

        if getattr(self.config, "device", "cpu") == "cpu" or not torch.cuda.is_available():
            torch.set_num_threads(1)
        try:
            self.fitter = Fitter(self.scene, self.config)
        except Exception as exc:
            self.errored.emit(f"cannot start the fit: {exc}")
            return
        gt = getattr(self.scene, "gt_points", None)
        if gt is not None and len(gt):
            rng = np.random.default_rng(0)
            self._gt_sub = np.asarray(gt)[rng.choice(len(gt), min(len(gt), CD_GT_SAMPLES),
                                                     replace=False)]
        self.ready.emit(self.fitter.config.points)
        self._emit_fields()
        self._publish(force=True)
        self._set_state("running" if self._running else "paused")
        last_pub = time.perf_counter()
        snap_cost = 0.0
        run_time = 0.0
        last_autosave = 0.0
        speed_t0, speed_n, its = time.perf_counter(), 0, 0.0
        while True:
            # wait for requests when idle; poll when running
            block = not (self._running and not self.fitter.done)
            try:
                if block:
                    kind, payload = self._requests.get(timeout=0.1)
                else:
                    kind, payload = self._requests.get_nowait()
            except queue.Empty:
                kind = None
            if kind is not None:
                if kind == "quit":
                    return
                single = self._handle(kind, payload)
                if single:
                    self._step_and_record()
                    self._publish(force=True, its=its)
                continue  # drain all queued requests before the next step
            if block:
                continue
            t0 = time.perf_counter()
            ok = self._step_and_record()
            self.cpu_s = time.thread_time()
            if not ok:
                continue
            run_time += time.perf_counter() - t0
            speed_n += 1
            now = time.perf_counter()
            if now - speed_t0 >= 0.5:
                its = speed_n / (now - speed_t0)
                speed_t0, speed_n = now, 0
            if self.fitter.done:
                self._running = False
                self._set_state("done")
                self._publish(force=True, its=its)
                continue
            if self._wanted and now - last_pub >= max(PUBLISH_S, snap_cost / SNAPSHOT_SHARE):
                s0 = time.perf_counter()
                self._publish(its=its)
                snap_cost = time.perf_counter() - s0
                last_pub = time.perf_counter()
            if self.autosave_s and run_time - last_autosave >= self.autosave_s:
                last_autosave = run_time
                self._autosave()

    def _handle(self, kind: str, payload: Any) -> bool:
        """Apply one request; True when it asks for a single step."""
        f = self.fitter
        try:
            if kind == "run":
                if f.done:
                    f.set_params(iterations=min(f.config.iterations * 2, 100_000))
                self._running = True
                self._set_state("running")
            elif kind == "pause":
                self._running = False
                self._set_state("paused")
            elif kind == "stop":
                self._running = False
                self._set_state("stopped")
                self._publish(force=True)
            elif kind == "step":
                self._running = False
                self._set_state("paused")
                return True
            elif kind == "set_params":
                f.set_params(**payload)
                self.config = f.config
                if "R" in payload:
                    self._emit_fields()
                if not self._running:
                    self._publish(force=True)
            elif kind == "reset":
                f.reset(payload)
                self.config = f.config
                with self._lock:
                    self._rows.clear()
                self.ready.emit(f.config.points)
                self._emit_fields()
                self._publish(force=True)
        except Exception as exc:
            self.errored.emit(f"{kind}: {exc}")
        return False

    def _step_and_record(self) -> bool:
        from core.fit.fitter import FitDiverged

        f = self.fitter
        try:
            losses = f.step()
        except FitDiverged as exc:
            self._fail(f"{exc}. The fit was stopped; the last good cloud is shown. "
                       "Try a smaller learning rate or β.")
            return False
        except Exception as exc:
            self._fail(f"step {f.iteration} failed: {exc.__class__.__name__}: {exc}")
            return False
        with self._lock:
            self._rows.append((f.iteration, losses["total"], losses["silhouette"],
                               losses["repulsion"]))
        if (self._gt_sub is not None and self.cd_every and f.iteration % self.cd_every == 0
                and time.perf_counter() >= self._next_cd):
            c0 = time.perf_counter()
            self._chamfer()
            cost = time.perf_counter() - c0
            self._next_cd = c0 + cost / CD_SHARE  # every cd_every steps, within CD_SHARE
        return True

    def _fail(self, msg: str) -> None:
        self._running = False
        self._set_state("stopped")
        self.errored.emit(msg)

    def _chamfer(self) -> None:
        try:
            from core.metrics import chamfer

            pts = self.fitter.points_np()
            if len(pts) > CD_GT_SAMPLES:
                pts = pts[np.random.default_rng(0).choice(len(pts), CD_GT_SAMPLES, replace=False)]
            self.cd_ready.emit(self.fitter.iteration, float(chamfer(pts, self._gt_sub)["cd"]))
        except Exception as exc:
            self.errored.emit(f"chamfer: {exc}")
            self._gt_sub = None

    def _publish(self, force: bool = False, its: float = 0.0) -> None:
        snap = self.fitter.snapshot()
        if not np.isfinite(snap.points).all():
            self._fail("the cloud has non-finite points; the last good cloud is kept")
            return
        with self._lock:
            rows = np.asarray(self._rows, float).reshape(-1, 4)
            self._rows.clear()
            prev = self._latest
            if prev is not None and len(prev.history):
                rows = np.concatenate([prev.history, rows])
            self._latest = Frame(snap, its, self._state, rows)
            self._last_snapshot = snap
            self._wanted = False
        self.published.emit()

    def _emit_fields(self) -> None:
        try:
            self.fields_ready.emit(self.fitter.field_images())
        except Exception as exc:
            self.errored.emit(f"silhouette fields: {exc}")

    def _autosave(self) -> None:
        snap = self.last_snapshot()
        if snap is None:
            return
        try:
            from core.io.points import write_points

            path = self.autosave_to or autosave_path(self.scene)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_points(path, self.scene.to_original(snap.points))  # dataset's world
        except Exception as exc:
            self.errored.emit(f"autosave failed: {exc}")

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)


def start_worker(scene: Any, config: Any, parent: QObject | None = None,
                 **kw: Any) -> tuple[FitWorker, QThread]:
    """Create a FitWorker in a new started QThread. Stop with ``worker.quit(); thread.wait()``."""
    thread = QThread(parent)
    worker = FitWorker(scene, config, **kw)
    worker.moveToThread(thread)
    thread.started.connect(worker.loop)
    thread.start()
    return worker, thread
