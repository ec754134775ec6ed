"""Tests of core.geometry.cameras: projection against hand computations, look_at, layouts, make_cameras."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.geometry.cameras import (
    LAYOUTS,
    camera_centers,
    intrinsics,
    look_at,
    make_cameras,
    project,
    project_np,
    view_directions,
)


def _rot(axis: str, deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _is_rotation(R: np.ndarray) -> bool:
    return np.allclose(R @ R.T, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(R), 1.0)


# -- project ---------------------------------------------------------------------------------
def test_project_matches_hand_computation_with_skew_and_offset_principal_point():
    K = np.array([[[120.0, 7.5, 40.25], [0.0, 95.0, 13.5], [0.0, 0.0, 1.0]],
                  [[50.0, 0.0, 3.0], [0.0, 60.0, 70.0], [0.0, 0.0, 1.0]]])
    R = np.stack([_rot("x", 10) @ _rot("z", 25), _rot("y", -40)])
    t = np.array([[0.1, -0.2, 3.0], [0.0, 0.3, 2.5]])
    X = np.array([[0.2, -0.1, 0.3], [-0.4, 0.25, -0.1], [0.0, 0.0, 0.0]])
    uv, z = project_np(X, K, R, t)
    assert uv.shape == (2, 3, 2) and z.shape == (2, 3)
    for i in range(2):
        fx, s, cx = K[i, 0]
        fy, cy = K[i, 1, 1], K[i, 1, 2]
        for j in range(3):
            xc, yc, zc = R[i] @ X[j] + t[i]
            u = fx * xc / zc + s * yc / zc + cx
            v = fy * yc / zc + cy
            assert uv[i, j, 0] == pytest.approx(u, abs=1e-10)
            assert uv[i, j, 1] == pytest.approx(v, abs=1e-10)
            assert z[i, j] == pytest.approx(zc, abs=1e-12)


def test_project_simple_numbers():
    # camera at the origin looking along +z: (1, 2, 4) -> x/z = 0.25, y/z = 0.5
    K = np.array([[[100.0, 10.0, 5.0], [0.0, 200.0, 7.0], [0.0, 0.0, 1.0]]])
    uv, z = project_np(np.array([[1.0, 2.0, 4.0]]), K, np.eye(3)[None], np.zeros((1, 3)))
    assert uv[0, 0].tolist() == pytest.approx([100 * 0.25 + 10 * 0.5 + 5, 200 * 0.5 + 7])
    assert z[0, 0] == pytest.approx(4.0)


def test_project_torch_keeps_grad_and_dtype():
    K = torch.tensor(intrinsics(32, 40.0), dtype=torch.float32)[None]
    R, t = look_at(np.array([0.0, -2.0, 0.0]))
    pts = torch.zeros(5, 3, requires_grad=True)
    uv, z = project(pts, K, torch.tensor(R, dtype=torch.float32)[None],
                    torch.tensor(t, dtype=torch.float32)[None])
    assert uv.dtype == torch.float32 and uv.shape == (1, 5, 2)
    uv.sum().backward()
    assert pts.grad is not None and torch.isfinite(pts.grad).all()


def test_project_rejects_bad_shapes():
    K = torch.eye(3)[None]
    with pytest.raises(ValueError, match="points"):
        project(torch.zeros(4, 2), K, K, torch.zeros(1, 3))
    with pytest.raises(ValueError):
        project(torch.zeros(4, 3), K, K, torch.zeros(1, 2))


# -- look_at ---------------------------------------------------------------------------------
EYES = [(2.0, 0.0, 0.0), (0.0, -3.0, 0.5), (1.0, 1.0, 1.0), (-0.3, 0.2, -2.0), (0.0, 0.0, 2.0)]


@pytest.mark.parametrize("eye", EYES)
def test_look_at_target_projects_to_principal_point(eye):
    target = np.array([0.1, -0.2, 0.05])
    R, t = look_at(np.array(eye), target)
    assert _is_rotation(R)
    K = np.array([[80.0, 0.0, 17.3], [0.0, 80.0, 11.6], [0.0, 0.0, 1.0]])
    uv, z = project_np(target[None], K[None], R[None], t[None])
    assert uv[0, 0] == pytest.approx([17.3, 11.6], abs=1e-9)
    assert z[0, 0] == pytest.approx(np.linalg.norm(np.array(eye) - target))
    # the camera centre is the eye
    assert camera_centers(R[None], t[None])[0] == pytest.approx(eye, abs=1e-12)


@pytest.mark.parametrize("eye", EYES[:4])
@pytest.mark.parametrize("up", [(0.0, 0.0, 1.0), (0.3, 0.9, 0.1)])
def test_look_at_up_appears_upward(eye, up):
    up = np.array(up)
    R, t = look_at(np.array(eye), np.zeros(3), up)
    K = intrinsics(64, 50.0)[None]
    above = 0.2 * up / np.linalg.norm(up)
    uv, _ = project_np(np.stack([np.zeros(3), above]), K, R[None], t[None])
    dv = uv[0, 1, 1] - uv[0, 0, 1]
    assert dv < -1.0, "a point displaced along `up` must appear higher (smaller v)"
    # and the image x axis is horizontal w.r.t. up: no sideways motion along the up direction
    fwd = -np.asarray(eye) / np.linalg.norm(eye)
    up_perp = up - (up @ fwd) * fwd
    assert abs(R[0] @ up_perp) < 1e-12


def test_look_at_default_up_is_z_and_parallel_fallback():
    R, _ = look_at(np.array([3.0, 0.0, 0.0]))
    assert R[1] == pytest.approx([0.0, 0.0, -1.0])  # camera y (down) is world -z
    R2, t2 = look_at(np.array([0.0, 0.0, 2.0]))  # looking straight down the z axis
    assert _is_rotation(R2) and np.all(np.isfinite(t2))
    with pytest.raises(ValueError):
        look_at(np.zeros(3), np.zeros(3))


def test_backproject_then_project_round_trip():
    rng = np.random.default_rng(3)
    K = np.array([[110.0, 4.0, 30.7], [0.0, 90.0, 22.1], [0.0, 0.0, 1.0]])
    R, t = look_at(np.array([1.2, -1.5, 0.7]), np.array([0.1, 0.0, -0.1]))
    uv = rng.uniform(0, 60, size=(20, 2))
    depth = rng.uniform(0.5, 4.0, size=20)
    rays = np.linalg.solve(K, np.c_[uv, np.ones(20)].T).T  # (20, 3), z = 1
    X_cam = rays * depth[:, None]
    X_world = (X_cam - t) @ R  # R^T (x_cam - t)
    uv2, z2 = project_np(X_world, K[None], R[None], t[None])
    assert uv2[0] == pytest.approx(uv, abs=1e-9)
    assert z2[0] == pytest.approx(depth, abs=1e-12)


# -- intrinsics ------------------------------------------------------------------------------
def test_intrinsics_fov_spans_the_pixel_edges():
    res, fov = 48, 60.0
    K = intrinsics(res, fov)
    assert K[0, 2] == K[1, 2] == pytest.approx((res - 1) / 2)
    # a ray at half the horizontal FOV lands on the outer pixel edge u = res - 0.5
    x = math.tan(math.radians(fov / 2))
    uv, _ = project_np(np.array([[x, 0.0, 1.0], [-x, 0.0, 1.0]]), K[None], np.eye(3)[None],
                       np.zeros((1, 3)))
    assert uv[0, 0, 0] == pytest.approx(res - 0.5)
    assert uv[0, 1, 0] == pytest.approx(-0.5)


# -- view_directions -------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n", [1, 2, 5, 8, 24])
def test_view_directions_are_unit(layout, n):
    d = view_directions(n, layout, seed=4)
    assert d.shape == (n, 3)
    assert np.linalg.norm(d, axis=1) == pytest.approx(np.ones(n), abs=1e-12)


@pytest.mark.parametrize("n", [4, 8, 20, 100])
def test_fibonacci_is_spread(n):
    d = view_directions(n, "fibonacci")
    c = np.clip(d @ d.T, -1, 1)
    np.fill_diagonal(c, -1)
    min_angle = math.acos(c.max())
    # evenly spread: nearest neighbour about sqrt(4 pi / n); a random layout is far worse
    assert min_angle > 2.5 / math.sqrt(n)
    # no hemisphere is empty: the mean direction is near the centre
    assert np.linalg.norm(d.mean(0)) < 0.2


def test_ring_layout_elevations():
    d = view_directions(6, "ring")
    el = np.degrees(np.arcsin(d[:, 2]))
    assert el == pytest.approx([20, -20, 20, -20, 20, -20])
    az = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 360
    assert az == pytest.approx(np.arange(6) * 60.0, abs=1e-9)


def test_random_layout_is_seeded():
    a = view_directions(10, "random", seed=7)
    b = view_directions(10, "random", seed=7)
    c = view_directions(10, "random", seed=8)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_upper_layout_only_from_above_and_seeded():
    from core.geometry.cameras import UPPER_MIN_ELEVATION

    d = view_directions(400, "upper", seed=3)
    el = np.degrees(np.arcsin(d[:, 2]))
    assert el.min() >= UPPER_MIN_ELEVATION - 1e-9 and el.max() <= 90
    assert np.median(d[:, 2]) == pytest.approx((1 + math.sin(math.radians(10))) / 2, abs=0.06)
    assert abs(d[:, 0].mean()) < 0.1 and abs(d[:, 1].mean()) < 0.1  # all azimuths
    assert np.array_equal(d, view_directions(400, "upper", seed=3))
    assert not np.allclose(d, view_directions(400, "upper", seed=4))


def test_view_directions_errors():
    with pytest.raises(ValueError, match="layout"):
        view_directions(4, "spiral")
    with pytest.raises(ValueError):
        view_directions(0)


# -- make_cameras ----------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("radius", [0.9, 2.0, 5.0])
def test_make_cameras_normalised_object_fits_in_image(layout, radius):
    res = 40
    K, R, t = make_cameras(7, res, layout=layout, radius=radius, seed=2)
    assert K.shape == (7, 3, 3) and R.shape == (7, 3, 3) and t.shape == (7, 3)
    for Ri in R:
        assert _is_rotation(Ri)
    # cameras on the sphere of `radius`, looking at the origin
    C = camera_centers(R, t)
    assert np.linalg.norm(C, axis=1) == pytest.approx(np.full(7, radius))
    uv0, _ = project_np(np.zeros((1, 3)), K, R, t)
    assert uv0[:, 0] == pytest.approx(np.full((7, 2), (res - 1) / 2))
    # points on a ball of radius 0.5 (a normalised object: bbox diagonal 1) stay in the image
    g = np.random.default_rng(0).normal(size=(4000, 3))
    ball = 0.5 * g / np.linalg.norm(g, axis=1, keepdims=True)
    uv, z = project_np(ball, K, R, t)
    assert (z > 0).all()
    assert uv.min() >= -0.5 and uv.max() <= res - 0.5
    # ... and fill it: a margin of at most a few pixels (the fov is fitted, not arbitrary)
    extent = uv[..., 0].max(1) - uv[..., 0].min(1)
    assert (extent > 0.75 * res).all()


def test_make_cameras_fixed_fov_and_errors():
    K, _, _ = make_cameras(3, 32, fov_deg=90.0)
    assert K[0, 0, 0] == pytest.approx(16.0)
    with pytest.raises(ValueError):
        make_cameras(3, 32, radius=0.5)
