"""The training views' maps built in parallel, in memory or in a reusable folder read in place:
every number equals a plain one-object-after-another build, the folder is reused until the
dataset's files change, and a training on it gives the same losses as one in memory."""

from __future__ import annotations

import dataclasses
import pickle
import shutil

import numpy as np
import pytest
import torch

from core.drwr.silhouette import boundary_bias, signed_distance
from core.formats.datasets import read_dataset
from core.io.scene import write_scene
from core.train.config import TrainConfig
from core.train.data import FG_SAMPLES, SilhouetteViews, ViewCache, input_image
from core.train.trainer import Trainer
from tests.train_fixtures import make_tiny_dataset

TINY = dict(points=64, input_size=32, width=4, hidden=32, batch_size=3, views_per_object=2,
            workers=0, val_every=5, warmup=2, seed=3)


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    root = make_tiny_dataset(tmp_path_factory.mktemp("ds") / "tiny", per_category=4, views=3,
                             res=24, gt_points=300)
    d = read_dataset(root)
    oid = d.ids("train")[1]  # one object with 2 views instead of 3: ragged view counts
    sc = d.scene(oid)
    shutil.rmtree(root / oid)
    write_scene(dataclasses.replace(sc, masks=sc.masks[:2], K=sc.K[:2], R=sc.R[:2],
                                    t=sc.t[:2], images=sc.images[:2]), root / oid)
    return read_dataset(root)


def eager_maps(ds, ids, S, R, gt_points=0):
    """The reference: one object after another, one generator drawing the silhouette samples
    (then the ground-truth subset) of each object in turn."""
    out = {k: [] for k in ("inputs", "K", "R", "t", "sd", "mask", "bias", "fg")}
    gts = []
    rng = np.random.default_rng(0)
    for oid in ids:
        s = ds.scene(oid)
        out["inputs"] += [input_image(s, i, (S, S)).transpose(2, 0, 1) for i in range(s.n_views)]
        out["K"] += list(s.K.astype(np.float32))
        out["R"] += list(s.R.astype(np.float32))
        out["t"] += list(s.t.astype(np.float32))
        out["sd"] += list(signed_distance(s.masks))
        out["mask"] += list(s.masks.astype(np.uint8))
        out["bias"] += list(boundary_bias(s.masks, R))
        for m in s.masks:
            rr, cc = np.nonzero(m)
            pick = rng.integers(len(rr), size=FG_SAMPLES)
            out["fg"].append(np.stack([cc[pick], rr[pick]], 1).astype(np.float32))
        gt = s.gt_points
        if gt_points and len(gt) > gt_points:
            gt = gt[rng.choice(len(gt), gt_points, replace=False)]
        gts.append(np.asarray(gt, np.float32))
    return {k: np.stack(v) for k, v in out.items()}, gts


def assert_same_maps(c: ViewCache, ref: dict[str, np.ndarray]) -> None:
    for name, want in ref.items():
        got = getattr(c, name)
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("where,workers", [("memory", 0), ("memory", 2), ("disk", 2),
                                           ("disk", 0)])
def test_built_maps_equal_a_plain_build(ds, tmp_path, where, workers):
    ids = ds.ids("train")
    ref, _ = eager_maps(ds, ids, 32, 2)
    folder = tmp_path / "views" if where == "disk" else None
    c = ViewCache(ds, ids, 32, R=2, cache_dir=folder, workers=workers)
    assert list(c.n_views[:3]) == [3, 2, 3] and c.first[-1] == len(ref["sd"])
    assert c.rows(1) == slice(3, 5)
    assert_same_maps(c, ref)
    c.set_R(4)
    np.testing.assert_array_equal(c.bias, eager_maps(ds, ids, 32, 4)[0]["bias"])
    if where == "disk":
        assert isinstance(c.sd, np.memmap) and isinstance(c.bias, np.memmap)
        again = ViewCache(ds, ids, 32, R=4, cache_dir=folder, workers=workers)
        assert not again.store.built and again.folder == c.folder
        assert_same_maps(again, {**ref, "bias": np.asarray(c.bias)})


def test_validation_ground_truth_subsets_are_unchanged(ds):
    ids = ds.ids("val") + ds.ids("test")
    _, want = eager_maps(ds, ids, 32, 2, gt_points=100)
    c = ViewCache(ds, ids, 32, R=2, gt_points=100, workers=2)
    assert len(c.gt) == len(want)
    for a, b in zip(c.gt, want):
        np.testing.assert_array_equal(a, b)


def test_folder_is_reused_until_a_file_changes(tmp_path):
    root = make_tiny_dataset(tmp_path / "d", per_category=3, views=2, res=16, gt_points=50)
    d = read_dataset(root)
    ids = d.ids("train")
    a = ViewCache(d, ids, 16, R=2, cache_dir=tmp_path / "c", workers=0)
    b = ViewCache(d, ids, 16, R=2, cache_dir=tmp_path / "c", workers=0)
    assert a.store.built and not b.store.built and a.folder == b.folder
    assert ViewCache(d, ids, 32, R=2, cache_dir=tmp_path / "c").folder != a.folder
    sc = d.scene(ids[0])
    sc.masks[0] = np.roll(sc.masks[0], 2, axis=1)
    write_scene(sc, root / ids[0])
    c = ViewCache(d, ids, 16, R=2, cache_dir=tmp_path / "c", workers=0)
    assert c.store.built and c.folder != a.folder
    np.testing.assert_array_equal(c.mask[0], sc.masks[0])


def test_a_stored_cache_pickles_as_its_folder(ds, tmp_path):
    c = ViewCache(ds, ds.ids("train"), 32, R=3, cache_dir=tmp_path / "v", workers=0)
    blob = pickle.dumps(c)
    assert len(blob) < 10_000 < c.sd.nbytes
    back = pickle.loads(blob)
    for name in ("inputs", "sd", "mask", "fg", "bias"):
        np.testing.assert_array_equal(getattr(back, name), getattr(c, name))
    data = SilhouetteViews(back, views=2)
    ref = SilhouetteViews(c, views=2)
    for key in range(3):
        a, b = data[(2, [0, key])], ref[(2, [0, key])]
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_training_on_stored_maps_gives_the_same_losses(ds, tmp_path):
    cfg = TrainConfig(iterations=4, **TINY)
    runs = []
    for cache in (None, tmp_path / "views"):
        tr = Trainer(ds, cfg.replace(), cache_dir=cache)
        runs.append([tr.step() for _ in range(4)])
    assert runs[0] == runs[1]
    tr = Trainer(ds, cfg.replace(workers=1), cache_dir=tmp_path / "views")  # loader worker
    assert [tr.step() for _ in range(4)] == runs[0]


def test_a_build_deletes_the_stores_of_deleted_datasets(tmp_path):
    stores = []
    for name in ("gone", "kept", "new"):
        root = make_tiny_dataset(tmp_path / name, per_category=2, views=2, res=16,
                                 gt_points=50, holdout=(0, 0))
        d = read_dataset(root)
        if name == "new":
            shutil.rmtree(tmp_path / "gone")
        stores.append(ViewCache(d, d.ids("train"), 16, R=1, cache_dir=tmp_path / "c",
                                workers=0).folder)
    assert [s.is_dir() for s in stores] == [False, True, True]


def test_builders_are_forked_only_from_the_main_thread():
    import threading

    from core.train.view_store import build_workers

    seen = []
    th = threading.Thread(target=lambda: seen.append(build_workers()))
    th.start()
    th.join()
    assert seen == [0] and build_workers() >= 1
