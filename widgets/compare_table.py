"""Compare mode's metrics: one small table, a row per run (A the window's run, B the second).

Columns: iteration, time (CPU seconds the run's worker used), speed, Chamfer ×100 and F-score
against the scene's ground truth, and the share of points inside every silhouette. Each
row's label carries the colour its points have in the silhouette panels. Plain values in.
"""

from __future__ import annotations

import math
from typing import Any

from PyQt5 import QtCore, QtGui, QtWidgets

__all__ = ["CompareTable", "COLUMNS"]

#: key: (header, tooltip, format)
COLUMNS = {
    "iteration": ("iteration", "optimisation steps done", "{:d}"),
    "time": ("time (s)", "CPU seconds the run's worker thread has used", "{:.1f}"),
    "its": ("it/s", "iterations per second lately", "{:.1f}"),
    "cd": ("CD ×100", "Chamfer distance ×100 to the scene's ground truth (lower is better)",
           "{:.3f}"),
    "fscore": ("F@0.01", "F-score at distance 0.01 (1 % of the object's box diagonal)",
               "{:.3f}"),
    "inside": ("inside", "share of the points inside every silhouette", "{:.1%}"),
}


class CompareTable(QtWidgets.QTableWidget):
    """Two rows (A, B) of run metrics; unknown values show as –."""

    def __init__(self, labels: tuple[str, str], colours: tuple[tuple[int, int, int], ...],
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(len(labels), len(COLUMNS), parent)
        self.keys = tuple(COLUMNS)
        self.setHorizontalHeaderLabels([COLUMNS[k][0] for k in self.keys])
        for c, k in enumerate(self.keys):
            self.horizontalHeaderItem(c).setToolTip(COLUMNS[k][1])
        for r, (label, colour) in enumerate(zip(labels, colours)):
            item = QtWidgets.QTableWidgetItem(label)
            item.setForeground(QtGui.QBrush(QtGui.QColor(*colour)))
            item.setToolTip(f"{label}: these points are drawn in this colour in the "
                            "silhouette panels")
            self.setVerticalHeaderItem(r, item)
            for c in range(len(self.keys)):
                cell = QtWidgets.QTableWidgetItem("–")
                cell.setTextAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
                self.setItem(r, c, cell)
        self.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.setSelectionMode(QtWidgets.QAbstractItemView.NoSelection)
        self.setFocusPolicy(QtCore.Qt.NoFocus)
        self.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.Stretch)
        self.verticalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeToContents)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        h = self.horizontalHeader().sizeHint().height() \
            + sum(self.verticalHeader().sectionSize(r) for r in range(self.rowCount())) + 4
        self.setFixedHeight(h)

    def set_values(self, row: int, values: dict[str, Any]) -> None:
        """Update the given columns of ``row`` (keys of :data:`COLUMNS`; None shows –)."""
        for key, value in values.items():
            if key not in COLUMNS:
                continue
            ok = value is not None and not (isinstance(value, float) and not math.isfinite(value))
            text = COLUMNS[key][2].format(value) if ok else "–"
            item = self.item(row, self.keys.index(key))
            if item.text() != text:
                item.setText(text)

    def text(self, row: int, key: str) -> str:
        return self.item(row, self.keys.index(key)).text()
