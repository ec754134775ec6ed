"""`make-dataset` and `evaluate` through the CLI: one real subprocess (progress bar, exit
status), the rest in-process through ``main.main`` (same code path, return value, stderr)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import main as main_module
from core.formats.datasets import read_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "tiny"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "main.py", "make-dataset", str(out), "--per-category",
                        "4", "--views", "3", "--res", "24", "--points", "500", "--workers", "1"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "wrote" in p.stdout and "12 objects (train 6, val 3, test 3)" in p.stdout
    assert "make-dataset: 100%" in p.stderr  # the tqdm bar
    return out


def test_make_dataset_output(tiny):
    ds = read_dataset(tiny)
    assert ds.image_size == (24, 24)
    assert {ds.category(i) for i in ds.all_ids()} == {"chair", "table", "airplane"}
    s = ds.scene("airplane_0003")
    assert s.n_views == 3 and s.images is not None and s.gt_points.shape == (500, 3)


def test_make_dataset_bad_input(tiny, tmp_path, capsys):
    assert main_module.main(["make-dataset", str(tiny), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists and is not an empty folder" in err
    assert main_module.main(["make-dataset", str(tmp_path / "x"), "--categories", "chair,sofa",
                             "--quiet"]) == 2
    assert "unknown category 'sofa'" in capsys.readouterr().err
    assert main_module.main(["make-dataset", str(tmp_path / "y"), "--elevation", "up",
                             "--quiet"]) == 2
    assert "--elevation must be LO,HI" in capsys.readouterr().err


def test_evaluate_baselines_only(tiny, tmp_path, capsys):
    out = tmp_path / "ev.json"
    assert main_module.main(["evaluate", "--baselines-only", str(tiny), "--json", str(out),
                             "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "medoid CD" in text and "retrieval CD" in text and "network" not in text
    assert "table_0003" in text and "overall (mean of objects)" in text
    res = json.loads(out.read_text())
    assert res["split"] == "test" and res["run"] is None and len(res["objects"]) == 3
    assert set(res["categories"]) == {"chair", "table", "airplane"}
    assert res["overall"]["medoid"]["n"] == 3 and res["overall"]["retrieval"]["cd"] > 0
    assert main_module.main(["evaluate", "--baselines-only", str(tiny), "--split", "val",
                             "--view", "2", "--no-objects", "--quiet"]) == 0
    assert "chair_0002" not in capsys.readouterr().out  # category table only


def test_evaluate_bad_input(tiny, tmp_path, capsys):
    assert main_module.main(["evaluate", str(tiny), "--quiet"]) == 2
    assert "evaluate takes RUN DATASET" in capsys.readouterr().err
    assert main_module.main(["evaluate", "--baselines-only", str(tiny), "--view", "5",
                             "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "view 5 does not exist (3 views)" in err


@pytest.mark.parametrize("problem, message", [
    ("missing id folder", "dataset.json: id 'ghost' has no folder"),
    ("id in two splits", "'chair_0000' is listed in splits 'train' and 'test'"),
    ("empty train split", "the 'train' split is missing or empty"),
    ("mixed image sizes", "table_0000/images/001.png: image size 20x24 differs"),
])
def test_evaluate_bad_dataset_one_line(tiny, tmp_path, capsys, problem, message):
    bad = tmp_path / "bad"
    shutil.copytree(tiny, bad)
    meta = json.loads((bad / "dataset.json").read_text())
    if problem == "missing id folder":
        meta["splits"]["test"].append("ghost")
    elif problem == "id in two splits":
        meta["splits"]["test"].append("chair_0000")
    elif problem == "empty train split":
        meta["splits"]["train"] = []
    else:
        Image.new("RGB", (20, 24), "white").save(bad / "table_0000" / "images" / "001.png")
    (bad / "dataset.json").write_text(json.dumps(meta))
    assert main_module.main(["evaluate", "--baselines-only", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_evaluate_trained_run(tiny, tmp_path, capsys):
    """evaluate RUN DATASET with a real (tiny) run of `train` (runs once `train` is merged)."""
    pytest.importorskip("core.train.predict", reason="needs the train command (branch train)")
    run = tmp_path / "run"
    assert main_module.main(["train", str(tiny), "--out", str(run), "--iterations", "3",
                             "--points", "64", "--quiet"]) == 0
    capsys.readouterr()
    out = tmp_path / "ev.json"
    assert main_module.main(["evaluate", str(run), str(tiny), "--json", str(out), "--quiet"]) == 0
    assert "network CD" in capsys.readouterr().out
    res = json.loads(out.read_text())
    assert res["methods"] == ["network", "medoid", "retrieval"] and res["n_points"] == 64
    assert res["overall"]["network"]["n"] == 3 and res["overall"]["network"]["cd"] > 0
