"""The job protocol: one long-running optimisation (a fit or a training) that the GUI worker,
the window and the CLI driver loop run without knowing which kind it is.

A job advances one step at a time; everything the outside sees of it is plain Python/numpy:

- ``config``: its config dataclass (a ``core.params.JobConfig``); ``iteration``; ``done``;
  ``length``: the configured number of steps (a progress display's total).
- ``loss_names``: the keys of the dict ``step()`` returns, in display order ("total" first).
- ``step() -> dict[str, float]``: one optimisation step.
- ``set_params(**live) -> set[str]``: change live config fields between steps; returns what the
  change invalidated, among :data:`INVALIDATES` (:data:`FIELDS`: the silhouette images shown behind
  the projections must be fetched again with ``field_images()``).
- ``reset(config=None)``: start again (applies non-live fields).
- ``extend(iterations)``: allow ``iterations`` more steps after ``done`` ("Run after done").
- ``snapshot() -> Snapshot``: frozen numpy copies for display and export (made by ``core.drwr.snapshot.make_snapshot``).
- ``field_images() -> (I, H, W) float32``: the smoothed silhouettes of the displayed scene.
- ``display_scene``: the ``core.io.scene.Scene`` whose views the snapshot projects into (the
  fitted scene, or the validation object a training shows).
- ``evaluate() -> dict[str, object]``: metrics of the current result, as the job can measure
  them (against ground truth where there is some).
- ``unit`` (what one step is called: "it", "step") and ``progress(losses) -> dict[str, str]``
  (a few labelled values of the last step for a progress display).
- ``save(path) -> Path``: write the job's result (a cloud in the data's original frame; a
  checkpoint for a training) atomically; returns the path written. Never writes non-finite
  values (raises :class:`JobDiverged` instead).
- ``save_state(path)`` / ``load_state(path)``: everything needed to continue later (points or
  weights, optimiser state, iteration), for ``--resume``; ``load_state`` raises ValueError
  naming the file when it does not fit this job.
- ``agree_to_stop(stop: bool) -> bool``: whether the job stops before its next step when this
  process was asked to (``stop``): ``stop`` itself for a job in one process; for one that runs
  in several (a DDP training), whether any of them was asked, so all stop at the same step.
- ``result_is_state``: ``save``'s result is also the resume state (a training's checkpoint),
  so no separate ``save_state`` file is kept; ``writes``: this process writes files (False on
  the DDP ranks other than 0, which step, stop and end like the others).

Life cycle: ``done`` turns true when ``iteration`` reaches the configured length, whether by a
step or by lowering the length live (``set_params``); whatever finishing work the job does
(the fitter's snap) happens at that moment, so a snapshot taken then is the final result.
``extend`` after ``done`` continues without restarting schedules (no jump in learning rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Job", "Snapshot", "FIELDS", "INVALIDATES", "JobDiverged", "loss_progress"]

#: set_params invalidated the silhouette images (field_images() must be fetched again)
FIELDS = "fields"
#: everything a set_params change can invalidate
INVALIDATES = (FIELDS,)


class JobDiverged(RuntimeError):
    """The optimisation produced non-finite values; the job reverted to its last good state
    (``good_iteration``: the iteration that state is from, None when unknown)."""

    def __init__(self, message: str, good_iteration: int | None = None) -> None:
        super().__init__(message)
        self.good_iteration = good_iteration


@dataclass(frozen=True)
class Snapshot:
    """A frozen numpy copy of a job's displayed state.

    points (J,3) f32; uv (I,J,2) f32 projections in all views of the displayed scene; inside
    (I,J) bool (nearest pixel in the mask, in front of the camera: the rule of
    ``core.hull.inside.nearest_pixels``, the same as the exported cloud's inside test); depth (I,J) f32; point_loss
    (J,) f32 silhouette loss averaged over views; losses: the last step's losses by name.
    """

    iteration: int
    points: np.ndarray
    uv: np.ndarray
    inside: np.ndarray
    depth: np.ndarray
    point_loss: np.ndarray
    losses: dict[str, float] = field(default_factory=dict)
    step_time: float = 0.0
    lr: float = 0.0


def loss_progress(names: tuple[str, ...], losses: dict[str, float]) -> dict[str, str]:
    """The losses ``names`` of a step that are not 0, four significant digits: a default
    ``Job.progress``."""
    return {n: f"{losses[n]:.4g}" for n in names if n in losses and losses[n] != 0.0}


@runtime_checkable
class Job(Protocol):
    config: Any
    iteration: int
    loss_names: tuple[str, ...]
    unit: str
    result_is_state: bool

    @property
    def done(self) -> bool: ...

    @property
    def length(self) -> int: ...

    @property
    def writes(self) -> bool: ...

    def progress(self, losses: dict[str, float]) -> dict[str, str]: ...

    def agree_to_stop(self, stop: bool) -> bool: ...

    @property
    def display_scene(self) -> Any: ...

    def step(self) -> dict[str, float]: ...

    def set_params(self, **live: Any) -> set[str]: ...

    def reset(self, config: Any = None) -> None: ...

    def extend(self, iterations: int) -> None: ...

    def snapshot(self) -> Snapshot: ...

    def field_images(self) -> np.ndarray: ...

    def evaluate(self) -> dict[str, object]: ...

    def save(self, path: Path) -> Path: ...

    def save_state(self, path: Path) -> Path: ...

    def load_state(self, path: Path) -> None: ...
