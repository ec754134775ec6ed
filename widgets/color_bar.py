"""Colour ramps that read on the dark 3D background, and the colour bar that says what a
colour means.

Every colour of every ramp keeps a WCAG contrast ratio of at least :data:`MIN_CONTRAST`
against the view's background (#1d2025): no point is drawn near-black, whatever its value
(viridis starts at #440154, contrast 1.1 against it: points inside every silhouette, loss 0,
nearly vanish in it). Plain numpy and Qt; the 3D view builds its VTK lookup table from
:func:`ramp`.
"""

from __future__ import annotations

import numpy as np
from PyQt5 import QtCore, QtGui, QtWidgets

__all__ = ["MIN_CONTRAST", "RAMPS", "ColorBar", "contrast_ratio", "ramp"]

MIN_CONTRAST = 4.5
#: name -> colour stops from the low to the high end of the value range
RAMPS = {
    # inside every silhouette (0) a light sky blue; outside: yellow, orange, then red
    "silhouette loss": ("#a8dcff", "#c8f08c", "#ffe45c", "#ffa040", "#ff5a4a"),
    # near the 3D camera warm and light, far cool
    "depth": ("#ffe08a", "#b8ec78", "#66dcc0", "#78b8ff", "#a89cff"),
}
#: the colour bar's title per colour mode
TITLES = {"silhouette loss": "silhouette loss (px outside, mean over views)",
          "depth": "distance from the 3D camera"}


def _rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i:i + 2], 16) for i in (0, 2, 4)], np.float64)


def ramp(name: str, n: int = 256) -> np.ndarray:
    """(n, 3) uint8 colours of ramp ``name``, linearly interpolated between its stops."""
    stops = np.stack([_rgb(c) for c in RAMPS[name]])  # (S, 3)
    x = np.linspace(0.0, 1.0, n)
    at = np.linspace(0.0, 1.0, len(stops))
    out = np.stack([np.interp(x, at, stops[:, k]) for k in range(3)], -1)
    return np.round(out).astype(np.uint8)


def contrast_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """WCAG contrast ratio of colours ``a`` (..., 3) and ``b`` (..., 3), 0-255 sRGB."""

    def lum(c: np.ndarray) -> np.ndarray:
        c = np.asarray(c, np.float64) / 255.0
        lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return lin @ np.array([0.2126, 0.7152, 0.0722])

    la, lb = lum(a), lum(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def _number(v: float) -> str:
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"


class ColorBar(QtWidgets.QWidget):
    """A horizontal gradient of a ramp with its low and high values and a title; hidden for
    colourings where a colour means no number (plain)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(34)
        self.name = ""
        self.low = self.high = 0.0
        self._image: QtGui.QImage | None = None
        self._buf: np.ndarray | None = None
        self.setToolTip("what a point's colour means")

    def set_ramp(self, name: str | None) -> None:
        """Show ramp ``name`` (a key of RAMPS), or hide the bar (None)."""
        if name not in RAMPS:
            self.name = ""
            self.hide()
            return
        if name != self.name:
            self.name = name
            rgb = ramp(name, 256).astype(np.uint32)
            self._buf = np.ascontiguousarray(
                (0xFF000000 | rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2])[None, :])
            self._image = QtGui.QImage(self._buf.data, 256, 1, 4 * 256, QtGui.QImage.Format_RGB32)
            self.update()
        self.show()

    def set_range(self, low: float, high: float) -> None:
        """The values at the two ends; repaints only when their printed text changes."""
        if (_number(low), _number(high)) != (_number(self.low), _number(self.high)):
            self.update()
        self.low, self.high = float(low), float(high)

    def labels(self) -> tuple[str, str, str]:
        """(title, low, high) as drawn."""
        return TITLES.get(self.name, self.name), _number(self.low), _number(self.high)

    def paintEvent(self, ev: object) -> None:  # noqa: N802 (Qt name)
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor("#1d2025"))
        title, lo, hi = self.labels()
        fm = p.fontMetrics()
        wl, wh = fm.horizontalAdvance(lo), fm.horizontalAdvance(hi)
        bar = QtCore.QRect(wl + 12, 4, max(10, self.width() - wl - wh - 24), 12)
        if self._image is not None:
            p.drawImage(bar, self._image)
        p.setPen(QtGui.QColor("#e8e8e8"))
        p.drawText(QtCore.QRect(4, 0, wl + 4, 20), QtCore.Qt.AlignVCenter, lo)
        p.drawText(QtCore.QRect(bar.right() + 6, 0, wh + 4, 20), QtCore.Qt.AlignVCenter, hi)
        p.setPen(QtGui.QColor("#c4c8ce"))
        p.drawText(QtCore.QRect(bar.left(), 17, bar.width(), 16), QtCore.Qt.AlignCenter, title)
        p.end()
