"""core.metrics: Chamfer x100, F-score, inside fraction, silhouette IoU, evaluate."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from core.io.mesh_scene import make_scene
from core.metrics import chamfer, cloud_metrics, fscore, inside_fraction, silhouette_iou


def grid_points(n: int = 10, spacing: float = 0.1) -> np.ndarray:
    a = np.arange(n) * spacing
    return np.stack(np.meshgrid(a, a, a, indexing="ij"), -1).reshape(-1, 3)


def test_identical_clouds_are_zero():
    g = np.random.default_rng(0).random((500, 3))
    c = chamfer(g, g)
    assert c == {"cd": 0.0, "cd_pred_gt": 0.0, "cd_gt_pred": 0.0}
    assert fscore(g, g, 0.01) == 1.0


def test_small_offset_gives_100_d():
    g = grid_points()  # spacing 0.1
    d = 0.003
    c = chamfer(g + [d, 0, 0], g)
    assert c["cd_pred_gt"] == pytest.approx(100 * d)
    assert c["cd_gt_pred"] == pytest.approx(100 * d)
    assert c["cd"] == pytest.approx(100 * d)


def test_euclidean_not_squared_and_asymmetric():
    gt = np.array([[0.0, 0, 0]])
    pred = np.array([[0.3, 0.4, 0.0], [0.0, 0.0, 0.0]])  # distances 0.5 and 0
    c = chamfer(pred, gt)
    assert c["cd_pred_gt"] == pytest.approx(100 * 0.25)
    assert c["cd_gt_pred"] == pytest.approx(0.0)
    assert c["cd"] == pytest.approx(12.5)


def test_fscore_known_case():
    gt = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]])
    pred = np.array([[0.005, 0, 0], [1.005, 0, 0], [5, 0, 0]])  # 2 of 3 close; 2 of 4 recalled
    p, r = 2 / 3, 2 / 4
    assert fscore(pred, gt, 0.01) == pytest.approx(2 * p * r / (p + r))
    assert fscore(pred, gt, 0.001) == 0.0
    with pytest.raises(ValueError, match="tau"):
        fscore(pred, gt, 0.0)


def test_bad_inputs_name_argument():
    with pytest.raises(ValueError, match="pred"):
        chamfer(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="gt is empty"):
        chamfer(np.zeros((4, 3)), np.zeros((0, 3)))


@pytest.fixture(scope="module")
def sphere_scene():
    return make_scene(trimesh.creation.icosphere(subdivisions=3, radius=0.4), views=6, res=48,
                      gt_points=4000, seed=1)


def test_inside_fraction(sphere_scene):
    # normalised sphere radius = 0.5 / sqrt(3)
    r = 0.5 / np.sqrt(3)
    rng = np.random.default_rng(0)
    dirs = rng.normal(size=(1000, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    assert inside_fraction(0.5 * r * dirs, sphere_scene) == 1.0
    assert inside_fraction(3 * r * dirs, sphere_scene) == 0.0
    mixed = np.vstack([0.5 * r * dirs[:300], 3 * r * dirs[:100]])
    assert inside_fraction(mixed, sphere_scene) == pytest.approx(0.75)
    behind = np.array([[0.0, 0.0, 50.0]])  # behind or out of every camera
    assert inside_fraction(behind, sphere_scene) == 0.0


def test_silhouette_iou(sphere_scene):
    gt = sphere_scene.gt_points
    iou = silhouette_iou(gt, sphere_scene)
    assert iou.shape == (6,)
    assert np.all(iou > 0.85)
    shifted = silhouette_iou(gt + [0.15, 0, 0], sphere_scene)
    assert shifted.mean() < iou.mean() - 0.1
    shrunk = silhouette_iou(0.5 * gt, sphere_scene)  # footprint covers about a quarter
    assert np.all(shrunk < 0.4)
    sparse = gt[:300]  # gaps wider than the closing leave holes; a wider closing fills them
    narrow, wide = silhouette_iou(sparse, sphere_scene), silhouette_iou(sparse, sphere_scene, 2)
    assert narrow.mean() < wide.mean()


def test_evaluate_scene_and_array(sphere_scene):
    gt = sphere_scene.gt_points
    e = cloud_metrics(gt, sphere_scene)
    assert e["cd"] == 0.0 and e["fscore_0.01"] == 1.0 and e["fscore_0.02"] == 1.0
    assert 0.3 < e["inside_fraction"] < 1.0  # rim points sit on mask boundaries
    assert cloud_metrics(0.9 * gt, sphere_scene)["inside_fraction"] == 1.0  # > 1 px inside
    assert len(e["iou_per_view"]) == 6
    assert e["iou_mean"] == pytest.approx(np.mean(e["iou_per_view"]))
    e2 = cloud_metrics(gt + [0.002, 0, 0], gt)
    assert set(e2) == {"cd", "cd_pred_gt", "cd_gt_pred", "fscore_0.01", "fscore_0.02"}
    assert 0 < e2["cd"] <= 0.2 + 1e-9
    sphere_scene_no_gt = sphere_scene.subset(list(range(6)))
    sphere_scene_no_gt.gt_points = None
    e3 = cloud_metrics(gt, sphere_scene_no_gt)
    assert set(e3) == {"inside_fraction", "iou_mean", "iou_per_view"}
