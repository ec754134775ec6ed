"""The job worker without a window: a fake job (no torch, no Fitter) driven through pause,
step, live changes, Run after done, stop, errors, divergence and autosave."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from core.job import JobDiverged, Snapshot
from tests.gui.conftest import went_round


class FakeJob:
    """A job that counts: losses total = k / (1 + iteration), fit = total / 2, prior = 0."""

    loss_names = ("total", "fit", "prior")

    def __init__(self, iterations: int = 100_000, fail_at: int | None = None,
                 diverge_at: int | None = None) -> None:
        self.config = SimpleNamespace(iterations=iterations, k=1.0)
        self.iteration = 0
        self.fail_at, self.diverge_at = fail_at, diverge_at
        self.display_scene = SimpleNamespace(gt_points=None)
        self.extended: list[int] = []
        self.saved: list[Path] = []
        self.thread: str | None = None

    @property
    def done(self) -> bool:
        return self.iteration >= self.config.iterations

    def step(self) -> dict[str, float]:
        self.thread = threading.current_thread().name
        if self.iteration == self.fail_at:
            raise RuntimeError("boom")
        if self.iteration == self.diverge_at:
            raise JobDiverged(f"the job diverged at iteration {self.iteration}", 0)
        time.sleep(0.001)
        self.iteration += 1
        total = self.config.k / (1 + self.iteration)
        return {"total": total, "fit": total / 2, "prior": 0.0}

    def set_params(self, **live: Any) -> set[str]:
        for k, v in live.items():
            setattr(self.config, k, v)
        return {"fields"} if "shape" in live else set()

    def reset(self, config: Any = None) -> None:
        self.iteration = 0

    def extend(self, iterations: int) -> None:
        self.extended.append(iterations)
        self.config.iterations = self.iteration + iterations

    def snapshot(self) -> Snapshot:
        J = 4
        return Snapshot(self.iteration, np.full((J, 3), self.iteration, np.float32),
                        np.zeros((1, J, 2), np.float32), np.ones((1, J), bool),
                        np.ones((1, J), np.float32), np.zeros(J, np.float32))

    def field_images(self) -> np.ndarray:
        return np.full((1, 2, 2), self.config.k, np.float32)

    def evaluate(self) -> dict[str, float]:
        return {}

    def save(self, path: Path) -> Path:
        self.saved.append(Path(path))
        return Path(path)


def _recorder() -> Any:
    """A QObject in the test's thread whose slots record the worker's signals (queued
    connections to a QObject, not PyQt's proxies for plain callables)."""
    from PyQt5.QtCore import QObject, pyqtSlot

    class Rec(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.errors: list[str] = []
            self.failed: list[str] = []
            self.fields: list[Any] = []
            self.ready: list[Any] = []

        @pyqtSlot(str)
        def on_error(self, msg: str) -> None:
            self.errors.append(msg)

        @pyqtSlot(str)
        def on_failed(self, msg: str) -> None:
            self.failed.append(msg)

        @pyqtSlot(object)
        def on_fields(self, f: Any) -> None:
            self.fields.append(f)

        @pyqtSlot(object)
        def on_ready(self, names: Any) -> None:
            self.ready.append(names)

    return Rec()


@pytest.fixture
def start(qtbot: Any):
    """start(job, **kw) -> worker whose signals are recorded (``w.rec``) from before its
    thread starts (a fast job emits before a test could begin to listen)."""
    from PyQt5.QtCore import QThread

    from app.worker import JobWorker

    made: list[Any] = []

    def go(job: Any = None, factory: Any = None, **kw: Any) -> Any:
        w = JobWorker(factory or (lambda: job), run=kw.pop("run", True), **kw)
        th = QThread()
        w.moveToThread(th)
        th.started.connect(w.loop)
        w.rec = _recorder()
        w.errored.connect(w.rec.on_error)
        w.start_failed.connect(w.rec.on_failed)
        w.fields_ready.connect(w.rec.on_fields)
        w.ready.connect(w.rec.on_ready)
        th.start()
        made.append((w, th))
        return w

    yield go
    for w, th in made:
        w.quit()
        assert th.wait(5000)


def test_pause_step_live_change_and_stop(start: Any, qtbot: Any) -> None:
    job = FakeJob()
    w = start(job, autosave_s=0)
    fields = w.rec.fields
    qtbot.waitUntil(lambda: job.iteration > 5, timeout=5000)
    assert job.thread != threading.current_thread().name  # steps run in the worker's thread
    w.pause()
    qtbot.waitUntil(lambda: w.state == "paused", timeout=3000)
    i0 = job.iteration
    went_round(w, qtbot)  # the loop went round twice while paused without stepping
    assert job.iteration == i0
    w.step_once()
    went_round(w, qtbot)
    assert job.iteration == i0 + 1
    n_fields = len(fields)
    w.set_params(k=3.0)  # live, no fields invalidated
    qtbot.waitUntil(lambda: job.config.k == 3.0, timeout=3000)
    w.set_params(shape=1)  # the job says its fields changed: the worker fetches them
    qtbot.waitUntil(lambda: len(fields) == n_fields + 1, timeout=3000)
    assert fields[-1][0, 0, 0] == 3.0
    w.run()
    qtbot.waitUntil(lambda: job.iteration > i0 + 5, timeout=3000)
    qtbot.waitUntil(lambda: w.take() is not None, timeout=3000)  # frames while running
    w.stop()
    qtbot.waitUntil(lambda: w.state == "stopped", timeout=3000)
    i1 = job.iteration
    went_round(w, qtbot)
    assert job.iteration == i1
    snap = w.last_snapshot()
    assert snap.iteration == i1 and snap.points[0, 0] == i1


def test_frames_carry_the_jobs_loss_names(start: Any, qtbot: Any) -> None:
    job = FakeJob()
    w = start(job, run=False, autosave_s=0)
    # the state is the worker's at once; its ``ready`` signal reaches this thread queued
    qtbot.waitUntil(lambda: w.state == "paused" and bool(w.rec.ready), timeout=5000)
    assert w.rec.ready == [("total", "fit", "prior")]
    for _ in range(3):
        w.step_once()
    qtbot.waitUntil(lambda: job.iteration == 3, timeout=3000)
    rows = []
    qtbot.waitUntil(lambda: (f := w.take()) is not None and rows.append(f) is None
                    and f.snapshot.iteration == 3, timeout=3000)
    f = rows[-1]
    assert f.names == ("total", "fit", "prior")
    hist = np.concatenate([r.history for r in rows])
    assert hist.shape[1] == 4
    assert hist[-1].tolist() == pytest.approx([3, 0.25, 0.125, 0.0])


def test_run_after_done_extends_the_job(start: Any, qtbot: Any) -> None:
    job = FakeJob(iterations=20)
    w = start(job, autosave_s=0)
    qtbot.waitUntil(lambda: w.state == "done", timeout=5000)
    assert job.iteration == 20
    w.run()
    qtbot.waitUntil(lambda: w.state == "done" and job.iteration == 40, timeout=5000)
    assert job.extended == [20]


def test_lowering_the_length_live_finishes(start: Any, qtbot: Any) -> None:
    job = FakeJob()
    w = start(job, autosave_s=0)
    qtbot.waitUntil(lambda: job.iteration > 10, timeout=5000)
    w.set_params(iterations=5)
    qtbot.waitUntil(lambda: w.state == "done", timeout=3000)
    i = job.iteration
    went_round(w, qtbot)
    assert job.iteration == i


def test_an_error_in_a_step_stops_and_keeps_the_last_snapshot(start: Any, qtbot: Any) -> None:
    job = FakeJob(fail_at=30)
    w = start(job, autosave_s=0)
    qtbot.waitUntil(lambda: len(w.rec.errors) > 0, timeout=5000)
    assert "boom" in w.rec.errors[0] and "step 30" in w.rec.errors[0]
    qtbot.waitUntil(lambda: w.state == "stopped", timeout=3000)
    assert w.last_snapshot() is not None and job.iteration == 30


def test_divergence_is_reported_once_and_stops(start: Any, qtbot: Any) -> None:
    job = FakeJob(diverge_at=7)
    w = start(job, autosave_s=0)
    qtbot.waitUntil(lambda: w.state == "stopped", timeout=5000)
    went_round(w, qtbot)
    assert len(w.rec.errors) == 1
    assert "diverged at iteration 7" in w.rec.errors[0] and "last good" in w.rec.errors[0]


def test_a_job_that_cannot_be_built_says_so(start: Any, qtbot: Any) -> None:
    def factory() -> Any:
        raise ValueError("the cameras are behind the object")

    w = start(factory=factory)
    qtbot.waitUntil(lambda: len(w.rec.failed) == 1, timeout=5000)
    assert "cannot start" in w.rec.failed[0] and "behind" in w.rec.failed[0]
    qtbot.waitUntil(lambda: w.state == "stopped", timeout=3000)  # the loop ended by itself


def test_autosave_goes_through_job_save(start: Any, qtbot: Any, tmp_path: Path) -> None:
    job = FakeJob()
    start(job, autosave_s=0.05, autosave_to=tmp_path / "auto.ply")
    qtbot.waitUntil(lambda: len(job.saved) >= 2, timeout=5000)
    assert set(job.saved) == {tmp_path / "auto.ply"}


def test_a_frame_is_published_on_request_without_a_take(start: Any, qtbot: Any) -> None:
    """A display that draws a job only now and then (compare mode's second view) asks for the
    next frame right after drawing one; without the request the worker publishes nothing."""
    job = FakeJob()
    w = start(job, autosave_s=0)
    qtbot.waitUntil(lambda: w.take() is not None, timeout=5000)  # the slot is empty now
    s = w.last_snapshot().iteration
    qtbot.waitUntil(lambda: job.iteration > s + 5, timeout=5000)
    assert w.last_snapshot().iteration == s  # nobody asked: nothing published
    w.want_frame()
    qtbot.waitUntil(lambda: w.last_snapshot().iteration > s, timeout=5000)
    f = w.take()
    assert f is not None and f.snapshot.iteration == w.last_snapshot().iteration
    w.stop()
    qtbot.waitUntil(lambda: w.state == "stopped", timeout=3000)
