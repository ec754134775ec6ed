"""DPC ShapeNet renders read as a training dataset, on a tiny folder written the way DPC's
download (renders/<synset>/<model>/render_i.png RGBA + camera_i.mat), split files
(splits/<synset>_<split>.txt) and ground-truth scripts (gt/downsampled/<synset>/<model>.mat)
lay it out. Objects are parametric family members in DPC's frame; cameras look at them."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from scipy import ndimage
from PIL import Image

from core.geometry.cameras import look_at, project_np
from core.geometry.rasterize import render_silhouettes
from core.formats.datasets import is_dataset, read_dataset
from core.formats.dpc import FOCAL, RENDER_TO_DPC
from core.formats.dpc_dataset import is_dpc_dataset, read_dpc_dataset
from core.io.scene import SceneError
from core.train.families import build
from core.train.parts import Assembly, surface_points

W = 48
CHAIRS, PLANES = "03001627", "02691156"


def _write_model(folder, category, k, n_views=3, W=W):
    """One model folder as DPC's renders: returns (R, t) in DPC's frame and gt points."""
    obj = Assembly.of(build(category, np.random.default_rng([k, 1])))
    rng = np.random.default_rng(k)
    K = np.array([[FOCAL * W, 0, (W - 1) / 2], [0, FOCAL * W, (W - 1) / 2], [0, 0, 1.0]])
    dirs = rng.normal(size=(n_views, 3))
    Rs, ts = zip(*(look_at(3.0 * d / np.linalg.norm(d)) for d in dirs))
    R, t = np.stack(Rs), np.stack(ts)
    masks = render_silhouettes(obj.vertices, obj.faces, np.repeat(K[None], n_views, 0), R, t,
                               W, W)
    folder.mkdir(parents=True)
    for i in range(n_views):
        E = np.eye(4)
        E[:3, :3] = R[i] @ RENDER_TO_DPC.T  # x_render = A x_dpc
        E[:3, 3] = t[i]
        img = np.zeros((W, W, 4), np.uint8)
        img[..., :3] = (30 * k) % 255, 90, 160
        img[..., 3] = masks[i] * 255
        Image.fromarray(img, "RGBA").save(folder / f"render_{i}.png")
        scipy.io.savemat(folder / f"camera_{i}.mat",
                         {"extrinsic": E, "pos": -E[:3, :3].T @ E[:3, 3]})
    return R, t, masks, surface_points(obj, 500, seed=k)


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


def test_reads_dpc_layout_in_dpc_frame(dpc_root):
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
        np.testing.assert_allclose(s.R, R, atol=1e-9)  # DPC's frame: no normalisation
        np.testing.assert_allclose(s.t, t, atol=1e-9)
        np.testing.assert_array_equal(s.masks, masks)
        np.testing.assert_allclose(s.gt_points, gt)
        uv, z = project_np(gt, s.K, s.R, s.t)
        px = np.rint(uv).astype(int)
        assert (z > 0).all() and ((px >= 0) & (px < W)).all()
        grown = ndimage.binary_dilation(s.masks, np.ones((1, 3, 3), bool))  # thin legs at 48 px
        assert grown[np.arange(len(s.K))[:, None], px[..., 1], px[..., 0]].mean() > 0.97
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
    scipy.io.savemat(data / "renders" / CHAIRS / "c3" / "camera_1.mat", {"pos": np.zeros(3)})
    with pytest.raises(SceneError, match=r"^03001627_c3: .*camera_1.mat: no 'extrinsic' matrix"):
        read_dataset(data)
