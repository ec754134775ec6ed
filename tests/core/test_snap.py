"""core.hull.snap.snap_inside against a naive per-point search, and its end-to-end effect."""

from __future__ import annotations

import numpy as np

from core.fit.config import apply_preset
from core.fit.fitter import Fitter
from core.io.mesh_scene import make_scene
from core.metrics import inside_all
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
