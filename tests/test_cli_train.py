"""`train` and `predict` through the CLI: a tiny run, resume, predictions for an image, a
scene and a dataset; bad datasets give one clear line each; 2-process DDP under torchrun."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.io.points import read_points
from core.train.predict import load_run
from main import main
from tests.train_fixtures import make_tiny_dataset

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--points", "64", "--input-size", "32", "--width", "4", "--hidden", "32",
        "--batch-size", "3", "--views-per-object", "2", "--workers", "0", "--quiet"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("cli") / "ds", per_category=3, views=3,
                             res=24, gt_points=300)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_train_resume_predict(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "6",
                 "--val-every", "3", *TINY]) == 0
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if "total" in r] == list(range(1, 7))
    assert [r["step"] for r in recs if "val_cd" in r] == [3, 6]
    assert json.loads((run / "config.json").read_text())["points"] == 64
    capsys.readouterr()
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "6", *TINY]) == 2
    assert "--resume" in _error_line(capsys)
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "8", "--resume",
                 "--quiet"]) == 0
    assert load_run(run, "latest").iteration == 8
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if "total" in r] == list(range(1, 9))  # history kept
    capsys.readouterr()
    assert main(["train", str(dataset), "--out", str(run), "--resume", "--points", "32",
                 "--quiet"]) == 2
    assert "points" in _error_line(capsys)

    # predict: a dataset split, a scene folder, an image file
    assert main(["predict", str(run), str(dataset), "--out", str(tmp_path / "p"), "--quiet"]) == 0
    test_ids = json.loads((dataset / "dataset.json").read_text())["splits"]["test"]
    assert sorted(p.stem for p in (tmp_path / "p").glob("*.ply")) == sorted(test_ids)
    scene_dir = dataset / test_ids[0]
    assert main(["predict", str(run), str(scene_dir), "--out", str(tmp_path / "s.ply"),
                 "--view", "1", "--refine-steps", "0"]) == 0
    assert main(["predict", str(run), str(scene_dir / "images" / "001.png"), "--out",
                 str(tmp_path / "i.ply")]) == 0
    a, b = read_points(tmp_path / "s.ply"), read_points(tmp_path / "i.ply")
    assert a.shape == (64, 3) and np.abs(a).max() < 0.5
    np.testing.assert_allclose(a, b, atol=1e-5)  # the same view as a scene and as an image
    # by default a scene's prediction is refined on its input view (an image has no camera)
    assert main(["predict", str(run), str(scene_dir), "--out", str(tmp_path / "r.ply"),
                 "--view", "1"]) == 0
    r = read_points(tmp_path / "r.ply")
    assert r.shape == (64, 3) and np.abs(r - b).max() > 1e-4
    capsys.readouterr()
    assert main(["predict", str(run), str(scene_dir), "--out", str(tmp_path / "x.ply"),
                 "--refine-steps", "-1"]) == 2
    assert "--refine-steps" in _error_line(capsys)
    assert main(["predict", str(run), str(tmp_path / "nothing.png"), "--out",
                 str(tmp_path / "x.ply")]) == 2
    assert "nothing.png" in _error_line(capsys)
    (tmp_path / "not-a-run").mkdir()
    assert main(["predict", str(tmp_path / "not-a-run"), str(scene_dir), "--out",
                 str(tmp_path / "x.ply")]) == 2
    assert "checkpoint" in _error_line(capsys)


def _copy(dataset, tmp_path) -> Path:
    dst = tmp_path / "bad"
    shutil.copytree(dataset, dst)
    return dst


def _edit_index(root: Path, fn) -> None:
    meta = json.loads((root / "dataset.json").read_text())
    fn(meta)
    (root / "dataset.json").write_text(json.dumps(meta))


def _missing_folder(root):
    shutil.rmtree(root / "chair_002")


def _two_splits(root):
    _edit_index(root, lambda m: m["splits"]["val"].append(m["splits"]["train"][0]))


def _mixed_sizes(root):
    for p in (root / "table_002" / "masks").glob("*.png"):
        Image.open(p).resize((30, 30)).save(p)
    for p in (root / "table_002" / "images").glob("*.png"):
        Image.open(p).resize((30, 30)).save(p)


def _mixed_val_sizes(root):  # table_000 is a validation object
    for p in (root / "table_000").glob("*/*.png"):
        Image.open(p).resize((30, 30)).save(p)


def _image_not_mask_size(root):
    for p in (root / "table_002" / "images").glob("*.png"):
        Image.open(p).resize((30, 30)).save(p)


def _empty_train(root):
    _edit_index(root, lambda m: m["splits"].__setitem__("train", []))


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_bad_object_found_in_training_gives_one_error_line(dataset, tmp_path, capsys, workers):
    """Objects are read the first time a batch needs them: the error comes after the start-up
    lines, as one line naming the file, and the steps done before it are written."""
    bad = _copy(dataset, tmp_path)
    _image_not_mask_size(bad)
    capsys.readouterr()
    assert main(["train", str(bad), "--out", str(tmp_path / "run"), "--iterations", "40",
                 *TINY, "--workers", workers]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [x for x in err if x.startswith(("error", "Traceback"))] == err[-1:], err
    assert re.search("table_002.*image 0 is 30x30", err[-1]), err[-1]
    if "wrote the result so far" in err[-1]:
        assert (tmp_path / "run" / "checkpoints" / "latest.pt").is_file()
    # the loader's workers (which ignore SIGTERM) are ended with the error, not left for the
    # interpreter's exit to wait on
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("breaker, words", [
    (_missing_folder, "chair_002"), (_two_splits, "two splits|in splits"),
    (_mixed_sizes, "table_002"), (_mixed_val_sizes, "table_000"),
    (_empty_train, "train"),
])
def test_bad_datasets_give_one_line(dataset, tmp_path, capsys, breaker, words):
    import re

    bad = _copy(dataset, tmp_path)
    breaker(bad)
    capsys.readouterr()
    assert main(["train", str(bad), "--out", str(tmp_path / "run"), "--iterations", "2",
                 *TINY]) == 2
    line = _error_line(capsys)
    assert re.search(words, line), line


def test_ddp_two_gloo_processes(dataset, tmp_path):
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "main.py"), "train", str(dataset), "--out", str(run), "--iterations", "4",
           "--device", "cpu", "--val-every", "2", *TINY]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "rank 0 of 2: 4 steps" in res.stderr and "rank 1 of 2: 4 steps" in res.stderr
    ck = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ck["iteration"] == 4 and ck["info"]["world_size"] == 2
    # 3 training objects over 2 ranks: 2 each (the sampler pads), so batches of 2, not 3
    assert ck["info"]["effective_batch"] == 4
    assert load_run(run).predict(torch.rand(1, 3, 32, 32)).shape == (1, 64, 3)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert sum('"total"' in x for x in lines) == 4  # rank 0 alone writes
