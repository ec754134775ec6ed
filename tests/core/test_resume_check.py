"""core.train.resume.resume_problem: which data a run may continue on."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from core.train.resume import data_key, resume_problem, run_data


def _ds(root: Path, train=("a", "b"), val=("c",), size=(16, 16), seed=0) -> SimpleNamespace:
    splits = {"train": list(train), "val": list(val)}
    return SimpleNamespace(root=root, splits=splits, categories={}, extra={"seed": seed},
                           image_size=size, ids=lambda s: list(splits.get(s, [])))


def test_the_same_index_anywhere_resumes_and_any_change_is_named(tmp_path):
    saved = {**run_data(_ds(tmp_path / "d"), 64), "input_kind": "rgb"}
    assert resume_problem("ck.pt", saved, run_data(_ds(tmp_path / "moved"), 64)) is None
    msg = resume_problem("ck.pt", saved, run_data(_ds(tmp_path / "d", seed=1), 64))
    assert msg.startswith("ck.pt: the run was trained on ") and "another dataset index" in msg
    msg = resume_problem("ck.pt", saved, run_data(_ds(tmp_path / "d", train=("a",)), 64))
    assert "(1 train objects here, 2 in the run)" in msg
    msg = resume_problem("ck.pt", saved, run_data(_ds(tmp_path / "d", size=(24, 24)), 64))
    assert "image size 24x24 here, 16x16 in the run" in msg and "dataset index" not in msg
    msg = resume_problem("ck.pt", saved, {**run_data(_ds(tmp_path / "d"), 64),
                                          "input_kind": "mask"})
    assert "input kind mask here, rgb in the run" in msg
    assert "validation set" in resume_problem("ck.pt", saved, run_data(_ds(tmp_path / "d"), 0))


def test_a_checkpoint_without_a_data_key_compares_folders(tmp_path):
    old = {"dataset": str(tmp_path / "d"), "image_size": [16, 16], "input_kind": "rgb",
           "val_split": "val"}
    assert resume_problem("ck.pt", old, run_data(_ds(tmp_path / "d"), 64)) is None
    assert "another dataset folder" in resume_problem("ck.pt", old,
                                                      run_data(_ds(tmp_path / "e"), 64))
    assert data_key(_ds(tmp_path), ["c"]) != data_key(_ds(tmp_path), [])


def test_a_run_on_a_coarser_loss_grid_compares_the_datasets_image_size(tmp_path):
    """A preset may train on a grid smaller than the images (drwr-paper: 32² losses of 64²
    images); the run records that grid as image_size, and a resume on the same data goes on."""
    saved = {**run_data(_ds(tmp_path / "d", size=(64, 64)), 64), "image_size": [32, 32]}
    assert resume_problem("ck.pt", saved, run_data(_ds(tmp_path / "d", size=(64, 64)), 64)) is None
    msg = resume_problem("ck.pt", saved, run_data(_ds(tmp_path / "d", size=(48, 48)), 64))
    assert "image size 48x48 here, 64x64 in the run" in msg
