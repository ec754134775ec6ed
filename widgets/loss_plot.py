"""Loss curves (total, silhouette, repulsion; log y) and the chamfer distance on a right axis."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtWidgets

__all__ = ["LossPlot"]

CURVES = {"total": "#f0f0f0", "silhouette": "#4fa3ff", "repulsion": "#ffb347"}
CD_COLOR = "#7ddc6f"


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
        pi.addLegend(offset=(-5, 5), labelTextSize="8pt", brush=(20, 20, 25, 180))
        self._curves = {}
        for name, color in CURVES.items():
            c = pi.plot(name=name, pen=pg.mkPen(color, width=1.5))
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
            self._curves[name] = c
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
        self._rows = _Growing(4)
        self._cd = _Growing(2)
        self._has_cd = False
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot)
        self.set_cd_visible(False)

    def _sync(self) -> None:
        self._cd_vb.setGeometry(self.plot.getPlotItem().vb.sceneBoundingRect())

    def set_cd_visible(self, on: bool) -> None:
        self._has_cd = on
        pi = self.plot.getPlotItem()
        pi.showAxis("right", on)
        self._cd_curve.setVisible(on)

    def clear(self) -> None:
        self._rows = _Growing(4)
        self._cd = _Growing(2)
        for c in self._curves.values():
            c.setData([], [])
        self._cd_curve.setData([], [])

    def add_rows(self, rows: np.ndarray) -> None:
        """rows (N, 4): iteration, total, silhouette, repulsion."""
        rows = np.asarray(rows, float).reshape(-1, 4)
        if not len(rows):
            return
        self._rows.extend(rows)
        v = self._rows.view()
        for k, name in enumerate(CURVES, start=1):
            y = np.maximum(v[:, k], 1e-12)  # log axis
            self._curves[name].setData(v[:, 0], y)

    def add_cd(self, iteration: int, cd: float) -> None:
        self._cd.extend(np.array([[iteration, cd]]))
        v = self._cd.view()
        self._cd_curve.setData(v[:, 0], v[:, 1])
        if not self._has_cd:
            self.set_cd_visible(True)
        QtCore.QTimer.singleShot(0, self._sync)

    def history(self) -> np.ndarray:
        return self._rows.view().copy()

    def cd_history(self) -> np.ndarray:
        return self._cd.view().copy()
