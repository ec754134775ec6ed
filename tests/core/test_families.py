"""Parametric families, outer-surface sampling, the canonical frame and make_dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.formats.datasets import read_dataset
from core.train.families import CATEGORIES, build
from core.train.parts import Assembly, box, surface_points
from core.train.synth import make_dataset, make_object, split_counts


@pytest.mark.parametrize("category", CATEGORIES)
def test_family_varies_and_is_normalised(category):
    extents, counts = [], set()
    for k in range(10):
        parts = build(category, np.random.default_rng([7, k]))
        assert all(p.mesh.is_watertight and p.mesh.is_convex for p in parts)
        obj = Assembly.of(parts)
        lo, hi = obj.vertices.min(0), obj.vertices.max(0)
        np.testing.assert_allclose((lo + hi) / 2, 0, atol=1e-12)
        assert abs(np.linalg.norm(hi - lo) - 1) < 1e-12
        extents.append(hi - lo)
        counts.add(tuple(sorted(len(p.mesh.faces) for p in parts)))  # part make-up
    assert np.std(extents, axis=0).max() > 0.03  # proportions vary
    assert len(counts) >= 5  # and so do the parts


def test_canonical_frame():
    """z up, front +x: chair backs rise at -x, airplanes are flat with the nose at +x,
    tables have their top highest."""
    for k in range(6):
        chair = make_object("chair", k, views=1, res=16, n_points=3000).gt_points
        high = chair[chair[:, 2] > chair[:, 2].max() - 0.05]
        assert high[:, 0].mean() < -0.05
        plane = make_object("airplane", k, views=1, res=16, n_points=3000).gt_points
        ext = np.ptp(plane, 0)
        assert ext[2] < 0.6 * min(ext[0], ext[1])
        nose = plane[plane[:, 0] > plane[:, 0].max() - 0.03]  # the narrow nose tip
        assert np.ptp(nose[:, 1]) < 0.15
        tab = make_object("table", k, views=1, res=16, n_points=3000).gt_points
        top = tab[tab[:, 2] > tab[:, 2].max() - 0.01]
        assert np.ptp(top[:, 0]) * np.ptp(top[:, 1]) > 0.05


def test_surface_points_skip_buried_samples():
    # a small box half inside a big one: no sample may be strictly inside the other box
    parts = [box((1.0, 1.0, 1.0), (0, 0, 0), "a"), box((0.4, 0.4, 0.4), (0.5, 0, 0), "b")]
    obj = Assembly.of(parts, normalise=False)
    pts = surface_points(obj, 4000, seed=3)
    assert pts.shape == (4000, 3)
    in_a = np.all(np.abs(pts) < 0.5 - 1e-9, 1)
    in_b = np.all(np.abs(pts - [0.5, 0, 0]) < 0.2 - 1e-9, 1)
    assert not in_a.any() and not in_b.any()
    on_a = np.isclose(np.abs(pts).max(1), 0.5)
    on_b = np.isclose(np.abs(pts - [0.5, 0, 0]).max(1), 0.2)
    assert np.all(on_a | on_b)
    # uniform by area over the outer surface: a loses the 0.4 x 0.4 square b pierces; b keeps
    # four 0.2 x 0.4 half sides and its outer 0.4 x 0.4 face
    area_a, area_b = 6.0 - 0.16, 4 * 0.08 + 0.16
    frac_b = (on_b & ~on_a).mean()
    assert abs(frac_b - area_b / (area_a + area_b)) < 0.015


def test_make_object_deterministic_and_in_view():
    a = make_object("airplane", 3, views=4, res=24, seed=5, n_points=100)
    b = make_object("airplane", 3, views=4, res=24, seed=5, n_points=100)
    c = make_object("airplane", 4, views=4, res=24, seed=5, n_points=100)
    np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_array_equal(a.gt_points, b.gt_points)
    assert not np.array_equal(a.gt_points, c.gt_points)
    for s in (a, c):
        m = s.masks
        assert m.any((1, 2)).all()
        assert not (m[:, 0].any() or m[:, -1].any() or m[:, :, 0].any() or m[:, :, -1].any())
        cover = np.stack([(im != 255).any(-1) for im in s.images])
        np.testing.assert_array_equal(cover, m)


def test_split_counts():
    assert split_counts(72) == (51, 7, 14)
    assert split_counts(4) == (2, 1, 1)
    assert split_counts(2) == (1, 0, 1)
    assert split_counts(1) == (1, 0, 0)
    assert split_counts(10, (1.0, 0.0, 0.0)) == (10, 0, 0)


def test_make_dataset_same_for_any_workers(tmp_path):
    kw = dict(per_category=3, categories=("chair", "lamp"), views=2, res=16, n_points=64,
              progress=False)
    a = make_dataset(tmp_path / "a", workers=1, **kw)
    b = make_dataset(tmp_path / "b", workers=2, **kw)
    ds = read_dataset(a)
    assert ds.splits == {"train": ["chair_0000", "chair_0001", "lamp_0000", "lamp_0001"],
                         "test": ["chair_0002", "lamp_0002"]}
    assert ds.image_size == (16, 16) and ds.category("lamp_0001") == "lamp"
    for i in ds.all_ids():
        for f in ("scene.json", "masks/001.png", "images/000.png", "gt_points.ply"):
            assert (a / i / f).read_bytes() == (b / i / f).read_bytes()
    assert json.loads((a / "dataset.json").read_text()) == json.loads(
        (b / "dataset.json").read_text())
    with pytest.raises(ValueError, match="not an empty folder"):
        make_dataset(a, workers=1, **kw)
    with pytest.raises(ValueError, match="unknown category 'sofa'"):
        make_dataset(tmp_path / "c", categories=("sofa",), progress=False)
