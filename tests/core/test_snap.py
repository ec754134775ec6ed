"""core.hull.snap.snap_inside against a naive per-point search, and its end-to-end effect."""

from __future__ import annotations

import numpy as np

from core.fit.config import apply_preset
from core.fit.fitter import Fitter
from core.io.mesh_scene import make_scene
from core.hull.inside import inside_all
from core.geometry.cameras import project_np
from core.io.scene import Scene
from core.hull.snap import snap_inside


def _one_view(scene: Scene, i: int) -> Scene:
    return Scene(K=scene.K[i:i + 1], R=scene.R[i:i + 1], t=scene.t[i:i + 1],
                 masks=scene.masks[i:i + 1])


def _naive_targets(uv: np.ndarray, mask: np.ndarray, margin: float) -> list[np.ndarray]:
    """Per point, by brute force: the allowed results, (k, 2) projections. A point whose
    nearest pixel is foreground stays; otherwise its projection clamped into the square
    (shrunk by margin) of any of the equally nearest foreground pixel centres."""
    fg = np.argwhere(mask)  # (n, 2) rows, cols
    H, W = mask.shape
    out = []
    for u, v in uv:
        c, r = int(np.clip(np.rint(u), 0, W - 1)), int(np.clip(np.rint(v), 0, H - 1))
        if np.rint(u) == c and np.rint(v) == r and mask[r, c]:
            out.append(np.array([[u, v]]))
            continue
        d2 = (fg[:, 0] - r) ** 2 + (fg[:, 1] - c) ** 2
        best = fg[d2 == d2.min()]
        out.append(np.stack([np.clip(u, best[:, 1] - 0.5 + margin, best[:, 1] + 0.5 - margin),
                             np.clip(v, best[:, 0] - 0.5 + margin, best[:, 0] + 0.5 - margin)],
                            1))
    return out


def test_single_view_matches_naive_reference() -> None:
    scene = make_scene("blob", views=4, res=32, gt_points=500)
    one = _one_view(scene, 1)
    rng = np.random.default_rng(0)
    pts = scene.gt_points[:300] + rng.normal(0, 0.03, (300, 3))
    uv, z = project_np(pts, one.K, one.R, one.t)
    allowed = _naive_targets(uv[0], one.masks[0], 0.05)
    got = snap_inside(pts, one, passes=1, margin=0.05)
    uv2, z2 = project_np(got, one.K, one.R, one.t)
    for j, ok in enumerate(allowed):
        assert np.abs(ok - uv2[0, j]).max(1).min() < 1e-4, j
    assert (np.abs(uv2[0] - uv[0]).max(1) > 1e-6).sum() > 30  # the test moved enough points
    assert np.allclose(z2, z, atol=1e-5)  # moved at constant depth in that view
    assert inside_all(got, one).all()


def test_points_inside_are_untouched_and_all_end_inside() -> None:
    scene = make_scene("chair", views=8, res=64, gt_points=2000)
    rng = np.random.default_rng(1)
    pts = scene.gt_points + rng.normal(0, 0.01, scene.gt_points.shape)
    before = inside_all(pts, scene)
    assert 0.2 < before.mean() < 0.9  # the test needs both kinds
    got = snap_inside(pts, scene)
    assert np.allclose(got[before], pts[before], atol=1e-6)
    assert inside_all(got, scene).mean() > 0.99
    step = np.linalg.norm(got - pts, axis=1)[~before]
    assert np.median(step) < 0.02  # small moves: a fraction of a pixel to a pixel or two


def test_fit_snaps_after_the_last_iteration_only_when_on() -> None:
    scene = make_scene("torus_knot", views=8, res=64, gt_points=2000)
    on = Fitter(scene, apply_preset("default", points=500, iterations=5, surface_level=0.0))
    pts = on.run()
    assert inside_all(pts, scene).mean() > 0.99
    off = Fitter(scene, apply_preset("default", points=500, iterations=5, surface_level=0.0,
                                     snap="off"))
    assert inside_all(off.run(), scene).mean() < inside_all(pts, scene).mean()


def _naive_nearest(pts: np.ndarray, scene: Scene, radius_px: float, step_px: float) -> np.ndarray:
    """Per point, a plain loop over the lattice offsets in order of length."""
    from core.hull.snap import nearest_offsets

    off = nearest_offsets(radius_px, step_px)
    out = np.asarray(pts, np.float32).copy()
    for j, p in enumerate(out.copy()):
        if inside_all(p[None], scene)[0]:
            continue
        _, z = project_np(p[None].astype(np.float64), scene.K, scene.R, scene.t)
        px = np.median(z[:, 0] / np.sqrt(scene.K[:, 0, 0] * scene.K[:, 1, 1]))
        for o in off:
            c = (p.astype(np.float64) + px * o).astype(np.float32)
            if inside_all(c[None], scene)[0]:
                out[j] = c
                break
    return out


def test_nearest_offsets_are_sorted_and_inside_the_radius() -> None:
    from core.hull.snap import nearest_offsets

    off = nearest_offsets(1.0, 0.25)
    n = np.linalg.norm(off, axis=1)
    count = sum(1 for a in range(-4, 5) for b in range(-4, 5) for c in range(-4, 5)
                if 0 < a * a + b * b + c * c <= 16)
    assert len(off) == count
    assert (n > 0).all() and (n <= 1.0 + 1e-12).all() and (np.diff(n) >= -1e-12).all()
    assert np.allclose(off[:6].__abs__().sum(1), 0.25)  # the six shortest: one step on an axis


def test_snap_nearest_matches_naive_search() -> None:
    from core.hull.snap import snap_nearest

    scene = make_scene("torus_knot", views=6, res=48, gt_points=400)
    rng = np.random.default_rng(3)
    pts = scene.gt_points[:200] + rng.normal(0, 0.006, (200, 3))
    before = inside_all(pts.astype(np.float32), scene)
    assert 0.1 < before.mean() < 0.9
    got = snap_nearest(pts, scene, radius_px=1.0, step_px=0.25, batch=7)
    ref = _naive_nearest(pts, scene, 1.0, 0.25)
    assert np.array_equal(got, ref)
    moved = ~before & (np.abs(got - pts.astype(np.float32)).max(1) > 0)
    assert moved.sum() > 10 and inside_all(got[moved], scene).all()
    assert np.array_equal(got[before], pts[before].astype(np.float32))


def test_view_by_view_inside_test_is_inside_all() -> None:
    from core.hull.snap import _inside_every

    scene = make_scene("chair", views=7, res=40, gt_points=3000)
    rng = np.random.default_rng(5)
    pts = (scene.gt_points + rng.normal(0, 0.02, scene.gt_points.shape)).astype(np.float32)
    got = _inside_every(pts, scene, np.asarray(scene.masks, bool))
    assert 0.1 < got.mean() < 0.9 and np.array_equal(got, inside_all(pts, scene))
