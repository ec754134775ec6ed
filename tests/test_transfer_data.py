"""The transfer benchmark's foreign-make datasets: valid drwr-datasets that the project's
reader reads, ground truth in the cameras' frame, seeded objects, options that take effect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from benchmarks.transfer_data import TransferSpec, make_object, main, write_transfer_dataset
from core.formats.datasets import read_dataset
from core.geometry.cameras import camera_centers, project_np

ROOT = Path(__file__).resolve().parents[1]


def _spec(**kw) -> TransferSpec:
    base = dict(views=3, res=32, categories=["chair", "table", "airplane", "car"], split=(2, 1, 1),
                points=512)
    return TransferSpec(**{**base, **kw})


def test_writes_a_dataset_the_reader_reads(tmp_path):
    write_transfer_dataset(tmp_path / "d", _spec())
    ds = read_dataset(tmp_path / "d")
    sizes = {s: len(ds.ids(s)) for s in ("train", "val", "test")}
    assert sizes == {"train": 8, "val": 4, "test": 4}
    assert sorted(set(ds.categories.values())) == ["airplane", "car", "chair", "table"]
    assert ds.image_size == (32, 32)
    for obj_id in ds.all_ids():
        scene = ds.scene(obj_id)
        assert scene.n_views == 3 and scene.masks.any(axis=(1, 2)).all()
        assert len(scene.images) == 3 and scene.images[0].shape == (32, 32, 3)
        assert scene.gt_points.shape == (512, 3)
        assert np.abs(scene.gt_points).max() <= 0.5 + 1e-6  # bbox diagonal 1, centred
        # white background: the non-white pixels are exactly the mask
        assert np.array_equal((np.asarray(scene.images) < 255).any(-1), scene.masks)


@pytest.mark.parametrize("category", ["chair", "table", "airplane", "car"])
def test_ground_truth_lands_in_every_mask(category):
    scene = make_object(category, 3, _spec(views=4, res=96, points=2000))
    uv, _ = project_np(scene.gt_points, scene.K, scene.R, scene.t)
    for m, p in zip(scene.masks, uv):
        r, c = np.rint(p[:, 1]).astype(int), np.rint(p[:, 0]).astype(int)
        ok = (r >= 0) & (r < 96) & (c >= 0) & (c < 96)
        assert ok.all()
        # a surface point is within a pixel of its silhouette (pixel-centre masks cut rims)
        assert binary_dilation(m, np.ones((3, 3), bool))[r, c].all()


def test_objects_are_seeded_and_options_take_effect():
    a = make_object("airplane", 0, _spec(seed=4))
    b = make_object("airplane", 0, _spec(seed=4))
    c = make_object("airplane", 0, _spec(seed=5))
    assert np.array_equal(a.gt_points, b.gt_points) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.gt_points, c.gt_points)
    above = make_object("chair", 1, _spec(views=10, elevation="above", shading="side"))
    z = camera_centers(above.R, above.t)[:, 2]
    assert (z > 2.0 * np.sin(np.radians(15)) - 1e-9).all()
    img = np.asarray(above.images)
    assert (img[~above.masks] == 191).all()  # grey background of the "side" shading


def test_bad_options_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="views"):
        _spec(views=2).check()
    with pytest.raises(ValueError, match="res"):
        _spec(res=256).check()
    with pytest.raises(ValueError, match="categories"):
        _spec(categories=["boat"]).check()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert main([str(tmp_path / "full"), "--split", "1,0,1"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_does_not_use_the_training_families():
    code = ("import sys, benchmarks.transfer_data; "
            "bad = [m for m in sys.modules if m.startswith('core.train')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
