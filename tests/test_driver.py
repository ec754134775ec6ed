"""The CLI driver loop (app/driver.py) with fake jobs: it knows only the job protocol."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.cli import UserError
from app.driver import drive, resume_path
from core.job import JobDiverged


class CountJob:
    """Writes its iteration as the 'result'; diverges at ``diverge_at`` back to ``good``."""

    loss_names = ("total", "zero")
    unit = "it"
    result_is_state = False
    writes = True

    def __init__(self, iterations: int = 10, diverge_at: int | None = None,
                 good: int | None = 0) -> None:
        self.config = SimpleNamespace(iterations=iterations)
        self.iteration = 0
        self.diverge_at, self.good = diverge_at, good
        self.finite = True
        self.states: list[int] = []

    @property
    def done(self) -> bool:
        return self.iteration >= self.config.iterations

    @property
    def length(self) -> int:
        return self.config.iterations

    def progress(self, losses: dict[str, float]) -> dict[str, str]:
        return {"total": f"{losses['total']:.3g}"}

    def agree_to_stop(self, stop: bool) -> bool:
        return stop

    def step(self) -> dict[str, float]:
        if self.iteration == self.diverge_at:
            if self.good is None:
                self.finite = False
            else:
                self.iteration = self.good
            raise JobDiverged(f"the job diverged at iteration {self.diverge_at}", self.good)
        self.iteration += 1
        return {"total": 1.0 / self.iteration, "zero": 0.0}

    def save(self, path: Path) -> Path:
        if not self.finite:
            raise JobDiverged("not finite", None)
        Path(path).write_text(str(self.iteration))
        return Path(path)

    def save_state(self, path: Path) -> Path:
        self.states.append(self.iteration)
        Path(path).write_text(str(self.iteration))
        return Path(path)

    def load_state(self, path: Path) -> None:
        self.iteration = int(Path(path).read_text())


def test_runs_to_the_end_saves_and_removes_the_resume_file(tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    resume_path(out).write_text("3")
    res = drive(lambda: CountJob(10), out=out, autosave_s=1e9, quiet=True, resume=True,
                log=lambda s: None)
    assert res.status == "done" and res.code == 0 and res.steps == 7  # resumed at 3
    assert out.read_text() == "10" and not resume_path(out).exists()


def test_autosaves_result_and_state(tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    job = CountJob(5)
    drive(lambda: job, out=out, autosave_s=0.0, quiet=True)
    assert job.states == [1, 2, 3, 4, 5]


def test_divergence_writes_the_last_good_result(tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    with pytest.raises(UserError) as exc:
        drive(lambda: CountJob(10, diverge_at=6, good=5), out=out, autosave_s=1e9, quiet=True)
    msg = str(exc.value)
    assert "diverged at iteration 6" in msg and "last good result (iteration 5)" in msg
    assert str(out) in msg and out.read_text() == "5"


def test_divergence_without_a_good_result_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    with pytest.raises(UserError) as exc:
        drive(lambda: CountJob(10, diverge_at=0, good=None), out=out, autosave_s=1e9,
              quiet=True)
    assert "was not written" in str(exc.value) and "last good" not in str(exc.value)
    assert not out.exists()


class Signalled(CountJob):
    """Sends itself ``signals`` in the middle of step ``at`` (between its two halves)."""

    def __init__(self, iterations: int, at: int, signals: tuple[int, ...]) -> None:
        super().__init__(iterations)
        self.at, self.signals = at, signals
        self.halves: list[tuple[int, int]] = []  # (first half, second half) of each step

    def step(self) -> dict[str, float]:
        first = self.iteration
        if self.iteration == self.at:
            for s in self.signals:
                os.kill(os.getpid(), s)
        out = super().step()
        self.halves.append((first, self.iteration))
        return out


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_between_steps_and_writes_result_and_state(tmp_path: Path, capsys: Any,
                                                                   sig: int, code: int) -> None:
    out = tmp_path / "r.txt"
    job = Signalled(10, at=4, signals=(sig,))
    res = drive(lambda: job, out=out, autosave_s=1e9, quiet=True)
    assert res.status == "interrupted" and res.code == code
    assert job.halves[-1] == (4, 5)  # the step the signal came in finished whole ...
    assert out.read_text() == "5" and resume_path(out).read_text() == "5"  # ... and no more
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted at iteration 5" in err[0]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_a_second_signal_stops_at_once_and_writes_nothing(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "r.txt"
    job = Signalled(10, at=4, signals=(signal.SIGTERM, signal.SIGTERM))
    res = drive(lambda: job, out=out, autosave_s=1e9, quiet=True)
    assert res.status == "interrupted" and res.code == 143 and job.iteration == 4
    assert not out.exists() and not resume_path(out).exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "second signal" in err[0]


def test_a_job_that_agrees_on_stopping_stops_when_another_process_asks(tmp_path: Path) -> None:
    class Ranked(CountJob):
        asked: list[bool] = []

        def agree_to_stop(self, stop: bool) -> bool:
            self.asked.append(stop)
            return self.iteration == 3  # another rank was signalled

    job = Ranked(10)
    res = drive(lambda: job, out=tmp_path / "r.txt", autosave_s=1e9, quiet=True)
    assert res.status == "interrupted" and job.iteration == 3 and job.asked == [False] * 4


def test_interrupt_while_the_job_is_built_is_quiet(tmp_path: Path, capsys: Any) -> None:
    def slow() -> Any:
        raise KeyboardInterrupt

    res = drive(slow, out=tmp_path / "r.txt", quiet=True)
    assert res.code == 130 and res.job is None
    assert list(tmp_path.iterdir()) == []
    assert "start-up" in capsys.readouterr().err


def test_an_unwritable_out_fails_before_the_job_is_built(tmp_path: Path) -> None:
    built = []
    folder = tmp_path / "f.txt"
    folder.mkdir()
    with pytest.raises(OSError) as exc:
        drive(lambda: built.append(1) or CountJob(), out=folder, quiet=True)
    assert exc.value.filename == str(folder) and built == []


def test_what_the_driver_writes_is_the_jobs_to_say(tmp_path: Path, capsys: Any) -> None:
    """result_is_state: no separate resume file; writes false: nothing at all (a DDP rank
    other than 0), though the job stops and ends the same way."""
    class Checkpointed(Signalled):
        result_is_state = True

    class Silent(Signalled):
        writes = False

    out = tmp_path / "a" / "r.txt"
    res = drive(lambda: Checkpointed(10, at=2, signals=(signal.SIGINT,)), out=out,
                autosave_s=1e9, quiet=True)
    assert res.code == 130 and out.read_text() == "3" and not resume_path(out).exists()
    out = tmp_path / "b" / "r.txt"
    res = drive(lambda: Silent(10, at=2, signals=(signal.SIGINT,)), out=out, autosave_s=1e9,
                quiet=True)
    assert res.code == 130 and res.job.iteration == 3 and not out.exists()
    res = drive(lambda: Silent(4, at=99, signals=()), out=out, autosave_s=0.0, quiet=True)
    assert res.status == "done" and not out.exists() and res.job.states == []


def test_the_progress_bar_shows_the_jobs_length_unit_and_progress(tmp_path: Path,
                                                                   capsys: Any) -> None:
    class Counted(CountJob):
        unit = "widget"

    drive(lambda: Counted(20), out=tmp_path / "r.txt", autosave_s=1e9, desc="count")
    err = capsys.readouterr().err
    assert "20/20" in err and "widget" in err and "total=0.05" in err
