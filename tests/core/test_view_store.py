"""The training views' maps built in parallel in memory, or in a reusable folder read in place
whose objects are made on first use: every number equals a plain one-object-after-another
build whatever the order and the process that makes an object, a folder filled in part by one
run is completed by the next, the folder is reused until the dataset's files change, and a
training on it gives the same losses as one in memory."""

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
from core.io.scene import SceneError
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
    """The reference: one object after another, object k's generator ``default_rng((0, k))``
    drawing its silhouette samples, then its ground-truth subset."""
    out = {k: [] for k in ("inputs", "K", "R", "t", "sd", "mask", "bias", "fg")}
    gts = []
    for k, oid in enumerate(ids):
        rng = np.random.default_rng((0, k))
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
    assert c.store.missing() == []
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
    if where == "disk":  # nothing made yet; items make their objects, here in reverse order
        assert c.store.missing() == list(range(len(ids))) and not c.sd.any()
        items = SilhouetteViews(c, views=2)
        for k in reversed(range(len(ids))):
            items[(k, 0)]
    assert_same_maps(c, ref)
    c.set_R(4)
    np.testing.assert_array_equal(c.bias, eager_maps(ds, ids, 32, 4)[0]["bias"])
    if where == "disk":
        assert isinstance(c.sd, np.memmap) and isinstance(c.bias, np.memmap)
        again = ViewCache(ds, ids, 32, R=4, cache_dir=folder, workers=workers)
        assert not again.store.built and again.folder == c.folder
        assert_same_maps(again, {**ref, "bias": np.asarray(c.bias)})


def test_another_R_makes_the_missing_objects_first(ds, tmp_path):
    ids = ds.ids("train")
    c = ViewCache(ds, ids, 32, R=2, cache_dir=tmp_path / "v", workers=2)
    c.ensure(1)
    c.set_R(3)  # δ for R=3 needs every mask: the others are made (in 2 processes)
    assert_same_maps(c, eager_maps(ds, ids, 32, 3)[0])


def test_a_folder_filled_in_part_is_completed_by_the_next_run(ds, tmp_path):
    ids = ds.ids("train")
    ref, _ = eager_maps(ds, ids, 32, 2)
    a = ViewCache(ds, ids, 32, R=2, cache_dir=tmp_path / "v", workers=0)
    for k in (4, 0):
        a.ensure(k)
    b = ViewCache(ds, ids, 32, R=2, cache_dir=tmp_path / "v", workers=0)
    assert a.store.built and not b.store.built and b.folder == a.folder
    assert b.store.missing() == [k for k in range(len(ids)) if k not in (0, 4)]
    for k in range(len(ids)):
        b.ensure(k)
    assert_same_maps(b, ref)
    assert_same_maps(a, ref)  # the first run sees the rows the second one wrote


def test_silhouette_samples_do_not_depend_on_order_or_loader_workers(ds, tmp_path):
    ids = ds.ids("train")
    ref = eager_maps(ds, ids, 32, 2)[0]["fg"]
    for n, order in enumerate((range(len(ids)), [3, 0, 5, 2, 1, 4, 6, 7, 8, 9, 10, 11])):
        c = ViewCache(ds, ids, 32, R=2, cache_dir=tmp_path / f"v{n}", workers=0)
        for k in order:
            if k < len(ids):
                c.ensure(k)
        np.testing.assert_array_equal(c.fg, ref)
    c = ViewCache(ds, ids, 32, R=2, cache_dir=tmp_path / "w", workers=0)
    loader = torch.utils.data.DataLoader(SilhouetteViews(c, views=2), num_workers=2,
                                         batch_size=None,
                                         sampler=[(k, 0) for k in range(len(ids))])
    assert len(list(loader)) == len(ids)  # every object made in a loader worker
    np.testing.assert_array_equal(c.fg, ref)


def test_objects_with_and_without_images_are_refused_before_any_map(tmp_path):
    root = make_tiny_dataset(tmp_path / "d", per_category=3, views=2, res=16, gt_points=50)
    d = read_dataset(root)
    ids = d.ids("train")
    sc = d.scene(ids[2])
    shutil.rmtree(root / ids[2])
    write_scene(dataclasses.replace(sc, images=None), root / ids[2])
    with pytest.raises(SceneError, match=f"{ids[2]}: has no images while other objects do"):
        ViewCache(d, ids, 16, R=2, cache_dir=tmp_path / "c", workers=0)
    assert not list((tmp_path / "c").glob("*/meta.json"))


@pytest.mark.parametrize("workers", [0, 2])
def test_a_bad_object_found_in_training_names_its_file(tmp_path, workers):
    root = make_tiny_dataset(tmp_path / "d", per_category=4, views=3, res=24, gt_points=300)
    d = read_dataset(root)
    bad = root / d.ids("train")[3] / "masks" / "001.png"
    tr = Trainer(d, TrainConfig(iterations=20, **{**TINY, "workers": workers}),
                 cache_dir=tmp_path / "v")
    bad.write_bytes(b"not a png")  # after the start: found when the object is first loaded
    with pytest.raises(SceneError) as err:
        for _ in range(20):
            tr.step()
    msg = str(err.value)
    assert "\n" not in msg and str(bad) in msg and "Traceback" not in msg


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
    c.ensure(0)
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
