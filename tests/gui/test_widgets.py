"""Widgets alone (plain numpy in) and the gui_main entry point (the layering rule is checked
by tests/test_layering.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


def test_param_panel_log_slider_and_debounce(qtbot: Any) -> None:
    from app.param_specs import param_specs
    from widgets.param_panel import ParamPanel

    p = ParamPanel(param_specs())
    qtbot.addWidget(p)
    lr = p.controls["lr"]
    lr.slider.setValue(lr.slider.maximum())
    assert lr.value() == pytest.approx(0.1)
    lr.slider.setValue(0)
    assert lr.value() == pytest.approx(1e-5)  # the range minimum
    with qtbot.waitSignal(p.live_changed, timeout=1000) as sig:
        p.controls["beta"].spin.setValue(4.0)
        p.controls["sigma"].spin.setValue(2.0)
    assert sig.args[0] == {"lr": pytest.approx(1e-5), "beta": 4.0, "sigma": 2.0}  # one batch
    assert "repulsion" in p.controls["beta"].toolTip()
    with qtbot.waitSignal(p.pending_changed, timeout=1000):
        p.controls["init"].setCurrentText("box")


def test_silhouette_panels_layout_and_zoom(qtbot: Any) -> None:
    from widgets.silhouette_panels import SilhouettePanels

    s = SilhouettePanels(panel_size=100)
    qtbot.addWidget(s)
    s.resize(450, 300)
    s.show()
    s.set_fields(np.random.default_rng(0).random((5, 32, 32), dtype=np.float32))
    uv = np.random.default_rng(1).uniform(0, 31, (5, 50, 2)).astype(np.float32)
    inside = uv[..., 0] > 15
    s.set_projections(uv, inside)
    assert len(s.panels) == 5
    assert s.panels[0].n_outside == int((~inside[0]).sum())
    assert s.panels[0].n_inside == int(inside[0].sum())
    s.enlarge(2)
    dlg = s.zoom_dialog()
    assert dlg is not None and dlg.isVisible() and dlg.windowTitle() == "View 2"
    big = dlg.findChild(type(s.panels[0]))
    assert big.index == 2 and big.n_inside == s.panels[2].n_inside
    assert big.n_outside == s.panels[2].n_outside  # the enlarged panel shows view 2's points
    s.set_projections(uv, np.zeros_like(inside))  # live: the dialog follows
    assert big.n_inside == 0 and big.n_outside == 50
    dlg.close()
    assert s.zoom_dialog() is None


def test_loss_plot_accumulates(qtbot: Any) -> None:
    from widgets.loss_plot import LossPlot

    lp = LossPlot()
    qtbot.addWidget(lp)
    lp.add_rows(np.array([[1, 3.0, 2.0, 1.0], [2, 2.5, 1.5, 1.0]]))
    lp.add_rows(np.zeros((0, 4)))
    lp.add_cd(2, 5.0)
    assert lp.history().tolist() == [[1, 3.0, 2.0, 1.0], [2, 2.5, 1.5, 1.0]]
    assert lp.cd_history().tolist() == [[2.0, 5.0]]


def test_cd_axis_of_a_flat_curve_is_not_float_noise(qtbot: Any) -> None:
    from widgets.loss_plot import LossPlot, cd_range

    lo, hi = cd_range(np.array([2.3256404, 2.3256408, 2.3256406]))
    assert hi - lo == pytest.approx(1.2 * 0.05 * 2.3256408) and lo < 2.3256404 < 2.3256408 < hi
    lo, hi = cd_range(np.array([1.0, 3.0]))  # a real change keeps its own range
    assert (lo, hi) == pytest.approx((0.8, 3.2))
    lp = LossPlot()
    qtbot.addWidget(lp)
    for it, cd in ((50, 2.3256404), (150, 2.3256408), (200, 2.3256408)):
        lp.add_cd(it, cd)
    (_, _), (y0, y1) = lp._cd_vb.viewRange()
    assert y1 - y0 > 0.1  # not 4e-7


def test_loss_plot_draws_the_named_losses_and_hides_zero_series(qtbot: Any) -> None:
    from widgets.loss_plot import LossPlot

    lp = LossPlot()
    qtbot.addWidget(lp)
    lp.set_names(("total", "fit", "prior"))
    lp.add_rows(np.array([[1, 2.0, 1.0, 0.0], [2, 1.5, 0.5, 0.0]]))
    assert lp.visible_names() == ["total", "fit"]  # prior is zero: not drawn at 1e-12
    legend = [label.text for _, label in lp.plot.getPlotItem().legend.items]
    assert "prior" not in legend and "fit" in legend
    lp.add_rows(np.array([[3, 1.0, 0.4, 0.2]]))
    assert lp.visible_names() == ["total", "fit", "prior"]
    x, y = lp._curves["prior"].getData()
    assert x.tolist() == [1, 2, 3] and 10 ** y[-1] == pytest.approx(0.2)  # log axis
    lp.set_names(("a",))
    assert lp.visible_names() == [] and lp.history().shape == (0, 2)


def test_frusta_segments_reach_the_image_corners() -> None:
    """Per camera 8 segments: apex -> corner and corner -> next corner; the apex is the camera
    centre and the corners project (core.geometry.cameras.project_np) onto the image's outer
    pixel edges at the given depth."""
    from core.geometry.cameras import frusta_segments
    from core.geometry.cameras import camera_centers, make_cameras, project_np

    H, W, depth = 24, 32, 0.3
    K, R, t = make_cameras(3, 32, layout="random", seed=4)
    K[:, 1, 2] = (H - 1) / 2  # a non-square image
    seg = frusta_segments(K, R, t, H, W, depth).astype(np.float64).reshape(3, 4, 2, 2, 3)
    want_uv = np.array([[-0.5, -0.5], [W - 0.5, -0.5], [W - 0.5, H - 0.5], [-0.5, H - 0.5]])
    for i, C in enumerate(camera_centers(R, t)):
        apex, corner = seg[i, :, 0, 0], seg[i, :, 0, 1]  # (4, 3) each
        assert np.allclose(apex, C, atol=1e-5)
        assert np.allclose(seg[i, :, 1, 0], corner, atol=1e-6)  # rim starts at the corner
        assert np.allclose(seg[i, :, 1, 1], np.roll(corner, -1, 0), atol=1e-6)  # ends at next
        uv, z = project_np(corner, K[i : i + 1], R[i : i + 1], t[i : i + 1])
        assert np.allclose(uv[0], want_uv, atol=1e-3) and np.allclose(z[0], depth, atol=1e-6)


def test_bad_scene_exits_2(qtbot: Any, tmp_path: Any, capsys: Any) -> None:
    from app.gui_main import run_gui

    code = run_gui(["--scene", str(tmp_path / "missing"), "--exit-after", "0.1"])
    assert code == 2
    assert "missing" in capsys.readouterr().err
