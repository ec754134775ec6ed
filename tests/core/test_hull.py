"""core.hull: the visual hull contains the object and is consistent with the masks."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from core.hull import look_center, visual_hull
from core.make_scene import make_scene
from core.metrics import chamfer, inside_fraction
from core.scene import Scene, SceneError


@pytest.fixture(scope="module")
def sphere_scene():
    return make_scene(trimesh.creation.icosphere(subdivisions=4, radius=1.0), views=8, res=64,
                      gt_points=20000, seed=0)


def test_sphere_hull_contains_sphere(sphere_scene):
    h = visual_hull(sphere_scene, res=64, n_points=5000)
    assert h.points.shape == (5000, 3) and h.faces.shape[1] == 3
    r = 0.5 / np.sqrt(3)  # radius of the normalised sphere (bbox diagonal 1)
    pixel = 2.0 / sphere_scene.K[0, 0, 0]  # one pixel at the object's distance, world units
    assert np.linalg.norm(h.points, axis=1).min() >= r - pixel
    assert chamfer(h.points, sphere_scene.gt_points)["cd"] < 2.0
    assert inside_fraction(h.points, sphere_scene) >= 0.99


def test_chair_hull_keeps_thin_legs():
    s = make_scene("chair", views=8, res=64, gt_points=5000, seed=0)
    h = visual_hull(s, res=96, n_points=4000)
    assert inside_fraction(h.points, s) >= 0.99
    assert h.points[:, 2].min() < s.gt_points[:, 2].min() + 0.02  # legs reach the floor
    assert chamfer(h.points, s.gt_points)["cd"] < 2.0


def test_box_from_cameras_not_from_normalisation(sphere_scene):
    # the same scene moved and scaled: the hull follows (cameras move with the object)
    shift, scale = np.array([3.0, -1.0, 2.0]), 5.0
    t = scale * sphere_scene.t - np.einsum("iab,b->ia", sphere_scene.R, shift)
    moved = Scene(masks=sphere_scene.masks, K=sphere_scene.K, R=sphere_scene.R, t=t)
    assert np.allclose(look_center(moved.R, moved.t), shift, atol=1e-6)
    h = visual_hull(moved, res=48, n_points=2000)
    back = (h.points - shift) / scale
    assert chamfer(back, sphere_scene.gt_points)["cd"] < 3.0


def test_look_center():
    from core.cameras import make_cameras

    K, R, t = make_cameras(6, 32, radius=3.0)
    assert np.allclose(look_center(R, t), 0, atol=1e-9)


def test_inconsistent_masks_raise(sphere_scene):
    masks = np.zeros_like(sphere_scene.masks)
    masks[0, :4, :4] = True  # corners of different views do not share a 3-D region
    masks[1:, -4:, -4:] = True
    bad = Scene(masks=masks, K=sphere_scene.K, R=sphere_scene.R, t=sphere_scene.t, name="bad")
    with pytest.raises(SceneError, match="bad"):
        visual_hull(bad, res=32)
