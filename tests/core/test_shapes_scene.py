"""core.geometry.shapes, core.io.mesh_scene, core.io.demo and the scene-folder round trip."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from core.io.demo import demo_scene
from core.io.mesh_scene import make_scene, sample_surface
from core.io.scene import SceneError, read_scene, write_scene
from core.evalsets import HELDOUT_SHAPES, named_mesh
from core.geometry.shapes import SHAPES, get_shape


@pytest.mark.parametrize("name", [*SHAPES, *HELDOUT_SHAPES])
def test_shape_normalised_and_closed(name):
    m = named_mesh(name)
    lo, hi = m.bounds
    assert abs(np.linalg.norm(hi - lo) - 1.0) < 1e-6
    assert np.abs((lo + hi) / 2).max() < 1e-6
    for part in m.split(only_watertight=False):
        assert part.is_watertight and part.volume > 0


def test_shape_sets():
    assert set(SHAPES) == {"blob", "chair", "airplane", "car", "torus_knot"}
    assert not set(SHAPES) & set(HELDOUT_SHAPES) and len(HELDOUT_SHAPES) >= 5
    with pytest.raises(ValueError, match="unknown shape 'teapot'.*chair"):
        get_shape("teapot")


@pytest.mark.parametrize("name", ["chair", "torus_knot", "mug"])
def test_make_scene_masks(name):
    s = make_scene(named_mesh(name), views=5, res=32, gt_points=500, seed=2)
    assert s.masks.shape == (5, 32, 32) and s.masks.dtype == bool
    assert np.all(s.masks.sum((1, 2)) > 10)
    assert not s.masks[:, [0, -1], :].any() and not s.masks[:, :, [0, -1]].any()  # in frame
    assert s.gt_points.shape == (500, 3)
    assert s.name == name
    assert s.extra["source"] == name and s.extra["layout"] == "fibonacci"
    assert s.extra["radius"] == 2.0


def test_make_scene_is_seeded():
    a = make_scene("blob", views=3, res=16, gt_points=100, seed=4, layout="random")
    b = make_scene("blob", views=3, res=16, gt_points=100, seed=4, layout="random")
    c = make_scene("blob", views=3, res=16, gt_points=100, seed=5, layout="random")
    assert np.array_equal(a.gt_points, b.gt_points) and np.array_equal(a.R, b.R)
    assert not np.array_equal(a.gt_points, c.gt_points)


def test_gt_points_lie_on_surface():
    box = trimesh.creation.box(extents=(2.0, 1.0, 0.5))
    pts = sample_surface(box.vertices, box.faces, 3000, seed=0)
    on_face = np.isclose(np.abs(pts), [1.0, 0.5, 0.25]).any(1)
    assert on_face.all() and np.abs(pts).max(0) == pytest.approx([1.0, 0.5, 0.25])
    # uniform by area: faces of area 2x1 (x2), 2x0.5 (x2), 1x0.5 (x2), total 7
    frac_z = np.isclose(np.abs(pts[:, 2]), 0.25).mean()
    assert frac_z == pytest.approx(4 / 7, abs=0.04)


def test_mesh_file_and_errors(tmp_path):
    mesh = trimesh.creation.box(extents=(3.0, 1.0, 1.0))
    mesh.apply_translation([5, 0, 0])
    for ext in (".obj", ".stl", ".ply", ".off"):
        f = tmp_path / f"brick{ext}"
        mesh.export(f)
        s = make_scene(f, views=3, res=24, gt_points=200)
        assert s.name == "brick" and s.masks.any((1, 2)).all()
        assert np.abs(s.gt_points).max(0)[0] == pytest.approx(3 / 2 / np.sqrt(11), abs=1e-5)
        assert s.extra["normalisation"]["center"] == pytest.approx([5, 0, 0])
    with pytest.raises(SceneError, match="nothing.obj"):
        make_scene(tmp_path / "nothing.obj")
    bad = tmp_path / "bad.stl"
    bad.write_bytes(b"\x00garbage" * 3)
    with pytest.raises(SceneError, match="bad.stl"):
        make_scene(bad)
    with pytest.raises(SceneError, match="neither a mesh file nor a shape name"):
        make_scene("teapot")


def test_empty_view_names_view():
    # a stray far vertex makes the normalised sphere sub-pixel: no view sees any pixel of it
    far = trimesh.creation.icosphere(radius=0.01)
    far.vertices = np.vstack([far.vertices, [[40.0, 0, 0]]])  # bbox stretched far along x
    far.faces = np.vstack([far.faces, [[0, 1, len(far.vertices) - 1]]])
    with pytest.raises(SceneError, match="view 0"):
        make_scene(far, views=4, res=16, gt_points=0, layout="ring")


def test_round_trip(tmp_path):
    s = make_scene("car", views=4, res=24, gt_points=1000, seed=3)
    back = read_scene(write_scene(s, tmp_path / "car_scene"))
    assert np.array_equal(back.masks, s.masks)
    for k in ("K", "R", "t"):
        assert np.allclose(getattr(back, k), getattr(s, k), atol=1e-12)
    assert np.allclose(back.gt_points, s.gt_points, atol=1e-6)
    assert back.extra["source"] == "car" and back.extra["radius"] == 2.0


def test_demo_scene_copy():
    a = demo_scene()
    assert a.name == "chair" and a.masks.shape == (8, 64, 64) and a.gt_points.shape == (20000, 3)
    a.masks[:] = False
    assert demo_scene().masks.any()


def test_evaluation_shapes_are_made_by_name():
    from core.evalsets import named_mesh
    from core.evalsets.novel_shapes import get_novel_shape

    by_name = make_scene(named_mesh("glasses"), views=3, res=32, seed=4, gt_points=10)
    by_mesh = make_scene(get_novel_shape("glasses"), views=3, res=32, seed=4, gt_points=10)
    assert by_name.name == "glasses" and np.array_equal(by_name.masks, by_mesh.masks)
    assert by_name.extra["source"] == "glasses"
    table = make_scene(named_mesh("table"), views=3, res=32, seed=4, gt_points=10)
    assert table.name == "table" and table.masks.any()
    with pytest.raises(SceneError, match="chair"):  # the message lists the demo names
        make_scene("no_such_shape", views=3, res=32)


def test_make_scene_command_lists_every_shape_name(tmp_path, capsys):
    from app.cli import run_cli

    assert run_cli(["make-scene", "no_such_shape", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "watering_can" in err and "table" in err and "chair" in err
