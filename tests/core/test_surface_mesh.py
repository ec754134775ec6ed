"""Mesh from a cloud: topology checks, normals, IMLS, watertight meshes, silhouette agreement."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from core.io.mesh_scene import make_scene, sample_surface
from core.surface.checks import topology
from core.surface.mesh import mesh_from_cloud
from core.surface.metrics import mesh_metrics, mesh_silhouette_iou
from core.surface.normals import imls, orient_mst, pca_normals


def _sphere_cloud(n: int = 3000, seed: int = 0) -> np.ndarray:
    d = np.random.default_rng(seed).normal(size=(n, 3))
    return 0.4 * d / np.linalg.norm(d, axis=1, keepdims=True)


def _stick_figure() -> trimesh.Trimesh:
    """A ball on a thin rod: the rod is 1-2 px wide at 48² (a thin-structure case)."""
    ball = trimesh.creation.icosphere(3, radius=0.3)
    ball.apply_translation([0, 0, 0.25])
    rod = trimesh.creation.cylinder(radius=0.02, height=0.6, sections=16)
    rod.apply_translation([0, 0, -0.3])
    return trimesh.util.concatenate([ball, rod])


# -- topology -----------------------------------------------------------------------------
def test_topology_of_closed_open_torus_and_pinched_meshes():
    s = trimesh.creation.icosphere(2)
    t = topology(s.vertices, s.faces)
    assert t.closed_manifold and t.genus == 0 and t.euler == 2 and t.components == 1
    assert topology(s.vertices, s.faces[3:]).boundary_edges > 0
    tor = trimesh.creation.torus(1.0, 0.3)
    assert topology(tor.vertices, tor.faces).genus == 1
    # two tetrahedra sharing one vertex: every edge has two faces, the shared vertex does not
    tet = trimesh.creation.box().convex_hull
    a = trimesh.Trimesh(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]]),
                        np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]), process=False)
    v = np.vstack([a.vertices, -a.vertices[1:]])
    f = np.vstack([a.faces, np.where(a.faces == 0, 0, a.faces + 3)[:, ::-1]])
    pinched = topology(v, f)
    assert pinched.watertight and pinched.edge_manifold and not pinched.vertex_manifold
    assert not pinched.closed_manifold and tet.is_watertight


# -- normals and IMLS ---------------------------------------------------------------------
def test_pca_normals_match_a_naive_loop_and_mst_orients_outward():
    p = _sphere_cloud(400)
    n = pca_normals(p, k=10)
    from scipy.spatial import cKDTree

    _, idx = cKDTree(p).query(p, k=10)
    for i in range(0, 400, 37):  # naive: eigenvector of the smallest eigenvalue, one by one
        q = p[idx[i]] - p[idx[i]].mean(0)
        _, vec = np.linalg.eigh(q.T @ q)
        assert abs(abs(vec[:, 0] @ n[i]) - 1) < 1e-9
    o = orient_mst(p, n)
    assert np.all(np.einsum("ij,ij->i", o, p) > 0)


def test_imls_is_negative_inside_and_near_the_signed_distance():
    p = _sphere_cloud(3000)
    n = p / np.linalg.norm(p, axis=1, keepdims=True)
    q = np.array([[0, 0, 0], [0.3, 0, 0], [0.5, 0, 0], [0, 0, -0.45]])
    f = imls(q, p, n, h=0.03)
    assert f[0] < 0 and f[1] < 0 and f[2] > 0 and f[3] > 0
    np.testing.assert_allclose(f[1:], [-0.1, 0.1, 0.05], atol=0.01)


# -- meshes -------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["poisson", "imls"])
def test_sphere_cloud_gives_a_watertight_manifold_genus0_mesh(method):
    sm = mesh_from_cloud(_sphere_cloud(), method=method, res=40)
    assert sm.topology.closed_manifold and sm.topology.genus == 0, sm.topology.describe()
    r = np.linalg.norm(sm.vertices, axis=1)
    assert abs(np.median(r) - 0.4) < 0.01 and r.max() < 0.43 and r.min() > 0.37
    tri = sm.vertices[sm.faces]
    assert np.einsum("ij,ij->", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) > 0  # outward


def test_mesh_agrees_with_the_silhouettes_of_a_made_scene():
    scene = make_scene(_stick_figure(), views=6, res=48, gt_points=20000, seed=1)
    cloud = sample_surface(*_surface(scene), 3000, seed=2)
    plain = mesh_from_cloud(cloud, scene, res=48, cover=False)
    sm = mesh_from_cloud(cloud, scene, res=48)
    assert sm.topology.closed_manifold, sm.topology.describe()
    iou, cover, inside = mesh_silhouette_iou(sm.vertices, sm.faces, scene)
    assert iou.min() >= 0.95 and inside.min() >= 0.99
    _, cover0, _ = mesh_silhouette_iou(plain.vertices, plain.faces, scene)
    assert cover.sum() > cover0.sum()  # the blobs covered pixels the plain surface missed
    m = mesh_metrics(sm.vertices, sm.faces, scene, cloud=cloud, samples=20000)
    assert m["mesh_cd"] < 1.5 * m["cloud_cd"] + 0.3
    assert len(m["mesh_iou_per_view"]) == 6


def _surface(scene):
    """The ground-truth mesh of a made scene, rebuilt the way make_scene normalises it."""
    from core.geometry.shapes import normalise

    m = normalise(_stick_figure())
    return m.vertices, m.faces


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="method"):
        mesh_from_cloud(_sphere_cloud(100), method="marching")
    with pytest.raises(ValueError, match="at least 16"):
        mesh_from_cloud(np.zeros((3, 3)))
    bad = _sphere_cloud(100)
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        mesh_from_cloud(bad)


def test_poisson_inside_the_hull_also_agrees_with_the_silhouettes():
    scene = make_scene(trimesh.creation.icosphere(3, radius=0.4), views=5, res=40,
                       gt_points=0, seed=3)
    from core.geometry.shapes import normalise

    m = normalise(trimesh.creation.icosphere(3, radius=0.4))
    cloud = sample_surface(m.vertices, m.faces, 2000, seed=4)
    sm = mesh_from_cloud(cloud, scene, method="poisson", res=40)
    assert sm.method == "poisson" and sm.topology.closed_manifold
    iou, _, inside = mesh_silhouette_iou(sm.vertices, sm.faces, scene)
    assert iou.min() >= 0.95 and inside.min() >= 0.99


def test_working_and_original_coordinates_round_trip_and_keep_faces_outward():
    from core.surface.mesh_io import to_original_mesh, to_working

    s = trimesh.creation.icosphere(1)
    T = np.diag([2.0, -1.5, 1.0, 1.0])  # a mirror: faces must flip to stay outward
    T[:3, 3] = [1, 2, 3]
    extra = {"to_original": T.tolist()}
    v, f = to_original_mesh(extra, s.vertices, s.faces)
    np.testing.assert_allclose(to_working(extra, v), s.vertices, atol=1e-12)
    assert trimesh.Trimesh(v, f, process=False).volume > 0
    assert to_original_mesh(None, s.vertices, s.faces)[0] is s.vertices
