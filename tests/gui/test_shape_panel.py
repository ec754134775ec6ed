"""The Shape panel widget and its wiring into the window (Shape dock, File → Export mesh)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import trimesh

from tests.gui.conftest import load_demo


def _ico(sub: int = 2) -> tuple[np.ndarray, np.ndarray]:
    s = trimesh.creation.icosphere(sub)
    return np.asarray(s.vertices), np.asarray(s.faces)


@pytest.mark.gl
def test_panel_shows_meshes_images_and_emits_degrees(qtbot: Any) -> None:
    from widgets.shape_panel import ShapePanel

    p = ShapePanel()
    qtbot.addWidget(p)
    p.resize(900, 500)
    p.show()
    qtbot.waitExposed(p)
    v, f = _ico()
    blank = p.screenshot()
    p.set_original(v * [1, 0.7, 0.5], f, v)
    p.set_images([("x", np.full((20, 40, 3), 200, np.uint8))])
    p.set_degree_range(10, 4)
    p.set_decoded(v * 0.9, f, 4)
    p.plotter.render()
    img = p.screenshot()
    assert (np.abs(img.astype(int) - blank.astype(int)).sum(2) > 30).mean() > 0.02
    first = np.asarray(p._decoded.points).copy()
    with qtbot.waitSignal(p.degree_changed, timeout=1000) as sig:
        p.slider.setValue(7)
    assert sig.args == [7] and p.degree_label.text() == "degree 7"
    p.set_decoded(v * 1.1, f, 7)  # same faces: updated in place
    assert not np.allclose(np.asarray(p._decoded.points), first)
    assert len(p._image_labels) == 1
    p.close_view()


def test_window_has_export_mesh_and_shape_dock(window: Any) -> None:
    texts = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    i = texts.index("&Export cloud…")
    assert texts[i + 1] == "Export &mesh…"
    views = [a.text() for a in window.menuBar().actions()[1].menu().actions()]
    assert "&Shape panel" in views
    assert window.shape_tab.dock.isHidden()
    with pytest.raises(RuntimeError, match="no cloud yet"):
        window.shape_tab.export_mesh("/tmp/never.obj")


def test_encode_a_mesh_file_and_move_the_degree(window: Any, qtbot: Any, tmp_path: Any) -> None:
    v, f = _ico(3)
    trimesh.Trimesh(v * [1.0, 0.7, 0.5], f).export(tmp_path / "ell.obj")
    tab = window.shape_tab
    tab.encode_file(str(tmp_path / "ell.obj"))
    qtbot.waitUntil(lambda: tab.data is not None, timeout=60000)
    assert tab.dock.isVisible() and "0 flipped" in tab.panel.status.text()
    low = np.asarray(tab.panel._decoded.points).copy()
    tab.panel.slider.setValue(20)
    high = np.asarray(tab.panel._decoded.points)
    assert not np.allclose(low, high)
    r = np.linalg.norm(high / [1.0, 0.7, 0.5], axis=1)  # near the ellipsoid
    assert np.abs(r - 1).max() < 0.05


def test_encode_a_torus_file_repairs_it(window: Any, qtbot: Any, tmp_path: Any) -> None:
    trimesh.creation.torus(1.0, 0.3).export(tmp_path / "torus.obj")
    tab = window.shape_tab
    tab.encode_file(str(tmp_path / "torus.obj"))
    qtbot.waitUntil(lambda: tab.data is not None, timeout=90000)
    assert "closed with a" in tab.panel.status.text()


def test_export_mesh_of_the_running_fit(window: Any, qtbot: Any, tmp_path: Any) -> None:
    load_demo(window, qtbot, run=False)
    out = tmp_path / "demo.ply"
    window.shape_tab.export_mesh(str(out))
    qtbot.waitUntil(lambda: window.shape_tab.last_message != "", timeout=120000)
    assert out.is_file() and "closed manifold" in window.shape_tab.last_message
    back = trimesh.load(out, force="mesh", process=False)
    assert back.is_watertight
