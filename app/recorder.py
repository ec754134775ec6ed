"""Record the 3D view as the cloud forms: one frame per snapshot the window draws live,
written to a GIF (Pillow) or an MP4 (imageio-ffmpeg), finished when recording stops or the
window closes (File → Record 3D view…, ``--record FILE``).

A GIF's frames are spooled to a raw file beside the output (scaled down to at most
``GIF_MAX_SIDE`` pixels) and assembled at the end, so memory stays flat however long the run;
an MP4 streams to ffmpeg. Both files appear atomically (written under a temporary name, then
renamed). Frames while the timeline shows an earlier snapshot are not recorded.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PyQt5 import QtWidgets

__all__ = ["Recorder", "RecordControl", "install_recorder", "check_record_path", "FPS"]

FPS = 10
GIF_MAX_SIDE = 640
FORMATS = (".gif", ".mp4")


def check_record_path(path: str) -> str:
    """Why ``path`` cannot be recorded to ('' when it can)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in FORMATS:
        return f"{path}: a recording is a .gif or an .mp4 file"
    if ext == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            return f"{path}: writing .mp4 needs imageio-ffmpeg (pip install imageio-ffmpeg)"
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        return f"{path}: the folder {parent} does not exist"
    if not os.access(parent, os.W_OK):
        return f"{path}: the folder {parent} is not writable"
    return ""


def _resize_nearest(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) -> (H, W, 3) by nearest pixel."""
    H, W = hw
    rows = np.minimum((np.arange(H) * img.shape[0] / H).astype(np.int64), img.shape[0] - 1)
    cols = np.minimum((np.arange(W) * img.shape[1] / W).astype(np.int64), img.shape[1] - 1)
    return img[rows][:, cols]


class Recorder:
    """Writes (H, W, 3) uint8 frames to ``path`` (.gif or .mp4) as they come; ``finish()``
    completes the file. Every frame takes the first frame's size."""

    def __init__(self, path: str, fps: int = FPS, gif_max_side: int = GIF_MAX_SIDE) -> None:
        problem = check_record_path(path)
        if problem:
            raise ValueError(problem)
        self.path = Path(path)
        self.fps = fps
        self.gif = self.path.suffix.lower() == ".gif"
        self.gif_max_side = gif_max_side
        self.frames = 0
        self._hw: tuple[int, int] | None = None
        self._step = 1
        self._spool: Any = None  # raw frames of a GIF
        self._writer: Any = None  # the ffmpeg writer of an MP4
        self._tmp = self.path.with_name(f".{self.path.stem}.part{self.path.suffix}")

    def add(self, image: np.ndarray) -> None:
        img = np.asarray(image)[..., :3].astype(np.uint8, copy=False)
        if self._hw is None:
            self._open(img)
        if self.gif:
            img = img[:: self._step, :: self._step]
        if img.shape[:2] != self._hw:
            img = _resize_nearest(img, self._hw)
        if self.gif:
            self._spool.write(np.ascontiguousarray(img).tobytes())
        else:
            self._writer.append_data(img)
        self.frames += 1

    def _open(self, img: np.ndarray) -> None:
        h, w = img.shape[:2]
        if self.gif:
            self._step = max(1, -(-max(h, w) // self.gif_max_side))  # ceil
            self._hw = (len(range(0, h, self._step)), len(range(0, w, self._step)))
            self._spool = tempfile.TemporaryFile(dir=self.path.parent, prefix=".drwr-rec-")
        else:
            import imageio.v2 as imageio

            self._hw = (h - h % 2, w - w % 2)  # yuv420p wants even sides
            self._writer = imageio.get_writer(str(self._tmp), format="FFMPEG", mode="I",
                                              fps=self.fps, codec="libx264", quality=7,
                                              macro_block_size=2)

    def finish(self) -> int:
        """Complete the file; returns the frames written (0: no file is written)."""
        try:
            if self.frames and self.gif:
                self._write_gif()
            elif self._writer is not None:
                self._writer.close()
                self._writer = None
                os.replace(self._tmp, self.path)
        finally:
            self.close()
        return self.frames

    def _write_gif(self) -> None:
        from PIL import Image

        H, W = self._hw
        self._spool.flush()
        frames = np.memmap(self._spool, np.uint8, "r", shape=(self.frames, H, W, 3))
        images = (Image.fromarray(np.asarray(f)) for f in frames[1:])
        try:
            Image.fromarray(np.asarray(frames[0])).save(
                self._tmp, format="GIF", save_all=True, append_images=images,
                duration=round(1000 / self.fps), loop=0)
            os.replace(self._tmp, self.path)
        finally:
            del frames

    def close(self) -> None:
        """Drop what is not finished (temporary files)."""
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:
                pass
            self._writer = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._tmp.exists():
            self._tmp.unlink()


class RecordControl:
    """The window's recording: File → Record 3D view… toggles it; each frame drawn live adds
    a picture of the 3D view; the window's close finishes it."""

    def __init__(self, win: Any) -> None:
        self.win = win
        self.recorder: Recorder | None = None
        self.last: tuple[Path, int] | None = None  # (file, frames) of the last recording
        self.action: Any = getattr(win, "record_action", None)  # the File menu's
        win.frame_hooks.append(self._on_frame)

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def frames(self) -> int:
        """Frames in the recording under way (0 when none is)."""
        return self.recorder.frames if self.recorder is not None else 0

    def start(self, path: str) -> None:
        """Record to ``path`` (.gif or .mp4; ValueError naming the problem)."""
        self.stop()
        self.recorder = Recorder(path)
        self.last = None
        self._label()
        self.win.statusBar().showMessage(f"recording the 3D view to {path}", 5000)

    def stop(self) -> tuple[Path, int] | None:
        """Finish the recording (if any): (file, frames)."""
        rec, self.recorder = self.recorder, None
        if rec is None:
            return None
        self._label()
        n = rec.finish()
        self.last = (rec.path, n)
        msg = (f"recorded {n} frames to {rec.path}" if n
               else "nothing was recorded (no frame drawn)")
        self.win.statusBar().showMessage(msg, 8000)
        return self.last

    def _on_frame(self, _frame: Any) -> None:
        if self.recorder is None or not self.win.timeline.is_live():
            return
        view = self.win.cloud_view
        try:
            view.plotter.render()  # now: a screenshot reads the last render (the frame before)
            self.recorder.add(view.screenshot())
        except Exception as exc:  # a full disk: stop, keep the window running
            rec, self.recorder = self.recorder, None
            rec.close()
            self._label()
            self.win.show_error(f"recording stopped: {exc.__class__.__name__}: {exc}")

    def toggle_dialog(self) -> None:
        """Start (asking for a file) or stop recording."""
        if self.recording:
            self.stop()
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.win, "Record the 3D view", "fit.gif", "GIF (*.gif);;MP4 video (*.mp4)")
        if path:
            self.start(path)

    def _label(self) -> None:
        if self.action is not None:
            self.action.setText("Stop &recording" if self.recording else "&Record 3D view…")


def install_recorder(win: Any) -> RecordControl:
    return RecordControl(win)
