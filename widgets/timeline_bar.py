"""The timeline under the 3D view: a slider over the snapshots the window kept, its right end
being the live view, and a cursor line on the loss plot at the iteration shown.

``TimelineBar.moved(position)``: the user picked ``position`` (0 .. count; count = live).
Plain Qt/pyqtgraph, no torch/core."""

from __future__ import annotations

import pyqtgraph as pg
from PyQt5 import QtCore, QtWidgets

__all__ = ["TimelineBar", "PlotCursor"]

CURSOR_COLOR = "#ffd166"


class TimelineBar(QtWidgets.QWidget):
    """A slider over ``count`` kept snapshots plus one live position, a label and a Live
    button."""

    moved = QtCore.pyqtSignal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("drag back to see an earlier snapshot of the run (cloud, panels, "
                               "loss cursor); the right end is live")
        self.slider.valueChanged.connect(self.moved)
        self.label = QtWidgets.QLabel("live")
        self.label.setMinimumWidth(150)
        self.live_button = QtWidgets.QToolButton(text="Live")
        self.live_button.setToolTip("back to the live view")
        self.live_button.clicked.connect(self.go_live)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(6, 1, 6, 1)
        lay.addWidget(QtWidgets.QLabel("History"))
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        lay.addWidget(self.live_button)
        self.set_count(0)

    @property
    def position(self) -> int:
        return self.slider.value()

    def is_live(self) -> bool:
        return self.slider.value() >= self.slider.maximum()

    def set_count(self, count: int, position: int | None = None) -> None:
        """``count`` snapshots kept; stay live when live, else keep ``position`` (or the
        current one), without emitting ``moved``."""
        live = self.is_live()
        with QtCore.QSignalBlocker(self.slider):
            self.slider.setMaximum(max(0, count))
            if live:
                self.slider.setValue(count)
            elif position is not None:
                self.slider.setValue(position)
        self.slider.setEnabled(count > 0)
        self.live_button.setEnabled(not self.is_live())

    def set_position(self, position: int) -> None:
        """Move the slider as the user would (emits ``moved``)."""
        self.slider.setValue(position)

    def go_live(self) -> None:
        self.slider.setValue(self.slider.maximum())

    def show_text(self, text: str) -> None:
        self.label.setText(text)
        self.live_button.setEnabled(not self.is_live())


class PlotCursor:
    """A vertical line on a :class:`widgets.loss_plot.LossPlot` at an iteration (hidden
    while live)."""

    def __init__(self, loss_plot: QtWidgets.QWidget) -> None:
        self.line = pg.InfiniteLine(angle=90, movable=False,
                                    pen=pg.mkPen(CURSOR_COLOR, width=1.5,
                                                 style=QtCore.Qt.DashLine))
        self.line.setZValue(100)
        self.line.setVisible(False)
        loss_plot.plot.getPlotItem().addItem(self.line, ignoreBounds=True)

    def set_iteration(self, iteration: int | None) -> None:
        if iteration is None:
            self.line.setVisible(False)
        else:
            self.line.setValue(iteration)
            self.line.setVisible(True)

    def iteration(self) -> float | None:
        return float(self.line.value()) if self.line.isVisible() else None
