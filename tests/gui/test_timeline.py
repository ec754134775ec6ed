"""The history the window keeps and its timeline slider: bounded, evenly thinned, and showing
any kept snapshot (cloud, panels, loss-plot cursor) until the slider is back at live."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tests.gui.conftest import load_demo


def _snap(i: int, J: int = 100, I: int = 4) -> Any:
    return SimpleNamespace(iteration=i, points=np.full((J, 3), i, np.float32),
                           uv=np.zeros((I, J, 2), np.float32), inside=np.zeros((I, J), bool),
                           depth=np.zeros((I, J), np.float32),
                           point_loss=np.zeros(J, np.float32))


def test_history_keeps_every_kth_within_its_bounds() -> None:
    from app.timeline import SnapshotHistory

    h = SnapshotHistory(max_kept=16)
    kept = [h.add(_snap(i)) for i in range(1000)]
    assert len(h) <= 16 and sum(kept) >= 1000 // h.stride - 16
    its = h.iterations()
    assert its[0] == 0 and np.all(np.diff(its) == h.stride)  # evenly thinned
    assert its[-1] >= 1000 - 2 * h.stride  # reaches the end of the run
    # the byte bound: each snapshot here is 100*(12 + 4*8 + 4 + 4*4 + 4) = 6800 bytes
    b = SnapshotHistory(max_kept=1000, max_bytes=10 * 6800)
    for i in range(500):
        b.add(_snap(i))
    assert len(b) <= 10 and b.nbytes() <= 10 * 6800
    assert np.all(np.diff(b.iterations()) == b.stride)
    b.clear()
    assert len(b) == 0 and b.stride == 1
    with pytest.raises(ValueError):
        SnapshotHistory(max_kept=1)


def test_slider_shows_an_earlier_snapshot_then_live(window: Any, qtbot: Any) -> None:
    load_demo(window, qtbot, run=True)
    tl = window.timeline
    qtbot.waitUntil(lambda: tl.bar.slider.maximum() >= 4 and window._last_frame.snapshot
                    .iteration > tl.history[0].iteration, timeout=20000)
    tl.bar.set_position(0)  # drag to the start
    first = tl.history[0]
    assert not tl.is_live() and tl.shown_iteration() == first.iteration
    assert np.array_equal(window.cloud_view.cloud.points, first.points)
    assert np.array_equal(window.panels.panels[0]._last[0], first.uv[0])
    assert tl.cursor.iteration() == first.iteration
    # the run goes on underneath: frames are kept, the view stays on the old snapshot
    drawn = window.frames_drawn
    qtbot.waitUntil(lambda: window.frames_drawn >= drawn + 2, timeout=20000)
    window._draw_panels()
    assert np.array_equal(window.cloud_view.cloud.points, first.points)
    assert np.array_equal(window.panels.panels[0]._last[0], first.uv[0])
    assert window.last_iteration > first.iteration
    # the end of the slider is live again
    tl.bar.set_position(tl.bar.slider.maximum())
    assert tl.is_live() and tl.cursor.iteration() is None
    live = window._last_frame.snapshot
    assert np.array_equal(window.cloud_view.cloud.points, live.points)
    assert np.array_equal(window.panels.panels[0]._last[0], live.uv[0])
    drawn = window.frames_drawn
    qtbot.waitUntil(lambda: window.frames_drawn >= drawn + 1, timeout=20000)
    assert np.array_equal(window.cloud_view.cloud.points, window._last_frame.snapshot.points)


def test_a_reset_starts_the_history_again(window: Any, qtbot: Any) -> None:
    load_demo(window, qtbot, run=True)
    tl = window.timeline
    qtbot.waitUntil(lambda: len(tl.history) >= 3 and tl.history.iterations()[-1] > 30,
                    timeout=20000)
    before = tl.history.iterations()[-1]
    window.controller.command("reset", window.params.values())
    qtbot.waitUntil(lambda: 0 <= window.last_iteration < before, timeout=20000)
    its = tl.history.iterations()
    assert its and its == sorted(its) and its[-1] <= window.last_iteration
