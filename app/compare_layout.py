"""The side-by-side layout of the window's compare modes: a second 3D view (B) beside the
window's (A), cameras linked (``widgets.linked_views``), a coloured label in each view and
the metrics table (``widgets.compare_table``) under both. A's toolbar moves above both views
and drives both (colouring, point size). :meth:`SideBySide.remove` puts the window back.
"""

from __future__ import annotations

from typing import Any

from widgets.cloud_view import CloudView
from widgets.compare_table import CompareTable
from widgets.linked_views import CameraLink
from widgets.silhouette_panels import INSIDE, OVERLAY_INSIDE

__all__ = ["SideBySide"]


class SideBySide:
    """B's view and the table, built in window ``win`` with ``labels`` (A's, B's): the
    labels drawn in the views (two spaces after the letter) and, with one space, the
    table's row names. ``view`` and ``table`` are None once removed."""

    def __init__(self, win: Any, labels: tuple[str, str]) -> None:
        self.win = win
        a = win.cloud_view
        self.view: CloudView | None = CloudView()
        self.view.toolbar.hide()  # A's toolbar, above both views, drives both
        self.view.set_color_mode(a.color_mode)
        self.view.set_point_size(a.point_size)
        a.color_box.currentTextChanged.connect(self.view.set_color_mode)
        a.size_box.valueChanged.connect(self.view.set_point_size)
        left = win.views.parentWidget()
        total = sum(left.sizes())
        left.insertWidget(0, a.toolbar)
        left.setCollapsible(0, False)
        left.handle(1).setEnabled(False)
        win.views.addWidget(self.view)
        half = max(1, sum(win.views.sizes()) // 2)
        win.views.setSizes([half, half])
        self.link: CameraLink | None = CameraLink(a, self.view)
        self._labels: list[tuple[Any, Any]] = []  # (plotter, text actor)
        for view, text, colour in ((a, labels[0], INSIDE), (self.view, labels[1],
                                                              OVERLAY_INSIDE)):
            actor = view.plotter.add_text(text, position="upper_left", font_size=9,
                                          color=tuple(c / 255 for c in colour), render=False)
            self._labels.append((view.plotter, actor))
        self.table: CompareTable | None = CompareTable(
            tuple(t.replace("  ", " ") for t in labels), (INSIDE, OVERLAY_INSIDE))
        left.insertWidget(left.indexOf(win.views) + 1, self.table)
        left.setCollapsible(left.indexOf(self.table), False)
        sizes = left.sizes()  # toolbar, views, table, plot: the views take what is left
        fixed = a.toolbar.sizeHint().height() + self.table.height()
        if total > fixed + sizes[-1]:
            left.setSizes([a.toolbar.sizeHint().height(), total - fixed - sizes[-1],
                           self.table.height(), sizes[-1]])

    def remove(self) -> None:
        """Unlink the cameras, remove the labels, B's view and the table, put A's toolbar
        back (again: nothing happens)."""
        if self.link is not None:
            self.link.unlink()
            self.link = None
        for plotter, actor in self._labels:
            plotter.remove_actor(actor, render=False)
        self._labels = []
        a = self.win.cloud_view
        left = self.win.views.parentWidget()
        if self.view is None:
            return
        a.restore_toolbar()
        left.handle(left.indexOf(self.win.views)).setEnabled(True)
        for sig, slot in ((a.color_box.currentTextChanged, self.view.set_color_mode),
                          (a.size_box.valueChanged, self.view.set_point_size)):
            try:
                sig.disconnect(slot)
            except TypeError:
                pass
        self.view.close_view()
        for w in (self.view, self.table):
            if w is not None:
                w.hide()
                w.setParent(None)  # out of the splitter now (its VTK window is closed)
                w.deleteLater()
        self.view = self.table = None
        a.refresh()
