"""DPC's conventions end to end: an object written the way DRC's renderer writes the renders
DPC trains on (tests/core/drc_renders.py: the ShapeNet OBJ imported into Blender with its
default axes, cameras at ``pos`` looking at the origin, ``extrinsic`` in Blender's world) and
its ground truth in the OBJ frame (as DPC's densify scripts write it). Read through the DPC
readers, the ground truth lands in the masks, and a fit scores like a fit of the same object
written as a drwr-scene.

A chair is front/back asymmetric: a fit read with the cameras of DPC's ``camera_from_blender``
path, which turn the world 180° about the vertical, lies far from its ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from scipy import ndimage

from core.fit.config import FitConfig
from core.fit.fitter import Fitter
from core.geometry.cameras import project_np
from core.formats import detect_and_load, original_scene
from core.formats.dpc_dataset import read_dpc_dataset
from core.io.scene import Scene, read_scene, write_scene
from core.metrics import chamfer
from core.train.families import build
from core.train.parts import Assembly, surface_points
from drc_renders import write_render_folder

W = 64
POSES = [(2.0, 30.0, 20.0), (2.0, 110.0, -10.0), (2.0, 200.0, 35.0), (2.0, 250.0, 5.0),
         (2.0, 320.0, 25.0)]  # (distance, azimuth, elevation) as DRC's view files give them
TURN = np.diag([-1.0, 1.0, -1.0])  # 180° about the OBJ frame's vertical (y)


@pytest.fixture(scope="module")
def chair(tmp_path_factory):
    """(model folder, ground truth (N, 3) in the OBJ frame, cameras) of a chair rendered the
    DRC way under data/renders/03001627/m1, with its ground truth in gt/downsampled/."""
    root = tmp_path_factory.mktemp("dpc")
    obj = Assembly.of(build("chair", np.random.default_rng(3)))
    folder = root / "renders" / "03001627" / "m1"
    cams = write_render_folder(folder, obj.vertices, obj.faces, POSES, W)
    gt = surface_points(obj, 3000, seed=0)
    (root / "gt" / "downsampled" / "03001627").mkdir(parents=True)
    scipy.io.savemat(root / "gt" / "downsampled" / "03001627" / "m1.mat", {"points": gt})
    scipy.io.savemat(folder / "model_gt.mat", {"points": gt})
    return root, folder, gt, cams


def _inside(points: np.ndarray, scene: Scene) -> float:
    """Fraction of (view, point) projections on the masks grown by one pixel (thin parts)."""
    uv, z = project_np(points, scene.K, scene.R, scene.t)
    H, W_ = scene.resolution
    px = np.rint(uv).astype(int)
    ok = (z > 0) & (px[..., 0] >= 0) & (px[..., 0] < W_) & (px[..., 1] >= 0) & (px[..., 1] < H)
    grown = ndimage.binary_dilation(scene.masks, np.ones((1, 3, 3), bool))
    rows = np.arange(scene.n_views)[:, None]
    hit = grown[rows, px[..., 1].clip(0, H - 1), px[..., 0].clip(0, W_ - 1)] & ok
    return float(hit.mean())


def test_ground_truth_lands_in_the_masks(chair):
    root, folder, gt, _ = chair
    obj = detect_and_load(folder, res=W)  # one object: normalised, to_original back to OBJ
    ref = original_scene(obj)
    np.testing.assert_allclose(ref.gt_points, gt, atol=1e-9)
    assert _inside(gt, ref) > 0.97
    ds = read_dpc_dataset(root)  # a dataset: the OBJ frame itself
    scene = ds.scene("03001627_m1")
    np.testing.assert_allclose(scene.gt_points, gt)
    assert _inside(scene.gt_points, scene) > 0.97


def test_pos_and_extrinsic_agree(chair, tmp_path):
    """DPC's default path (from ``pos``) and the renderer's ``extrinsic`` read with Blender's
    OBJ axes give the same cameras: a copy without ``pos`` loads identically."""
    root, folder, _, cams = chair
    copy = tmp_path / "m1"
    copy.mkdir()
    for f in folder.iterdir():
        data = f.read_bytes()
        (copy / f.name).write_bytes(data)
        if f.name.startswith("camera_"):
            E = scipy.io.loadmat(str(f))["extrinsic"]
            scipy.io.savemat(copy / f.name, {"extrinsic": E})
    a = read_dpc_dataset(folder.parent).scene("03001627_m1")
    b = read_dpc_dataset(copy.parent).scene(copy.parent.name + "_m1")
    np.testing.assert_allclose(a.R, cams["R"], atol=1e-9)
    np.testing.assert_allclose(b.R, cams["R"], atol=1e-9)
    np.testing.assert_allclose(a.t, b.t, atol=1e-9)


def _fit(scene: Scene) -> np.ndarray:
    """A short default fit, in the scene's original (OBJ) frame."""
    cfg = FitConfig(points=400, iterations=60, seed=0, device="cpu")
    return scene.to_original(Fitter(scene, cfg).run())


def test_fit_scores_like_the_same_drwr_scene(chair, tmp_path):
    """The same chair as a drwr-scene (cameras in the OBJ frame from the renderer's own
    definition, the same masks): the fits' Chamfer distances to the ground truth agree."""
    _, folder, gt, cams = chair
    n = len(POSES)
    native = Scene(masks=cams["masks"], K=np.repeat(cams["K"][None], n, 0), R=cams["R"],
                   t=cams["t"], gt_points=gt, name="chair")
    native = read_scene(write_scene(native, tmp_path / "chair"))
    dpc = detect_and_load(folder, res=W)
    assert np.array_equal(dpc.masks, native.masks)
    fit = _fit(dpc)
    cd_native, cd_dpc = chamfer(_fit(native), gt)["cd"], chamfer(fit, gt)["cd"]
    assert cd_native < 5.0, cd_native
    assert abs(cd_dpc - cd_native) <= 0.1 * cd_native, (cd_dpc, cd_native)
    # and the fit is this chair, not the chair turned 180° about the vertical
    assert chamfer(fit, gt @ TURN.T)["cd"] > 1.5 * cd_dpc
