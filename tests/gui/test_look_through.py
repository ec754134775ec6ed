"""Looking through an input camera: the 3D view's camera equals the view's projection (a
point lands on the pixel core.geometry.cameras.project_np gives, scaled to the render window,
and on the panel's pixel), the silhouette sits behind the cloud where the mask is, and any
other camera change leaves it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PyQt5 import QtCore, QtWidgets

from tests.gui.conftest import drag, load_demo

pytestmark = pytest.mark.gl

H, W = 48, 64  # a non-square image


def _cameras() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from core.geometry.cameras import make_cameras

    K, R, t = make_cameras(4, W, layout="random", seed=3)
    K[:, 0, 2] += 3.5  # principal point off the image centre
    K[:, 1, 2] = (H - 1) / 2 - 2.25
    K[:, 1, 1] *= 1.08  # fx != fy
    return K, R, t


def _view(qtbot: Any, size: tuple[int, int] = (700, 420)) -> Any:
    from widgets.cloud_view import CloudView

    view = CloudView()
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    return view


def _display(view: Any, pts: np.ndarray) -> np.ndarray:
    """(N, 2) display coordinates (x right, y up from the bottom) VTK gives world points."""
    ren = view.plotter.renderer
    out = []
    for p in pts:
        ren.SetWorldPoint(*p, 1.0)
        ren.WorldToDisplay()
        out.append(ren.GetDisplayPoint()[:2])
    return np.array(out)


def _expected(uv: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The image pixel coordinates uv (N, 2) letterboxed into a window of size (w, h): the
    image as large as fits, centred; display y counts up from the bottom."""
    w, h = size
    s = min(w / W, h / H)
    x = (w - W * s) / 2 + (uv[:, 0] + 0.5) * s
    y_down = (h - H * s) / 2 + (uv[:, 1] + 0.5) * s
    return np.stack([x, h - y_down], 1)


def _cloud() -> np.ndarray:
    return np.random.default_rng(0).uniform(-0.4, 0.4, (200, 3)).astype(np.float32)


def test_a_point_lands_on_its_projected_pixel(qtbot: Any) -> None:
    from core.geometry.cameras import project_np
    from widgets.look_through import LookThrough
    from widgets.silhouette_panels import SilhouettePanel

    view = _view(qtbot)
    pts = _cloud()
    view.set_points(pts)
    look = LookThrough(view)
    K, R, t = _cameras()
    mask = np.zeros((H, W), bool)
    for i in (1, 3):
        look.enter(i, K[i], R[i], t[i], mask)
        for new_size in ((520, 560), (700, 420)):  # as opened, then after two resizes
            size = tuple(view.plotter.render_window.GetSize())
            uv, z = project_np(pts[:12], K[i : i + 1], R[i : i + 1], t[i : i + 1])
            assert (z > 0).all()
            got, want = _display(view, pts[:12]), _expected(uv[0], size)
            assert np.abs(got - want).max() < 1.0, (i, size, np.abs(got - want).max())
            view.resize(*new_size)
            qtbot.waitUntil(lambda s=size: tuple(view.plotter.render_window.GetSize()) != s)
            QtWidgets.QApplication.processEvents()  # the camera follows the new aspect
        assert look.index == i
    # the panel draws the same point on the same image pixel
    w, h = view.plotter.render_window.GetSize()
    s = min(w / W, h / H)
    panel = SilhouettePanel(0, size=4 * W, dot=1)
    qtbot.addWidget(panel)
    panel.set_field(np.zeros((H, W), np.float32))
    uv, _ = project_np(pts[:1], K[3:4], R[3:4], t[3:4])
    panel.set_points(uv[0], np.ones(1, bool))
    rows, cols = np.nonzero(panel._rgb != panel._base)
    x, y_up = _display(view, pts[:1])[0]
    vtk_pixel = ((x - (w - W * s) / 2) / s, (h - y_up - (h - H * s) / 2) / s)  # image coords
    panel_pixel = (cols[0] / panel._scale, rows[0] / panel._scale)
    assert np.floor(vtk_pixel).tolist() == np.floor(panel_pixel).tolist()
    view.close_view()


def test_the_silhouette_is_drawn_behind_where_the_mask_is(qtbot: Any) -> None:
    from widgets.look_through import SILHOUETTE_RGB, LookThrough

    view = _view(qtbot, (640, 480))
    view.set_points(_cloud())
    K, R, t = _cameras()
    mask = np.zeros((H, W), bool)
    mask[6:30, 10:26] = True  # an L: a block and a bar, not symmetric either way
    mask[30:42, 10:50] = True
    look = LookThrough(view)
    look.enter(2, K[2], R[2], t[2], mask)
    view._actor.SetVisibility(False)  # the silhouette alone
    view.plotter.render()
    img = view.screenshot().astype(int)
    h, w = img.shape[:2]
    s = min(w / W, h / H)
    on = np.abs(img - np.array(SILHOUETTE_RGB)).sum(2) < 12
    ys, xs = np.mgrid[0:h, 0:w]
    u = np.floor((xs + 0.5 - (w - W * s) / 2) / s).astype(int)
    v = np.floor((ys + 0.5 - (h - H * s) / 2) / s).astype(int)
    inside_img = (u >= 0) & (u < W) & (v >= 0) & (v < H)
    want = np.zeros((h, w), bool)
    want[inside_img] = mask[v[inside_img], u[inside_img]]
    iou = (on & want).sum() / (on | want).sum()
    assert iou > 0.97, iou
    view.close_view()


def test_double_click_looks_through_and_interaction_leaves(window: Any, qtbot: Any) -> None:
    load_demo(window, qtbot, run=False)
    scene = window.controller.scene
    look = window.look_through
    panel = window.panels.panels[3]
    normal_angle = window.cloud_view.plotter.camera.GetViewAngle()
    qtbot.mouseDClick(panel, QtCore.Qt.LeftButton)
    assert look.index == 3
    assert not panel._click_timer.isActive()  # the double-click opens no enlarged panel
    assert window.look_through.look._plane is not None
    C = -scene.R[3].T @ scene.t[3]
    assert np.allclose(window.cloud_view.plotter.camera.GetPosition(), C, atol=1e-6)
    # a view button leaves, the normal view angle comes back
    qtbot.mouseClick(next(b for b in window.cloud_view.findChildren(QtWidgets.QToolButton)
                          if b.text() == "Side"), QtCore.Qt.LeftButton)
    assert look.index is None and look.look._plane is None
    assert window.cloud_view.plotter.camera.GetViewAngle() == pytest.approx(normal_angle)
    # so does a mouse drag in the 3D view
    look.look_through(5)
    assert look.index == 5
    before = np.array(window.cloud_view.plotter.camera.GetPosition())
    drag(window.cloud_view.plotter.interactor)
    assert look.index is None
    assert not np.allclose(window.cloud_view.plotter.camera.GetPosition(), before)
    # a single click still enlarges the panel
    qtbot.mouseClick(panel, QtCore.Qt.LeftButton)
    qtbot.waitUntil(lambda: window.panels.zoom_dialog() is not None, timeout=3000)
    with pytest.raises(ValueError, match=f"has {scene.n_views} views"):
        look.look_through(scene.n_views)


# the whole window in its own process (an app.exec_() inside this test session would leave
# the session's QApplication unusable for the window tests that follow)
_FLAG_PROBE = """
import sys
from app.gui_main import run_gui
from app.look_through import LookThroughControl
looked = []
original = LookThroughControl.look_through
def spy(self, index):
    original(self, index)
    looked.append((index, self.index))
LookThroughControl.look_through = spy
code = run_gui(sys.argv[1:])
print("LOOKED", looked, "CODE", code)
"""


def _run_window(*args: str) -> Any:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-c", _FLAG_PROBE, *args], cwd=root,
                          capture_output=True, text=True, timeout=300)


def test_look_through_flag_and_bad_view(tmp_path: Any) -> None:
    shot = tmp_path / "look.png"
    res = _run_window("--demo", "--points", "300", "--look-through", "1", "--exit-after", "2",
                      "--screenshot", str(shot))
    assert "LOOKED [(1, 1)] CODE 0" in res.stdout, res.stderr[-2000:]  # once, after a cloud
    assert shot.exists()
    for bad in ("-1", "99"):
        res = _run_window("--demo", "--look-through", bad, "--exit-after", "1")
        assert "CODE 2" in res.stdout and "--look-through" in res.stderr
