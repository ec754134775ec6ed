"""Readable window: every colouring keeps every point visible on the dark 3D background (and
a colour bar says what a colour means), the loss plot's legend stays off the curves, and the
welcome page starts a training or follows a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest


def test_every_ramp_colour_reads_on_the_background() -> None:
    from widgets.cloud_view import BACKGROUND, COLOR_MODES, PLAIN
    from widgets.color_bar import MIN_CONTRAST, RAMPS, contrast_ratio, ramp

    bg = np.array([int(BACKGROUND[i:i + 2], 16) for i in (1, 3, 5)])
    for mode in COLOR_MODES:
        cols = ramp(mode) if mode in RAMPS else np.array([[int(PLAIN[i:i + 2], 16)
                                                           for i in (1, 3, 5)]])
        assert contrast_ratio(cols, bg).min() >= MIN_CONTRAST, mode


def _shown_view(qtbot: Any) -> Any:
    """A 500×400 CloudView on screen."""
    from widgets.cloud_view import CloudView

    v = CloudView()
    qtbot.addWidget(v)
    v.resize(500, 400)
    v.show()
    qtbot.waitExposed(v)
    return v


@pytest.mark.parametrize("mode", ["silhouette loss", "depth", "plain"])
def test_points_inside_every_silhouette_are_drawn_bright(qtbot: Any, mode: str) -> None:
    """A cloud whose points all have loss 0 (the end of a good fit): every point pixel of
    the rendered view stands out from the background (viridis drew them near-black)."""
    from widgets.cloud_view import BACKGROUND
    from widgets.color_bar import contrast_ratio

    v = _shown_view(qtbot)
    pts = np.random.default_rng(0).normal(size=(400, 3)).astype(np.float32) * 0.3
    v.set_point_size(6)
    v.set_color_mode(mode)
    v.set_points(pts, np.zeros(len(pts), np.float32))
    v.plotter.render()
    img = v.screenshot().reshape(-1, 3).astype(int)
    bg = np.array([int(BACKGROUND[i:i + 2], 16) for i in (1, 3, 5)])
    drawn = img[np.abs(img - bg).sum(1) > 6]
    assert len(drawn) > 2000  # the points are there
    # every pixel that is not background: at least 3:1 against it (edges included)
    assert np.percentile(contrast_ratio(drawn, bg), 1) >= 3.0, mode
    if mode == "plain":
        assert v.color_bar.isHidden()
    else:
        assert not v.color_bar.isHidden()
        title, lo, hi = v.color_bar.labels()
        assert title and float(lo) < float(hi)
        if mode == "silhouette loss":
            assert float(lo) == 0.0 and float(hi) >= 1.0  # 0 = inside every silhouette
    v.close_view()


def test_colour_bar_follows_the_values(qtbot: Any) -> None:
    from widgets.cloud_view import CloudView

    v = CloudView()
    qtbot.addWidget(v)
    v.show()
    pts = np.random.default_rng(1).normal(size=(300, 3)).astype(np.float32)
    loss = np.linspace(0.0, 6.0, 300).astype(np.float32)
    v.set_points(pts, loss)
    _, lo, hi = v.color_bar.labels()
    assert (float(lo), float(hi)) == (0.0, pytest.approx(np.percentile(loss, 98), rel=1e-2))
    v.close_view()


def test_legend_stays_outside_the_curves(qtbot: Any) -> None:
    from widgets.loss_plot import LossPlot

    p = LossPlot()
    qtbot.addWidget(p)
    p.resize(700, 220)
    p.show()
    qtbot.waitExposed(p)
    p.set_names(("total", "silhouette", "repulsion"))
    it = np.arange(1, 101, dtype=float)[:, None]
    p.add_rows(np.hstack([it, 1 / it, 0.5 / it, 0.1 / it]))
    p.add_cd(50, 2.0)
    qtbot.wait(50)
    pi = p.plot.getPlotItem()
    legend = p.legend.sceneBoundingRect()
    curves = pi.vb.sceneBoundingRect()
    assert len(p.legend.items) == 4  # total, silhouette, repulsion, CD×100
    assert legend.height() > 0 and not legend.intersects(curves)


def test_welcome_opens_a_dataset_for_training_and_follows_a_run(
        window: Any, qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    from PyQt5 import QtWidgets

    from main import main
    from tests.train_fixtures import make_tiny_dataset

    ds = make_tiny_dataset(tmp_path / "ds", per_category=3, views=3, res=24, gt_points=300)
    run = tmp_path / "run"
    assert main(["train", str(ds), "--out", str(run), "--iterations", "3", "--val-every", "3",
                 "--points", "64", "--input-size", "32", "--width", "4", "--hidden", "32",
                 "--batch-size", "3", "--views-per-object", "2", "--workers", "0",
                 "--quiet", "--no-tensorboard"]) == 0
    answers = iter([str(ds), str(run)])
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory",
                        lambda *a, **k: next(answers))
    monkeypatch.setattr("app.train_mode.default_run_dir", lambda root: tmp_path / "win-run")
    tm = window.train_mode
    window.welcome.buttons["open_dataset"].click()
    qtbot.waitUntil(lambda: tm.active and tm.ds is not None, timeout=30000)
    assert Path(tm.ds.root) == ds and tm.dock.isVisible()
    assert window.stack.currentIndex() == 1  # the welcome page made way
    # the training's TrainConfig field is a check box in the parameter panel
    box = window.params.controls["tensorboard"]
    assert isinstance(box, QtWidgets.QCheckBox) and window.params.values()["tensorboard"] is True
    window.welcome.buttons["follow_run"].click()
    qtbot.waitUntil(lambda: tm.follower is not None, timeout=10000)
    assert "following" in tm.source_label.text()


def test_the_widget_gets_the_rendered_frame_pixel_for_pixel_and_opaque(qtbot: Any) -> None:
    """The frame Qt shows (the widget's framebuffer) is VTK's frame, pixel for pixel (the
    nearest-pixel copy), with alpha 255 everywhere (no separate alpha pass is needed)."""
    from PyQt5 import QtGui

    v = _shown_view(qtbot)
    pts = np.random.default_rng(1).normal(size=(300, 3)).astype(np.float32) * 0.3
    v.set_points(pts, np.random.default_rng(2).random(len(pts)).astype(np.float32))
    w = v.plotter.interactor
    w.repaint()
    shown = w.grabFramebuffer().convertToFormat(QtGui.QImage.Format_RGBA8888)
    h_, w_ = shown.height(), shown.width()
    rgba = np.frombuffer(shown.constBits().asstring(h_ * w_ * 4), np.uint8).reshape(h_, w_, 4)
    assert (rgba[..., 3] == 255).all()
    vtk_frame = v.screenshot()  # VTK's own read of its frame (H, W, 3)
    assert vtk_frame.shape[:2] == (h_, w_)
    assert np.abs(rgba[..., :3].astype(int) - vtk_frame.astype(int)).max() <= 1
    v.close_view()
