"""Menus and file actions of the main window (a mixin of :class:`app.window.MainWindow`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PyQt5 import QtWidgets

from .tasks import run_task

__all__ = ["MenuMixin", "MeshDialog"]

MAX_RECENT = 8
MESH_FILTER = "Meshes (*.obj *.ply *.stl *.off *.glb *.gltf);;All files (*)"
VIEW_FILTER = "Point clouds and meshes (*.ply *.obj *.xyz *.stl *.off *.glb *.gltf);;All files (*)"


class MeshDialog(QtWidgets.QDialog):
    """Views, resolution and camera layout for rendering a mesh into a scene."""

    def __init__(self, path: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Render silhouettes of a mesh")
        form = QtWidgets.QFormLayout(self)
        form.addRow(QtWidgets.QLabel(Path(path).name))
        self.views = QtWidgets.QSpinBox(minimum=1, maximum=200, value=8)
        self.views.setToolTip("number of cameras (silhouette views)")
        self.res = QtWidgets.QSpinBox(minimum=16, maximum=1024, value=64, singleStep=16)
        self.res.setToolTip("silhouette resolution in pixels (square)")
        self.layout_box = QtWidgets.QComboBox()
        self.layout_box.addItems(["fibonacci", "ring", "random"])
        self.layout_box.setToolTip("how the cameras are placed around the object")
        form.addRow("Views", self.views)
        form.addRow("Resolution", self.res)
        form.addRow("Layout", self.layout_box)
        bb = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Ok
                                        | QtWidgets.QDialogButtonBox.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)

    def values(self) -> dict[str, Any]:
        return {"views": self.views.value(), "res": self.res.value(),
                "layout": self.layout_box.currentText()}


class MenuMixin:
    """File menu, recent files, export and image saving."""

    def build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        self._add(m, "Run &demo", self.start_demo, "Ctrl+D")
        self._add(m, "&Open scene folder…", self.open_scene_dialog, "Ctrl+O")
        self._add(m, "Open &mesh…", self.open_mesh_dialog, "Ctrl+M")
        self._add(m, "Open point cloud or mesh to &view…", self.open_view_dialog)
        self.recent_menu = m.addMenu("&Recent files")
        m.addSeparator()
        self._add(m, "&Export cloud…", self.export_dialog, "Ctrl+E")
        self._add(m, "Save &screenshot…", self.screenshot_dialog, "Ctrl+Shift+S")
        self._add(m, "Save &turntable GIF…", self.turntable_dialog)
        self.record_action = self._add(m, "&Record 3D view…",
                                       lambda: self.recording.toggle_dialog())
        m.addSeparator()
        self._add(m, "&Quit", self.close, "Ctrl+Q")
        v = self.view_menu = mb.addMenu("&View")
        self._add(v, "&Reset camera", self.cloud_view.reset_camera, "R")
        self._add(v, "&Detach 3D view", self.cloud_view.detach)
        h = mb.addMenu("&Help")
        self._add(h, "&About", self._about)

    def _add(self, menu: QtWidgets.QMenu, text: str, slot: Any, shortcut: str = "") -> Any:
        act = menu.addAction(text)
        act.triggered.connect(lambda _=False: self._safe(slot))
        if shortcut:
            act.setShortcut(shortcut)
        return act

    def _safe(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # slots must not raise (PyQt5 aborts)
            self.show_error(f"{exc.__class__.__name__}: {exc}")
            return None

    def _about(self) -> None:
        QtWidgets.QMessageBox.about(
            self, "DRWR Studio",
            "DRWR Studio fits a 3D point cloud to multi-view silhouettes with known cameras "
            "(DRWR: differentiable renderer without rendering).\n\nWhile a fit runs the "
            "latest cloud is autosaved every 60 s to drwr_autosave.ply in the scene folder "
            "(or ~/.cache/drwr-studio/autosave.ply).")

    # -- opening ---------------------------------------------------------------------------
    def on_welcome_action(self, name: str) -> None:
        {"demo": self.start_demo, "open_scene": self.open_scene_dialog,
         "open_mesh": self.open_mesh_dialog,
         "open_dataset": self.train_mode.open_dataset_dialog,
         "follow_run": self.train_mode.open_run_dialog}[name]()

    def _load_async(self, build: Any, what: str, run: bool = True, recent: str = "") -> None:
        self.statusBar().showMessage(f"loading {what}…")

        run_task(build, lambda scene: self.start_fit(scene, run=run, recent=recent),
                 lambda msg: self.show_error(f"{what}: {msg}"))

    def start_fit(self, scene: Any, config: Any = None, run: bool = True,
                  recent: str = "") -> None:
        """Fit ``scene``; ``recent`` enters Recent files once the fit has started (a scene
        that cannot be fitted does not)."""
        self._pending_recent = recent
        self.controller.load(scene, config, run=run)

    def start_demo(self, run: bool = True) -> None:
        from core.io.demo import demo_scene

        self._load_async(demo_scene, "demo scene", run)

    def load_scene_path(self, path: str, run: bool = True) -> None:
        from core.formats.loaders import load_scene

        self._load_async(lambda: load_scene(path), str(path), run, recent=str(path))

    def open_scene_dialog(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open scene folder")
        if path:
            self.load_scene_path(path)

    def open_mesh_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open mesh", "", MESH_FILTER)
        if path:
            self.open_mesh(path)

    def open_mesh(self, path: str, values: dict[str, Any] | None = None) -> None:
        if values is None:
            dlg = MeshDialog(path, self)
            if not dlg.exec_():
                return
            values = dlg.values()

        def build() -> Any:
            from core.io.mesh_scene import make_scene

            return make_scene(path, gt_points=20000, **values)

        self._load_async(build, Path(path).name, True, recent=str(path))

    def open_view_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open point cloud or mesh", "",
                                                        VIEW_FILTER)
        if path:
            self.view_file(path)

    def view_file(self, path: str) -> None:
        """Show a point cloud or mesh without fitting. Only a file with something to show
        stops the running fit; otherwise the error says why and the fit goes on."""

        def load() -> tuple[str, Any]:
            ext = Path(path).suffix.lower()
            if ext in (".stl", ".off", ".glb", ".gltf", ".obj", ".ply"):
                try:
                    from core.io.mesh_scene import load_mesh

                    m = load_mesh(path)
                    verts, faces = np.asarray(m.vertices), np.asarray(m.faces)
                    if len(verts) and len(faces):
                        return "mesh", (verts, faces)
                    if ext not in (".obj", ".ply"):
                        raise ValueError("the mesh has no faces or no vertices to show")
                except Exception:
                    if ext not in (".obj", ".ply"):
                        raise
            from core.io.points import read_points

            pts = read_points(path)
            if not len(pts):
                raise ValueError("the file has no points to show")
            return "points", pts

        def done(res: tuple[str, Any]) -> None:
            kind, data = res
            self.controller.stop_worker()
            self.controller.scene = None
            self.run_controls.set_state("none")
            self.show_main()
            self.cloud_view.clear()
            self.panels.set_fields(np.zeros((0, 1, 1), np.float32))
            for name in ("gt", "hull", "frusta"):
                self.cloud_view.set_layer_available(name, False)
            if kind == "mesh":
                verts, faces = data
                self.cloud_view.set_points(verts)
                self.cloud_view.set_layer_mesh("view", verts, faces, color="#c8c8c8",
                                               opacity=1.0)
            else:
                self.cloud_view.set_color_mode("plain")
                self.cloud_view.set_points(data)
            self.setWindowTitle(f"DRWR Studio — {Path(path).name} (view only)")
            self.add_recent(str(path))

        run_task(load, done, lambda msg: self.show_error(f"{path}: {msg}"))

    # -- recent files ----------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        v = self.settings.value("recent", [])
        return [str(p) for p in (v if isinstance(v, list) else [v] if v else [])]

    def add_recent(self, path: str) -> None:
        items = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", items[:MAX_RECENT])
        self.refresh_recent()

    def refresh_recent(self) -> None:
        items = self.recent_files()
        self.recent_menu.clear()
        for p in items:
            self._add(self.recent_menu, p, lambda p=p: self.open_recent(p))
        self.recent_menu.setEnabled(bool(items))
        self.welcome.set_recent(items)

    def open_recent(self, path: str) -> None:
        p = Path(path)
        if p.is_dir():
            self.load_scene_path(path)
        elif p.suffix.lower() in (".xyz",) or not p.exists():
            self.view_file(path)
        else:
            self.open_mesh(path)

    # -- saving ----------------------------------------------------------------------------
    def read_paths(self) -> list[tuple[str, str]]:
        """(what, path) of everything the window reads now: the open scene's folder (or the
        mesh it was rendered from), the training's dataset, a followed run folder."""
        out: list[tuple[str, str]] = []
        scene = self.controller.scene
        if scene is not None and getattr(scene, "path", None):
            out.append(("scene", str(scene.path)))
        source = getattr(scene, "extra", {}).get("source") if scene is not None else None
        if isinstance(source, str) and Path(source).is_file():
            out.append(("mesh", source))
        mode = getattr(self, "train_mode", None)
        if mode is not None and mode.ds is not None:
            out.append(("dataset", str(mode.ds.root)))
        if mode is not None and mode.follower is not None:
            out.append(("run folder", str(mode.follower.run)))
        return out

    def check_save(self, path: str, what: str) -> None:
        """OutputClash (app.output_guard) when saving ``what`` to ``path`` would overwrite,
        or write inside, something the window reads."""
        from .output_guard import check_clash

        check_clash([(what, str(path), False)], self.read_paths(), reader="the window")

    def export_cloud(self, path: str) -> Path:
        """Write the latest snapshot's points (works while the fit runs) in the dataset's
        original frame, atomically."""
        self.check_save(path, "the exported cloud")
        return self.controller.export(path)

    def _save_dialog(self, title: str, default: str, filters: str, save: Any,
                     verb: str = "saved") -> None:
        """Ask for a file name, call ``save(path)`` (it may return the path written) and say
        so in the status bar."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, title, default, filters)
        if path:
            out = save(path)
            self.statusBar().showMessage(f"{verb} {path if out is None else out}", 5000)

    def export_dialog(self) -> None:
        self._save_dialog("Export cloud", "cloud.ply", "PLY (*.ply);;OBJ (*.obj);;XYZ (*.xyz)",
                          self.export_cloud, "exported")

    def save_screenshot(self, path: str) -> None:
        """Grab the whole window (3D view included) to a PNG."""
        self.check_save(path, "the screenshot")
        self.refresh_now()
        if not self.grab().save(str(path)):
            raise RuntimeError(f"could not write {path}")

    def screenshot_dialog(self) -> None:
        self._save_dialog("Save screenshot", "drwr.png", "PNG (*.png)", self.save_screenshot)

    def save_turntable(self, path: str, frames: int = 36) -> None:
        import imageio.v2 as imageio

        self.check_save(path, "the turntable")
        imgs = self.cloud_view.turntable(frames)
        imageio.mimsave(str(path), imgs, duration=0.08, loop=0)

    def turntable_dialog(self) -> None:
        self._save_dialog("Save turntable", "turntable.gif", "GIF (*.gif)", self.save_turntable)
