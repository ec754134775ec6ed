"""Category medoid, silhouette retrieval and score_split against naive references."""

from __future__ import annotations

import numpy as np
import pytest

from core.formats.datasets import read_dataset
from core.metrics import chamfer, fscore
from core.train.baselines import (SilhouetteRetrieval, category_medoids, pairwise_chamfer,
                                  subsample)
from core.train.scoring import score_split, format_table
from core.train.synth import make_dataset

N = 150  # points per cloud: small, so the naive references stay fast


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    root = make_dataset(tmp_path_factory.mktemp("d") / "tiny", per_category=5,
                        categories=("chair", "airplane"), views=3, res=20, n_points=400,
                        progress=False, workers=1)
    return read_dataset(root)


def test_subsample():
    pts = np.arange(30.0).reshape(10, 3)
    a = subsample(pts, 4, seed=2)
    assert a.shape == (4, 3) and len({tuple(r) for r in a}) == 4
    np.testing.assert_array_equal(a, subsample(pts, 4, seed=2))
    b = subsample(pts, 13)
    np.testing.assert_array_equal(b[:10], pts)


def test_pairwise_chamfer_matches_metrics():
    rng = np.random.default_rng(0)
    clouds = [rng.normal(size=(n, 3)) for n in (40, 55, 30)]
    cd = pairwise_chamfer(clouds)
    for i in range(3):
        assert cd[i, i] == 0
        for j in range(3):
            if i != j:
                assert abs(cd[i, j] - chamfer(clouds[i], clouds[j])["cd"]) < 1e-9


def test_medoid_matches_naive(ds):
    med = category_medoids(ds, n_points=N)
    assert set(med) == {"chair", "airplane"}
    for cat in med:
        ids = [i for i in ds.ids("train") if ds.category(i) == cat]
        clouds = {i: subsample(ds.scene(i).gt_points, N) for i in ids}
        mean = {i: np.mean([chamfer(clouds[i], clouds[j])["cd"] for j in ids if j != i])
                for i in ids}
        best = min(ids, key=lambda i: mean[i])
        assert med[cat][0] == best
        np.testing.assert_array_equal(med[cat][1], clouds[best])


def test_retrieval_matches_naive(ds):
    r = SilhouetteRetrieval(n_points=N).fit(ds)
    train = {i: ds.scene(i).masks for i in ds.ids("train")}
    for obj_id in ds.ids("test") + ds.ids("val"):
        for q in ds.scene(obj_id).masks:
            best, best_iou = None, -1.0
            for i, masks in train.items():  # every view of every training object
                for m in masks:
                    iou = (m & q).sum() / (m | q).sum()
                    if iou > best_iou:
                        best, best_iou = i, iou
            assert r.query(q) == best
            assert abs(r.ious(q).max() - best_iou) < 1e-6
    some = ds.ids("train")[3]
    assert r.query(train[some][1]) == some  # a training view retrieves its own object


def test_retrieval_downsamples_big_masks(ds):
    r = SilhouetteRetrieval(res=10, n_points=N).fit(ds)
    assert r.masks.shape[1] == 100
    with pytest.raises(ValueError, match="does not match the training masks"):
        r.ious(np.ones((7, 7), bool))


def test_score_split_baselines_and_fake_network(ds):
    res = score_split(ds, "test", None, view=1, n_points=N)
    assert res["methods"] == ["medoid", "retrieval"] and len(res["objects"]) == 2
    med = category_medoids(ds, n_points=N)
    for row in res["objects"]:
        s = ds.scene(row["id"])
        assert "network" not in row and row["medoid_id"] == med[row["category"]][0]
        want = chamfer(med[row["category"]][1], s.gt_points)["cd"]
        assert abs(row["medoid"]["cd"] - want) < 1e-9
        r = SilhouetteRetrieval(n_points=N).fit(ds)
        assert row["retrieved_id"] == r.query(s.masks[1])
        assert abs(row["retrieval"]["fscore"] - fscore(r.predict(s.masks[1])[1], s.gt_points,
                                                       0.01)) < 1e-12
    cd = [r["medoid"]["cd"] for r in res["objects"]]
    assert abs(res["overall"]["medoid"]["cd"] - np.mean(cd)) < 1e-12

    seen = []

    def perfect(scene, view):  # a network that returns the ground truth
        seen.append((scene.name, view))
        return scene.gt_points

    res = score_split(ds, "test", perfect, view=2)
    assert seen == [(i, 2) for i in ds.ids("test")]  # once per object
    assert res["n_points"] == 400  # baselines as dense as the network's prediction
    assert res["overall"]["network"] == {"cd": 0.0, "fscore": 1.0, "n": 2}
    assert res["categories"]["chair"]["network"]["cd"] == 0.0
    table = format_table(res)
    assert "network CD" in table and "chair_0004" in table and "mean of categories" in table


def test_score_split_errors(ds):
    with pytest.raises(ValueError, match="predicted an array of shape \\(5,\\), not \\(J, 3\\)"):
        score_split(ds, "test", lambda s, v: np.zeros(5), n_points=N)
    with pytest.raises(ValueError, match="split 'nope' is empty or missing"):
        score_split(ds, "nope")
    with pytest.raises(Exception, match="view 7 does not exist"):
        score_split(ds, "test", view=7, n_points=N)


def test_medoid_subset_for_big_categories(ds):
    full = category_medoids(ds, n_points=N)
    for cat, (obj_id, _) in category_medoids(ds, n_points=N, max_objects=3).items():  # = all
        assert obj_id == full[cat][0]
    small = category_medoids(ds, n_points=N, max_objects=2)
    again = category_medoids(ds, n_points=N, max_objects=2)
    for cat in full:
        ids = [i for i in ds.ids("train") if ds.category(i) == cat]
        assert small[cat][0] in ids and small[cat][0] == again[cat][0]
