"""The job protocol: one long-running optimisation (a fit or a training) that the GUI worker,
the window and the CLI driver loop run without knowing which kind it is.

A job advances one step at a time; everything the outside sees of it is plain Python/numpy:

- ``config``: its config dataclass (a ``core.params.JobConfig``); ``iteration``; ``done``.
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
- ``evaluate() -> dict[str, float]``: metrics against ground truth ({} when there is none).
- ``save(path) -> Path``: write the job's result (a cloud in the data's original frame; a
  checkpoint for a training) atomically; returns the path written. Never writes non-finite
  values (raises :class:`JobDiverged` instead).
- ``save_state(path)`` / ``load_state(path)``: everything needed to continue later (points or
  weights, optimiser state, iteration), for ``--resume``; ``load_state`` raises ValueError
  naming the file when it does not fit this job.

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

__all__ = ["Job", "Snapshot", "FIELDS", "INVALIDATES", "JobDiverged"]

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


@runtime_checkable
class Job(Protocol):
    config: Any
    iteration: int
    loss_names: tuple[str, ...]

    @property
    def done(self) -> bool: ...

    @property
    def display_scene(self) -> Any: ...

    def step(self) -> dict[str, float]: ...

    def set_params(self, **live: Any) -> set[str]: ...

    def reset(self, config: Any = None) -> None: ...

    def extend(self, iterations: int) -> None: ...

    def snapshot(self) -> Snapshot: ...

    def field_images(self) -> np.ndarray: ...

    def evaluate(self) -> dict[str, float]: ...

    def save(self, path: Path) -> Path: ...

    def save_state(self, path: Path) -> Path: ...

    def load_state(self, path: Path) -> None: ...
