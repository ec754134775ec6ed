"""Scrubbing: the window keeps the snapshots it drew and a timeline slider shows any earlier
one (cloud, silhouette panels, a cursor on the loss plot); its right end is live.

Memory is bounded: :class:`SnapshotHistory` keeps every ``stride``-th drawn snapshot, at most
``max_kept`` of them and ``max_bytes`` in all; when either bound is passed it drops every
second one kept and doubles the stride, so what it keeps stays spread evenly over the run.
The history starts again with a new scene, a reset (the iteration goes back) or another
displayed object (training mode).
"""

from __future__ import annotations

from typing import Any

from PyQt5 import QtCore, QtWidgets

from widgets.timeline_bar import PlotCursor, TimelineBar

__all__ = ["SnapshotHistory", "Timeline", "install_timeline", "MAX_KEPT", "MAX_BYTES"]

MAX_KEPT = 240
MAX_BYTES = 256 * 2**20
#: while live, the slider and its label follow the history at most this often (a repaint per
#: drawn frame would cost the fit time on a shared CPU)
BAR_SYNC_MS = 300


def snapshot_bytes(snap: Any) -> int:
    """Bytes of a snapshot's arrays."""
    return sum(getattr(snap, name).nbytes for name in ("points", "uv", "inside", "depth",
                                                        "point_loss"))


class SnapshotHistory:
    """Every ``stride``-th snapshot offered, thinned evenly to stay within the bounds."""

    def __init__(self, max_kept: int = MAX_KEPT, max_bytes: int = MAX_BYTES) -> None:
        if max_kept < 2:
            raise ValueError(f"max_kept must be at least 2, got {max_kept}")
        self.max_kept = max_kept
        self.max_bytes = max_bytes
        self.clear()

    def clear(self) -> None:
        self.stride = 1
        self.offered = 0  # snapshots offered since the last clear
        self._items: list[tuple[int, Any]] = []  # (offer number, snapshot)
        self._bytes = 0

    def add(self, snap: Any) -> bool:
        """Offer a snapshot; True when it is kept."""
        n = self.offered
        self.offered += 1
        if n % self.stride:
            return False
        self._items.append((n, snap))
        self._bytes += snapshot_bytes(snap)
        while len(self._items) > 1 and (len(self._items) > self.max_kept
                                        or self._bytes > self.max_bytes):
            self._items = self._items[::2]  # offer numbers 0, 2s, 4s, ...: every 2s-th
            self._bytes = sum(snapshot_bytes(s) for _, s in self._items)
            self.stride *= 2
        return True

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> Any:
        return self._items[i][1]

    def iterations(self) -> list[int]:
        return [s.iteration for _, s in self._items]

    def nbytes(self) -> int:
        return self._bytes


class Timeline(QtCore.QObject):
    """The window's history slider: records each drawn frame, shows a kept one on request."""

    def __init__(self, win: Any, history: SnapshotHistory | None = None) -> None:
        super().__init__(win)
        self.win = win
        self.history = history or SnapshotHistory()
        self.bar = TimelineBar()
        self.cursor = PlotCursor(win.loss_plot)
        self._shown: Any = None  # the kept snapshot on screen (None: live)
        self._scene: Any = None
        self.bar.moved.connect(lambda pos: win._safe(self.show, pos))
        self._sync_timer = QtCore.QTimer(self, singleShot=True, interval=BAR_SYNC_MS)
        self._sync_timer.timeout.connect(self._sync_bar)
        win.controller.scene_changed.connect(lambda _s: self.clear())

    def is_live(self) -> bool:
        return self._shown is None

    def clear(self) -> None:
        self.history.clear()
        self._scene = None
        self._shown = None
        self.cursor.set_iteration(None)
        self.bar.set_count(0, 0)
        self.bar.go_live()
        self.bar.show_text("live")

    def record(self, frame: Any) -> bool:
        """Keep ``frame``'s snapshot (maybe); True when the window should draw it (live)."""
        snap = frame.snapshot
        scene = self.win.controller.scene
        its = self.history.iterations()
        if scene is not self._scene or (its and snap.iteration < its[-1]):
            self.clear()  # another scene or object, or a reset
            self._scene = scene
        self.history.add(snap)
        if self._shown is None:  # live: the bar follows soon
            if not self._sync_timer.isActive():
                self._sync_timer.start()
            return True
        # keep showing the same snapshot wherever it went
        position = next((i for i in range(len(self.history))
                         if self.history[i] is self._shown), None)
        if position is None:  # thinned away: the nearest kept one
            position = self._nearest(self._shown.iteration)
            self._shown = self.history[position]
        self.bar.set_count(len(self.history), position)
        return False

    def _sync_bar(self) -> None:
        if self._shown is None:
            self.bar.set_count(len(self.history))
            self.bar.show_text(f"live · {len(self.history)} kept")

    def _nearest(self, iteration: int) -> int:
        its = self.history.iterations()
        return min(range(len(its)), key=lambda i: abs(its[i] - iteration))

    def show(self, position: int) -> None:
        """Show kept snapshot ``position`` (``len(history)`` or more: live)."""
        win = self.win
        if position >= min(len(self.history), self.bar.slider.maximum()):
            self._shown = None
            self.cursor.set_iteration(None)
            self.bar.show_text(f"live · {len(self.history)} kept")
            last = win._last_frame
            if last is not None:  # the newest frame drawn, cloud and panels
                win.cloud_view.set_points(last.snapshot.points, last.snapshot.point_loss)
                win._draw_panels()
            return
        snap = self.history[position]
        self._shown = snap
        win.cloud_view.set_points(snap.points, snap.point_loss)
        win.panels.set_projections(snap.uv, snap.inside)
        self.cursor.set_iteration(snap.iteration)
        self.bar.show_text(f"iteration {snap.iteration} ({position + 1}/{len(self.history)})")

    def shown_iteration(self) -> int | None:
        return None if self._shown is None else int(self._shown.iteration)


def install_timeline(win: Any) -> Timeline:
    """A :class:`Timeline` whose bar sits under the 3D view (or at the window's bottom)."""
    tl = Timeline(win)
    holder = win.cloud_view.parentWidget()
    if isinstance(holder, QtWidgets.QSplitter):
        box = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        view = holder.replaceWidget(holder.indexOf(win.cloud_view), box)  # same size
        lay.addWidget(view, 1)
        lay.addWidget(tl.bar)
        view.show()
        box.show()  # a widget given a new parent is hidden until shown
    else:
        win.statusBar().addWidget(tl.bar, 1)
    return tl
