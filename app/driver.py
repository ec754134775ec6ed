"""The CLI driver loop: runs any :class:`core.job.Job` to its end in the terminal.

``drive(make_job, out=...)`` checks that ``out`` can be written, builds the job, optionally
continues it from its resume file, then steps it with a progress bar
(``job.length``, ``job.unit``, ``job.progress``), saving the result (``job.save``) and the
resume file (``job.save_state``, unless ``job.result_is_state``) every ``autosave_s`` seconds.
Everything it needs of the job is in the protocol (core.job); a process whose job does not
write (``job.writes`` false: a DDP rank other than 0) steps, stops and ends the same way and
leaves ``out`` alone.

- Ctrl-C or SIGTERM: the signal only raises a flag (:func:`stop_signals`); the loop reads it
  between steps, so the job is stopped whole, never inside a step (a resume then continues
  exactly as if it had not stopped). The result so far and the resume file are written, one
  line says so and the exit status is 130 (SIGINT) or 143 (SIGTERM). A second signal before
  the step ends stops at once and writes nothing (the last save stays). During start-up
  (before the first step) nothing is written and the exit is just as quiet.
- Under DDP every process stops at the same step: ``job.agree_to_stop(flag)`` is asked before
  every step whether any process was signalled.
- Divergence (:class:`core.job.JobDiverged`): the job's last good (finite) state is written
  and a :class:`app.errors.UserError` names the iteration it came from; if there is none, nothing
  is written and the message says so.
- Bad input found by a step (:class:`core.io.scene.SceneError`, e.g. a training object read
  the first time it is used): the steps done so far are written as on a signal (the step
  that failed changed nothing) and a UserError gives the problem and where they went.
- The end: the result is written and the resume file removed (the job is complete).
"""

from __future__ import annotations

import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from core.io.atomic import check_writable
from core.io.scene import SceneError
from core.job import JobDiverged

from .errors import UserError

__all__ = ["drive", "DriveResult", "ForcedStop", "StopFlag", "Terminated", "resume_path",
           "sigterm_as_interrupt", "stop_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (exit status 143 instead of 130)."""


class ForcedStop(KeyboardInterrupt):
    """A second Ctrl-C/SIGTERM while the first one waits for the step to end."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def signal_code(signum: int | None) -> int:
    """Exit status after a signal: 143 for SIGTERM, 130 for SIGINT."""
    return 143 if signum == signal.SIGTERM else 130


def exit_code(exc: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    if isinstance(exc, ForcedStop):
        return signal_code(exc.signum)
    return 143 if isinstance(exc, Terminated) else 130


class StopFlag:
    """Set by SIGINT/SIGTERM (:func:`stop_signals`); loops read it between their steps.
    Calling it says whether a stop was asked for, so it can be passed as ``stop=``."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self) -> bool:
        return self.signum is not None

    @property
    def code(self) -> int:
        return signal_code(self.signum)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise ForcedStop(signum)
        self.signum = signum


@contextmanager
def stop_signals() -> Iterator[StopFlag]:
    """Within the block SIGINT and SIGTERM only set the yielded :class:`StopFlag` (a second
    one raises :class:`ForcedStop`); outside the main thread signals are left alone."""
    flag = StopFlag()
    try:
        old = {s: signal.signal(s, flag._handle) for s in STOP_SIGNALS}
    except ValueError:  # not the main thread
        yield flag
        return
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM raises :class:`Terminated` (a KeyboardInterrupt)."""
    try:
        old = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """Hold off Ctrl-C/SIGTERM while the final files are written (a second Ctrl-C must not
    leave half a file; atomic writes would clean up, but the user's work would be lost)."""
    try:
        old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def resume_path(out: Path) -> Path:
    """The resume file kept next to ``out``: ``<out>.resume.pt``."""
    return out.with_name(out.name + ".resume.pt")


@dataclass
class DriveResult:
    job: Any
    status: str  # "done" or "interrupted"
    code: int  # exit status: 0, 130 (Ctrl-C) or 143 (SIGTERM)
    elapsed: float  # seconds of stepping
    steps: int  # steps run in this session


def drive(make_job: Callable[[], Any], *, out: Path, autosave_s: float = 60.0,
          desc: str = "", quiet: bool = False, resume: bool = False,
          log: Callable[[str], None] = print) -> DriveResult:
    """Run the job from ``make_job()`` to its end (see the module docstring)."""
    from tqdm import tqdm

    out = check_writable(out)  # before any work (every process: they share the folder)
    state = resume_path(out)
    with sigterm_as_interrupt():
        try:
            job = make_job()
            writes, resume_file = job.writes, not job.result_is_state
            if resume:
                if state.is_file():
                    job.load_state(state)
                    log(f"resuming from {state} at iteration {job.iteration}")
                else:
                    log(f"no resume file {state}; starting from the beginning")
        except KeyboardInterrupt as exc:
            print("interrupted during start-up; nothing was written", file=sys.stderr)
            return DriveResult(None, "interrupted", exit_code(exc), 0.0, 0)
        start_it = job.iteration
        bar = tqdm(total=job.length, initial=job.iteration, desc=desc, unit=job.unit,
                   disable=quiet, dynamic_ncols=True)
        t0 = last_save = time.perf_counter()
        with stop_signals() as stop:
            try:
                while not job.done:
                    if job.agree_to_stop(stop()):
                        break
                    losses = job.step()
                    bar.update(1)
                    if job.iteration % 10 == 0:
                        bar.set_postfix(job.progress(losses))
                    if writes and time.perf_counter() - last_save >= autosave_s:
                        job.save(out)
                        if resume_file:
                            job.save_state(state)
                        last_save = time.perf_counter()
            except ForcedStop as exc:
                bar.close()
                print(f"stopped at once by a second signal during iteration {job.iteration + 1}"
                      "; nothing more was written (the last save is left as it was)",
                      file=sys.stderr)
                return DriveResult(job, "interrupted", exit_code(exc),
                                   time.perf_counter() - t0, job.iteration - start_it)
            except SceneError as exc:
                bar.close()
                if not writes or job.iteration == start_it:
                    raise
                with _no_interrupts():
                    _write_interrupted(job, out, state if resume_file else None)
                raise UserError(f"{exc}; wrote the result so far (iteration {job.iteration}) to "
                                f"{out} (continue with --resume)") from None
            except JobDiverged as exc:
                bar.close()
                if not writes:
                    raise UserError(str(exc)) from None
                with _no_interrupts():
                    raise UserError(_diverged_message(job, exc, out)) from None
            bar.close()
            elapsed = time.perf_counter() - t0
            if not job.done:  # stopped by a signal, between two steps
                if writes:
                    with _no_interrupts():
                        _write_interrupted(job, out, state if resume_file else None)
                    print(f"interrupted at iteration {job.iteration}: wrote the result so far "
                          f"to {out} (continue with --resume)", file=sys.stderr)
                return DriveResult(job, "interrupted", stop.code, elapsed,
                                   job.iteration - start_it)
            if writes:  # done: a signal now changes nothing
                with _no_interrupts():
                    job.save(out)
                    state.unlink(missing_ok=True)
    return DriveResult(job, "done", 0, elapsed, job.iteration - start_it)


def _write_interrupted(job: Any, out: Path, state: Path | None) -> None:
    try:
        job.save(out)
    except JobDiverged as exc:  # nothing finite to write: keep what is on disk
        raise UserError(f"{exc}; {out} was not written") from None
    if state is not None:
        job.save_state(state)


def _diverged_message(job: Any, exc: JobDiverged, out: Path) -> str:
    if exc.good_iteration is None:
        return f"{exc}; no finite result existed, so {out} was not written"
    try:
        job.save(out)
    except JobDiverged:
        return f"{exc}; no finite result existed, so {out} was not written"
    return f"{exc}; wrote the last good result (iteration {exc.good_iteration}) to {out}"
