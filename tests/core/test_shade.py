"""Z-buffer rasteriser and Lambertian shading against naive per-pixel references."""

from __future__ import annotations

import numpy as np
import trimesh

from core.geometry.cameras import make_cameras
from core.geometry.rasterize import render_silhouettes
from core.geometry.shade import rasterize_depth, shade_mesh
from core.geometry.shapes import get_shape


def _two_blobs() -> trimesh.Trimesh:
    a = trimesh.creation.icosphere(1, radius=0.3)
    b = trimesh.creation.box(extents=(0.5, 0.2, 0.3))
    b.apply_translation((0.15, 0.1, 0.05))
    return trimesh.util.concatenate([a, b])


def _naive_depth(v, f, K, R, t, H, W):
    """Per pixel, per triangle ray casting (Moller-Trumbore): nearest hit's camera z."""
    face = np.full((H, W), -1)
    depth = np.full((H, W), np.inf)
    cam = v @ R.T + t  # camera coordinates
    Kinv = np.linalg.inv(K)
    for r in range(H):
        for c in range(W):
            d = Kinv @ np.array([c, r, 1.0])  # ray through the pixel centre, z = 1
            for k, (i0, i1, i2) in enumerate(f):
                p0, p1, p2 = cam[i0], cam[i1], cam[i2]
                e1, e2 = p1 - p0, p2 - p0
                h = np.cross(d, e2)
                a = e1 @ h
                if abs(a) < 1e-14:
                    continue
                s = -p0
                u = (s @ h) / a
                q = np.cross(s, e1)
                w = (d @ q) / a
                if u < -1e-12 or w < -1e-12 or u + w > 1 + 1e-12:
                    continue
                z = (e2 @ q) / a  # ray parameter = z since d has z = 1
                if z < depth[r, c] - 1e-12:
                    depth[r, c], face[r, c] = z, k
    return face, depth


def test_depth_matches_ray_casting():
    m = _two_blobs()
    v, f = np.asarray(m.vertices), np.asarray(m.faces)
    K, R, t = make_cameras(2, 14, layout="fibonacci", radius=1.5, fov_deg=30)
    face, depth = rasterize_depth(v, f, K, R, t, 14, 14)
    for i in range(2):
        nf, nd = _naive_depth(v, f, K[i], R[i], t[i], 14, 14)
        both = np.isfinite(nd) & np.isfinite(depth[i])
        assert both.sum() > 40
        # pixel centres exactly on an outer edge may differ by the 1e-12 tolerance only
        assert (np.isfinite(nd) != np.isfinite(depth[i])).sum() <= 2
        np.testing.assert_allclose(depth[i][both], nd[both], rtol=1e-9, atol=1e-9)
        # the reported face lies at the reported depth along the pixel's ray
        cam = v @ R[i].T + t[i]
        rows, cols = np.nonzero(both)
        for r, c in zip(rows, cols):
            p0, p1, p2 = cam[f[face[i, r, c]]]
            n = np.cross(p1 - p0, p2 - p0)
            d = np.linalg.inv(K[i]) @ np.array([c, r, 1.0])
            assert abs((n @ p0) / (n @ d) - depth[i, r, c]) < 1e-9


def test_coverage_equals_silhouette():
    m = get_shape("chair")
    K, R, t = make_cameras(4, 40, layout="random", seed=3)
    face, depth = rasterize_depth(m.vertices, m.faces, K, R, t, 40, 40)
    sil = render_silhouettes(m.vertices, m.faces, K, R, t, 40, 40)
    np.testing.assert_array_equal(face >= 0, sil)
    assert np.all(np.isfinite(depth) == sil)


def test_lambert_plane_and_two_sided():
    # a square in the plane z = 0 seen from +z and from -z (normal facing away: flipped)
    v = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], float) * 0.5
    f = np.array([[0, 1, 2], [0, 2, 3]])
    albedo = np.array([[0.8, 0.4, 0.2]] * 2)
    K = np.array([[[20.0, 0, 7.5], [0, 20, 7.5], [0, 0, 1]]] * 2)
    R = np.stack([np.diag([1.0, -1.0, -1.0]), np.eye(3)])  # looking down -z, and up +z
    t = np.array([[0, 0, 2.0], [0, 0, 2.0]])
    light = (0.3, -0.4, -0.8)
    img, cover = shade_mesh(v, f, albedo, K, R, t, 16, 16, light=light, ambient=0.25)
    L = np.asarray(light) / np.linalg.norm(light)
    want = np.rint(255 * albedo[0] * (0.25 + 0.75 * max(0.0, -L[2])))  # n_cam = (0, 0, -1)
    for i in range(2):
        assert cover[i, 8, 8]
        np.testing.assert_array_equal(img[i, 8, 8], want)
        assert (img[i][~cover[i]] == 255).all()
