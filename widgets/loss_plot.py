"""Loss curves (whatever losses the job names; log y) and the chamfer distance on a right axis;
the legend is a row below the plot, outside the curves.

A series that has been zero at every row so far is not drawn (nor listed in the legend): on a
log axis it would be a line at the clamp value, e.g. the repulsion with β = 0."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtWidgets

__all__ = ["LossPlot"]

#: colours of the losses a fit names; other names take the next colour of PALETTE
COLORS = {"total": "#f0f0f0", "silhouette": "#4fa3ff", "repulsion": "#ffb347",
          "surface": "#d98cff", "spread": "#ff7f7f"}
PALETTE = ("#4fd1c5", "#f6e05e", "#f687b3", "#a3bffa", "#c6f6d5", "#fbd38d")
CD_COLOR = "#7ddc6f"
DEFAULT_NAMES = ("total", "silhouette", "repulsion")


class _Growing:
    """An append-only (N, k) float array with amortised growth."""

    def __init__(self, k: int) -> None:
        self.data = np.zeros((1024, k))
        self.n = 0

    def extend(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, float).reshape(-1, self.data.shape[1])
        need = self.n + len(rows)
        if need > len(self.data):
            new = np.zeros((max(need, 2 * len(self.data)), self.data.shape[1]))
            new[: self.n] = self.data[: self.n]
            self.data = new
        self.data[self.n : need] = rows
        self.n = need

    def view(self) -> np.ndarray:
        return self.data[: self.n]


def cd_range(cd: np.ndarray, least: float = 0.05) -> tuple[float, float]:
    """(low, high) of the CD axis for the values cd (N,): their range with 10 % margins,
    widened to at least ``least`` of their level. A fit whose CD no longer moves would
    otherwise spread float noise (2.3256404 ... 2.3256408) over the whole height."""
    lo, hi = float(np.min(cd)), float(np.max(cd))
    span = max(hi - lo, least * max(abs(hi), abs(lo), 1e-9))
    mid = 0.5 * (lo + hi)
    return mid - 0.6 * span, mid + 0.6 * span


class LossPlot(QtWidgets.QWidget):
    """Loss history against iteration; CD×100 (when there is a ground truth) on the right."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="#1d2025")
        pi = self.plot.getPlotItem()
        pi.setLogMode(y=True)
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.setLabel("bottom", "iteration")
        pi.setLabel("left", "loss")
        # the legend is one row under the x axis, in the plot's layout: never over the curves
        self.legend = pg.LegendItem(labelTextSize="8pt", colCount=8, horSpacing=14,
                                    verSpacing=-4, frame=False)
        pi.layout.addItem(self.legend, 4, 1)
        pi.legend = self.legend  # curves made with ``name=`` enter it, removeItem drops them
        self.names: tuple[str, ...] = ()
        self._curves: dict[str, pg.PlotDataItem] = {}  # only the series drawn (not all zero)
        # chamfer on a second view box sharing x
        self._cd_vb = pg.ViewBox()
        pi.showAxis("right")
        pi.scene().addItem(self._cd_vb)
        right = pi.getAxis("right")
        right.linkToView(self._cd_vb)
        right.setLogMode(False, False)
        right.enableAutoSIPrefix(False)
        right.setLabel("CD×100", color=CD_COLOR)
        self._cd_vb.setXLink(pi)
        self._cd_curve = pg.PlotDataItem(pen=pg.mkPen(CD_COLOR, width=2), symbol="o",
                                         symbolSize=4, symbolBrush=CD_COLOR, name="CD×100")
        self._cd_vb.addItem(self._cd_curve)
        pi.legend.addItem(self._cd_curve, "CD×100")
        pi.vb.sigResized.connect(self._sync)
        self._cd = _Growing(2)
        self._has_cd = False
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot)
        self.set_cd_visible(False)
        self.set_names(DEFAULT_NAMES)

    def set_names(self, names: tuple[str, ...] | list[str]) -> None:
        """The losses of the rows to come (clears the plot)."""
        self.names = tuple(names)
        self.clear()

    def visible_names(self) -> list[str]:
        """The series drawn now (those not zero at every row so far)."""
        return [n for n in self.names if n in self._curves]

    def _curve(self, name: str) -> pg.PlotDataItem:
        if name not in self._curves:
            others = [n for n in self.names if n not in COLORS]
            color = COLORS.get(name) or PALETTE[others.index(name) % len(PALETTE)]
            c = self.plot.getPlotItem().plot(name=name, pen=pg.mkPen(color, width=1.5))
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
            self._curves[name] = c
        return self._curves[name]

    def _sync(self) -> None:
        self._cd_vb.setGeometry(self.plot.getPlotItem().vb.sceneBoundingRect())

    def set_cd_visible(self, on: bool) -> None:
        self._has_cd = on
        pi = self.plot.getPlotItem()
        pi.showAxis("right", on)
        self._cd_curve.setVisible(on)

    def clear(self) -> None:
        pi = self.plot.getPlotItem()
        for c in self._curves.values():
            pi.removeItem(c)  # also from the legend
        self._curves = {}
        self._rows = _Growing(1 + len(self.names))
        self._cd = _Growing(2)
        self._cd_curve.setData([], [])

    def add_rows(self, rows: np.ndarray) -> None:
        """rows (N, 1 + len(names)): iteration, then the losses in ``names`` order."""
        rows = np.asarray(rows, float).reshape(-1, 1 + len(self.names))
        if not len(rows):
            return
        self._rows.extend(rows)
        v = self._rows.view()
        for k, name in enumerate(self.names, start=1):
            if name not in self._curves and not np.any(rows[:, k] != 0):
                continue  # zero so far: not drawn
            y = np.maximum(v[:, k], 1e-12)  # log axis
            self._curve(name).setData(v[:, 0], y)

    def add_cd(self, iteration: int, cd: float) -> None:
        self._cd.extend(np.array([[iteration, cd]]))
        v = self._cd.view()
        self._cd_curve.setData(v[:, 0], v[:, 1])
        self._cd_vb.setYRange(*cd_range(v[:, 1]), padding=0)
        if not self._has_cd:
            self.set_cd_visible(True)
        QtCore.QTimer.singleShot(0, self._sync)

    def history(self) -> np.ndarray:
        return self._rows.view().copy()

    def cd_history(self) -> np.ndarray:
        return self._cd.view().copy()
