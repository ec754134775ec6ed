"""What `train` says about its inputs: a batch larger than the objects it has, and objects of
one dataset with and without images."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from main import main
from tests.train_fixtures import make_tiny_dataset

TINY = ["--points", "64", "--input-size", "32", "--width", "4", "--hidden", "32",
        "--views-per-object", "2", "--workers", "0", "--quiet", "--iterations", "1",
        "--cache-dir", "none", "--no-tensorboard"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("inputs") / "ds", per_category=3, views=2,
                             res=24, gt_points=100)


def test_the_effective_batch_is_what_the_objects_allow(dataset, tmp_path, capsys):
    n_train = len(json.loads((dataset / "dataset.json").read_text())["splits"]["train"])
    assert main(["train", str(dataset), "--out", str(tmp_path / "r"), "--batch-size", "100",
                 *TINY]) == 0
    err = capsys.readouterr().err
    assert f"effective batch {n_train} (--batch-size 100 is more than the {n_train} training " \
           "objects)" in err
    info = json.loads((tmp_path / "r" / "config.json").read_text())["_run"]
    assert info["effective_batch"] == n_train


def test_objects_with_and_without_images_are_refused_naming_one(dataset, tmp_path, capsys):
    mixed = tmp_path / "mixed"
    shutil.copytree(dataset, mixed)
    ids = json.loads((mixed / "dataset.json").read_text())["splits"]["train"]
    bare = mixed / ids[-1]
    meta = json.loads((bare / "scene.json").read_text())
    for v in meta["views"]:
        v.pop("image", None)
    (bare / "scene.json").write_text(json.dumps(meta))
    assert main(["train", str(mixed), "--out", str(tmp_path / "r"), *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and ids[-1] in err and "has no images" in err
