"""drwr-dataset v1: round trip and one test per rule of shared/DATASET-FORMAT.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.io.dataset import write_dataset
from core.formats.datasets import is_dataset, read_dataset
from core.io.mesh_scene import make_scene
from core.io.scene import Scene, SceneError
from core.evalsets import named_mesh


def _scene(shape: str, res: int = 16, views: int = 2, images: bool = True) -> Scene:
    s = make_scene(named_mesh(shape), views=views, res=res, gt_points=50, seed=1)
    if images:
        s.images = [np.where(m[..., None], 90, 255).astype(np.uint8).repeat(3, -1)
                    for m in s.masks]
    return s


@pytest.fixture
def ds_path(tmp_path: Path) -> Path:
    scenes = {"a": _scene("chair"), "b": _scene("table"), "c": _scene("blob", views=3)}
    return write_dataset(tmp_path / "ds", scenes, {"train": ["a", "b"], "test": ["c"]},
                         {"a": "chair", "b": "table", "c": "blob"}, {"note": 1})


def _edit_index(root: Path, **changes) -> None:
    meta = json.loads((root / "dataset.json").read_text())
    meta.update(changes)
    (root / "dataset.json").write_text(json.dumps(meta))


def _error(root: Path) -> str:
    with pytest.raises(SceneError) as info:
        read_dataset(root)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_round_trip(ds_path: Path) -> None:
    assert is_dataset(ds_path) and not is_dataset(ds_path / "a")
    ds = read_dataset(ds_path)
    assert ds.ids("train") == ["a", "b"] and ds.ids("test") == ["c"] and ds.ids("val") == []
    assert ds.category("c") == "blob" and ds.category("zzz") == ""
    assert ds.extra == {"note": 1} and ds.image_size == (16, 16)
    s = ds.scene("c")
    assert s.n_views == 3 and s.images is not None and s.gt_points.shape == (50, 3)
    ref = _scene("blob", views=3)
    np.testing.assert_array_equal(s.masks, ref.masks)
    np.testing.assert_allclose(s.R, ref.R, atol=1e-12)
    fast = read_dataset(ds_path / "dataset.json", check_scenes=False)
    assert fast.image_size == (16, 16) and fast.splits == ds.splits


def test_wrong_format(ds_path: Path) -> None:
    _edit_index(ds_path, format="drwr-scene")
    msg = _error(ds_path)
    assert "dataset.json" in msg and "format must be 'drwr-dataset'" in msg


def test_wrong_version(ds_path: Path) -> None:
    _edit_index(ds_path, version=2)
    msg = _error(ds_path)
    assert "dataset.json" in msg and "unsupported version 2" in msg


def test_missing_index(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert "dataset.json: missing" in _error(tmp_path / "empty")


def test_listed_id_without_folder(ds_path: Path) -> None:
    _edit_index(ds_path, splits={"train": ["a", "b"], "test": ["c", "ghost"]})
    msg = _error(ds_path)
    assert "dataset.json" in msg and "'ghost' has no folder" in msg


def test_invalid_scene_prefixed_by_id(ds_path: Path) -> None:
    (ds_path / "b" / "masks" / "001.png").unlink()
    msg = _error(ds_path)
    assert msg.startswith("b: ") and "001.png: mask file is missing" in msg


def test_id_in_two_splits(ds_path: Path) -> None:
    _edit_index(ds_path, splits={"train": ["a", "b"], "val": ["b"], "test": ["c"]})
    msg = _error(ds_path)
    assert "dataset.json" in msg and "'b' is listed in splits 'train' and 'val'" in msg


def test_id_twice_in_one_split(ds_path: Path) -> None:
    _edit_index(ds_path, splits={"train": ["a", "b", "a"]})
    assert "'a' is listed twice in split 'train'" in _error(ds_path)


def test_empty_train_split(ds_path: Path) -> None:
    _edit_index(ds_path, splits={"train": [], "test": ["a", "b", "c"]})
    msg = _error(ds_path)
    assert "dataset.json" in msg and "'train' split is missing or empty" in msg


def test_id_not_a_folder_name(ds_path: Path) -> None:
    _edit_index(ds_path, splits={"train": ["a", "../b"]})
    assert "is not a plain folder name" in _error(ds_path)


def test_mask_size_differs(ds_path: Path) -> None:
    write_dataset(ds_path, {"c": _scene("blob", res=20)}, {"train": ["a", "b"], "test": ["c"]},
                  {})
    msg = _error(ds_path)
    assert "c/masks/000.png: mask size 20x20 differs from the first object's (a) 16x16" in msg


def test_image_size_differs(ds_path: Path) -> None:
    Image.new("RGB", (16, 12), "white").save(ds_path / "b" / "images" / "001.png")
    msg = _error(ds_path)
    assert "b/images/001.png: image size 16x12 differs from the first object's (a)" in msg


def test_bad_splits_and_categories(ds_path: Path) -> None:
    _edit_index(ds_path, splits=["a"])
    assert "'splits' must be an object" in _error(ds_path)
    _edit_index(ds_path, splits={"train": ["a"]}, categories={"a": 3})
    assert "'categories' must map ids to category strings" in _error(ds_path)


def test_write_refuses_bad_index(tmp_path: Path) -> None:
    s = _scene("blob")
    with pytest.raises(SceneError, match="listed in splits 'train' and 'test'"):
        write_dataset(tmp_path / "x", {"a": s}, {"train": ["a"], "test": ["a"]}, {})
    with pytest.raises(ValueError, match="no scene given for id 'b'"):
        write_dataset(tmp_path / "x", {"a": s}, {"train": ["a", "b"]}, {})
    assert not (tmp_path / "x").exists()
