"""Training mode's compare with a checkpoint (app/compare_checkpoint.py): a checkpoint's
prediction of the validation object shown (B) beside the window's training or followed run
(A), on a tiny make-dataset output (32², 4 objects per category) with a tiny network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.gui.test_train_mode import TINY_FLAGS, _config


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: Any) -> Path:
    from core.train.synth import make_dataset

    return make_dataset(tmp_path_factory.mktemp("cc") / "ds", per_category=4, views=3, res=32,
                        progress=False, workers=1, n_points=600)


@pytest.fixture(scope="module")
def runs(dataset: Path, tmp_path_factory: Any) -> tuple[Path, Path]:
    """Two CLI trainings on the dataset: 6 steps (seed 0) and 3 steps (seed 5)."""
    from main import main

    root = tmp_path_factory.mktemp("runs")
    for name, its, seed in (("one", "6", "0"), ("two", "3", "5")):
        assert main(["train", str(dataset), "--out", str(root / name), "--iterations", its,
                     "--val-every", "3", "--seed", seed, *TINY_FLAGS]) == 0
    return root / "one", root / "two"


def _cd(points: np.ndarray, scene: Any) -> str:
    from app.compare_metrics import score_cloud

    return f"{score_cloud(points, scene.gt_points)['cd']:.3f}"


def _b_points(w: Any) -> np.ndarray:
    return np.asarray(w.checkpoint_compare.view.cloud.points)


def _wait_b(w: Any, qtbot: Any, oid: str) -> None:
    cc = w.checkpoint_compare
    qtbot.waitUntil(lambda: cc.shown() is not None and cc.shown()["oid"] == oid
                    and cc.view.cloud is not None, timeout=30000)


def test_live_training_beside_a_checkpoint(window: Any, qtbot: Any, dataset: Path,
                                           runs: tuple[Path, Path], tmp_path: Path) -> None:
    from core.formats.datasets import read_dataset
    from core.train.predict import load_checkpoint

    ds = read_dataset(dataset)
    tm, c, cc = window.train_mode, window.controller, window.checkpoint_compare
    with pytest.raises(RuntimeError, match="training mode"):
        cc.start(runs[1] / "checkpoints" / "latest.pt")  # no training open yet
    tm.start(ds, run=False, config=_config(), run_dir=tmp_path / "run")
    qtbot.waitUntil(lambda: window.frames_drawn > 0, timeout=30000)
    ckpt = runs[1] / "checkpoints" / "latest.pt"
    cc.start(ckpt)
    first, other = ds.ids("val")[0], ds.ids("val")[2]
    _wait_b(window, qtbot, first)
    pred = load_checkpoint(ckpt, "cpu")
    want = pred.predict_scene(ds.scene(first), 0, refine=0)
    assert window.views.count() == 2 and cc.leave_action.isEnabled()
    np.testing.assert_allclose(_b_points(window), want, atol=1e-5)
    assert cc.table.text(1, "iteration") == "3"
    qtbot.waitUntil(lambda: cc.table.text(1, "cd") == _cd(want, ds.scene(first)),
                    timeout=20000)
    # A is the training: its row follows its steps, scored on the same object
    for _ in range(2):
        c.command("step")
    qtbot.waitUntil(lambda: cc.table.text(0, "iteration") == "2", timeout=30000)
    qtbot.waitUntil(lambda: cc.table.text(0, "cd") == _cd(window._last_frame.snapshot.points,
                                                          ds.scene(first)), timeout=20000)
    assert cc.table.text(1, "iteration") == "3"  # B is fixed

    # another object: both sides follow it
    tm.select_object(other)
    _wait_b(window, qtbot, other)
    want2 = pred.predict_scene(ds.scene(other), 0, refine=0)
    np.testing.assert_allclose(_b_points(window), want2, atol=1e-5)
    p0 = window.panels.panels[0]
    assert p0.n_overlay_inside + p0.n_overlay_outside > 0  # B's points over the silhouettes
    qtbot.waitUntil(lambda: cc.table.text(1, "cd") == _cd(want2, ds.scene(other)),
                    timeout=20000)
    qtbot.waitUntil(lambda: cc.table.text(0, "cd") == _cd(window._last_frame.snapshot.points,
                                                          ds.scene(other))
                    and cc.table.text(0, "iteration") == "2", timeout=20000)
    # back to the first object: B's prediction of it comes from the cache
    n = len(cc.predict_ms)
    tm.select_object(first)
    np.testing.assert_allclose(_b_points(window), want, atol=1e-5)
    assert len(cc.predict_ms) == n == 2

    # B's export is the checkpoint's prediction, in the dataset's original frame
    out = cc.export(str(tmp_path / "b.ply"))
    from core.io.points import read_points

    np.testing.assert_allclose(read_points(out), ds.scene(first).to_original(want), atol=1e-5)

    # leaving removes B; the training goes on alone
    cc.leave()
    assert cc.view is None and cc.table is None and window.views.count() == 1
    assert window.cloud_view.toolbar.parentWidget() is window.cloud_view
    assert window.panels.panels[0].n_overlay_inside == 0 == window.panels.panels[0] \
        .n_overlay_outside
    assert not cc.leave_action.isEnabled()
    c.command("step")
    qtbot.waitUntil(lambda: window.last_iteration == 3, timeout=30000)

    # leaving while the checkpoint still loads: the load's result is dropped
    cc.start(ckpt)
    cc.leave()
    cc.task.join(20)
    qtbot.waitUntil(lambda: cc.task is not None and not cc.task.is_alive(), timeout=5000)
    window.refresh_now()
    assert cc.predictor is None and cc.view is None and window.views.count() == 1

    # a new training ends the compare
    cc.start(ckpt)
    _wait_b(window, qtbot, first)
    tm.start(ds, run=False, config=_config(), run_dir=tmp_path / "run2")
    qtbot.waitUntil(lambda: not cc.active, timeout=5000)
    assert window.views.count() == 1 and "Error" not in window.statusBar().currentMessage()


def test_followed_run_beside_another_runs_checkpoint(window: Any, qtbot: Any, dataset: Path,
                                                     runs: tuple[Path, Path]) -> None:
    from core.formats.datasets import read_dataset
    from core.train.predict import load_checkpoint, load_run

    ds = read_dataset(dataset)
    tm, cc = window.train_mode, window.checkpoint_compare
    tm.follow(str(runs[0]))
    qtbot.waitUntil(lambda: tm.follower.predicted_iteration == 6, timeout=30000)
    cc.start(runs[1] / "checkpoints" / "latest.pt")
    first, other = ds.ids("val")[0], ds.ids("val")[1]
    _wait_b(window, qtbot, first)
    a, b = load_run(runs[0], "latest"), load_checkpoint(runs[1] / "checkpoints" / "latest.pt")
    for oid in (first, other):
        if oid != first:
            tm.select_object(oid)
            _wait_b(window, qtbot, oid)
        scene = ds.scene(oid)
        want_a, want_b = a.predict_scene(scene, 0, refine=0), b.predict_scene(scene, 0, refine=0)
        np.testing.assert_allclose(_b_points(window), want_b, atol=1e-5)
        qtbot.waitUntil(lambda: window.controller.scene.name == scene.name, timeout=20000)
        np.testing.assert_allclose(window.controller.static_points, want_a, atol=1e-5)
        qtbot.waitUntil(lambda: cc.table.text(0, "cd") == _cd(want_a, scene)
                        and cc.table.text(1, "cd") == _cd(want_b, scene), timeout=20000)
        assert (cc.table.text(0, "iteration"), cc.table.text(1, "iteration")) == ("6", "3")
    assert _cd(want_a, scene) != _cd(want_b, scene)
    tm.stop_follow()
    tm.follow(str(runs[1]))  # another run: the compare ends
    qtbot.waitUntil(lambda: not cc.active, timeout=5000)
    assert window.views.count() == 1


def test_gui_main_compare_checkpoint_flags(dataset: Path, runs: tuple[Path, Path],
                                           tmp_path: Path, capsys: Any) -> None:
    import subprocess
    import sys

    from app.gui_main import run_gui
    from core.formats.datasets import read_dataset
    from core.io.points import read_points
    from core.train.predict import load_checkpoint

    ckpt = runs[1] / "checkpoints" / "best.pt"
    shot, cloud = tmp_path / "w.png", tmp_path / "b.xyz"
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, str(root / "main.py"), "--follow", str(runs[0]),
                          "--compare-checkpoint", str(ckpt), "--exit-after", "3",
                          "--screenshot", str(shot), "--export-compare", str(cloud)],
                         capture_output=True, text=True, timeout=180, cwd=root)
    assert res.returncode == 0, res.stderr[-2000:]
    ds = read_dataset(dataset)
    scene = ds.scene(ds.ids("val")[0])
    want = scene.to_original(load_checkpoint(ckpt, "cpu").predict_scene(scene, 0, refine=0))
    np.testing.assert_allclose(read_points(cloud), want, atol=1e-4)
    assert shot.stat().st_size > 10_000

    assert run_gui(["--compare-checkpoint", str(ckpt), "--exit-after", "1"]) == 2
    assert "goes with --dataset or --follow" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    assert run_gui(["--follow", str(runs[0]), "--compare-checkpoint", str(bad),
                    "--exit-after", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.pt: not a readable checkpoint" in err[0]
