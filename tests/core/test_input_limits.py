"""Inputs beyond what can be read are refused in one line naming the file, exit status 2,
nothing written: JSON nested too deeply, a scene listing more than MAX_VIEWS views, an image
over PIL's pixel limit (a decompression bomb)."""

from __future__ import annotations

import json
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import main as main_module
from core.formats.datasets import read_dataset
from core.io.mesh_scene import make_scene
from core.formats.common import select
from core.io.scene import SceneError, read_scene, write_scene
from core.train.predict import image_input
from tests.core.conftest import one_error_line

DEEP = "[" * 100_000 + "]" * 100_000
MAX_VIEWS = 2000  # core.io.scene.MAX_VIEWS


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory) -> Path:
    return write_scene(make_scene("blob", views=3, res=24, gt_points=0, seed=0),
                       tmp_path_factory.mktemp("lim") / "s")


def _copy(scene_dir: Path, dst: Path) -> Path:
    import shutil

    return Path(shutil.copytree(scene_dir, dst))


def test_hull_refuses_a_deeply_nested_scene_json(scene_dir, tmp_path, capsys):
    s = _copy(scene_dir, tmp_path / "s")
    (s / "scene.json").write_text(DEEP)
    out = tmp_path / "h.ply"
    assert main_module.main(["hull", str(s), "--out", str(out)]) == 2
    assert not out.exists()
    one_error_line(capsys, f"{s / 'scene.json'}: JSON nested too deeply")


def test_deeply_nested_value_inside_a_scene_json(scene_dir, tmp_path):
    s = _copy(scene_dir, tmp_path / "s")
    meta = (s / "scene.json").read_text()
    (s / "scene.json").write_text(meta[:-1] + ', "deep": ' + DEEP + "}")
    with pytest.raises(SceneError, match="nested too deeply"):
        read_scene(s)


def test_deeply_nested_dataset_json(scene_dir, tmp_path, capsys):
    ds = tmp_path / "ds"
    _copy(scene_dir, ds / "a")
    (ds / "dataset.json").write_text(DEEP)
    with pytest.raises(SceneError, match="nested too deeply") as err:
        read_dataset(ds)
    assert str(ds / "dataset.json") in str(err.value)
    out = tmp_path / "run"
    assert main_module.main(["train", str(ds), "--out", str(out), "--iterations", "1",
                             "--quiet"]) == 2
    assert not out.exists()
    one_error_line(capsys, f"{ds / 'dataset.json'}: JSON nested too deeply")


def _many_views(scene_dir: Path, folder: Path, n: int) -> Path:
    """A copy of the scene whose scene.json lists ``n`` views (all but the first with a
    missing mask, so a reader that does not count them first stops at view 1)."""
    s = _copy(scene_dir, folder)
    meta = json.loads((s / "scene.json").read_text())
    v = meta["views"][0]
    meta["views"] = [v] + [{**v, "mask": f"masks/missing{i}.png"} for i in range(1, n)]
    (s / "scene.json").write_text(json.dumps(meta))
    return s


def test_scene_over_max_views_is_refused_before_reading_masks(scene_dir, tmp_path):
    s = _many_views(scene_dir, tmp_path / "s", MAX_VIEWS + 1)
    with pytest.raises(SceneError, match=f"lists {MAX_VIEWS + 1} views; a scene holds at most "
                                         f"{MAX_VIEWS}"):
        read_scene(s)
    ok = _many_views(scene_dir, tmp_path / "ok", MAX_VIEWS)  # at the cap: read view by view
    with pytest.raises(SceneError, match="missing1.png: mask file is missing"):
        read_scene(ok)


def test_hull_refuses_18000_views(scene_dir, tmp_path, capsys):
    s = _many_views(scene_dir, tmp_path / "s", 18_000)
    out = tmp_path / "h.ply"
    assert main_module.main(["hull", str(s), "--out", str(out)]) == 2
    assert not out.exists()
    one_error_line(capsys, f"{s / 'scene.json'}: lists 18000 views; a scene holds at most 2000")


def test_dataset_readers_cap_the_selected_views():
    with pytest.raises(SceneError, match="x: 18000 views selected; a scene holds at most 2000"):
        select(18_000, None, None, "x")
    assert select(18_000, None, 50, "x") == list(range(50))
    assert select(18_000, [3, 17_999], None, "x") == [3, 17_999]


def write_bomb_png(path: Path, width: int, height: int) -> Path:
    """A small PNG whose header declares width x height 8-bit grey pixels (data truncated)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data)))

    raw = zlib.compress(b"\x00" * (width + 1) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [20_000, 10_000])  # over 2x the limit (an error), over 1x
def test_decompression_bomb_is_refused(tmp_path, side):
    assert side * side > Image.MAX_IMAGE_PIXELS
    bomb = write_bomb_png(tmp_path / "bomb.png", side, side)
    from core.io.scene import read_image

    for read in (lambda p: image_input(p, (16, 16)), read_image):
        with pytest.raises(SceneError, match="image is too large to read") as err:
            read(bomb)
        assert str(bomb) in str(err.value) and "\n" not in str(err.value)


def test_predict_refuses_a_decompression_bomb(tmp_path, capsys):
    from tests.train_fixtures import make_tiny_dataset

    ds = make_tiny_dataset(tmp_path / "ds", per_category=2, views=2, res=24, gt_points=100,
                           categories=("chair",), holdout=(0, 0))
    run = tmp_path / "run"
    assert main_module.main([
        "train", str(ds), "--out", str(run), "--iterations", "2", "--points", "64",
        "--input-size", "32", "--width", "4", "--hidden", "32", "--batch-size", "2",
        "--views-per-object", "2", "--workers", "0", "--quiet", "--val-every", "2"]) == 0
    capsys.readouterr()
    bomb = write_bomb_png(tmp_path / "bomb.png", 20_000, 20_000)
    out = tmp_path / "pred" / "p.ply"
    assert main_module.main(["predict", str(run), str(bomb), "--out", str(out)]) == 2
    assert not out.exists() and not out.parent.exists()
    one_error_line(capsys, f"{bomb}: image is too large to read")


def test_pixel_limit_scene_image(scene_dir, tmp_path):
    s = _copy(scene_dir, tmp_path / "s")
    write_bomb_png(s / "big.png", 20_000, 20_000)
    meta = json.loads((s / "scene.json").read_text())
    meta["views"][0]["image"] = "big.png"
    (s / "scene.json").write_text(json.dumps(meta))
    with pytest.raises(SceneError, match="big.png: image is too large to read"):
        read_scene(s)
    assert np.asarray(read_scene(scene_dir).masks).shape[0] == 3


@pytest.mark.parametrize("side", [20_000, 10_000])
def test_dataset_first_mask_over_the_pixel_limit(scene_dir, tmp_path, side):
    """The quick dataset check (sizes from the first mask's header) refuses a bomb too."""
    ds = tmp_path / "ds"
    s = _copy(scene_dir, ds / "a")
    write_bomb_png(s / "masks" / "000.png", side, side)
    (ds / "dataset.json").write_text(json.dumps(
        {"format": "drwr-dataset", "version": 1, "splits": {"train": ["a"]}}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SceneError, match="000.png: image is too large to read"):
            read_dataset(ds, check_scenes=False)


def test_dpc_model_over_max_views_is_refused_before_reading_renders(tmp_path):
    from core.formats.dpc_dataset import load_dpc_object

    for i in range(MAX_VIEWS + 1):
        (tmp_path / f"render_{i}.png").touch()  # never opened
    with pytest.raises(SceneError, match=f"{MAX_VIEWS + 1} render_<i>.png files; a scene "
                                         f"holds at most {MAX_VIEWS}"):
        load_dpc_object(tmp_path)
