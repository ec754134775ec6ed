"""Cotangent Laplacian, conformalized mean curvature flow to the sphere, topology errors, repair."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from core.surface.laplacian import cotangent_laplacian, face_areas, mass_matrix
from core.surface.spherical import TopologyError, map_to_sphere, repair


def _bumpy(sub: int = 3) -> trimesh.Trimesh:
    s = trimesh.creation.icosphere(sub)
    d = s.vertices
    r = 1 + 0.25 * np.sin(3 * d[:, 0]) * np.cos(2 * d[:, 1]) + 0.15 * np.sin(4 * d[:, 2] + 1)
    return trimesh.Trimesh(d * r[:, None], s.faces, process=False)


def _naive_laplacian(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    L = np.zeros((len(v), len(v)))
    for tri in f:
        for k in range(3):
            o, i, j = tri[k], tri[(k + 1) % 3], tri[(k + 2) % 3]
            a, b = v[i] - v[o], v[j] - v[o]
            cot = a @ b / np.linalg.norm(np.cross(a, b))
            L[i, j] += cot / 2
            L[j, i] += cot / 2
            L[i, i] -= cot / 2
            L[j, j] -= cot / 2
    return L


def test_cotangent_laplacian_and_mass_match_naive_references():
    m = _bumpy(1)
    L = cotangent_laplacian(m.vertices, m.faces).toarray()
    np.testing.assert_allclose(L, _naive_laplacian(m.vertices, m.faces), atol=1e-12)
    np.testing.assert_allclose(L.sum(1), 0, atol=1e-12)  # constants in the kernel
    M = mass_matrix(m.vertices, m.faces).diagonal()
    assert np.isclose(M.sum(), face_areas(m.vertices, m.faces).sum())
    assert np.isclose(M.sum(), m.area)
    # x^T (-L) x is the Dirichlet energy: positive for a non-constant function
    x = m.vertices[:, 0]
    assert x @ (-L) @ x > 0


def test_sphere_maps_to_itself_up_to_rotation():
    s = trimesh.creation.icosphere(3)
    rot = Rotation.from_euler("xyz", [0.3, -0.7, 1.1]).as_matrix()
    sm = map_to_sphere(s.vertices @ rot.T * 2.5 + [1, 2, 3], s.faces)
    u = s.vertices / np.linalg.norm(s.vertices, axis=1, keepdims=True)
    R, _ = Rotation.align_vectors(u, sm.sphere)
    err = np.linalg.norm(R.apply(sm.sphere) - u, axis=1)
    assert err.max() < 1e-3 and sm.flipped == 0
    np.testing.assert_allclose(np.linalg.norm(sm.sphere, axis=1), 1, atol=1e-12)


@pytest.mark.parametrize("shape", ["ellipsoid", "bumpy"])
def test_ellipsoid_and_bumpy_blob_map_without_flips(shape):
    m = _bumpy(3) if shape == "bumpy" else trimesh.creation.icosphere(3)
    v = m.vertices * ([1.0, 0.6, 0.35] if shape == "ellipsoid" else 1.0)
    sm = map_to_sphere(v, m.faces)
    assert sm.flipped == 0 and sm.steps > 1
    # area-centred: the input's area-weighted centroid on the sphere is near the origin
    c = (sm.sphere[m.faces].mean(1) * face_areas(v, m.faces)[:, None]).sum(0)
    assert np.linalg.norm(c) / face_areas(v, m.faces).sum() < 1e-3


def test_errors_for_torus_open_parts_and_nonmanifold_meshes():
    tor = trimesh.creation.torus(1.0, 0.3)
    with pytest.raises(TopologyError, match=r"not genus 0 \(Euler characteristic 0, genus 1\)"):
        map_to_sphere(tor.vertices, tor.faces, what="torus.obj")
    s = trimesh.creation.icosphere(2)
    with pytest.raises(TopologyError, match="open"):
        map_to_sphere(s.vertices, s.faces[2:])
    two = trimesh.util.concatenate([s, s.copy().apply_translation([3, 0, 0])])
    with pytest.raises(TopologyError, match="2 separate parts"):
        map_to_sphere(two.vertices, two.faces)
    f = np.vstack([s.faces, s.faces[:1]])  # a face twice: an edge in more than two faces
    with pytest.raises(TopologyError, match="not manifold"):
        map_to_sphere(s.vertices, f)


def test_repair_closes_an_open_mesh_and_a_torus_to_genus_0():
    s = trimesh.creation.icosphere(3)
    v, f, what = repair(s.vertices, s.faces[6:], res=32)
    assert "remeshed" in what
    sm = map_to_sphere(v, f)
    assert sm.flipped == 0
    r = np.linalg.norm(v - v.mean(0), axis=1)
    assert abs(np.median(r) - 1) < 0.08
    tor = trimesh.creation.torus(1.0, 0.3)
    v, f, what = repair(tor.vertices, tor.faces, res=32)
    assert "closed with a" in what
    map_to_sphere(v, f)  # no TopologyError


def test_a_long_thin_tube_is_refused_with_a_clear_error():
    from core.surface.spherical import MapError

    c = trimesh.creation.capsule(height=6.0, radius=0.25, count=[32, 32])
    v, f, _ = repair(c.vertices, c.faces, res=48)  # well-shaped triangles, genus 0
    with pytest.raises(MapError, match="tube.obj: the conformal map degenerated"):
        map_to_sphere(v, f, what="tube.obj")
    short = trimesh.creation.capsule(height=1.0, radius=0.25, count=[32, 32])
    v, f, _ = repair(short.vertices, short.faces, res=48)
    assert map_to_sphere(v, f).flipped == 0
