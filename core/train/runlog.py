"""The files of a run folder: ``config.json``, ``metrics.jsonl``, ``training.png``,
``checkpoints/{latest,best}.pt`` and, unless turned off, TensorBoard event files in
``tensorboard/`` (core.train.tboard) (written by rank 0 only; see core.train.trainer).

metrics.jsonl holds one JSON object per line: training steps ``{"step", "total",
"silhouette", "repulsion", "coverage", "lr", "time"}`` and validations ``{"step", "val_cd",
"val_fscore", "val_coverage", "val_inside", "val_objects", "val_split", "time"}``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["RunFiles", "plot_metrics", "read_metrics"]


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl (a torn last line is skipped)."""
    out = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], series, title: str,
           log: bool) -> None:
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=(0, 0, 0))
    draw.text((x0 + 6, y0 + 4), title, fill=(0, 0, 0))
    pts = [(s, v) for xs, ys, _ in series for s, v in zip(xs, ys) if math.isfinite(v) and
           (v > 0 or not log)]
    if not pts:
        return
    f = (lambda v: math.log10(v)) if log else (lambda v: v)
    smin, smax = min(p[0] for p in pts), max(p[0] for p in pts)
    vmin, vmax = min(f(p[1]) for p in pts), max(f(p[1]) for p in pts)
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    smax = smax if smax > smin else smin + 1
    px = lambda s: x0 + 40 + (x1 - x0 - 50) * (s - smin) / (smax - smin)
    py = lambda v: y1 - 20 - (y1 - y0 - 40) * (f(v) - vmin) / (vmax - vmin)
    lab = (lambda v: f"{10 ** v:.3g}") if log else (lambda v: f"{v:.3g}")
    draw.text((x0 + 2, y0 + 18), lab(vmax), fill=(90, 90, 90))
    draw.text((x0 + 2, y1 - 30), lab(vmin), fill=(90, 90, 90))
    draw.text((x1 - 60, y1 - 16), f"step {int(smax)}", fill=(90, 90, 90))
    for i, (xs, ys, colour) in enumerate(series):
        xy = [(px(s), py(v)) for s, v in zip(xs, ys) if math.isfinite(v) and (v > 0 or not log)]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
        elif xy:
            draw.ellipse([xy[0][0] - 2, xy[0][1] - 2, xy[0][0] + 2, xy[0][1] + 2], fill=colour)


def plot_metrics(records: list[dict[str, Any]], out: str | Path, size=(900, 360)) -> Path:
    """Loss curves (left, log scale, smoothed) and validation CD×100 (right) as a PNG."""
    W, H = size
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    steps = [r for r in records if "total" in r]
    vals = [r for r in records if "val_cd" in r and r["val_cd"] is not None]
    series = []
    for key, col in (("total", (0, 0, 0)), ("silhouette", (200, 60, 40)),
                     ("repulsion", (40, 90, 200)), ("coverage", (230, 150, 0))):
        xs = np.array([r["step"] for r in steps], float)
        ys = np.array([r.get(key, float("nan")) for r in steps], float)
        if len(ys) > 20:  # running mean over ~1/50 of the run
            k = max(1, len(ys) // 50)
            ys = np.convolve(ys, np.ones(k) / k, mode="valid")
            xs = xs[k - 1:]
        series.append((xs.tolist(), ys.tolist(), col))
    _panel(d, (5, 5, W // 2 - 5, H - 5), series,
           "loss: total (black), silhouette (red), repulsion (blue), coverage (orange)", log=True)
    _panel(d, (W // 2 + 5, 5, W - 5, H - 5),
           [([r["step"] for r in vals], [r["val_cd"] for r in vals], (0, 130, 60))],
           "validation CD x100", log=False)
    out = Path(out)
    tmp = out.with_name(out.stem + ".tmp.png")
    img.save(tmp)
    os.replace(tmp, out)
    return out


class RunFiles:
    """Appends metrics and writes the plot and config of one run folder."""

    def __init__(self, root: str | Path, tensorboard: bool = False) -> None:
        self.root = Path(root)
        self.tensorboard = tensorboard  # write TensorBoard events (opened on first use)
        self._tb: Any = None
        self._tb_purge: int | None = None  # the next event file hides older events from here
        self._tb_config: dict[str, Any] | None = None
        self.checkpoints = self.root / "checkpoints"
        self.metrics = self.root / "metrics.jsonl"
        self.plot = self.root / "training.png"
        self.checkpoints.mkdir(parents=True, exist_ok=True)

    def write_config(self, config: dict[str, Any], extra: dict[str, Any]) -> None:
        (self.root / "config.json").write_text(json.dumps({**config, "_run": extra}, indent=1))
        self._tb_config = {**config, "_run": extra}

    def _board(self) -> Any:
        """The open TensorBoardLog, or None (turned off, or TensorBoard not installed)."""
        if self._tb is None and self.tensorboard:
            from core.train.tboard import open_tensorboard

            self._tb = open_tensorboard(self.root, self._tb_purge)
            if self._tb is None:
                self.tensorboard = False  # warned once
            elif self._tb_config is not None:
                self._tb.config(self._tb_config)
        return self._tb if self.tensorboard else None

    def append(self, record: dict[str, Any]) -> None:
        with open(self.metrics, "a") as f:
            f.write(json.dumps(record) + "\n")
        tb = self._board()
        if tb is not None:
            tb.record(record)

    def add_clouds(self, step: int, clouds: np.ndarray, last: bool = False) -> None:
        """Validation predictions (N, J, 3) into TensorBoard now and then (core.train.tboard);
        flushes the event file."""
        tb = self._board()
        if tb is not None:
            tb.clouds(step, clouds, last)
            tb.flush()

    def flush(self) -> None:
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def truncate_after(self, step: int) -> None:
        """Drop records beyond ``step`` (a resumed run continues from its checkpoint)."""
        keep = [r for r in read_metrics(self.metrics) if r.get("step", 0) <= step]
        self.metrics.write_text("".join(json.dumps(r) + "\n" for r in keep))
        self.close()  # TensorBoard drops the events beyond ``step`` from the next file on
        self._tb_purge = step + 1

    def replot(self) -> None:
        plot_metrics(read_metrics(self.metrics), self.plot)
