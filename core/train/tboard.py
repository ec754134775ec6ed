"""TensorBoard event files of a training run (``<run>/tensorboard/``), so that
``tensorboard --logdir runs/`` shows and compares runs.

Tags: ``loss/{total,silhouette,repulsion,coverage}`` and ``train/lr`` at every step;
``val/{cd,fscore,coverage,inside}`` at every validation (CD×100, F-score@0.01, silhouette
coverage and inside fraction, see core.train.trainer); ``val/clouds`` (TensorBoard's mesh
plugin, points only) with a few validation predictions at the first validation, every
:data:`CLOUD_EVERY` validations and the last one; ``config`` (text) once.

TensorBoard is optional at run time: without it :func:`open_tensorboard` prints one warning
line and returns None, and the run writes its other files as before.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CLOUD_EVERY", "CLOUDS_SHOWN", "FLUSH_S", "SCALAR_TAGS", "TensorBoardLog",
           "open_tensorboard"]

#: metrics.jsonl key -> TensorBoard tag
SCALAR_TAGS = {"total": "loss/total", "silhouette": "loss/silhouette",
               "repulsion": "loss/repulsion", "coverage": "loss/coverage", "lr": "train/lr",
               "val_cd": "val/cd", "val_fscore": "val/fscore", "val_coverage": "val/coverage",
               "val_inside": "val/inside"}
CLOUD_EVERY = 5  # validations between two logged sets of predicted clouds
CLOUDS_SHOWN = 4  # validation objects whose predictions are logged
FLUSH_S = 5  # seconds between background flushes (a window closed mid-run loses at most these)
_warned = False  # the missing-TensorBoard line is printed once per process
_POINT_SIZE = {"material": {"cls": "PointsMaterial", "size": 0.03}}


class TensorBoardLog:
    """A SummaryWriter on ``<run>/tensorboard`` fed with the run's records (see module)."""

    def __init__(self, root: str | Path, purge_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.dir = Path(root) / "tensorboard"
        self._writer_cls = SummaryWriter
        self.writer = SummaryWriter(str(self.dir), purge_step=purge_step, flush_secs=FLUSH_S)
        self.validations = 0

    def purge(self, step: int) -> None:
        """Later events replace those logged at ``step`` and beyond (a reset or a resume)."""
        self.writer.close()
        self.writer = self._writer_cls(str(self.dir), purge_step=int(step), flush_secs=FLUSH_S)
        self.validations = 0

    def config(self, config: dict[str, Any]) -> None:
        self.writer.add_text("config", "```\n" + json.dumps(config, indent=1) + "\n```", 0)

    def record(self, record: dict[str, Any]) -> None:
        """Scalars of one metrics.jsonl record (a step's or a validation's)."""
        step = int(record.get("step", 0))
        for key, tag in SCALAR_TAGS.items():
            v = record.get(key)
            if isinstance(v, (int, float)) and np.isfinite(v):
                self.writer.add_scalar(tag, float(v), step)

    def clouds(self, step: int, clouds: np.ndarray, last: bool = False) -> bool:
        """Log up to CLOUDS_SHOWN predictions ``clouds`` (N, J, 3) at the first validation,
        every CLOUD_EVERY-th and when ``last``; coloured by height. True when logged."""
        k, self.validations = self.validations, self.validations + 1
        if not len(clouds) or not (k % CLOUD_EVERY == 0 or last):
            return False
        pts = np.asarray(clouds[:CLOUDS_SHOWN], np.float32)  # (N, J, 3)
        z = pts[..., 2]
        lo, hi = z.min(axis=1, keepdims=True), z.max(axis=1, keepdims=True)
        f = (z - lo) / np.maximum(hi - lo, 1e-6)  # (N, J) height in [0, 1]
        rgb = np.stack([80 + 175 * f, 200 - 60 * f, 255 - 175 * f], -1).astype(np.uint8)
        self.writer.add_mesh("val/clouds", vertices=pts, colors=rgb, config_dict=_POINT_SIZE,
                             global_step=int(step))
        return True

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def open_tensorboard(root: str | Path, purge_step: int | None = None) -> TensorBoardLog | None:
    """A :class:`TensorBoardLog` for run folder ``root``; None (after one warning line on
    stderr) when TensorBoard is not installed."""
    global _warned
    try:
        return TensorBoardLog(root, purge_step)
    except ImportError as exc:
        if not _warned:
            print(f"warning: no TensorBoard event files ({exc}); pip install tensorboard",
                  file=sys.stderr)
        _warned = True
        return None
