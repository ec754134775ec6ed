"""The job worker: a QObject living in its own QThread that builds and owns one
:class:`core.job.Job` (a fit, later a training) from a factory, and knows nothing more of it
than the protocol in core/job.py.

Shape (after superqt / napari workers): one loop runs steps while *running*; between steps
it applies requests queued by the GUI thread (run, pause, step, stop, set_params, reset,
save, quit). The GUI never touches the job or its tensors. "Run" after the job is done extends it
(``job.extend``) by as many steps as it has run.

Publishing is on demand: while a fit runs, the worker copies a :class:`Frame` (a frozen
Snapshot plus it/s and the loss rows since the last take) into a lock-protected *latest* slot
only after the GUI asked for one (:meth:`JobWorker.take` on an empty slot asks), at most
every ``PUBLISH_S`` and never so often that snapshots cost more than ``SNAPSHOT_SHARE`` of the
loop; a lightweight ``published`` signal follows. So the window's frame rate, not a fixed
rate, sets how many snapshots are made, the frame drawn is at most a step old, and slow
renders neither queue snapshots nor slow the optimiser. Paused, stepping and finished fits
publish at once.

Errors: any exception in a step -> ``errored(str)``, the loop pauses and the last good
snapshot stays. Non-finite values (``JobDiverged``) stop the job with a clear message. A job
that cannot be built emits ``start_failed(str)`` (and ``errored``).

Live Chamfer distance: every ``cd_every`` steps (within ``CD_SHARE`` of the loop's time), a
cheap chamfer of the snapshot's points against ``job.display_scene.gt_points`` (subsampled).

Autosave: every ``autosave_s`` (60 s) of running time ``job.save`` writes the result to
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
from typing import Any, Callable

import numpy as np
from PyQt5.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from core.job import FIELDS, JobDiverged

__all__ = ["JobWorker", "Frame", "start_worker", "autosave_path"]

PUBLISH_S = 1 / 12  # at most 12 snapshots a second, and only as many as the window asks for
SNAPSHOT_SHARE = 0.04  # snapshots may take at most this share of the loop's time
CD_SHARE = 0.02  # the live Chamfer distance may take at most this share
CD_GT_SAMPLES = 3000


@dataclass(frozen=True)
class Frame:
    """What the GUI draws: the snapshot, speed, the worker's state, and the loss rows since
    the last frame: (N, 1 + len(names)) = iteration, then the losses named in ``names``."""

    snapshot: Any
    its: float
    state: str
    history: np.ndarray = field(default_factory=lambda: np.zeros((0, 1)))
    names: tuple[str, ...] = ()


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


class JobWorker(QObject):
    """Runs a job in a thread. Call the request methods from any thread."""

    published = pyqtSignal()  # a new Frame is in the latest slot
    errored = pyqtSignal(str)
    start_failed = pyqtSignal(str)  # the job could not be built
    state_changed = pyqtSignal(str)  # "starting", "running", "paused", "done", "stopped"
    passed = pyqtSignal(object)  # barrier(token): every request before it has been handled
    ready = pyqtSignal(object)  # the job exists (after start and each reset): its loss names
    cd_ready = pyqtSignal(int, float)  # iteration, chamfer x100 against the scene's gt
    fields_ready = pyqtSignal(object)  # (I, H, W) float32 smoothed silhouettes, when they change
    saved = pyqtSignal(str)  # a "save" request wrote job.save(path) to this path
    finished = pyqtSignal()

    def __init__(self, make_job: Callable[[], Any], *, run: bool = False, cd_every: int = 50,
                 autosave_s: float = 60.0, autosave_to: Path | None = None) -> None:
        super().__init__()
        self.make_job = make_job
        self.cd_every = cd_every
        self._next_cd = 0.0
        self.autosave_s = autosave_s
        self.autosave_to = autosave_to
        self._requests: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._wanted = True  # the GUI asked for a frame (take() found the slot empty)
        self._last_snapshot: Any = None
        self._rows: list[tuple[float, ...]] = []
        self._running = run
        self._state = "starting"
        self.job: Any = None
        self.names: tuple[str, ...] = ()
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

    def barrier(self, token: Any) -> None:
        """``passed(token)`` is emitted once every request made before this one has been
        handled and the loop has gone round again (so anything that happens "between steps"
        has had its chance): a way to wait for the worker without sleeping."""
        self.request("barrier", token)

    # -- read-outs (any thread) ------------------------------------------------------------
    def take(self) -> Frame | None:
        """The newest unseen Frame, clearing the slot; or None, and then the running loop
        publishes one after its current step."""
        with self._lock:
            frame, self._latest = self._latest, None
            if frame is None:
                self._wanted = True
        return frame

    def want_frame(self) -> None:
        """Ask for a frame after the current step without taking one (a display that draws
        this job only now and then, e.g. compare mode's second view, asks right after drawing,
        so that a frame is ready at its next draw)."""
        with self._lock:
            self._wanted = True

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

        torch.set_num_threads(1)  # the display needs the other core (a CUDA job is unaffected)
        try:
            self.job = self.make_job()
        except Exception as exc:
            msg = f"cannot start: {exc}"
            self.start_failed.emit(msg)
            self.errored.emit(msg)
            return
        self._started()
        self._publish(force=True)
        self._set_state("running" if self._running else "paused")
        last_pub = time.perf_counter()
        snap_cost = 0.0
        run_time = 0.0
        last_autosave = 0.0
        speed_t0, speed_n, its = time.perf_counter(), 0, 0.0
        while True:
            # wait for requests when idle; poll when running
            block = not (self._running and not self.job.done)
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
            if self.job.done:
                self._running = False
                self._set_state("done")
                self._publish(force=True, its=its)  # the final result (after any snap)
                if self._gt_sub is not None and self.cd_every:
                    self._chamfer()  # and its distance
                continue
            if self._wanted and now - last_pub >= max(PUBLISH_S, snap_cost / SNAPSHOT_SHARE):
                s0 = time.perf_counter()
                self._publish(its=its)
                snap_cost = time.perf_counter() - s0
                last_pub = time.perf_counter()
            if self.autosave_s and run_time - last_autosave >= self.autosave_s:
                last_autosave = run_time
                self._autosave()

    def _started(self) -> None:
        """After the job was built or reset: loss names, ground truth for the live CD."""
        job = self.job
        self.names = tuple(job.loss_names)
        self._gt_sub = None
        gt = getattr(job.display_scene, "gt_points", None)
        if gt is not None and len(gt):
            rng = np.random.default_rng(0)
            self._gt_sub = np.asarray(gt)[rng.choice(len(gt), min(len(gt), CD_GT_SAMPLES),
                                                     replace=False)]
        with self._lock:
            self._rows.clear()
        self.ready.emit(self.names)
        self._emit_fields()

    def _handle(self, kind: str, payload: Any) -> bool:
        """Apply one request; True when it asks for a single step."""
        f = self.job
        try:
            if kind == "run":
                if f.done:
                    f.extend(max(f.iteration, 1))
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
                invalid = f.set_params(**payload) or set()
                if FIELDS in invalid:
                    self._emit_fields()
                if f.done and self._running:  # e.g. the length lowered below the step
                    self._running = False
                    self._set_state("done")
                if not self._running:
                    self._publish(force=True)
            elif kind == "barrier":
                self.passed.emit(payload)
            elif kind == "save":  # the job's result (a training's checkpoint) on request
                self.saved.emit(str(f.save(Path(payload))))
            elif kind == "reset":
                f.reset(payload)
                self._started()
                self._publish(force=True)
        except Exception as exc:
            self.errored.emit(f"{kind}: {exc}")
        return False

    def _step_and_record(self) -> bool:
        f = self.job
        try:
            losses = f.step()
        except JobDiverged as exc:
            self._fail(f"{exc}. It was stopped; the last good result is shown. "
                       "Try a smaller learning rate.")
            return False
        except Exception as exc:
            self._fail(f"step {f.iteration} failed: {exc.__class__.__name__}: {exc}")
            return False
        with self._lock:
            self._rows.append((f.iteration, *(float(losses.get(n, 0.0)) for n in self.names)))
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

            snap = self.job.snapshot()
            pts = snap.points
            if len(pts) > CD_GT_SAMPLES:
                pts = pts[np.random.default_rng(0).choice(len(pts), CD_GT_SAMPLES, replace=False)]
            self.cd_ready.emit(snap.iteration, float(chamfer(pts, self._gt_sub)["cd"]))
        except Exception as exc:
            self.errored.emit(f"chamfer: {exc}")
            self._gt_sub = None

    def _publish(self, force: bool = False, its: float = 0.0) -> None:
        snap = self.job.snapshot()
        if not np.isfinite(snap.points).all():
            self._fail("the cloud has non-finite points; the last good cloud is kept")
            return
        k = 1 + len(self.names)
        with self._lock:
            rows = np.asarray(self._rows, float).reshape(-1, k)
            self._rows.clear()
            prev = self._latest
            if prev is not None and len(prev.history) and prev.history.shape[1] == k:
                rows = np.concatenate([prev.history, rows])
            self._latest = Frame(snap, its, self._state, rows, self.names)
            self._last_snapshot = snap
            self._wanted = False
        self.published.emit()

    def _emit_fields(self) -> None:
        try:
            self.fields_ready.emit(self.job.field_images())
        except Exception as exc:
            self.errored.emit(f"silhouette fields: {exc}")

    def _autosave(self) -> None:
        try:
            path = self.autosave_to or autosave_path(self.job.display_scene)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.job.save(path)  # the dataset's original frame, atomically, never NaN
        except Exception as exc:
            self.errored.emit(f"autosave failed: {exc}")

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)


def start_worker(make_job: Callable[[], Any], parent: QObject | None = None,
                 **kw: Any) -> tuple[JobWorker, QThread]:
    """Create a JobWorker for ``make_job()`` in a new started QThread. Stop with
    ``worker.quit(); thread.wait()``."""
    thread = QThread(parent)
    worker = JobWorker(make_job, **kw)
    worker.moveToThread(thread)
    thread.started.connect(worker.loop)
    thread.start()
    return worker, thread
