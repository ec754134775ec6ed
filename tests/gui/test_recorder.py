"""Recording the 3D view: a GIF (or an MP4 with imageio-ffmpeg) with one frame per frame the
window drew live, finished when the window closes; bad paths refused up front."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.gui.conftest import load_demo


def _frames(n: int, hw: tuple[int, int] = (90, 120)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (*hw, 3), dtype=np.uint8) for _ in range(n)]


def test_gif_has_one_frame_per_image_and_a_bounded_size(tmp_path: Any) -> None:
    from app.recorder import Recorder

    path = tmp_path / "rec.gif"
    rec = Recorder(str(path), gif_max_side=50)
    frames = _frames(6)
    frames[3] = frames[3][:70, :100]  # a resized window: scaled to the first frame's size
    for f in frames:
        rec.add(f)
    assert not path.exists()  # appears when finished
    assert rec.finish() == 6
    im = Image.open(path)
    assert im.n_frames == 6 and max(im.size) <= 50
    assert [p.name for p in tmp_path.iterdir()] == ["rec.gif"]  # no spool left behind


def test_mp4_streams_frames(tmp_path: Any) -> None:
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v2 as imageio

    from app.recorder import Recorder

    path = tmp_path / "rec.mp4"
    rec = Recorder(str(path))
    for f in _frames(5, (91, 121)):  # odd sides: cropped to even for yuv420p
        rec.add(f)
    assert rec.finish() == 5
    reader = imageio.get_reader(str(path))
    assert reader.count_frames() == 5
    assert reader.get_data(0).shape == (90, 120, 3)
    reader.close()


def test_bad_record_paths_are_refused(tmp_path: Any) -> None:
    from app.recorder import Recorder, check_record_path

    assert "gif" in check_record_path(str(tmp_path / "rec.avi"))
    assert "does not exist" in check_record_path(str(tmp_path / "no" / "rec.gif"))
    with pytest.raises(ValueError, match="rec.avi"):
        Recorder(str(tmp_path / "rec.avi"))


def test_window_records_each_frame_drawn_live_until_closed(window: Any, qtbot: Any,
                                                           tmp_path: Any) -> None:
    path = tmp_path / "fit.gif"
    load_demo(window, qtbot, run=True)
    window.recording.start(str(path))
    assert "Stop" in window.record_action.text()
    start = window.frames_drawn
    qtbot.waitUntil(lambda: window.frames_drawn >= start + 4
                    and window.timeline.bar.slider.maximum() > 0, timeout=30000)
    window.timeline.bar.set_position(0)
    assert not window.timeline.is_live()  # an earlier snapshot on screen: not recorded
    drawn = window.frames_drawn
    qtbot.waitUntil(lambda: window.frames_drawn >= drawn + 2, timeout=30000)
    window.timeline.bar.go_live()
    window.close()  # finishes the recording
    live = drawn - start
    path_, n = window.recording.last
    assert path_ == path and n == live >= 4
    assert Image.open(path).n_frames == n


def test_a_recorded_frame_shows_the_cloud_drawn_in_that_frame(window: Any, qtbot: Any,
                                                              tmp_path: Any) -> None:
    import dataclasses

    load_demo(window, qtbot, run=False)
    window.cloud_view.set_color_mode("plain")
    frame = window._last_frame
    snap = frame.snapshot
    path = tmp_path / "two.gif"
    window.recording.start(str(path))
    for k, scale in enumerate((1.0, 0.05)):  # the whole cloud, then a tiny cluster
        pts = (snap.points * scale).astype(np.float32)
        window.draw_frame(dataclasses.replace(
            frame, snapshot=dataclasses.replace(snap, points=pts, iteration=snap.iteration + k)))
    assert window.recording.stop() == (path, 2)
    im = Image.open(path)
    widths = []
    for i in range(2):
        im.seek(i)
        rgb = np.asarray(im.convert("RGB")).astype(int)
        lit = np.nonzero((rgb > 150).all(2))[1]  # light grey points on the dark background
        widths.append(lit.max() - lit.min())
    assert widths[1] < 0.3 * widths[0], widths


def test_record_flag_writes_the_gif_at_exit(tmp_path: Any) -> None:
    """The whole window in its own process (an app.exec_() inside this test session would
    leave the session's QApplication unusable for the window tests that follow)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    path = tmp_path / "rec.gif"

    def window(*args: str) -> Any:
        return subprocess.run([sys.executable, str(root / "main.py"), *args], cwd=root,
                              capture_output=True, text=True, timeout=300)

    # an exit before the first cloud is drawn: the window waits for that frame (a loaded
    # machine can take longer than any fixed --exit-after to draw it)
    res = window("--demo", "--points", "300", "--record", str(path), "--exit-after", "0.05")
    assert res.returncode == 0, res.stderr[-2000:]
    n = Image.open(path).n_frames
    assert f"recorded {n} frames to {path}" in res.stdout and n >= 1
    res = window("--demo", "--record", str(tmp_path / "rec.avi"), "--exit-after", "1")
    assert res.returncode == 2 and "rec.avi" in res.stderr
