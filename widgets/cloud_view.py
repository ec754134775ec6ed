"""The 3D point-cloud view: an embedded pyvistaqt QtInteractor plus its small toolbar.

Plain numpy in, no torch/core. The cloud's PolyData is built once per point count and updated
in place (points and the colour array), then a single ``QWidget.update()`` renders it.
Overlay layers (ground truth, visual hull, camera frusta) are set by the owner; toggling a
layer with no data yet emits ``layer_requested(name)`` so the owner can compute it lazily.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from PyQt5 import QtCore, QtWidgets

from widgets.cloud_interactor import CloudInteractor
from widgets.color_bar import RAMPS, ColorBar, ramp

__all__ = ["CloudView", "COLOR_MODES", "BACKGROUND"]

# software GL: multisampling costs ~3x (see GUI-TESTING.md)
pv.global_theme.anti_aliasing = None
pv.global_theme.multi_samples = 0

COLOR_MODES = ("silhouette loss", "depth", "plain")
BACKGROUND = "#1d2025"
PLAIN = "#e8e8e8"
LOSS_FULL = 1.0  # silhouette loss (pixels outside, mean over views) drawn at least full red
LAYERS = {  # name: (label, tooltip)
    "gt": ("Ground truth", "show the scene's ground-truth surface points (grey)"),
    "hull": ("Visual hull", "show the visual hull of the silhouettes (computed on first use)"),
    "frusta": ("Cameras", "show the camera frusta of the input views"),
}
VIEWS = {  # name: (direction from the centre to the eye, up)
    "Front": ((0.0, -1.0, 0.25), (0.0, 0.0, 1.0)),
    "Side": ((1.0, 0.0, 0.25), (0.0, 0.0, 1.0)),
    "Top": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
}


def _lookup_table(name: str) -> pv.LookupTable:
    """A VTK lookup table of ramp ``name`` (widgets.color_bar)."""
    rgba = np.concatenate([ramp(name, 256), np.full((256, 1), 255, np.uint8)], 1)
    return pv.LookupTable(values=rgba)


class CloudView(QtWidgets.QWidget):
    """3D view of a point cloud with colour modes, point size, overlays and camera presets."""

    layer_requested = QtCore.pyqtSignal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.plotter = CloudInteractor(self, auto_update=False)
        # An OpenGL widget makes Qt composite its whole top-level window in GL on every repaint
        # of any widget (in software GL a status-label change cost ~20 ms, the silhouette
        # panels ~180 ms). In a native child window of its own, only the 3D view is composited.
        self.plotter.interactor.setAttribute(QtCore.Qt.WA_DontCreateNativeAncestors)
        self.plotter.interactor.setAttribute(QtCore.Qt.WA_NativeWindow)
        self.plotter.set_background(BACKGROUND)  # colour only: the renderers stay opaque
        self.cloud: pv.PolyData | None = None
        self._actor = None
        self._values: np.ndarray | None = None  # per-point loss for the loss colour mode
        self._layers: dict[str, object] = {}  # name -> actor
        self._detached = None  # a BackgroundPlotter showing the same cloud
        self._detached_actor = None
        self._camera_set = False
        self.color_mode = COLOR_MODES[0]
        self.point_size = 4
        self._luts = {name: _lookup_table(name) for name in RAMPS}
        self.color_bar = ColorBar()

        self.toolbar = QtWidgets.QWidget()  # a widget, so an owner can place it elsewhere
        bar = QtWidgets.QHBoxLayout(self.toolbar)
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QtWidgets.QLabel("Colour"))
        self.color_box = QtWidgets.QComboBox()
        self.color_box.addItems(COLOR_MODES)
        self.color_box.setToolTip("colour the points by their silhouette loss (averaged over "
                                  "views), by distance from the 3D camera, or plainly")
        self.color_box.currentTextChanged.connect(self.set_color_mode)
        bar.addWidget(self.color_box)
        bar.addWidget(QtWidgets.QLabel("Size"))
        self.size_box = QtWidgets.QSpinBox()
        self.size_box.setRange(1, 20)
        self.size_box.setValue(self.point_size)
        self.size_box.setToolTip("point size in screen pixels")
        self.size_box.valueChanged.connect(self.set_point_size)
        bar.addWidget(self.size_box)
        bar.addSpacing(8)
        self.layer_boxes: dict[str, QtWidgets.QCheckBox] = {}
        for name, (label, tip) in LAYERS.items():
            box = QtWidgets.QCheckBox(label)
            box.setToolTip(tip)
            box.toggled.connect(lambda on, n=name: self._toggle_layer(n, on))
            self.layer_boxes[name] = box
            bar.addWidget(box)
        bar.addStretch(1)
        reset = QtWidgets.QToolButton(text="Reset view")
        reset.setToolTip("fit the camera to the cloud")
        reset.clicked.connect(self.reset_camera)
        bar.addWidget(reset)
        for name in VIEWS:
            b = QtWidgets.QToolButton(text=name)
            b.setToolTip(f"look at the cloud from the {name.lower()}")
            b.clicked.connect(lambda _=False, n=name: self.view_from(n))
            bar.addWidget(b)
        self.detach_button = QtWidgets.QToolButton(text="Detach")
        self.detach_button.setToolTip("open the 3D view in a separate window (kept in sync)")
        self.detach_button.clicked.connect(self.detach)
        bar.addWidget(self.detach_button)

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.toolbar)
        lay.addWidget(self.plotter.interactor, 1)
        lay.addWidget(self.color_bar)
        self.color_bar.hide()

    # -- the cloud -------------------------------------------------------------------------
    def set_points(self, points: np.ndarray, values: np.ndarray | None = None) -> None:
        """Show ``points`` (J,3); ``values`` (J,) colour them in the loss mode; the render
        is queued (painted by the event loop)."""
        pts = np.asarray(points, np.float32)
        if self.cloud is None or self.cloud.n_points != len(pts):
            self._build(pts)
        else:
            self.cloud.points[:] = pts
            self.cloud.GetPoints().Modified()
        self._values = None if values is None else np.asarray(values, np.float32)
        self._recolor()
        if not self._camera_set and len(pts):
            self.reset_camera()
            self._camera_set = True
        self.refresh()

    def _build(self, pts: np.ndarray) -> None:
        if self._actor is not None:
            self.plotter.remove_actor(self._actor, render=False)
        if self._detached_actor is not None and self._detached is not None:
            self._detached.remove_actor(self._detached_actor, render=False)
        self.cloud = pv.PolyData(pts.copy())
        self.cloud.point_data["c"] = np.zeros(len(pts), np.float32)
        self._actor = self._add_cloud(self.plotter)
        if self._detached is not None:
            self._detached_actor = self._add_cloud(self._detached)

    def _add_cloud(self, plotter: object) -> object:
        actor = plotter.add_mesh(self.cloud, scalars="c", point_size=self.point_size,
                                 style="points", show_scalar_bar=False, reset_camera=False,
                                 render=False, lighting=False)
        actor.mapper.lookup_table = self._luts.get(self.color_mode, self._luts["depth"])
        return actor

    def _actors(self) -> list:
        return [a for a in (self._actor, self._detached_actor) if a is not None]

    def _recolor(self) -> None:
        if self.cloud is None:
            return
        mode = self.color_mode
        if mode == "plain" or (mode == "silhouette loss" and self._values is None):
            for a in self._actors():
                a.mapper.scalar_visibility = False
                a.prop.color = PLAIN
            self.color_bar.set_ramp(None)
            return
        if mode == "depth":
            eye = np.asarray(self.plotter.camera.position, np.float32)
            vals = np.linalg.norm(np.asarray(self.cloud.points) - eye, axis=1)
        else:
            vals = self._values
        arr = self.cloud.point_data["c"]
        arr[:] = vals
        self.cloud.GetPointData().GetArray("c").Modified()
        lo, hi = (float(np.min(vals)), float(np.percentile(vals, 98))) if len(vals) else (0, 1)
        if mode == "silhouette loss":  # 0 = inside every silhouette; full red from LOSS_FULL px
            lo, hi = 0.0, max(hi, LOSS_FULL)
        if hi <= lo:
            hi = lo + 1e-6
        lut = self._luts[mode]
        for a in self._actors():
            if a.mapper.GetLookupTable() is not lut:
                a.mapper.lookup_table = lut
            a.mapper.scalar_visibility = True
            a.mapper.scalar_range = (lo, hi)
        self.color_bar.set_ramp(mode)
        self.color_bar.set_range(lo, hi)

    def set_color_mode(self, mode: str) -> None:
        self.color_mode = mode
        with QtCore.QSignalBlocker(self.color_box):
            self.color_box.setCurrentText(mode)
        self._recolor()
        self.refresh()

    def set_point_size(self, size: int) -> None:
        self.point_size = int(size)
        with QtCore.QSignalBlocker(self.size_box):
            self.size_box.setValue(self.point_size)
        for a in self._actors():
            a.prop.point_size = self.point_size
        self.refresh()

    def clear(self) -> None:
        """Remove the cloud and all overlays (a new scene)."""
        for name in list(self._layers):
            self.remove_layer(name)
        if self._actor is not None:
            self.plotter.remove_actor(self._actor, render=False)
        self._actor = self.cloud = None
        self._camera_set = False
        self.refresh()

    def refresh(self) -> None:
        """Queue one render (of the detached window too)."""
        self.plotter.interactor.update()
        if self._detached is not None:
            self._detached.render()

    # -- overlays --------------------------------------------------------------------------
    def set_layer_points(self, name: str, points: np.ndarray, color: str = "#8a8f98",
                         size: float = 2.0) -> None:
        self._set_layer(name, pv.PolyData(np.asarray(points, np.float32)), color=color,
                        point_size=size, style="points", opacity=0.6)

    def set_layer_mesh(self, name: str, vertices: np.ndarray, faces: np.ndarray,
                       color: str = "#4fa3ff", opacity: float = 0.25) -> None:
        f = np.asarray(faces, np.int64)
        cells = np.hstack([np.full((len(f), 1), 3, np.int64), f]).ravel()
        self._set_layer(name, pv.PolyData(np.asarray(vertices, np.float32), cells), color=color,
                        opacity=opacity, style="wireframe")

    def set_layer_lines(self, name: str, segments: np.ndarray, color: str = "#ffb347") -> None:
        """``segments`` (N, 2, 3): line segments (e.g. camera frusta)."""
        seg = np.asarray(segments, np.float32).reshape(-1, 3)
        n = len(seg) // 2
        lines = np.hstack([np.full((n, 1), 2), np.arange(2 * n).reshape(n, 2)]).ravel()
        self._set_layer(name, pv.PolyData(seg, lines=lines), color=color, line_width=1.5)

    def _set_layer(self, name: str, mesh: pv.PolyData, **kw: object) -> None:
        self.remove_layer(name)
        actor = self.plotter.add_mesh(mesh, reset_camera=False, render=False, lighting=False, **kw)
        box = self.layer_boxes.get(name)
        actor.SetVisibility(bool(box is None or box.isChecked()))
        self._layers[name] = actor
        self.refresh()

    def remove_layer(self, name: str) -> None:
        actor = self._layers.pop(name, None)
        if actor is not None:
            self.plotter.remove_actor(actor, render=False)

    def has_layer(self, name: str) -> bool:
        return name in self._layers

    def set_layer_available(self, name: str, available: bool) -> None:
        box = self.layer_boxes[name]
        box.setEnabled(available)
        if not available:
            with QtCore.QSignalBlocker(box):
                box.setChecked(False)

    def _toggle_layer(self, name: str, on: bool) -> None:
        actor = self._layers.get(name)
        if actor is None:
            if on:
                self.layer_requested.emit(name)
            return
        actor.SetVisibility(on)
        self.refresh()

    # -- camera ----------------------------------------------------------------------------
    def _bounds(self) -> tuple[np.ndarray, float]:
        if self.cloud is not None and self.cloud.n_points:
            p = np.asarray(self.cloud.points)
            lo, hi = p.min(0), p.max(0)
        else:
            lo, hi = -np.full(3, 0.5), np.full(3, 0.5)
        return (lo + hi) / 2, float(max(np.linalg.norm(hi - lo), 1e-3))

    def view_from(self, name: str) -> None:
        direction, up = VIEWS[name]
        c, diag = self._bounds()
        d = np.asarray(direction) / np.linalg.norm(direction)
        cam = self.plotter.camera
        cam.focal_point = tuple(c)
        cam.position = tuple(c + d * diag * 2.2)
        cam.up = up
        self.plotter.reset_camera_clipping_range()
        self._recolor()
        self.refresh()

    def mark_camera_set(self) -> None:
        """Keep the camera as it is when the first cloud arrives or ``plotter.camera`` is
        first read (pyvista resets an unset camera then): a linked view's is set from outside."""
        self._camera_set = True
        self.plotter.camera_set = True

    def reset_camera(self) -> None:
        self.view_from("Front")
        self.plotter.camera.Azimuth(30)
        self.plotter.camera.Elevation(10)
        self.plotter.reset_camera_clipping_range()
        self.refresh()

    def restore_toolbar(self) -> None:
        """Put the toolbar back above the view (after an owner placed it elsewhere)."""
        if self.toolbar.parentWidget() is not self:
            self.layout().insertWidget(0, self.toolbar)

    # -- images ----------------------------------------------------------------------------
    def screenshot(self) -> np.ndarray:
        """(H, W, 3) uint8 image of the 3D view as rendered now."""
        return self.plotter.screenshot(return_img=True)

    def turntable(self, n: int = 36) -> list[np.ndarray]:
        """``n`` images of the view orbiting once around the cloud; the camera is restored."""
        cam = self.plotter.camera
        saved = (cam.position, cam.focal_point, cam.up)
        frames = []
        for _ in range(n):
            cam.Azimuth(360.0 / n)
            self._recolor()
            self.plotter.render()
            frames.append(self.screenshot())
        cam.position, cam.focal_point, cam.up = saved
        self.refresh()
        return frames

    # -- detached window -------------------------------------------------------------------
    def detach(self) -> None:
        """Open (or raise) a BackgroundPlotter window that shows the same cloud."""
        if self._detached is not None:
            self._detached.app_window.raise_()
            return
        from pyvistaqt import BackgroundPlotter

        bg = BackgroundPlotter(title="DRWR Studio — 3D view", auto_update=False,
                               window_size=(900, 700), editor=False)
        bg.set_background(BACKGROUND)
        self._detached = bg
        if self.cloud is not None:
            self._detached_actor = self._add_cloud(bg)
            self._recolor()
            bg.camera_position = self.plotter.camera_position
        bg.app_window.signal_close.connect(self._on_detached_closed)
        self.refresh()

    def _on_detached_closed(self) -> None:
        self._detached = None
        self._detached_actor = None

    def close_view(self) -> None:
        """Release VTK resources (call before the window goes away)."""
        if self._detached is not None:
            bg, self._detached = self._detached, None
            self._detached_actor = None
            bg.close()
        self.plotter.close()
