"""The main window on the demo scene: runs, live parameters, run controls, export, pixels."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from PyQt5 import QtCore

from tests.gui.conftest import J, load_demo, went_round


def it(w: Any) -> int:
    return w.controller.worker.job.iteration


def click(qtbot: Any, w: Any, name: str) -> None:
    """Click a run button once the GUI has caught up with the worker's state."""
    button = w.run_controls.buttons[name]
    qtbot.waitUntil(button.isEnabled, timeout=3000)
    qtbot.mouseClick(button, QtCore.Qt.LeftButton)


def test_welcome_page_without_scene(window: Any) -> None:
    assert window.stack.currentWidget() is window.welcome
    assert window.controller.state() == "none"
    assert not window.run_controls.buttons["run"].isEnabled()


def test_demo_runs_iterations(running: Any, qtbot: Any) -> None:
    qtbot.waitUntil(lambda: running.last_iteration >= 5, timeout=15000)
    assert running.stack.currentWidget() is running.splitter
    assert running.cloud_view.cloud.n_points == J
    names = running.controller.worker.job.loss_names
    qtbot.waitUntil(lambda: len(running.loss_plot.history()) > 0, timeout=5000)
    assert running.loss_plot.history().shape[1] == 1 + len(names)
    # the paper preset: total, silhouette, repulsion drawn; μ/ν terms (zero) hidden
    assert running.loss_plot.visible_names() == ["total", "silhouette", "repulsion"]
    qtbot.waitUntil(lambda: running.speed_label.text().endswith("it/s")
                    and running.speed_label.text()[0].isdigit(), timeout=5000)


def test_beta_slider_changes_running_fitter(running: Any, qtbot: Any) -> None:
    ctl = running.params.controls["beta"]
    ctl.slider.setValue(ctl.slider.maximum() // 2)  # beta range 0..20 -> 10
    want = ctl.value()
    assert want == pytest.approx(10.0, abs=0.05)
    qtbot.waitUntil(lambda: running.controller.worker.job.config.beta == pytest.approx(want),
                    timeout=3000)
    assert running.controller.state() == "running"


def test_pause_stops_and_run_resumes(running: Any, qtbot: Any) -> None:
    click(qtbot, running, "pause")
    qtbot.waitUntil(lambda: running.controller.state() == "paused", timeout=3000)
    i0 = it(running)
    went_round(running.controller.worker, qtbot)
    assert it(running) == i0
    click(qtbot, running, "run")
    qtbot.waitUntil(lambda: it(running) > i0, timeout=5000)


def test_step_advances_exactly_one(window: Any, qtbot: Any) -> None:
    load_demo(window, qtbot, run=False)
    qtbot.waitUntil(lambda: window.controller.state() == "paused", timeout=3000)
    i0 = it(window)
    click(qtbot, window, "step")
    qtbot.waitUntil(lambda: it(window) == i0 + 1, timeout=3000)
    went_round(window.controller.worker, qtbot)
    assert it(window) == i0 + 1
    qtbot.waitUntil(lambda: window.last_iteration == i0 + 1, timeout=3000)


def test_reset_applies_point_count(window: Any, qtbot: Any) -> None:
    load_demo(window, qtbot, run=False)
    window.params.controls["points"].spin.setValue(200)
    assert window.run_controls.buttons["reset"].text() == "Reset *"
    click(qtbot, window, "reset")
    qtbot.waitUntil(lambda: window.cloud_view.cloud is not None
                    and window.cloud_view.cloud.n_points == 200, timeout=5000)
    # the fit-ready signal and the first frame of the new cloud arrive independently
    qtbot.waitUntil(lambda: window.run_controls.buttons["reset"].text() == "Reset", timeout=3000)


def test_export_while_running(running: Any, qtbot: Any, tmp_path: Any) -> None:
    from core.io.points import read_points

    qtbot.waitUntil(lambda: it(running) >= 2, timeout=10000)
    before = running.controller.latest_points().copy()
    out = running.export_cloud(str(tmp_path / "cloud.ply"))
    after = running.controller.latest_points()
    assert running.controller.state() == "running"
    got = read_points(out)
    assert got.shape == (J, 3) and np.isfinite(got).all()
    # the cloud shown when it was asked for (float32 as written), not a blank or stale one
    assert any(np.allclose(got, p, atol=1e-6) for p in (before, after))
    assert not np.allclose(got, 0)


@pytest.mark.gl
def test_screenshot_shows_cloud_and_dots(running: Any, qtbot: Any, tmp_path: Any) -> None:
    from widgets.silhouette_panels import INSIDE, OUTSIDE

    qtbot.waitUntil(lambda: running.last_iteration >= 1, timeout=10000)
    running.refresh_now()
    img = running.cloud_view.screenshot()
    bg = np.array([0x1D, 0x20, 0x25])
    assert (np.abs(img[..., :3].astype(int) - bg).sum(-1) > 30).sum() > 200
    # the panels: dots drawn in the inside / outside colours
    panel = running.panels.panels[0]
    assert panel.n_inside + panel.n_outside == J  # every point drawn
    qimg = panel.grab().toImage().convertToFormat(4)  # Format_RGB32
    arr = np.frombuffer(qimg.constBits().asstring(qimg.byteCount()), np.uint8)
    arr = arr.reshape(qimg.height(), qimg.bytesPerLine() // 4, 4)[..., 2::-1]  # BGRA -> RGB
    near = lambda c: (np.abs(arr.astype(int) - np.array(c[:3])).sum(-1) < 90).sum()  # noqa: E731
    assert near(INSIDE) + near(OUTSIDE) > 20
    path = tmp_path / "shot.png"
    running.save_screenshot(str(path))
    assert path.stat().st_size > 10_000


def test_close_stops_thread(running: Any, qtbot: Any) -> None:
    thread = running.controller.thread
    assert thread.isRunning()
    t0 = time.perf_counter()
    running.close()
    assert not thread.isRunning()
    assert time.perf_counter() - t0 < 5


def test_overlays_gt_and_frusta(running: Any, qtbot: Any) -> None:
    cv = running.cloud_view
    cv.layer_boxes["gt"].setChecked(True)
    cv.layer_boxes["frusta"].setChecked(True)
    assert cv.has_layer("gt") and cv.has_layer("frusta")
    assert cv._layers["gt"].GetVisibility()
    cv.layer_boxes["gt"].setChecked(False)
    assert cv.has_layer("gt") and not cv._layers["gt"].GetVisibility()  # hidden, kept
    assert cv._layers["frusta"].GetVisibility()
    cv.view_from("Top")
    cam = cv.plotter.camera
    d = np.subtract(cam.position, cam.focal_point)
    assert d[2] > 0 and np.allclose(d[:2], 0, atol=1e-6 * np.linalg.norm(d))  # from above
    cv.set_color_mode("depth")
    assert cv.color_mode == "depth"
    cv.set_point_size(6)
    assert cv.point_size == 6 and cv.size_box.value() == 6


def test_errors_keep_cloud_and_report(running: Any, qtbot: Any, monkeypatch: Any) -> None:
    from core.fit.fitter import FitDiverged

    w = running.controller.worker

    def boom() -> dict:
        raise FitDiverged("the fit diverged at iteration 3 (non-finite loss)")

    qtbot.waitUntil(lambda: running.frames_drawn > 0, timeout=5000)
    monkeypatch.setattr(w.job, "step", boom)
    qtbot.waitUntil(lambda: "diverged" in running.last_error, timeout=5000)
    assert running.controller.state() == "stopped"
    assert running.controller.latest_points() is not None


def test_export_of_a_dataset_is_in_its_original_world(window: Any, qtbot: Any,
                                                      tmp_path: Any) -> None:
    """Dataset readers normalise the object; the GUI's export maps the cloud back."""
    from core.fit.config import apply_preset
    from core.io.demo import demo_scene
    from core.io.points import read_points

    scene = demo_scene()
    T = np.eye(4)
    T[:3, :3] *= 3.0
    T[:3, 3] = [10.0, -20.0, 5.0]
    scene.extra = {**scene.extra, "to_original": T.tolist()}
    window.controller.load(scene, apply_preset("drwr-paper", points=J, iterations=100_000),
                           run=False)
    qtbot.waitUntil(lambda: window.frames_drawn > 0, timeout=20000)
    pts = window.controller.latest_points()
    out = read_points(window.export_cloud(str(tmp_path / "cloud.ply")))
    assert np.allclose(out, 3.0 * pts + T[:3, 3], atol=1e-4)
