"""Widgets alone (plain numpy in), the gui_main entry point and the layering rule."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_param_panel_log_slider_and_debounce(qtbot: Any) -> None:
    from app.controller import param_specs
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
    assert s.zoom_dialog() is not None
    s.zoom_dialog().close()


def test_loss_plot_accumulates(qtbot: Any) -> None:
    from widgets.loss_plot import LossPlot

    lp = LossPlot()
    qtbot.addWidget(lp)
    lp.add_rows(np.array([[1, 3.0, 2.0, 1.0], [2, 2.5, 1.5, 1.0]]))
    lp.add_rows(np.zeros((0, 4)))
    lp.add_cd(2, 5.0)
    assert lp.history().shape == (2, 4)
    assert lp.cd_history().tolist() == [[2.0, 5.0]]


def test_frusta_segments_shape() -> None:
    from app.controller import frusta_segments
    from core.geometry.cameras import make_cameras

    K, R, t = make_cameras(3, 32)
    seg = frusta_segments(K, R, t, 32, 32)
    assert seg.shape == (24, 2, 3) and np.isfinite(seg).all()


def test_bad_scene_exits_2(qtbot: Any, tmp_path: Any, capsys: Any) -> None:
    from app.gui_main import run_gui

    code = run_gui(["--scene", str(tmp_path / "missing"), "--exit-after", "0.1"])
    assert code == 2
    assert "missing" in capsys.readouterr().err


def _imports(folder: str) -> set[str]:
    names = set()
    for path in (ROOT / folder).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_layering() -> None:
    assert not _imports("widgets") & {"torch", "core", "app"}
    assert not _imports("core") & {"PyQt5", "pyvista", "pyvistaqt", "vtk", "pyqtgraph",
                                   "app", "widgets"}
