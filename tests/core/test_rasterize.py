"""core.geometry.rasterize against an independent naive ray caster (Moller-Trumbore in NumPy)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from core.geometry.cameras import make_cameras
from core.geometry.rasterize import render_silhouettes
from core.geometry.shapes import get_shape
from core.evalsets import named_mesh


def ray_cast_masks(vertices, faces, K, R, t, H, W) -> np.ndarray:
    """(I, H, W) bool: does the ray through each pixel centre hit a triangle at distance > 0?"""
    tri = np.asarray(vertices, np.float64)[np.asarray(faces)]  # (F, 3, 3)
    v0, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    rr, cc = np.mgrid[0:H, 0:W]
    pix = np.stack([cc.ravel(), rr.ravel(), np.ones(H * W)], 1).astype(np.float64)  # (P, 3)
    out = []
    for Ki, Ri, ti in zip(K, R, t):
        origin = -Ri.T @ ti
        d = (Ri.T @ np.linalg.solve(Ki, pix.T)).T  # (P, 3) world ray directions
        pvec = np.cross(d[:, None, :], e2[None])  # (P, F, 3)
        det = np.einsum("pfk,fk->pf", pvec, e1)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        tvec = origin - v0  # (F, 3)
        u = np.einsum("pfk,fk->pf", pvec, tvec) * inv
        qvec = np.cross(tvec, e1)  # (F, 3)
        v = np.einsum("pk,fk->pf", d, qvec) * inv
        dist = np.einsum("fk,fk->f", e2, qvec)[None] * inv
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (dist > 0)
        out.append(hit.any(1).reshape(H, W))
    return np.stack(out)


def boundary_only(a: np.ndarray, b: np.ndarray) -> bool:
    """Every pixel where a and b differ has an 8-neighbour in b of the opposite value."""
    diff = a != b
    pad = np.pad(b, ((0, 0), (1, 1), (1, 1)), mode="edge")
    H, W = b.shape[1:]
    has_other = np.zeros_like(b)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            nb = pad[:, 1 + dr : 1 + dr + H, 1 + dc : 1 + dc + W]
            has_other |= nb != b
    return bool(np.all(has_other[diff]))


@pytest.mark.parametrize(
    "mesh",
    [
        trimesh.creation.icosphere(subdivisions=2, radius=0.45),
        get_shape("chair"),
        named_mesh("mug"),
    ],
    ids=["sphere", "chair", "mug"],
)
def test_matches_naive_ray_caster(mesh):
    K, R, t = make_cameras(4, 32, layout="random", seed=3)
    H = W = 32
    fast = render_silhouettes(mesh.vertices, mesh.faces, K, R, t, H, W)
    ref = ray_cast_masks(mesh.vertices, mesh.faces, K, R, t, H, W)
    assert fast.shape == (4, H, W) and fast.dtype == bool
    assert ref.sum() > 50 * 4  # the object is actually visible
    assert boundary_only(fast, ref)
    assert (fast != ref).sum() <= 0.01 * ref.sum()


def test_non_square_and_offset_principal_point():
    mesh = trimesh.creation.box(extents=(0.5, 0.3, 0.4))
    K, R, t = make_cameras(3, 24, layout="ring")
    K = K.copy()
    K[:, 0, 2] += 5.3  # principal point moved, image wider than tall
    K[:, 0, 1] = 1.5  # skew
    fast = render_silhouettes(mesh.vertices, mesh.faces, K, R, t, 24, 36)
    ref = ray_cast_masks(mesh.vertices, mesh.faces, K, R, t, 24, 36)
    assert boundary_only(fast, ref)
    assert (fast != ref).sum() <= 0.01 * ref.sum()


def test_pixel_centre_convention():
    # The rectangle u in [1.9, 4.1], v in [1.6, 2.4] holds exactly the centres of pixels
    # (row 2, columns 2..4); centre of pixel (r, c) is at u = c, v = r.
    K = np.array([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1]]])
    R = np.eye(3)[None]
    t = np.array([[0.0, 0.0, 0.0]])
    verts = np.array([[1.9, 1.6, 1.0], [4.1, 1.6, 1.0], [4.1, 2.4, 1.0], [1.9, 2.4, 1.0]])
    m = render_silhouettes(verts, np.array([[0, 1, 2], [0, 2, 3]]), K, R, t, 5, 6)
    assert m[0, 2].tolist() == [False, False, True, True, True, False]
    assert m[0].sum() == 3


def test_vertex_behind_camera_names_view():
    K, R, t = make_cameras(3, 16)
    verts = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0.0]])
    centre = -R[2].T @ t[2]
    verts = np.vstack([verts, centre + (centre / np.linalg.norm(centre))])  # behind view 2
    with pytest.raises(ValueError, match="view 2"):
        render_silhouettes(verts, np.array([[0, 1, 3]]), K, R, t, 16, 16)


def test_bad_shapes():
    K, R, t = make_cameras(2, 8)
    with pytest.raises(ValueError, match="faces"):
        render_silhouettes(np.zeros((3, 3)), np.array([[0, 1, 5]]), K, R, t, 8, 8)
    with pytest.raises(ValueError, match="t must be"):
        render_silhouettes(np.zeros((3, 3)), np.array([[0, 1, 2]]), K, R, t[:1], 8, 8)
