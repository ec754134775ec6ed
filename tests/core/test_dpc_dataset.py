"""DPC ShapeNet renders read as a training dataset, on a tiny folder written the way DPC's
download (renders/<synset>/<model>/render_i.png RGBA + camera_i.mat, as DRC's renderer
writes them: tests/core/drc_renders.py), split files (splits/<synset>_<split>.txt or DRC's
<synset>.file) and ground-truth scripts (gt/downsampled/<synset>/<model>.mat) lay it out.
Objects are parametric family members in the OBJ frame."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from scipy import ndimage

from core.geometry.cameras import project_np
from core.formats.datasets import is_dataset, read_dataset
from core.formats.dpc_dataset import is_dpc_dataset, read_dpc_dataset
from core.io.scene import SceneError
from core.train.families import build
from core.train.parts import Assembly, surface_points

from drc_renders import write_render_folder

W = 48
CHAIRS, PLANES = "03001627", "02691156"


def _write_model(folder, category, k, n_views=3, W=W):
    """One model folder as DRC's renderer writes it: returns (R, t) in the OBJ frame, the
    masks and gt points (OBJ frame)."""
    obj = Assembly.of(build(category, np.random.default_rng([k, 1])))
    rng = np.random.default_rng(k)
    poses = [(3.0, rng.uniform(0, 360), rng.uniform(-20, 40)) for _ in range(n_views)]
    cams = write_render_folder(folder, obj.vertices, obj.faces, poses, W,
                               colour=((30 * k) % 255, 90, 160))
    return cams["R"], cams["t"], cams["masks"], surface_points(obj, 500, seed=k)


@pytest.fixture
def dpc_root(tmp_path):
    data = tmp_path / "data"
    truth = {}
    for synset, cat, models in ((CHAIRS, "chair", ["c1", "c2", "c3", "c4"]),
                                (PLANES, "airplane", ["p1", "p2"])):
        for k, m in enumerate(models):
            R, t, masks, gt = _write_model(data / "renders" / synset / m, cat, k + len(truth))
            truth[f"{synset}_{m}"] = (R, t, masks, gt)
            (data / "gt" / "downsampled" / synset).mkdir(parents=True, exist_ok=True)
            scipy.io.savemat(data / "gt" / "downsampled" / synset / f"{m}.mat", {"points": gt})
    (data / "splits").mkdir()
    (data / "splits" / f"{CHAIRS}_train.txt").write_text("c1\nc3\nc4\n")
    (data / "splits" / f"{CHAIRS}_test.txt").write_text("c2\n")
    return data, truth


def test_reads_dpc_layout_in_obj_frame(dpc_root):
    data, truth = dpc_root
    assert is_dpc_dataset(data) and is_dpc_dataset(data / "renders")
    assert not is_dpc_dataset(data / "renders" / CHAIRS / "c1")  # one object, not a dataset
    assert is_dataset(data) and not is_dataset(data / "renders" / CHAIRS / "c1")
    ds = read_dataset(data)  # no dataset.json: the DPC reader
    assert ds.image_size == (W, W)
    chairs = [i for i in ds.ids("train") if i.startswith(CHAIRS)]
    assert chairs == [f"{CHAIRS}_c1", f"{CHAIRS}_c3", f"{CHAIRS}_c4"]
    assert f"{CHAIRS}_c2" in ds.ids("test")
    # airplanes have no split files: hashed into splits, each model exactly once
    planes = [i for s in ds.splits.values() for i in s if i.startswith(PLANES)]
    assert sorted(planes) == [f"{PLANES}_p1", f"{PLANES}_p2"]
    assert ds.category(f"{PLANES}_p1") == "airplane" and ds.category(f"{CHAIRS}_c2") == "chair"
    for obj_id, (R, t, masks, gt) in truth.items():
        s = ds.scene(obj_id)
        np.testing.assert_allclose(s.R, R, atol=1e-9)  # OBJ frame: no normalisation
        np.testing.assert_allclose(s.t, t, atol=1e-9)
        np.testing.assert_array_equal(s.masks, masks)
        np.testing.assert_allclose(s.gt_points, gt)
        uv, z = project_np(gt, s.K, s.R, s.t)
        px = np.rint(uv).astype(int)
        assert (z > 0).all() and ((px >= 0) & (px < W)).all()
        grown = ndimage.binary_dilation(s.masks, np.ones((1, 3, 3), bool))  # thin legs at 48 px
        assert grown[np.arange(len(s.K))[:, None], px[..., 1], px[..., 0]].mean() > 0.95
        assert s.images is not None and s.images[0].shape == (W, W, 3)


def test_synset_folder_and_resolution(dpc_root):
    data, _ = dpc_root
    ds = read_dpc_dataset(data / "renders" / PLANES, res=24)
    assert ds.image_size == (24, 24) and set(ds.categories.values()) == {"airplane"}
    assert len(ds.all_ids()) == 2


def test_split_lists_missing_model(dpc_root):
    data, _ = dpc_root
    (data / "splits" / f"{CHAIRS}_val.txt").write_text("nope\n")
    with pytest.raises(SceneError, match=r"03001627_val.txt: model 'nope' has no render folder"):
        read_dataset(data)


def test_model_in_two_splits(dpc_root):
    data, _ = dpc_root
    (data / "splits" / f"{CHAIRS}_val.txt").write_text("c1\n")
    with pytest.raises(SceneError, match="'c1' is also in the 'train' split"):
        read_dataset(data)


def test_render_size_differs(dpc_root):
    data, _ = dpc_root
    _write_model(data / "renders" / CHAIRS / "c5", "chair", 9, W=32)
    (data / "splits" / f"{CHAIRS}_val.txt").write_text("c5\n")
    with pytest.raises(SceneError, match=r"c5/render_0.png: mask size 32x32 differs from the "
                       r"first object's \(.*\) 48x48"):
        read_dataset(data)
    assert read_dataset(data, check_scenes=False).image_size == (W, W)


def test_bad_camera_prefixed_by_id(dpc_root):
    data, _ = dpc_root
    cam = data / "renders" / CHAIRS / "c3" / "camera_1.mat"
    scipy.io.savemat(cam, {"K": np.eye(3)})
    with pytest.raises(SceneError, match=r"^03001627_c3: .*camera_1.mat: neither 'pos' nor "
                       "'extrinsic'"):
        read_dataset(data)
    scipy.io.savemat(cam, {"pos": np.array([0.0, 0.0, 2.0])})
    with pytest.raises(SceneError, match=r"camera_1.mat: 'pos' \[0.0, 0.0, 2.0\] lies on the "
                       "vertical axis"):
        read_dataset(data)


def _drc_split_file(splits: dict[str, list[str]]) -> str:
    """A split file laid out as DRC's splits/<synset>.file (Torch's ASCII serialisation)."""
    lines = ["3", "1", str(len(splits))]
    for k, (name, ids) in enumerate(splits.items()):
        lines += ["2", str(k + 1), name, "3", str(k + 2), str(len(ids))]
        for i, m in enumerate(ids):
            lines += ["1", str(i + 1), "2", "32", m]
    return "\n".join(lines) + "\n"


def test_drc_split_file(dpc_root):
    """Without .txt lists a synset's splits come from DRC's <synset>.file."""
    data, _ = dpc_root
    for f in (data / "splits").glob("*.txt"):
        f.unlink()
    (data / "splits" / f"{CHAIRS}.file").write_text(
        _drc_split_file({"test": ["c2"], "train": ["c4", "c1"], "val": ["c3"]}))
    ds = read_dataset(data)
    assert [i for i in ds.ids("train") if i.startswith(CHAIRS)] == [f"{CHAIRS}_c4", f"{CHAIRS}_c1"]
    assert f"{CHAIRS}_c3" in ds.ids("val") and f"{CHAIRS}_c2" in ds.ids("test")
    (data / "splits" / f"{CHAIRS}.file").write_text(_drc_split_file({"train": ["c9"]}))
    with pytest.raises(SceneError, match=r"03001627.file: model 'c9' has no render folder"):
        read_dataset(data)
    (data / "splits" / f"{CHAIRS}.file").write_text("3\n1\n2\n2\n1\ntrain\n3\n2\nmany\n")
    with pytest.raises(SceneError, match=r"03001627.file: not a DRC split file \(line 4"):
        read_dataset(data)
