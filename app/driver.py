"""The CLI driver loop: runs any :class:`core.job.Job` to its end in the terminal.

``drive(make_job, out=...)`` checks that ``out`` can be written, builds the job, optionally
continues it from its resume file, then steps it with a progress bar, saving the result
(``job.save``) and the resume file (``job.save_state``) every ``autosave_s`` seconds.

- Ctrl-C or SIGTERM: the result so far and the resume file are written, one line says so and
  the exit status is 130 (SIGINT) or 143 (SIGTERM). During start-up (before the first step)
  nothing is written and the exit is just as quiet.
- Divergence (:class:`core.job.JobDiverged`): the job's last good (finite) state is written
  and a :class:`app.errors.UserError` names the iteration it came from; if there is none, nothing
  is written and the message says so.
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
from core.job import JobDiverged

from .errors import UserError

__all__ = ["drive", "DriveResult", "Terminated", "sigterm_as_interrupt", "resume_path"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (exit status 143 instead of 130)."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def exit_code(exc: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    return 143 if isinstance(exc, Terminated) else 130


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


def _postfix(job: Any, losses: dict[str, float]) -> dict[str, str]:
    names = getattr(job, "loss_names", tuple(losses))
    return {n: f"{losses[n]:.4g}" for n in names if n in losses and losses[n] != 0.0}


def drive(make_job: Callable[[], Any], *, out: Path, autosave_s: float = 60.0,
          desc: str = "", quiet: bool = False, resume: bool = False,
          log: Callable[[str], None] = print, unit: str = "it",
          postfix: Callable[[Any, dict[str, float]], dict[str, str]] | None = None,
          resume_file: bool = True, writes: bool = True) -> DriveResult:
    """Run the job from ``make_job()`` to its end (see the module docstring).

    Hooks for jobs other than a fit: ``unit`` names a step in the progress bar; ``postfix``
    (job, losses) -> the bar's postfix; ``resume_file=False`` when the job's result is itself
    its resume state (a training's checkpoint): no ``<out>.resume.pt`` is written;
    ``writes=False`` for a process that writes nothing (a DDP rank other than 0): the job
    runs, is interrupted and ends just the same, and ``out`` is left alone.
    """
    from tqdm import tqdm

    out = Path(out)
    state = resume_path(out)
    if writes:
        check_writable(out)
    post = postfix or _postfix
    with sigterm_as_interrupt():
        try:
            job = make_job()
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
        bar = tqdm(total=job.config.iterations, initial=job.iteration, desc=desc, unit=unit,
                   disable=quiet, dynamic_ncols=True)
        t0 = last_save = time.perf_counter()
        try:
            while not job.done:
                losses = job.step()
                bar.update(1)
                if job.iteration % 10 == 0:
                    bar.set_postfix(post(job, losses))
                if writes and time.perf_counter() - last_save >= autosave_s:
                    job.save(out)
                    if resume_file:
                        job.save_state(state)
                    last_save = time.perf_counter()
        except KeyboardInterrupt as exc:
            bar.close()
            elapsed = time.perf_counter() - t0
            if writes:
                with _no_interrupts():
                    _write_interrupted(job, out, state if resume_file else None)
                print(f"interrupted at iteration {job.iteration}: wrote the result so far to "
                      f"{out} (continue with --resume)", file=sys.stderr)
            return DriveResult(job, "interrupted", exit_code(exc), elapsed,
                               job.iteration - start_it)
        except JobDiverged as exc:
            bar.close()
            if not writes:
                raise UserError(str(exc)) from None
            with _no_interrupts():
                raise UserError(_diverged_message(job, exc, out)) from None
        bar.close()
        elapsed = time.perf_counter() - t0
        if writes:
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
