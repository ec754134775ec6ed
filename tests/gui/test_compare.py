"""Compare mode: a second run of the scene beside the first (two workers, two linked 3D views,
one metrics table, both clouds in the silhouette panels), its SPEC on the command line and
the second cloud's export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt5 import QtWidgets

from tests.gui.conftest import J, drag, load_demo, went_round


def second(w: Any) -> Any:
    return w.compare.controller


def it(ctl: Any) -> int:
    return ctl.worker.job.iteration


@pytest.fixture
def comparing(window: Any, qtbot: Any) -> Any:
    """The demo fit running, compared with beta=1,sigma=2 (both running)."""
    load_demo(window, qtbot, run=True)
    window.compare.start("beta=1,sigma=2", run=True)
    qtbot.waitUntil(lambda: window.compare.frames_drawn > 0
                    and second(window).state() == "running", timeout=30000)
    return window


def test_both_workers_run_and_leaving_joins_the_second_thread(comparing: Any,
                                                              qtbot: Any) -> None:
    w = comparing
    main, ctl = w.controller, second(w)
    assert main.partner is ctl and ctl.thread is not main.thread
    assert ctl.worker.job is not main.worker.job and ctl.scene is main.scene
    assert (ctl.config.beta, ctl.config.sigma, ctl.config.points) == (1.0, 2.0, J)
    assert main.config.beta == 3.0  # the demo's preset: the first run keeps its settings
    assert ctl.worker.autosave_s == 0  # the autosave file is the first run's
    a0, b0 = it(main), it(ctl)
    qtbot.waitUntil(lambda: it(main) > a0 + 2 and it(ctl) > b0 + 2, timeout=20000)
    # the second cloud on screen, in the table and over the panels
    assert w.views.count() == 2 and w.compare.view.cloud.n_points == J
    qtbot.waitUntil(lambda: w.compare.table.text(1, "cd") != "–"
                    and w.compare.table.text(0, "cd") != "–", timeout=20000)
    assert w.compare.table.text(1, "iteration") != "–"
    qtbot.waitUntil(lambda: w.panels.panels[0].n_overlay_inside
                    + w.panels.panels[0].n_overlay_outside > 0, timeout=10000)

    # Pause, Step, Run drive both runs
    w.run_controls.buttons["pause"].click()
    qtbot.waitUntil(lambda: main.state() == "paused" and ctl.state() == "paused", timeout=5000)
    went_round(main.worker, qtbot)
    went_round(ctl.worker, qtbot)
    a1, b1 = it(main), it(ctl)
    went_round(ctl.worker, qtbot)
    assert (it(main), it(ctl)) == (a1, b1)
    qtbot.waitUntil(w.run_controls.buttons["step"].isEnabled, timeout=3000)
    w.run_controls.buttons["step"].click()
    qtbot.waitUntil(lambda: (it(main), it(ctl)) == (a1 + 1, b1 + 1), timeout=5000)
    w.run_controls.buttons["run"].click()
    qtbot.waitUntil(lambda: it(main) > a1 + 2 and it(ctl) > b1 + 2, timeout=20000)

    thread = ctl.thread
    assert w.compare.leave()
    assert thread.isFinished() and not thread.isRunning()
    assert ctl.worker is None and main.partner is None and w.compare.controller is None
    assert w.views.count() == 1 and w.cloud_view.toolbar.parentWidget() is w.cloud_view
    assert w.panels.panels[0].n_overlay_inside == 0 == w.panels.panels[0].n_overlay_outside
    assert main.state() == "running"  # the first run goes on alone
    a2 = it(main)
    qtbot.waitUntil(lambda: it(main) > a2 + 2, timeout=20000)


def test_closing_or_a_new_scene_ends_compare_mode(comparing: Any, qtbot: Any) -> None:
    w = comparing
    old = second(w).thread
    load_demo(w, qtbot, run=False)  # opening a scene stops both runs first
    assert old.isFinished() and w.compare.controller is None and w.views.count() == 1
    w.compare.start("seed=3", run=True)
    qtbot.waitUntil(lambda: second(w).state() == "running", timeout=30000)
    threads = (w.controller.thread, second(w).thread)
    w.close()
    assert all(t.isFinished() for t in threads)


def test_live_changes_and_reset_reach_the_second_run_except_its_spec(comparing: Any,
                                                                    qtbot: Any) -> None:
    w = comparing
    ctl = second(w)
    w.controller.set_live({"beta": 5.0, "lr": 0.02})
    qtbot.waitUntil(lambda: w.controller.worker.job.config.lr == 0.02
                    and ctl.worker.job.config.lr == 0.02, timeout=5000)
    went_round(ctl.worker, qtbot)
    assert ctl.worker.job.config.beta == 1.0  # SPEC's own field keeps SPEC's value
    w.controller.command("reset", {"points": 200})
    qtbot.waitUntil(lambda: ctl.worker.job.snapshot().points.shape == (200, 3)
                    and w.controller.worker.job.snapshot().points.shape == (200, 3),
                    timeout=20000)
    assert (ctl.config.points, ctl.config.beta, ctl.config.sigma) == (200, 1.0, 2.0)


def test_a_finished_run_sits_out_run_and_pause(window: Any, qtbot: Any) -> None:
    w = window
    load_demo(w, qtbot, run=True)
    w.compare.start("iterations=100000,beta=1", run=True)
    ctl = second(w)
    qtbot.waitUntil(lambda: ctl.state() == "running", timeout=30000)
    w.controller.set_live({"iterations": it(w.controller) + 2})  # A finishes, B goes on
    qtbot.waitUntil(lambda: w.controller.state() == "done", timeout=10000)
    done_at = it(w.controller)
    assert ctl.state() == "running" and ctl.config.iterations == 100000
    pause, run = w.run_controls.buttons["pause"], w.run_controls.buttons["run"]
    qtbot.waitUntil(pause.isEnabled, timeout=3000)  # the controls follow the running run
    pause.click()
    qtbot.waitUntil(lambda: ctl.state() == "paused", timeout=5000)
    assert w.controller.state() == "done"
    qtbot.waitUntil(run.isEnabled, timeout=3000)
    run.click()
    qtbot.waitUntil(lambda: ctl.state() == "running", timeout=5000)
    went_round(w.controller.worker, qtbot)
    assert w.controller.state() == "done" and it(w.controller) == done_at  # not extended


def test_export_compare_writes_the_second_cloud(comparing: Any, qtbot: Any,
                                                tmp_path: Path) -> None:
    from core.io.points import read_points

    w = comparing
    w.run_controls.buttons["pause"].click()
    qtbot.waitUntil(lambda: second(w).state() == "paused", timeout=5000)
    went_round(second(w).worker, qtbot)
    a = read_points(w.export_cloud(str(tmp_path / "a.ply")))
    b = read_points(w.compare.export(str(tmp_path / "b.xyz")))
    assert b.shape == (J, 3) and np.isfinite(b).all()
    assert np.allclose(b, second(w).latest_points(), atol=1e-5)
    assert not np.allclose(a, b, atol=1e-3)  # the second run's cloud, not the first's
    w.compare.leave()
    with pytest.raises(RuntimeError, match="compare mode is off"):
        w.compare.export(str(tmp_path / "c.ply"))


def test_a_bad_spec_starts_nothing(window: Any, qtbot: Any, monkeypatch: Any) -> None:
    with pytest.raises(RuntimeError, match="open a scene"):
        window.compare.start("beta=3")
    load_demo(window, qtbot, run=False)
    from app.compare_spec import SpecError

    with pytest.raises(SpecError, match="unknown field 'bogus'"):
        window.compare.start("bogus=3")
    assert window.compare.controller is None and window.controller.partner is None
    assert window.views.count() == 1
    # View → Compare with… asks for SPEC: a bad one is reported, a good one starts
    answers = iter([("bogus=3", True), ("beta=2", True)])
    monkeypatch.setattr(QtWidgets.QInputDialog, "getText", lambda *a, **k: next(answers))
    action = next(a for a in window.view_menu.actions() if a.text() == "&Compare with…")
    action.trigger()
    assert "compare: unknown field 'bogus'" in window.last_error
    assert window.compare.controller is None
    action.trigger()
    assert window.compare.controller.config.beta == 2.0 and window.views.count() == 2
    assert window.compare.leave_action.isEnabled()


@pytest.mark.gl
def test_linked_cameras_follow_each_other(comparing: Any, qtbot: Any) -> None:
    from widgets.linked_views import camera_pose

    w = comparing
    a, b = w.cloud_view, w.compare.view
    assert camera_pose(a.plotter.camera) == camera_pose(b.plotter.camera)
    before = camera_pose(b.plotter.camera)
    # a left-button drag on A's 3D view rotates A's camera; B's follows
    drag(a.plotter.interactor, 90, 25)
    moved = camera_pose(a.plotter.camera)
    assert moved[0] != pytest.approx(before[0], abs=1e-3)  # the drag moved A's camera
    assert camera_pose(b.plotter.camera) == moved
    # and the other way round: B's camera moved in code moves A's
    b.plotter.camera.Elevation(25)
    assert camera_pose(a.plotter.camera) == camera_pose(b.plotter.camera) != moved
    # both views draw their cloud from there
    w.compare.refresh_now()
    w.refresh_now()
    bg = np.array([0x1D, 0x20, 0x25])
    for view in (a, b):
        img = view.screenshot()
        assert (np.abs(img[..., :3].astype(int) - bg).sum(-1) > 30).sum() > 200
    link = w.compare._link
    w.compare.leave()
    assert link._observers == []  # A's camera no longer reaches for the closed view


def test_panels_draw_the_second_cloud_in_its_colours(qtbot: Any) -> None:
    from widgets.silhouette_panels import (BOTH_INSIDE, INSIDE, OUTSIDE, OVERLAY_INSIDE,
                                           OVERLAY_OUTSIDE, SilhouettePanel)

    p = SilhouettePanel(0, size=64, dot=1)
    qtbot.addWidget(p)
    p.set_field(np.zeros((16, 16), np.float32))
    # A: inside at (2,2) and (5,5), outside at (9,9); B: inside at (5,5) (shared) and
    # (12,3), outside at (3,12); B's inside dot on A's outside one (9,9) leaves it red
    p.set_points(np.array([[2, 2], [5, 5], [9, 9]], np.float32), np.array([1, 1, 0], bool))
    p.set_overlay(np.array([[5, 5], [12, 3], [3, 12], [9, 9]], np.float32),
                  np.array([1, 1, 0, 1], bool))

    def colour(u: int, v: int) -> tuple[int, int, int]:
        """The shown colour at field pixel (u, v): 4 display pixels per field pixel."""
        c = int(p._rgb[int((v + 0.5) * 4), int((u + 0.5) * 4)])  # 0xffRRGGBB
        return (c >> 16) & 255, (c >> 8) & 255, c & 255

    assert colour(2, 2) == INSIDE and colour(5, 5) == BOTH_INSIDE
    assert colour(12, 3) == OVERLAY_INSIDE and colour(3, 12) == OVERLAY_OUTSIDE
    assert colour(9, 9) == OUTSIDE
    assert (p.n_overlay_inside, p.n_overlay_outside, p.overlay_label) == (3, 1, "1 out")
    p.set_overlay(None)
    assert colour(12, 3) == (0, 0, 0) and p.overlay_label == ""


def test_gui_main_compare_and_export_compare(qtbot: Any, tmp_path: Path) -> None:
    from core.io.points import read_points

    # the full window in its own process (its exit must not touch this test session's)
    a, b, shot = tmp_path / "a.ply", tmp_path / "b.ply", tmp_path / "cmp.png"
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, str(root / "main.py"), "--demo", "--points", "64",
                          "--compare", "beta=0,seed=5", "--export", str(a), "--export-compare",
                          str(b), "--screenshot", str(shot), "--exit-after", "8"],
                         capture_output=True, text=True, timeout=180, cwd=root)
    assert res.returncode == 0, res.stderr[-2000:]
    pa, pb = read_points(a), read_points(b)
    assert pa.shape == pb.shape == (64, 3) and not np.allclose(pa, pb, atol=1e-3)
    assert shot.stat().st_size > 10_000


def test_the_second_view_is_drawn_with_the_first_not_every_other_frame(comparing: Any,
                                                                       qtbot: Any) -> None:
    """B's worker is asked for its next frame as soon as one is drawn, so that one is ready
    when A's next frame is drawn (without the request, B drew every other A frame)."""
    w = comparing
    a0, b0 = w.frames_drawn, w.compare.frames_drawn
    qtbot.waitUntil(lambda: w.frames_drawn >= a0 + 12, timeout=60000)
    a, b = w.frames_drawn - a0, w.compare.frames_drawn - b0
    assert b >= 0.75 * a, (a, b)
