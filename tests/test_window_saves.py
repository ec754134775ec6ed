"""The window's saves (export cloud, screenshot, turntable, checkpoint, mesh) go through the
same output guard as the commands: nothing is written into what the window reads (the open
scene's folder, the mesh it was rendered from, the training's dataset, a followed run).
The menu code runs on a stand-in window, no display needed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("PyQt5.QtWidgets")

from app.output_guard import OutputClash  # noqa: E402
from app.window_menus import MenuMixin  # noqa: E402


class StandIn(MenuMixin):
    def __init__(self, scene=None, ds=None, follow=None) -> None:
        self.written: list[str] = []
        self.controller = SimpleNamespace(scene=scene, export=self.written.append)
        self.train_mode = SimpleNamespace(ds=ds, follower=follow)

    def refresh_now(self) -> None:
        raise AssertionError("the guard comes first")


def _folders(tmp_path: Path) -> dict[str, Path]:
    names = {"scene": "s1", "dataset": "ds", "run folder": "run1"}
    out = {what: tmp_path / name for what, name in names.items()}
    for p in out.values():
        p.mkdir()
    (tmp_path / "chair.obj").write_text("v 0 0 0\n")
    return out


def test_read_paths_lists_what_the_window_reads(tmp_path):
    f = _folders(tmp_path)
    scene = SimpleNamespace(path=f["scene"], extra={"source": str(tmp_path / "chair.obj")})
    win = StandIn(scene, SimpleNamespace(root=f["dataset"]), SimpleNamespace(run=f["run folder"]))
    assert win.read_paths() == [("scene", str(f["scene"])), ("mesh", str(tmp_path / "chair.obj")),
                                ("dataset", str(f["dataset"])),
                                ("run folder", str(f["run folder"]))]
    shape_scene = SimpleNamespace(path=None, extra={"source": "chair"})  # a bundled shape
    assert StandIn(shape_scene).read_paths() == []


@pytest.mark.parametrize("what", ["scene", "dataset", "run folder", "mesh"])
def test_saves_into_an_input_are_refused(tmp_path, what):
    f = _folders(tmp_path)
    mesh = tmp_path / "chair.obj"
    scene = SimpleNamespace(path=f["scene"] if what == "scene" else None,
                            extra={"source": str(mesh)} if what == "mesh" else {})
    win = StandIn(scene, SimpleNamespace(root=f["dataset"]) if what == "dataset" else None,
                  SimpleNamespace(run=f["run folder"]) if what == "run folder" else None)
    target = mesh if what == "mesh" else f[what] / "out.ply"
    for save in (win.export_cloud, win.save_screenshot, win.save_turntable):
        with pytest.raises(OutputClash, match="that the window reads"):
            save(str(target))
    assert win.written == [] and mesh.read_text() == "v 0 0 0\n"
    win.export_cloud(str(tmp_path / "elsewhere.ply"))
    assert win.written == [str(tmp_path / "elsewhere.ply")]
