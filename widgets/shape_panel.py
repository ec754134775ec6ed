"""The Shape panel: a mesh, its conformal map on the sphere, its spherical-harmonic code.

Plain numpy in, no torch/core. One embedded QtInteractor with three linked subplots (the
original mesh, the same mesh laid on the unit sphere, the decoded mesh), the coefficient
amplitude images (uint8 RGB arrays made by the owner) and a degree slider. The slider emits
``degree_changed(int)`` at once (decoding a new degree from stored coefficients is a small
matrix product; the owner answers with :meth:`set_decoded`); the decoded mesh's points are
updated in place. Buttons ask the owner to encode the current result or a mesh file.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PyQt5 import QtCore, QtGui, QtWidgets
from pyvistaqt import QtInteractor

__all__ = ["ShapePanel"]

BACKGROUND = "#1d2025"
_TITLES = ("Original", "On the sphere (conformal map)", "Decoded")


def _poly(vertices: np.ndarray, faces: np.ndarray) -> pv.PolyData:
    f = np.asarray(faces, np.int64)
    cells = np.hstack([np.full((len(f), 1), 3, np.int64), f]).ravel()
    return pv.PolyData(np.asarray(vertices, np.float32), cells)


def _pixmap(rgb: np.ndarray) -> QtGui.QPixmap:
    a = np.ascontiguousarray(rgb, np.uint8)
    h, w = a.shape[:2]
    img = QtGui.QImage(a.data, w, h, 3 * w, QtGui.QImage.Format_RGB888)
    return QtGui.QPixmap.fromImage(img.copy())


class ShapePanel(QtWidgets.QWidget):
    """Original / sphere map / decoded views, coefficient images and a degree slider."""

    degree_changed = QtCore.pyqtSignal(int)
    encode_requested = QtCore.pyqtSignal(str)  # "result" or "file"

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.plotter = QtInteractor(self, shape=(1, 3), auto_update=False)
        self.plotter.interactor.setAttribute(QtCore.Qt.WA_DontCreateNativeAncestors)
        self.plotter.interactor.setAttribute(QtCore.Qt.WA_NativeWindow)
        self.plotter.set_background(BACKGROUND)
        for k, title in enumerate(_TITLES):
            self.plotter.subplot(0, k)
            self.plotter.add_text(title, font_size=9, color="white", name=f"title{k}")
        self.plotter.link_views()
        self._decoded: pv.PolyData | None = None
        self._box = (np.full(3, -1.0), np.full(3, 1.0))
        self._frame_box: tuple[np.ndarray, float] | None = None
        self._actors: dict[int, object] = {}

        self.from_result = QtWidgets.QPushButton("Encode current result")
        self.from_result.setToolTip("mesh the current cloud (held to the silhouettes), map it "
                                    "to the sphere and fit spherical harmonics")
        self.from_file = QtWidgets.QPushButton("Encode mesh file…")
        self.from_result.clicked.connect(lambda: self.encode_requested.emit("result"))
        self.from_file.clicked.connect(lambda: self.encode_requested.emit("file"))
        self.slider = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._on_slider)
        self.degree_label = QtWidgets.QLabel("degree –")
        self.degree_label.setMinimumWidth(80)
        self.status = QtWidgets.QLabel("No shape yet: encode the current result or a mesh.")
        self.status.setWordWrap(True)
        self.images = QtWidgets.QHBoxLayout()
        self._image_labels: list[QtWidgets.QLabel] = []

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.from_result)
        top.addWidget(self.from_file)
        top.addStretch(1)
        deg = QtWidgets.QHBoxLayout()
        deg.addWidget(QtWidgets.QLabel("SH degree"))
        deg.addWidget(self.slider, 1)
        deg.addWidget(self.degree_label)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.plotter, 1)
        lay.addLayout(deg)
        lay.addLayout(self.images)
        lay.addWidget(self.status)

    # -- content ---------------------------------------------------------------------------
    def _show(self, k: int, mesh: pv.PolyData, colors: np.ndarray | None) -> None:
        self.plotter.subplot(0, k)
        old = self._actors.pop(k, None)
        if old is not None:
            self.plotter.remove_actor(old, render=False)
        mesh.compute_normals(inplace=True)  # point normals: smooth shading of this very mesh
        kw: dict[str, object] = {}
        if colors is not None:
            mesh.point_data["rgb"] = np.asarray(np.clip(colors, 0, 1) * 255, np.uint8)
            kw.update(scalars="rgb", rgb=True)
        else:
            kw["color"] = "#c8ccd4"
        self._actors[k] = self.plotter.add_mesh(mesh, reset_camera=False, render=False, **kw)

    def set_original(self, vertices: np.ndarray, faces: np.ndarray, sphere: np.ndarray,
                     colors: np.ndarray | None = None) -> None:
        """The mesh (vertices (V, 3), faces (F, 3)) and its image on the unit sphere (V, 3);
        ``colors`` (V, 3) in [0, 1] paint both (default: the position as RGB, so the sphere
        shows where each part of the shape went)."""
        v = np.asarray(vertices, np.float64)
        self._box = (v.min(0), v.max(0))
        if colors is None:
            colors = self._position_rgb(v)
        centre, size = (v.min(0) + v.max(0)) / 2, float(np.ptp(v, 0).max()) or 1.0
        self._show(0, _poly(v, faces), colors)
        self._show(1, _poly(centre + 0.5 * size * np.asarray(sphere), faces), colors)
        self._decoded = None  # colours and size may change: rebuild on the next decode
        self._frame_box = (centre, size)
        self._frame()
        self.refresh()

    def _frame(self) -> None:
        """Fit the shape in the (narrow) subplots: the shared camera's distance follows the
        subplots' aspect ratio (VTK's view angle is vertical)."""
        if self._frame_box is None:
            return
        centre, size = self._frame_box
        cam = self.plotter.camera  # shared by the three linked views
        w, h = max(self.plotter.width() / 3, 1), max(self.plotter.height(), 1)
        half = 0.62 * size / min(1.0, w / h)  # half the visible height that fits the width
        dist = half / np.tan(np.radians(cam.view_angle / 2))
        direction = np.array([0.6, -1.0, 0.45]) / np.linalg.norm([0.6, -1.0, 0.45])
        cam.focal_point = tuple(centre)
        cam.position = tuple(centre + direction * dist)
        cam.up = (0.0, 0.0, 1.0)
        for k in range(3):
            self.plotter.subplot(0, k)
            self.plotter.reset_camera_clipping_range()

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        self._frame()

    def _position_rgb(self, v: np.ndarray) -> np.ndarray:
        """Colour by position in the original's box, so all three views match up."""
        lo, hi = self._box
        return np.clip((v - lo) / np.maximum(hi - lo, 1e-12), 0, 1)

    def set_decoded(self, vertices: np.ndarray, faces: np.ndarray, degree: int,
                    colors: np.ndarray | None = None) -> None:
        """The decoded mesh for ``degree``; points are updated in place when faces match."""
        v = np.asarray(vertices, np.float32)
        rgb = self._position_rgb(v) if colors is None else np.clip(colors, 0, 1)
        d = self._decoded
        if d is not None and d.n_points == len(v) and 2 in self._actors:
            d.points[:] = v
            d.GetPoints().Modified()
            d.point_data["rgb"] = np.asarray(rgb * 255, np.uint8)
            d.compute_normals(inplace=True)
        else:
            self._decoded = _poly(v, faces)
            self._show(2, self._decoded, rgb)
        self.degree_label.setText(f"degree {degree}")
        self.refresh()

    def set_degree_range(self, max_degree: int, value: int) -> None:
        """Enable the slider for degrees 0..max_degree, set to ``value`` without emitting."""
        with QtCore.QSignalBlocker(self.slider):
            self.slider.setRange(0, max_degree)
            self.slider.setValue(value)
        self.slider.setEnabled(True)
        self.degree_label.setText(f"degree {value}")

    def set_images(self, images: list[tuple[str, np.ndarray]]) -> None:
        """Coefficient amplitude images: (title, (h, w, 3) uint8) each."""
        for lab in self._image_labels:
            self.images.removeWidget(lab)
            lab.deleteLater()
        self._image_labels = []
        for title, rgb in images:
            lab = QtWidgets.QLabel()
            lab.setPixmap(_pixmap(rgb))
            lab.setToolTip(f"{title}: |coefficient| by degree l (rows) and order m (columns), "
                           "log scale")
            self.images.addWidget(lab)
            self._image_labels.append(lab)
        self.images.addStretch(0)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_busy(self, busy: bool) -> None:
        self.from_result.setEnabled(not busy)
        self.from_file.setEnabled(not busy)

    def refresh(self) -> None:
        self.plotter.update()

    def screenshot(self) -> np.ndarray:
        """(H, W, 3) uint8 image of the three views as rendered now."""
        return self.plotter.screenshot(return_img=True)

    def close_view(self) -> None:
        self.plotter.close()

    def _on_slider(self, value: int) -> None:
        self.degree_label.setText(f"degree {value}")
        self.degree_changed.emit(int(value))
