"""The window's training mode (app/train_mode.py) and run following (app/follow.py) on a tiny
make-dataset output (32², 4 objects per category) with a tiny network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TINY = {"points": 64, "input_size": 32, "width": 4, "hidden": 32, "batch_size": 2,
        "views_per_object": 2, "workers": 0, "val_objects": 3}
TINY_FLAGS = ["--points", "64", "--input-size", "32", "--width", "4", "--hidden", "32",
              "--batch-size", "2", "--views-per-object", "2", "--workers", "0", "--quiet"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: Any) -> Path:
    from core.train.synth import make_dataset

    return make_dataset(tmp_path_factory.mktemp("tm") / "ds", per_category=4, views=3, res=32,
                        progress=False, workers=1, n_points=600)


def _config(**kw: Any) -> Any:
    from core.train.config import TrainConfig

    return TrainConfig(**{**TINY, "iterations": 100_000, "val_every": 3, **kw})


def _project(points: np.ndarray, scene: Any) -> np.ndarray:
    from core.geometry.cameras import project_np

    return project_np(points, scene.K, scene.R, scene.t)[0]


def test_training_mode_steps_picks_objects_and_saves(window: Any, qtbot: Any, dataset: Path,
                                                      tmp_path: Path) -> None:
    from core.drwr.silhouette import smooth_field
    from core.formats.datasets import read_dataset
    from core.io.points import read_points
    from core.train.checkpoint import read_checkpoint

    ds = read_dataset(dataset)
    tm, c = window.train_mode, window.controller
    tm.start(ds, run=False, config=_config(), run_dir=tmp_path / "run")
    qtbot.waitUntil(lambda: window.frames_drawn > 0, timeout=30000)
    assert tm.dock.isVisible() and tm.active
    assert "batch_size" in window.params.controls and "preset" not in window.params.controls
    val_ids = ds.ids("val")
    assert [tm.object_box.itemData(i) for i in range(tm.object_box.count())] == val_ids

    for _ in range(4):  # Step x4: the loss curves grow; step 3 validated -> a CD point
        c.command("step")
    qtbot.waitUntil(lambda: window.last_iteration == 4 and len(window.loss_plot.history()) == 4,
                    timeout=30000)
    assert window.loss_plot.history().shape == (4, 5)  # step + total, sil, rep, coverage
    cd = window.loss_plot.cd_history()
    assert cd.shape == (1, 2) and cd[0, 0] == 3 and 0 < cd[0, 1] < 100
    assert "CD×100" in tm.val_label.text()
    assert (tmp_path / "run" / "checkpoints" / "latest.pt").is_file()

    # pick another object: scene, silhouettes and projections follow it
    tm.gt_box.setChecked(True)
    assert window.cloud_view.has_layer("gt")
    other = val_ids[2]
    tm.select_object(other)
    scene = ds.scene(other)
    assert c.scene.name == scene.name and window.cloud_view.has_layer("gt")
    want = smooth_field(scene.masks)
    qtbot.waitUntil(lambda: window.panels._fields is not None
                    and np.allclose(window.panels._fields, want), timeout=20000)
    qtbot.waitUntil(lambda: window._last_frame is not None
                    and np.allclose(window._last_frame.snapshot.uv,
                                    _project(window._last_frame.snapshot.points, scene),
                                    atol=1e-3), timeout=20000)
    snap = window._last_frame.snapshot
    assert window.panels._last is not None and np.allclose(window.panels._last[0], snap.uv)

    # export the prediction; save a checkpoint between steps
    out = window.export_cloud(str(tmp_path / "pred.ply"))
    np.testing.assert_allclose(read_points(out), snap.points, atol=1e-6)
    tm.save_checkpoint(str(tmp_path / "mine.pt"))
    qtbot.waitUntil(lambda: (tmp_path / "mine.pt").is_file(), timeout=20000)
    assert read_checkpoint(tmp_path / "mine.pt")["iteration"] == 4

    # a live change reaches the trainer; Run then Pause keeps stepping
    window.params.set_values({"beta": 0.05})
    c.set_live({"beta": 0.05})
    c.command("run")
    qtbot.waitUntil(lambda: window.last_iteration >= 7, timeout=30000)
    c.command("pause")
    assert c.config.beta == 0.05
    assert len(window.loss_plot.cd_history()) >= 2  # step 6 validated too

    # Ctrl-C in the window saves the training's checkpoint, not a cloud into the dataset
    qtbot.waitUntil(lambda: c.state() == "paused", timeout=10000)
    it = window.last_iteration  # the last frame drawn: at most the trainer's iteration
    latest = tmp_path / "run" / "checkpoints" / "latest.pt"
    latest.unlink()
    assert c.save_autosave() == latest
    qtbot.waitUntil(latest.is_file, timeout=20000)
    assert read_checkpoint(latest)["iteration"] >= it
    assert not list(dataset.rglob("drwr_autosave.ply"))


def test_follow_a_run_folder_written_by_the_cli(window: Any, qtbot: Any, dataset: Path,
                                                tmp_path: Path) -> None:
    from core.formats.datasets import read_dataset
    from core.train.predict import load_run
    from main import main

    run = tmp_path / "run"
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "6",
                 "--val-every", "3", *TINY_FLAGS]) == 0
    tm = window.train_mode
    tm.follow(str(run))
    f = tm.follower
    ds = read_dataset(dataset)
    assert [tm.object_box.itemData(i) for i in range(tm.object_box.count())] == ds.ids("val")
    qtbot.waitUntil(lambda: f.predicted_iteration == 6, timeout=30000)
    assert window.loss_plot.history()[:, 0].tolist() == [1, 2, 3, 4, 5, 6]
    assert window.loss_plot.cd_history()[:, 0].tolist() == [3, 6]
    pred = load_run(run, "latest")
    first = ds.ids("val")[0]
    np.testing.assert_allclose(window.controller.static_points,
                               pred.predict_scene(ds.scene(first), 0, refine=0), atol=1e-5)

    other = ds.ids("val")[1]
    tm.select_object(other)
    qtbot.waitUntil(lambda: window.controller.scene.name == ds.scene(other).name, timeout=20000)
    np.testing.assert_allclose(window.controller.static_points,
                               pred.predict_scene(ds.scene(other), 0, refine=0), atol=1e-5)
    assert np.allclose(window.panels._last[0], _project(window.controller.static_points,
                                                         ds.scene(other)), atol=1e-3)

    # the run goes on (resume rewrites metrics.jsonl, then appends): the window follows
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "9", "--resume",
                 "--quiet"]) == 0
    qtbot.waitUntil(lambda: f.predicted_iteration == 9, timeout=30000)
    qtbot.waitUntil(lambda: len(window.loss_plot.history()) == 9, timeout=10000)
    assert window.loss_plot.history()[:, 0].tolist() == list(range(1, 10))
    assert window.loss_plot.cd_history()[:, 0].tolist() == [3, 6, 9]
    out = window.export_cloud(str(tmp_path / "followed.xyz"))
    assert Path(out).is_file()


def test_following_again_frees_the_run_followed_before(window: Any, qtbot: Any,
                                                       tmp_path: Path) -> None:
    """Each follow makes a RunFollower, a child of the window; the one it replaces must go
    (the training-mode soak saw one more kept, with its dataset, per follow)."""
    from app.follow import RunFollower

    for k in range(3):
        run = tmp_path / f"run{k}"
        run.mkdir()
        (run / "metrics.jsonl").write_text("")
        window.train_mode.follow(str(run))
    qtbot.waitUntil(lambda: len(window.findChildren(RunFollower)) == 1, timeout=5000)
    assert window.findChildren(RunFollower)[0] is window.train_mode.follower
    window.train_mode.stop_follow()
    qtbot.waitUntil(lambda: not window.findChildren(RunFollower), timeout=5000)


def test_metrics_tail_reads_complete_lines_and_restarts(tmp_path: Path) -> None:
    from app.follow import MetricsTail

    p = tmp_path / "metrics.jsonl"
    t = MetricsTail(p)
    assert t.read() == []  # no file yet
    p.write_text(json.dumps({"step": 1, "total": 1.0}) + "\n" + '{"step": 2, "tot')
    assert [r["step"] for r in t.read()] == [1]  # the half-written line waits
    with open(p, "a") as fh:
        fh.write('al": 0.5}\n')
    assert [r["step"] for r in t.read()] == [2] and not t.restarted
    p.write_text(json.dumps({"step": 1, "total": 2.0}) + "\n")  # truncated by a resume
    recs = t.read()
    assert t.restarted and [r["total"] for r in recs] == [2.0]


def test_gui_main_dataset_and_follow_flags(qtbot: Any, dataset: Path, tmp_path: Path,
                                           capsys: Any) -> None:
    import subprocess
    import sys

    from app.gui_main import run_gui
    from core.io.points import read_points

    # the full window in its own process (the app's exit must not touch this test session's)
    shot, cloud = tmp_path / "w.png", tmp_path / "w.ply"
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, str(root / "main.py"), "--dataset", str(dataset),
                          "--train", "--points", "64", "--run-dir", str(tmp_path / "run"),
                          "--exit-after", "10", "--screenshot", str(shot), "--export",
                          str(cloud)], capture_output=True, text=True, timeout=120, cwd=root)
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.stat().st_size > 10_000 and read_points(cloud).shape == (64, 3)
    assert (tmp_path / "run" / "metrics.jsonl").stat().st_size > 0

    assert run_gui(["--dataset", str(tmp_path / "missing"), "--exit-after", "1"]) == 2
    assert "missing" in capsys.readouterr().err
    assert run_gui(["--train", "--exit-after", "1"]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert run_gui(["--follow", str(tmp_path), "--exit-after", "1"]) == 2
    assert "not a training run folder" in capsys.readouterr().err
