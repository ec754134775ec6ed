"""The files of a run folder: ``config.json``, ``metrics.jsonl``, ``training.png``,
``checkpoints/{latest,best}.pt`` and, unless turned off, TensorBoard event files in
``tensorboard/`` (core.train.tboard) (written by rank 0 only; see core.train.trainer).

metrics.jsonl holds one JSON object per line: training steps ``{"step", "total",
"silhouette", "repulsion", "coverage", "lr", "time"}`` and validations ``{"step", "val_cd",
"val_fscore", "val_coverage", "val_inside", "val_objects", "val_split", "time"}``.

A line that is not such a record (not JSON, not an object, a "step" that is not a whole
number, a value that is not a number, bytes that are not UTF-8) is damaged: a resume refuses
to rewrite the log past it (:class:`MetricsError` names the file and line), a follower skips
it and says where (:func:`parse_record`). The last line without its newline is a record still
being written (or cut by a kill) and is not damaged; an append after such a line starts a new
line, so a cut record never swallows the next one.
"""

from __future__ import annotations

import errno
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from core.io.atomic import atomic_write

__all__ = ["MetricsError", "RunFiles", "parse_record", "plot_metrics", "read_metrics",
           "read_run_config"]

#: the one record value that is text
TEXT_KEYS = ("val_split",)


class MetricsError(ValueError):
    """A damaged line in a metrics.jsonl; the message names the file and the line."""


def _number(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def parse_record(line: bytes) -> dict[str, Any] | str | None:
    """One metrics.jsonl line (without its newline) -> the record, the problem (text), or
    None for a blank line (nothing to read, nothing wrong)."""
    if not line.strip():
        return None
    try:
        rec = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except RecursionError:
        return "JSON nested too deep"
    except ValueError:
        return "not JSON (a cut or mangled record)"
    if not isinstance(rec, dict):
        return f"not a record (a JSON {type(rec).__name__}, not an object)"
    step = rec.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        return f"'step' is {json.dumps(step)[:40]}, not a whole number >= 0"
    bad = [k for k, v in rec.items() if k not in TEXT_KEYS and not _number(v)]
    if bad:
        return f"'{bad[0]}' is not a number"
    return rec


def read_metrics(path: str | Path, strict: bool = False) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl ([] when there is none). A last line without its
    newline is kept when it is a whole record, else left out (being written, or cut by a
    kill); any other damaged line is skipped, or with ``strict`` raises
    :class:`MetricsError` naming the file and line."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    last = parse_record(lines.pop())  # after the last newline: nothing, or a record not yet
    out = []                          # complete (kept only when it already reads whole)
    for n, line in enumerate(lines, 1):
        rec = parse_record(line)
        if isinstance(rec, dict):
            out.append(rec)
        elif rec is not None and strict:
            raise MetricsError(f"{p}: line {n}: {rec}")
    return out + [last] if isinstance(last, dict) else out


def read_run_config(root: str | Path) -> dict[str, Any]:
    """The config.json of run folder ``root`` (TrainConfig fields and ``_run``).
    FileNotFoundError when it is not written yet; ValueError naming the file when it is not
    a JSON object (damaged, not UTF-8, nested too deep...)."""
    from core.io.scene import load_json

    path = Path(root) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "not written yet", str(path))
    meta = load_json(path)
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: not a JSON object")
    return meta


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
    return atomic_write(out, lambda tmp: img.save(tmp, format="PNG"))


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
        text = json.dumps({**config, "_run": extra}, indent=1)
        atomic_write(self.root / "config.json", lambda tmp: tmp.write_text(text))
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
        line = (json.dumps(record) + "\n").encode()
        try:
            with open(self.metrics, "ab+") as f:
                if f.tell() > 0:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":  # a record cut by a kill: keep it off this one
                        line = b"\n" + line
                f.write(line)
        except OSError as exc:  # a full disk...: name the file
            raise OSError(exc.errno, exc.strerror or str(exc), str(self.metrics)) from None
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
        """Drop records beyond ``step`` (a resumed run continues from its checkpoint), in
        one atomic rewrite. MetricsError naming the file and line, and nothing rewritten,
        when a line is damaged (only a record cut at the very end is dropped). TensorBoard
        drops the events beyond ``step`` from its next file on."""
        keep = ([r for r in read_metrics(self.metrics, strict=True) if r["step"] <= step]
                if step > 0 else [])  # a new run: nothing to keep
        text = "".join(json.dumps(r) + "\n" for r in keep)
        atomic_write(self.metrics, lambda tmp: tmp.write_text(text))
        self.close()
        self._tb_purge = step + 1

    def replot(self) -> None:
        plot_metrics(read_metrics(self.metrics), self.plot)
