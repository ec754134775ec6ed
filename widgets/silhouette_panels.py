"""Per-view silhouette panels: the smoothed silhouette field with the current projections.

Each panel is a plain QWidget showing one image that numpy composes at the panel's size: the
field in grey (nearest-pixel upsampled, aspect kept) with the projections as small dots,
inside the mask in one colour, outside ones red (drawn last, on top), plus the view number
and the count of points outside. Composing costs well under a millisecond per panel, and the
paint is a single ``drawImage``: with pyqtgraph views each panel's paint ran ~3 ms of Python
holding the GIL the fit thread needs. A scrollable grid; clicking a panel opens an enlarged,
live copy of it (once the double-click interval has passed without a second click);
double-clicking it emits ``double_clicked(index)`` instead.

An overlay (a second cloud's projections, e.g. compare mode's second run) is drawn over the
first in its own colours: inside dots amber, or green where both clouds' inside dots fall on
the same pixel, outside dots magenta; the first cloud's outside dots stay visible. Plain numpy
in.
"""

from __future__ import annotations

import numpy as np
from PyQt5 import QtCore, QtGui, QtWidgets

__all__ = ["SilhouettePanels", "SilhouettePanel"]

INSIDE = (80, 200, 255)
OUTSIDE = (255, 60, 60)
BACKGROUND = (0x1D, 0x20, 0x25)
OVERLAY_INSIDE = (255, 170, 40)
OVERLAY_OUTSIDE = (240, 80, 240)
BOTH_INSIDE = (90, 230, 90)  # a pixel with inside dots of both clouds
_INSIDE32, _OUTSIDE32, _OV_INSIDE32, _OV_OUTSIDE32, _BOTH32 = (
    np.uint32(0xFF000000 | r << 16 | g << 8 | b)
    for r, g, b in (INSIDE, OUTSIDE, OVERLAY_INSIDE, OVERLAY_OUTSIDE, BOTH_INSIDE))


def _dot_pixels(uv: np.ndarray, scale: float, dot: int, h: int, w: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels of dots at uv (J,2) (field pixels) on an (h, w) image with ``scale`` display
    pixels per field pixel: y, x (J, dot, dot) clipped indices and ok (J,) dots in view."""
    xy = np.floor((uv + 0.5) * scale).astype(np.int64) - dot // 2
    ok = np.isfinite(uv).all(1) & (xy[:, 0] > -dot) & (xy[:, 0] < w) \
        & (xy[:, 1] > -dot) & (xy[:, 1] < h)
    offs = np.arange(dot)
    x = np.minimum(np.maximum(xy[:, 0, None, None] + offs, 0), w - 1)
    y = np.minimum(np.maximum(xy[:, 1, None, None] + offs[:, None], 0), h - 1)
    return np.broadcast_to(y, (len(uv), dot, dot)), np.broadcast_to(x, (len(uv), dot, dot)), ok


class SilhouettePanel(QtWidgets.QWidget):
    """One view: field image + inside/outside projection dots, composed in numpy."""

    clicked = QtCore.pyqtSignal(int)
    double_clicked = QtCore.pyqtSignal(int)

    def __init__(self, index: int, size: int = 150, dot: float = 3.0,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.dot = max(1, int(round(dot)))  # dot edge in screen pixels
        self.n_inside = self.n_outside = 0  # dots drawn in the last update
        self.n_out_label = ""
        self._field: np.ndarray | None = None  # (H, W) float in [0, 1]
        self._base: np.ndarray | None = None  # (h, w) uint32 0xffRRGGBB field, display size
        self._scale = 1.0  # display pixels per field pixel
        self._image: QtGui.QImage | None = None
        self._rgb: np.ndarray | None = None  # keeps the QImage's buffer alive (H, W) uint32
        self._last: tuple[np.ndarray, np.ndarray] | None = None
        self._overlay: tuple[np.ndarray, np.ndarray] | None = None
        self.n_overlay_inside = self.n_overlay_outside = 0
        self.overlay_label = ""
        self.setAttribute(QtCore.Qt.WA_OpaquePaintEvent)
        self.setToolTip(f"view {index}: smoothed silhouette with the projected points "
                        "(red = outside the mask). Click to enlarge; double-click to look "
                        "through this camera in the 3D view.")
        # a click is reported once no second click followed it (that is a double-click)
        self._click_timer = QtCore.QTimer(self, singleShot=True)
        self._click_timer.setInterval(QtWidgets.QApplication.doubleClickInterval())
        self._click_timer.timeout.connect(lambda: self.clicked.emit(self.index))
        self.set_size(size)

    def set_size(self, size: int) -> None:
        self.setFixedSize(size, size)
        if self._field is not None:
            self._compose_base()
            self._redraw()

    def set_field(self, image: np.ndarray) -> None:
        """(H, W) float image in [0, 1]: the smoothed silhouette of this view."""
        self._field = np.clip(np.nan_to_num(np.asarray(image, np.float32)), 0.0, 1.0)
        self._compose_base()
        self._redraw()

    def _compose_base(self) -> None:
        h, w = self._field.shape
        side = max(1, min(self.width(), self.height()))
        self._scale = side / max(h, w)
        dh, dw = max(1, round(h * self._scale)), max(1, round(w * self._scale))
        rows = np.minimum((np.arange(dh) / self._scale).astype(np.int64), h - 1)
        cols = np.minimum((np.arange(dw) / self._scale).astype(np.int64), w - 1)
        grey = (self._field[rows][:, cols] * 255.0 + 0.5).astype(np.uint32)
        self._base = 0xFF000000 | (grey << 16) | (grey << 8) | grey  # QImage.Format_RGB32

    def set_points(self, uv: np.ndarray, inside: np.ndarray) -> None:
        """uv (J,2) pixel coordinates (centre of pixel (0,0) at 0), inside (J,) bool."""
        self._last = (np.asarray(uv, np.float32), np.asarray(inside, bool))
        self._redraw()

    def set_overlay(self, uv: np.ndarray | None, inside: np.ndarray | None = None) -> None:
        """A second cloud's projections (as :meth:`set_points`) drawn over the first in the
        overlay colours; None removes it."""
        self._overlay = None if uv is None else (np.asarray(uv, np.float32),
                                                 np.asarray(inside, bool))
        self._redraw()

    def _draw_overlay(self, rgb: np.ndarray) -> None:
        uv, inside = self._overlay
        y, x, ok = _dot_pixels(uv, self._scale, self.dot, *rgb.shape)
        sel = ok & inside
        ys, xs = y[sel], x[sel]
        under = rgb[ys, xs]  # first-cloud outside dots stay on top; shared pixels turn green
        rgb[ys, xs] = np.where(under == _INSIDE32, _BOTH32,
                               np.where(under == _OUTSIDE32, _OUTSIDE32, _OV_INSIDE32))
        rgb[y[ok & ~inside], x[ok & ~inside]] = _OV_OUTSIDE32
        self.n_overlay_inside = int(sel.sum())
        self.n_overlay_outside = int((ok & ~inside).sum())
        n_out = int((~inside).sum())
        self.overlay_label = f"{n_out} out" if n_out else ""

    def _redraw(self) -> None:
        if self._base is None:
            return
        rgb = self._base.copy()
        H, W = rgb.shape
        if self._last is not None:
            uv, inside = self._last
            xy = np.floor((uv + 0.5) * self._scale).astype(np.int64) - self.dot // 2
            ok = np.isfinite(uv).all(1) & (xy[:, 0] > -self.dot) & (xy[:, 0] < W) \
                & (xy[:, 1] > -self.dot) & (xy[:, 1] < H)
            offs = np.arange(self.dot)
            for sel, colour in ((ok & inside, _INSIDE32), (ok & ~inside, _OUTSIDE32)):
                x = np.minimum(np.maximum(xy[sel, 0, None, None] + offs, 0), W - 1)  # (n,1,d)
                y = np.minimum(np.maximum(xy[sel, 1, None, None] + offs[:, None], 0), H - 1)
                rgb[y, x] = colour  # (n,d,d) dot pixels
            self.n_inside = int((ok & inside).sum())
            self.n_outside = int((ok & ~inside).sum())
            n_out = int((~inside).sum())
            self.n_out_label = f"{n_out} out" if n_out else ""
        self.overlay_label = ""
        self.n_overlay_inside = self.n_overlay_outside = 0
        if self._overlay is not None:
            self._draw_overlay(rgb)
        self._rgb = np.ascontiguousarray(rgb)
        self._image = QtGui.QImage(self._rgb.data, W, H, 4 * W, QtGui.QImage.Format_RGB32)
        self.update()

    def paintEvent(self, ev: object) -> None:  # noqa: N802 (Qt name)
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor(*BACKGROUND))
        if self._image is not None:
            x = (self.width() - self._image.width()) // 2
            y = (self.height() - self._image.height()) // 2
            p.drawImage(x, y, self._image)
        self._draw_label(p, f"view {self.index}", QtGui.QColor(235, 235, 235), False)
        if self.n_out_label:
            self._draw_label(p, self.n_out_label, QtGui.QColor(255, 130, 130), True)
        if self.overlay_label:
            self._draw_label(p, self.overlay_label, QtGui.QColor(*OVERLAY_OUTSIDE), True,
                             above=True)
        p.end()

    def _draw_label(self, p: QtGui.QPainter, text: str, colour: QtGui.QColor,
                    bottom_right: bool, above: bool = False) -> None:
        r = p.fontMetrics().boundingRect(text).adjusted(-3, -1, 3, 1)
        if bottom_right:  # ``above``: one line higher (a second label in that corner)
            lift = r.height() + 1 if above else 0
            r.moveBottomRight(self.rect().bottomRight() - QtCore.QPoint(1, 1 + lift))
        else:
            r.moveTopLeft(QtCore.QPoint(1, 1))
        p.fillRect(r, QtGui.QColor(20, 22, 26, 160))
        p.setPen(colour)
        p.drawText(r, QtCore.Qt.AlignCenter, text)

    def mousePressEvent(self, ev: object) -> None:  # noqa: N802 (Qt name)
        self._click_timer.start()
        super().mousePressEvent(ev)

    def mouseDoubleClickEvent(self, ev: object) -> None:  # noqa: N802 (Qt name)
        self._click_timer.stop()
        self.double_clicked.emit(self.index)


class SilhouettePanels(QtWidgets.QScrollArea):
    """A scrollable grid of :class:`SilhouettePanel`, one per view. ``double_clicked(index)``:
    a panel was double-clicked."""

    double_clicked = QtCore.pyqtSignal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None, panel_size: int = 140) -> None:
        super().__init__(parent)
        self.panel_size = panel_size
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self._inner = QtWidgets.QWidget()
        self._grid = QtWidgets.QGridLayout(self._inner)
        self._grid.setContentsMargins(2, 2, 2, 2)
        self._grid.setSpacing(4)
        self._grid.setAlignment(QtCore.Qt.AlignTop | QtCore.Qt.AlignLeft)
        self.setWidget(self._inner)
        self.panels: list[SilhouettePanel] = []
        self._fields: np.ndarray | None = None
        self._last: tuple[np.ndarray, np.ndarray] | None = None
        self._overlay: tuple[np.ndarray, np.ndarray] | None = None
        self._zoom: tuple[QtWidgets.QDialog, SilhouettePanel] | None = None
        self._columns = 0

    def set_fields(self, fields: np.ndarray) -> None:
        """(I, H, W) float images in [0, 1]; rebuilds the grid when the view count changes."""
        fields = np.asarray(fields, np.float32)
        if len(fields) != len(self.panels):
            self._rebuild(len(fields))
        for p, f in zip(self.panels, fields):
            p.set_field(f)
        self._fields = fields

    def _rebuild(self, n: int) -> None:
        for p in self.panels:
            self._grid.removeWidget(p)
            p.close()
            p.deleteLater()
        self.panels = []
        for i in range(n):
            p = SilhouettePanel(i, self.panel_size)
            p.clicked.connect(self.enlarge)
            p.double_clicked.connect(self.double_clicked)
            self.panels.append(p)
        self._columns = 0
        self._relayout()

    def _relayout(self) -> None:
        """As many columns of at least ``panel_size`` as fit; panels grow to fill the width."""
        avail = self.viewport().width() - 4 - self.verticalScrollBar().sizeHint().width()
        cols = max(1, avail // (self.panel_size + 4))
        size = max(self.panel_size, avail // cols - 4)
        for p in self.panels:
            if p.width() != size:
                p.set_size(size)
        if cols == self._columns:
            return
        self._columns = cols
        for i, p in enumerate(self.panels):
            self._grid.addWidget(p, i // cols, i % cols)

    def resizeEvent(self, ev: object) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(ev)
        self._relayout()

    def set_projections(self, uv: np.ndarray, inside: np.ndarray) -> None:
        """uv (I,J,2), inside (I,J) bool: the current projections in every view."""
        self._last = (uv, inside)
        for p, u, m in zip(self.panels, uv, inside):
            p.set_points(u, m)
        if self._zoom is not None:
            i = self._zoom[1].index
            if i < len(uv):
                self._zoom[1].set_points(uv[i], inside[i])

    def set_overlay(self, uv: np.ndarray | None, inside: np.ndarray | None = None) -> None:
        """uv (I,J,2), inside (I,J): a second cloud's projections drawn over every panel in the
        overlay colours; None removes them."""
        self._overlay = None if uv is None else (uv, inside)
        for i, p in enumerate(self.panels):
            p.set_overlay(None if uv is None or i >= len(uv) else uv[i],
                          None if uv is None or i >= len(uv) else inside[i])
        if self._zoom is not None:
            i = self._zoom[1].index
            self._zoom[1].set_overlay(None if uv is None or i >= len(uv) else uv[i],
                                      None if uv is None or i >= len(uv) else inside[i])

    def enlarge(self, index: int) -> None:
        """Open a dialog with a large live copy of panel ``index``."""
        if self._fields is None or index >= len(self._fields):
            return
        if self._zoom is not None:
            self._zoom[0].close()
        dlg = QtWidgets.QDialog(self.window())
        dlg.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        dlg.setWindowTitle(f"View {index}")
        big = SilhouettePanel(index, 560, dot=5)
        big.setToolTip(f"view {index}")
        big.set_field(self._fields[index])
        if self._last is not None:
            big.set_points(self._last[0][index], self._last[1][index])
        if self._overlay is not None and index < len(self._overlay[0]):
            big.set_overlay(self._overlay[0][index], self._overlay[1][index])
        lay = QtWidgets.QVBoxLayout(dlg)
        lay.addWidget(big)
        dlg.finished.connect(lambda _=0: self._close_zoom(dlg, big))
        self._zoom = (dlg, big)
        dlg.show()

    def _close_zoom(self, dlg: QtWidgets.QDialog, big: "SilhouettePanel") -> None:
        big.close()
        if self._zoom is not None and self._zoom[0] is dlg:
            self._zoom = None

    def zoom_dialog(self) -> QtWidgets.QDialog | None:
        return None if self._zoom is None else self._zoom[0]
