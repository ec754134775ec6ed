"""Compare mode's scores of a run's latest cloud: Chamfer ×100 and F-score against the scene's
ground truth, computed in a background thread (one at a time per run) so the window never
waits for a nearest-neighbour search.

While a run runs, the ground truth is a fixed sample of at most ``LIVE_GT`` points and a run is
scored at most every ``EVERY_S``; a cloud that no longer changes (paused, stopped, finished)
is scored once against the full ground truth, as ``python main.py metrics`` scores it.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from .tasks import run_task

__all__ = ["RunScorer", "score_cloud", "LIVE_GT", "EVERY_S"]

LIVE_GT = 20000
EVERY_S = 1.0


def score_cloud(points: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """{"cd": Chamfer ×100, "fscore": F-score at 0.01} of points (J,3) against gt (M,3)."""
    from core.metrics import cloud_metrics

    m = cloud_metrics(points, gt)
    return {"cd": float(m["cd"]), "fscore": float(m["fscore_0.01"])}


class RunScorer:
    """Scores one run's snapshots; ``on_scores(iteration, {"cd", "fscore"})`` on the GUI
    thread, ``on_error(msg)`` once when scoring fails (it then stops)."""

    def __init__(self, gt: np.ndarray | None, on_scores: Callable[[int, dict], None],
                 on_error: Callable[[str], None]) -> None:
        self.gt = None if gt is None or not len(gt) else np.asarray(gt, np.float64)
        self.live_gt = self.gt
        if self.gt is not None and len(self.gt) > LIVE_GT:
            pick = np.random.default_rng(0).choice(len(self.gt), LIVE_GT, replace=False)
            self.live_gt = self.gt[pick]
        self.on_scores = on_scores
        self.on_error = on_error
        self.busy = False
        self.failed = False
        self._last: tuple[int, bool] | None = None  # (iteration, exact) last scored
        self._next = 0.0

    def offer(self, snapshot: Any, settled: bool) -> bool:
        """Score ``snapshot`` unless one is in flight, it was scored already, or (while the
        run runs, ``settled`` False) the last score is younger than EVERY_S; True when
        started. ``settled``: the cloud no longer changes: score against the full gt."""
        if self.gt is None or self.failed or self.busy or snapshot is None:
            return False
        key = (int(snapshot.iteration), bool(settled))
        if key == self._last or (self._last is not None and self._last[0] == key[0]
                                 and self._last[1]):
            return False
        if not settled and time.perf_counter() < self._next:
            return False
        self.busy = True
        self._last = key
        self._next = time.perf_counter() + EVERY_S
        pts, gt = np.asarray(snapshot.points), (self.gt if settled else self.live_gt)
        run_task(lambda: score_cloud(pts, gt), lambda s: self._done(key[0], s), self._failed)
        return True

    def _done(self, iteration: int, scores: dict) -> None:
        self.busy = False
        self.on_scores(iteration, scores)

    def _failed(self, msg: str) -> None:
        self.busy = False
        self.failed = True
        self.on_error(f"scoring the cloud failed: {msg}")
