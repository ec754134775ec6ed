"""Per-view silhouette panels: the smoothed silhouette field with the current projections.

One pyqtgraph ImageItem per view (row-major, y down like the image) with an RGBA overlay
image over it in which numpy draws the projections as small dots: inside the mask in one
colour, outside ones red (drawn last, on top). Rasterising the dots in numpy costs ~1 ms per
panel, where pyqtgraph scatter items took ~25 ms each and held the GIL the fit needs.
A scrollable grid; clicking a panel opens an enlarged, live copy of it. Plain numpy in.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtWidgets

__all__ = ["SilhouettePanels", "SilhouettePanel"]

INSIDE = (80, 200, 255, 200)
OUTSIDE = (255, 60, 60, 230)
OVERLAY_PX = 256  # overlay resolution (longest side) of a panel's dot image


class SilhouettePanel(pg.GraphicsLayoutWidget):
    """One view: field image + inside/outside projection dots."""

    clicked = QtCore.pyqtSignal(int)

    def __init__(self, index: int, size: int = 150, dot: float = 3.0,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.setBackground("#1d2025")
        self.ci.layout.setContentsMargins(1, 1, 1, 1)
        self.vb = self.addViewBox(lockAspect=True, enableMouse=False, invertY=True)
        self.vb.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLevels((0.0, 1.0))
        self.vb.addItem(self.image)
        self.dot = max(1, int(round(dot / 2)))  # dot edge in overlay pixels
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.vb.addItem(self.overlay)
        self.n_inside = self.n_outside = 0  # dots drawn in the last update
        self.label = pg.TextItem(f"view {index}", color=(235, 235, 235), anchor=(0, 0),
                                 fill=(20, 22, 26, 150))
        self.vb.addItem(self.label, ignoreBounds=True)
        self.count = pg.TextItem("", color=(255, 130, 130), anchor=(1, 1),
                                 fill=(20, 22, 26, 150))
        self.vb.addItem(self.count, ignoreBounds=True)
        self.set_size(size)
        self.setToolTip(f"view {index}: smoothed silhouette with the projected points "
                        "(red = outside the mask). Click to enlarge.")
        self._shape: tuple[int, int] | None = None

    def set_size(self, size: int) -> None:
        self.setFixedSize(size, size)

    def set_field(self, image: np.ndarray) -> None:
        img = np.asarray(image, np.float32)
        self.image.setImage(img, levels=(0.0, 1.0), autoLevels=False)
        if self._shape != img.shape:
            self._shape = img.shape
            h, w = img.shape
            self.vb.setRange(xRange=(0, w), yRange=(0, h), padding=0.0)
            self.label.setPos(0.5, 0.5)
            self.count.setPos(w - 0.5, h - 0.5)

    def set_points(self, uv: np.ndarray, inside: np.ndarray) -> None:
        """uv (J,2) pixel coordinates (centre of pixel (0,0) at 0), inside (J,) bool."""
        if self._shape is None:
            return
        h, w = self._shape
        k = max(1, OVERLAY_PX // max(h, w)) * (2 if self.dot > 1 else 1)
        H, W = h * k, w * k
        uv = np.asarray(uv, np.float32)
        inside = np.asarray(inside, bool)
        xy = np.floor((uv + 0.5) * k).astype(np.int64)  # overlay pixel of each projection
        ok = np.isfinite(uv).all(1) & (xy[:, 0] >= 0) & (xy[:, 0] < W) & (xy[:, 1] >= 0) \
            & (xy[:, 1] < H)
        rgba = np.zeros((H, W, 4), np.uint8)
        for sel, colour in ((ok & inside, INSIDE), (ok & ~inside, OUTSIDE)):
            x, y = xy[sel, 0], xy[sel, 1]
            for dy in range(self.dot):
                for dx in range(self.dot):
                    rgba[np.minimum(y + dy, H - 1), np.minimum(x + dx, W - 1)] = colour
        self.overlay.setImage(rgba, autoLevels=False, levels=None)
        self.overlay.setRect(QtCore.QRectF(0, 0, w, h))
        self.n_inside = int((ok & inside).sum())
        self.n_outside = int((ok & ~inside).sum())
        n_out = int((~inside).sum())
        self.count.setText(f"{n_out} out" if n_out else "")

    def mousePressEvent(self, ev: object) -> None:  # noqa: N802 (Qt name)
        self.clicked.emit(self.index)
        super().mousePressEvent(ev)


class SilhouettePanels(QtWidgets.QScrollArea):
    """A scrollable grid of :class:`SilhouettePanel`, one per view."""

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
            p.close()  # pyqtgraph: detach the scene first, so no paint reaches a freed scene
            p.deleteLater()
        self.panels = []
        for i in range(n):
            p = SilhouettePanel(i, self.panel_size)
            p.clicked.connect(self.enlarge)
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

    def enlarge(self, index: int) -> None:
        """Open a dialog with a large live copy of panel ``index``."""
        if self._fields is None or index >= len(self._fields):
            return
        if self._zoom is not None:
            self._zoom[0].close()
        dlg = QtWidgets.QDialog(self.window())
        dlg.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        dlg.setWindowTitle(f"View {index}")
        big = SilhouettePanel(index, 560, dot=5.0)
        big.setToolTip(f"view {index}")
        big.set_field(self._fields[index])
        if self._last is not None:
            big.set_points(self._last[0][index], self._last[1][index])
        lay = QtWidgets.QVBoxLayout(dlg)
        lay.addWidget(big)
        dlg.finished.connect(lambda _=0: self._close_zoom(dlg, big))
        self._zoom = (dlg, big)
        dlg.show()

    def _close_zoom(self, dlg: QtWidgets.QDialog, big: "SilhouettePanel") -> None:
        big.close()  # detach its scene before Qt deletes the dialog (WA_DeleteOnClose)
        if self._zoom is not None and self._zoom[0] is dlg:
            self._zoom = None

    def zoom_dialog(self) -> QtWidgets.QDialog | None:
        return None if self._zoom is None else self._zoom[0]
