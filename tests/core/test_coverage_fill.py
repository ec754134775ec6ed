"""The default start's coverage fill and pre-snap (core.correction.hull_field.HullField.surface_points):
parts the hull's level surface loses are kept from its outer surface, and the pool is snapped
into the masks before it is thinned."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

import core.correction.hull_field as prior_mod
from core.fit.config import apply_preset
from core.fit.fitter import Fitter
from core.correction.depth import margin_at
from core.correction.hull_field import HullField
from core.hull.snap import pixel_size
from core.io.mesh_scene import make_scene, sample_surface
from core.metrics import cloud_metrics
from core.hull.inside import inside_all


@pytest.fixture(scope="module")
def thin_disc():
    """A disc about a pixel thick with a ball on it: the 0.5 px level loses parts of the disc
    that the cameras see edge-on."""
    disc = trimesh.creation.cylinder(radius=0.4, height=0.01, sections=48)
    ball = trimesh.creation.icosphere(3, 0.15)
    ball.apply_translation((0, 0, 0.2))
    return make_scene(trimesh.util.concatenate([disc, ball]), views=12, res=48,
                      layout="random", seed=3, gt_points=20000)


def test_uncovered_samples_are_lost_parts_of_the_object(thin_disc):
    prior = HullField(thin_disc, 128, level=0.5)
    near = sample_surface(prior.vertices, prior.faces, 4000, 0)
    extra = prior.uncovered_samples(near, 4000, 1)
    assert len(extra) > 20
    px = pixel_size(extra, thin_disc)
    d_level, _ = cKDTree(near).query(extra)
    assert (d_level > prior_mod.FILL_PX * px).all()  # far from the level surface
    assert np.abs(margin_at(prior.volume, extra)).max() < 0.2  # on the outer surface
    d_gt, _ = cKDTree(thin_disc.gt_points).query(extra)
    assert np.median(d_gt / px) < 1.0  # and on the object: a part the level surface lost


def test_no_fill_at_level_zero(thin_disc):
    prior = HullField(thin_disc, 64, level=0.0)
    near = sample_surface(prior.vertices, prior.faces, 500, 0)
    assert len(prior.uncovered_samples(near, 500, 1)) == 0


def test_fill_covers_more_of_the_object_and_stays_inside(thin_disc, monkeypatch):
    def fit():
        return cloud_metrics(Fitter(thin_disc, apply_preset("default", points=1000,
                                                       iterations=5)).run(), thin_disc)

    with_fill = fit()
    monkeypatch.setattr(prior_mod, "FILL_PX", np.inf)
    without = fit()
    assert with_fill["cd_gt_pred"] < without["cd_gt_pred"] - 0.03
    assert with_fill["inside_fraction"] == 1.0


def test_pre_snapped_start_is_inside_and_even(thin_disc):
    prior = HullField(thin_disc, 64, level=0.5)
    pts = prior.surface_points(800, 0, correct=False, snap=True)
    raw = prior.surface_points(800, 0, correct=False, snap=False)
    snapped = inside_all(pts.astype(np.float32), thin_disc).mean()
    # what a 1.5 px search settles; the fit's final snap takes the rest
    assert snapped > 0.9 and snapped > inside_all(raw.astype(np.float32), thin_disc).mean() + 0.2
    d, _ = cKDTree(pts).query(pts, k=2)
    assert (d[:, 1] > 0).all()  # no two points on top of each other
