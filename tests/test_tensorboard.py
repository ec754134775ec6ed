"""`train` writes TensorBoard event files into its run folder (every loss term, the learning
rate, validation metrics, predicted clouds); --no-tensorboard and a missing TensorBoard leave
none, and training still works."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from core.train import tboard
from main import main
from tests.train_fixtures import make_tiny_dataset

TINY = ["--points", "64", "--input-size", "32", "--width", "4", "--hidden", "32",
        "--batch-size", "3", "--views-per-object", "2", "--workers", "0", "--quiet"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("tb") / "ds", per_category=3, views=3,
                             res=24, gt_points=300)


def _events(run) -> EventAccumulator:
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_training_writes_every_term_and_validation_clouds(dataset, tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "6",
                 "--val-every", "3", *TINY]) == 0
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    acc = _events(run)
    tags = acc.Tags()
    assert set(tags["scalars"]) == set(tboard.SCALAR_TAGS.values())
    for name in ("loss/total", "loss/silhouette", "loss/repulsion", "loss/coverage", "train/lr"):
        assert [e.step for e in acc.Scalars(name)] == list(range(1, 7)), name
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [round(e.value, 5) for e in acc.Scalars("loss/total")] == \
        [round(r["total"], 5) for r in recs if "total" in r]
    val = [r for r in recs if "val_cd" in r]
    assert [e.step for e in acc.Scalars("val/cd")] == [3, 6]
    assert acc.Scalars("val/fscore")[-1].value == pytest.approx(val[-1]["val_fscore"], rel=1e-5)
    assert acc.Scalars("val/coverage")[-1].value == pytest.approx(val[-1]["val_coverage"],
                                                                  rel=1e-5)
    # the first validation's and the last one's predictions, as point clouds (no faces)
    clouds = [t for t in tags["tensors"] if t.startswith("val/clouds")]
    assert "val/clouds_VERTEX" in clouds and "val/clouds_COLOR" in clouds
    assert not any(t.endswith("_FACE") for t in clouds)
    verts = acc.Tensors("val/clouds_VERTEX")
    assert [e.step for e in verts] == [3, 6]
    shape = [d.size for d in verts[-1].tensor_proto.tensor_shape.dim]
    assert shape == [min(tboard.CLOUDS_SHOWN, 3), 64, 3]  # the tiny dataset validates on 3
    assert "config" in "".join(tags["tensors"])


def test_resume_replaces_the_steps_after_the_checkpoint(dataset, tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "4",
                 "--val-every", "4", *TINY]) == 0
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "6", "--resume",
                 "--quiet"]) == 0
    steps = [e.step for e in _events(run).Scalars("loss/total")]
    assert steps == list(range(1, 7))


def test_no_tensorboard_flag_writes_no_events(dataset, tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "3",
                 "--val-every", "3", "--no-tensorboard", *TINY]) == 0
    assert (run / "checkpoints" / "latest.pt").is_file()
    assert not (run / "tensorboard").exists()
    assert json.loads((run / "config.json").read_text())["tensorboard"] is False


def test_training_works_without_tensorboard_installed(dataset, tmp_path, capsys, monkeypatch):
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kw):
        if name.startswith("torch.utils.tensorboard") or name.startswith("tensorboard"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    monkeypatch.setattr(tboard, "_warned", False)
    run = tmp_path / "run"
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "6",
                 "--val-every", "3", *TINY]) == 0
    assert (run / "checkpoints" / "best.pt").is_file()
    assert not list(run.rglob("events.out.tfevents.*"))
    warn = [x for x in capsys.readouterr().err.splitlines() if "TensorBoard" in x]
    assert len(warn) == 1 and warn[0].startswith("warning: "), warn


def test_clouds_are_logged_now_and_then(tmp_path):
    log = tboard.TensorBoardLog(tmp_path)
    pts = np.random.default_rng(0).normal(size=(6, 10, 3)).astype(np.float32)
    logged = [log.clouds(k, pts, last=k == 12) for k in range(12 + 1)]
    log.close()
    every = tboard.CLOUD_EVERY
    assert logged == [k % every == 0 or k == 12 for k in range(13)]


def test_a_reset_training_starts_its_curves_again(dataset, tmp_path):
    from core.formats.datasets import read_dataset
    from core.train.config import TrainConfig
    from core.train.trainer import Trainer

    cfg = TrainConfig(points=64, input_size=32, width=4, hidden=32, batch_size=3,
                      views_per_object=2, workers=0, val_every=100, warmup=2)
    tr = Trainer(read_dataset(dataset), cfg, run_dir=tmp_path / "run")
    for _ in range(3):
        tr.step()
    tr.reset()
    for _ in range(2):
        tr.step()
    tr.validate_and_save()
    tr.files.close()
    acc = _events(tmp_path / "run")
    assert [e.step for e in acc.Scalars("loss/total")] == [1, 2]  # the first 3 steps hidden
    assert [e.step for e in acc.Scalars("val/cd")] == [2]
    tr.reset(cfg.replace(tensorboard=False))  # the window's check box, applied on Reset
    tr.step()
    tr.files.close()
    assert [e.step for e in _events(tmp_path / "run").Scalars("loss/total")] == [1, 2]
