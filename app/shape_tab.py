"""Wiring of the Shape panel and File → Export mesh into the main window.

:func:`install_shape_tab` adds a dock with :class:`widgets.shape_panel.ShapePanel` (hidden until
used; View → Shape panel), a File menu action "Export mesh…" after "Export cloud…", and closes
the panel's 3D view with the window. Meshing and encoding run in a worker thread
(``app.tasks.run_task``); the degree slider decodes on the GUI thread from the stored
coefficients and a basis evaluated once on the icosphere (a (V, K) @ (K, 3) product).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from PyQt5 import QtCore, QtWidgets

from widgets.shape_panel import ShapePanel

from .tasks import run_task

__all__ = ["MAX_DEGREE", "SHAPE_GRID", "SUBDIVISIONS", "ShapeTab", "install_shape_tab"]

MAX_DEGREE = 30  # the slider's range; the code is fitted once at this degree
START_DEGREE = 12
SUBDIVISIONS = 4  # decoded icosphere: 5120 faces
SHAPE_GRID = 64  # grid of the mesh (and of its genus-0 repair) that the panel encodes


def _cloud_and_scene(window: Any) -> tuple[np.ndarray, Any]:
    pts = window.controller.latest_points()
    if pts is None or window.controller.scene is None:
        raise RuntimeError("there is no cloud yet: open a scene and run the fit first")
    return np.asarray(pts, np.float64), window.controller.scene


def export_mesh_file(points: np.ndarray, scene: Any, path: str) -> str:
    """Mesh the cloud with the scene, write it (original coordinates); a status line."""
    from core.surface.mesh import mesh_from_cloud
    from core.surface.mesh_io import to_original_mesh, write_mesh
    from core.surface.metrics import mesh_silhouette_iou

    sm = mesh_from_cloud(points, scene)
    v, f = to_original_mesh(scene.extra, sm.vertices, sm.faces)
    write_mesh(path, v, f)
    iou, _, _ = mesh_silhouette_iou(sm.vertices, sm.faces, scene)
    return (f"exported {len(sm.faces)} faces to {path}: {sm.topology.describe()}; "
            f"silhouette IoU min {iou.min():.3f}")


def encode_for_panel(vertices: np.ndarray, faces: np.ndarray,
                     colors: np.ndarray | None = None) -> dict[str, Any]:
    """Everything the panel shows, computed off the GUI thread."""
    from core.surface.encode import encode_mesh
    from core.surface.sh import icosphere, real_sh
    from core.surface.sh_images import amplitude_grid, amplitude_image

    enc = encode_mesh(vertices, faces, MAX_DEGREE, colors=colors, repair=True,
                      repair_res=SHAPE_GRID)
    dirs, ico = icosphere(SUBDIVISIONS)
    groups = [("|x, y, z|", slice(0, 3)), ("x", slice(0, 1)), ("y", slice(1, 2)),
              ("z", slice(2, 3))]
    if enc.code.has_color:
        groups.append(("colour", slice(3, 6)))
    images = [(name, amplitude_image(amplitude_grid(enc.code, ch), cell=3))
              for name, ch in groups]
    return {"enc": enc, "basis": real_sh(dirs, MAX_DEGREE), "ico": ico, "images": images}


class ShapeTab(QtCore.QObject):
    """The Shape dock and the Export mesh action of one window."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.panel = ShapePanel()
        self.dock = QtWidgets.QDockWidget("Shape", window)
        self.dock.setObjectName("shape_dock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(QtCore.Qt.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.data: dict[str, Any] | None = None
        self.busy = False
        self.last_message = ""
        self.panel.encode_requested.connect(self._on_encode_requested)
        self.panel.degree_changed.connect(self.show_degree)
        self._add_actions()
        window.installEventFilter(self)

    # -- menus -----------------------------------------------------------------------------
    def _add_actions(self) -> None:
        w = self.window
        file_menu = w.menuBar().actions()[0].menu()
        acts = file_menu.actions()
        after = next((i for i, a in enumerate(acts) if a.text().startswith("&Export cloud")),
                     len(acts) - 1)
        self.export_action = QtWidgets.QAction("Export &mesh…", w)
        self.export_action.setShortcut("Ctrl+Shift+E")
        self.export_action.triggered.connect(lambda _=False: w._safe(self.export_dialog))
        before = acts[after + 1] if after + 1 < len(acts) else None
        file_menu.insertAction(before, self.export_action)
        view_menu = w.menuBar().actions()[1].menu()
        toggle = self.dock.toggleViewAction()
        toggle.setText("&Shape panel")
        view_menu.addAction(toggle)

    def export_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.window, "Export mesh", "mesh.obj",
            "OBJ (*.obj);;PLY (*.ply);;STL (*.stl);;GLB (*.glb)")
        if path:
            self.export_mesh(path)

    def export_mesh(self, path: str) -> None:
        """Mesh the latest cloud and write it, off the GUI thread; the status bar reports."""
        from core.surface.mesh_io import MESH_OUT_FORMATS

        if Path(path).suffix.lower() not in MESH_OUT_FORMATS:
            raise ValueError(f"{path}: mesh output must end in {', '.join(MESH_OUT_FORMATS)}")
        self.window.check_save(path, "the exported mesh")
        pts, scene = _cloud_and_scene(self.window)
        self.window.statusBar().showMessage(f"meshing {len(pts)} points…")
        run_task(lambda: export_mesh_file(pts, scene, path), self._report,
                 lambda msg: self.window.show_error(f"export mesh: {msg}"))

    def _report(self, msg: str) -> None:
        self.last_message = msg
        self.window.statusBar().showMessage(msg, 15000)

    # -- shape panel -----------------------------------------------------------------------
    def _on_encode_requested(self, source: str) -> None:
        try:
            if source == "file":
                path, _ = QtWidgets.QFileDialog.getOpenFileName(
                    self.window, "Encode mesh", "", "Meshes (*.obj *.ply *.stl *.off *.glb)")
                if path:
                    self.encode_file(path)
            else:
                self.encode_result()
        except Exception as exc:  # noqa: BLE001 (a slot must not raise: PyQt5 aborts)
            self.window.show_error(f"shape: {exc}")

    def encode_result(self) -> None:
        """Mesh the current cloud (grid SHAPE_GRID), repair to genus 0, encode."""
        pts, scene = _cloud_and_scene(self.window)

        def build() -> dict[str, Any]:
            from core.surface.mesh import mesh_from_cloud

            t = time.perf_counter()
            sm = mesh_from_cloud(pts, scene, res=SHAPE_GRID, cover=False)
            out = encode_for_panel(sm.vertices, sm.faces)
            out["enc"].times["mesh"] = time.perf_counter() - t - sum(out["enc"].times.values())
            return out

        self._start(build, f"the current cloud ({len(pts)} points)")

    def encode_file(self, path: str) -> None:
        """Encode a mesh file (repaired first when it is not a genus-0 closed manifold)."""
        def build() -> dict[str, Any]:
            from core.surface.mesh_io import load_surface

            m = load_surface(path)
            col = None
            if m.visual.kind == "vertex" and len(m.visual.vertex_colors) == len(m.vertices):
                col = np.asarray(m.visual.vertex_colors, np.float64)[:, :3] / 255.0
            return encode_for_panel(m.vertices, m.faces, col)

        self._start(build, Path(path).name)

    def _start(self, build: Any, what: str) -> None:
        if self.busy:
            return
        self.busy = True
        self.dock.show()
        self.panel.set_busy(True)
        self.panel.set_status(f"encoding {what}…")
        self._t0 = time.perf_counter()
        run_task(build, self._on_encoded, self._on_failed)

    def _on_failed(self, msg: str) -> None:
        self.busy = False
        self.panel.set_busy(False)
        self.panel.set_status(f"could not encode: {msg}")
        self.window.show_error(f"shape: {msg}")

    def _on_encoded(self, data: dict[str, Any]) -> None:
        self.busy = False
        self.panel.set_busy(False)
        self.data = data
        enc = data["enc"]
        sm = enc.sphere_map
        self.panel.set_original(sm.vertices, sm.faces, sm.sphere, enc.colors)
        self.panel.set_images(data["images"])
        self.panel.set_degree_range(MAX_DEGREE, START_DEGREE)
        self.show_degree(START_DEGREE)
        times = ", ".join(f"{k} {v:.1f} s" for k, v in enc.times.items())
        fixed = f"{enc.repaired}; " if enc.repaired else ""
        self.panel.set_status(
            f"{fixed}{len(sm.faces)} faces mapped in {sm.steps} flow steps, {sm.flipped} "
            f"flipped; fitted to degree {MAX_DEGREE} ({times}; total "
            f"{time.perf_counter() - self._t0:.1f} s)")

    def show_degree(self, degree: int) -> None:
        """Decode the stored code up to ``degree`` into the panel (GUI thread, ~ms)."""
        if self.data is None:
            return
        from core.surface.sh import decode

        v, _, col = decode(self.data["enc"].code, SUBDIVISIONS, degree, basis=self.data["basis"])
        self.panel.set_decoded(v, self.data["ico"], degree, col)

    def eventFilter(self, obj: Any, ev: Any) -> bool:
        if obj is self.window and ev.type() == QtCore.QEvent.Close:
            self.panel.close_view()
        return False


def install_shape_tab(window: Any) -> ShapeTab:
    """Add the Shape dock, View → Shape panel and File → Export mesh… to ``window``."""
    return ShapeTab(window)
