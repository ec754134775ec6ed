"""The surface correction's training data: random assemblies, the second held-out set, and the
guard that no held-out category enters training (scripts/train_surface_correction.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.geometry.assemblies import (ASSEMBLY_NAME, ATTACH_KINDS, PART_KINDS, SOLID_KINDS,
                                      SOLID_NAME, random_assembly, random_part, random_solid,
                                      scanned_style)
from core.evalsets.dev_shapes import DEV_SHAPES, get_dev_shape
from core.evalsets.novel_shapes import NOVEL_SHAPES, get_novel_shape
from core.evalsets import EVAL_NAMES, HELDOUT_SHAPES
from core.geometry.shapes import SHAPES
from core.io.mesh_scene import make_scene

ROOT = Path(__file__).resolve().parents[2]
HELD_OUT = set(HELDOUT_SHAPES) | set(NOVEL_SHAPES) | set(DEV_SHAPES)


def _script():
    from core.correction import recipe

    return recipe


def test_held_out_sets_are_disjoint_from_demo_shapes_and_each_other():
    assert not set(HELDOUT_SHAPES) & set(NOVEL_SHAPES)
    assert not set(DEV_SHAPES) & (set(HELDOUT_SHAPES) | set(NOVEL_SHAPES))
    assert not HELD_OUT & set(SHAPES)


def test_no_held_out_category_can_enter_training():
    mod = _script()
    assert set(EVAL_NAMES) == HELD_OUT
    assert not set(mod.TRAINING_SOURCES) & HELD_OUT
    assert set(mod.TRAINING_SOURCES) == set(SHAPES) | {ASSEMBLY_NAME, SOLID_NAME}
    # the generators' categories are generic parts, none named like a held-out shape
    assert not (set(PART_KINDS) | set(SOLID_KINDS)) & HELD_OUT
    assert ASSEMBLY_NAME not in HELD_OUT and SOLID_NAME not in HELD_OUT
    # every scene the script would draw names a training source, for both mixes
    for frac in (0.7, 0.0, 1.0):
        names = {mod.scene_spec(i, 2000, frac)["source"] for i in range(400)}
        assert names <= set(mod.TRAINING_SOURCES) and not names & HELD_OUT
    # and a held-out name handed to it is refused
    spec = mod.scene_spec(0, 2000, 0.7)
    for name in HELD_OUT:
        with pytest.raises(AssertionError, match=name):
            mod.scene_mesh({**spec, "source": name})


def test_scene_specs_cover_views_layouts_and_sizes():
    mod = _script()
    specs = [mod.scene_spec(i, 7, 0.7) for i in range(600)]
    views = [s["views"] for s in specs]
    assert min(views) >= 4 and max(views) <= 40 and min(views) <= 5 and max(views) >= 35
    assert {s["layout"] for s in specs} == {"random", "fibonacci", "upper"}
    assert {s["res"] for s in specs} == {64, 96, 128, 160, 192, 256}
    src = np.array([s["source"] for s in specs])
    assert 0.06 < np.mean(src == SOLID_NAME) < 0.14  # SOLID_P = 0.1
    assert 0.56 < np.mean(src == ASSEMBLY_NAME) < 0.7  # 0.7 of the other 0.9
    assert mod.scene_spec(5, 7, 0.7) == specs[5]  # a pure function of (seed, index)
    # adding solids left every other scene as it was: same choices with solids = 0
    plain = [mod.scene_spec(i, 7, 0.7, solids=0.0) for i in range(600)]
    assert all(a == b for a, b in zip(specs, plain) if a["source"] != SOLID_NAME)
    assert {p["source"] for p, a in zip(plain, specs) if a["source"] == SOLID_NAME} != set()
    rough = [s["rough"] for s in specs]
    assert 0.18 < np.mean([r > 0 for r in rough]) < 0.32
    assert all(r == 0 or mod.ROUGHNESS[0] <= r <= mod.ROUGHNESS[1] for r in rough)


def test_rough_scenes_are_scanner_like_versions_of_the_same_object():
    mod = _script()
    spec = next(mod.scene_spec(i, 7, 0.7) for i in range(100)
                if mod.scene_spec(i, 7, 0.7)["rough"] > 0)
    smooth, rough = mod.scene_mesh({**spec, "rough": 0.0}), mod.scene_mesh(spec)
    assert len(rough.faces) > len(smooth.faces)  # finely triangulated
    d = np.abs(rough.bounds - smooth.bounds).max()
    assert 0 < d < 6 * spec["rough"] * 1.7  # jittered by about the roughness, not reshaped


def test_random_assembly_is_seeded_normalised_and_named():
    a, b, c = random_assembly(11), random_assembly(11), random_assembly(12)
    assert np.array_equal(a.vertices, b.vertices) and a.metadata["parts"] == b.metadata["parts"]
    assert a.vertices.shape != c.vertices.shape or not np.allclose(a.vertices, c.vertices)
    for m in (a, c):
        lo, hi = m.bounds
        assert np.linalg.norm(hi - lo) == pytest.approx(1.0)
        assert np.allclose((lo + hi) / 2, 0, atol=1e-9)
        assert m.metadata["name"] == ASSEMBLY_NAME
        assert set(m.metadata["parts"]) <= set(PART_KINDS)


def test_random_solids_are_closed_thick_seeded_and_of_every_kind():
    solids = [random_solid(s) for s in range(60)]
    assert {m.metadata["parts"][0] for m in solids} == set(SOLID_KINDS)
    assert np.array_equal(random_solid(4).vertices, solids[4].vertices)
    for m in solids:
        assert m.is_watertight and m.metadata["name"] == SOLID_NAME
        lo, hi = m.bounds
        assert np.linalg.norm(hi - lo) == pytest.approx(1.0)
        assert (hi - lo).min() > 0.05  # thick: no plate among them
    mod = _script()
    spec = next(s for s in (mod.scene_spec(i, 7, 0.7) for i in range(50))
                if s["source"] == SOLID_NAME)
    assert mod.scene_mesh(spec).is_watertight
    # a long thin block (a face diagonal of 0.99) is made scanner-like too: its edges need
    # more than six rounds of splitting to reach 0.02 (validation scene 1 000 344 failed so)
    block = random_solid(640387053)
    assert block.metadata["parts"] == ["block"] and block.edges_unique_length.max() > 0.95
    fine = scanned_style(block, 0.0, 1)  # no jitter: the subdivision alone
    assert fine.edges_unique_length.max() <= 0.02 + 1e-9 and fine.is_watertight
    assert len(scanned_style(block, 0.003, 1).faces) == len(fine.faces)


def test_solids_with_parts_keep_the_solid_and_add_thin_parts():
    for seed in range(8):
        plain, fitted = random_solid(seed), random_solid(seed, attached=2)
        assert fitted.metadata["parts"][0] == plain.metadata["parts"][0]
        assert len(fitted.metadata["parts"]) == 3
        assert set(fitted.metadata["parts"][1:]) <= set(ATTACH_KINDS)
        assert len(fitted.faces) > len(plain.faces) and fitted.metadata["name"] == SOLID_NAME
        lo, hi = fitted.bounds
        assert np.linalg.norm(hi - lo) == pytest.approx(1.0)
        assert np.array_equal(random_solid(seed, attached=2).vertices, fitted.vertices)
    mod = _script()
    specs = [mod.scene_spec(i, 7, 0.7, attached=0.5) for i in range(600)]
    solids = [s for s in specs if s["source"] == SOLID_NAME]
    assert {s["attached"] for s in solids} == {0, 1, 2, 3}
    assert 0.3 < np.mean([s["attached"] > 0 for s in solids]) < 0.7
    # parts were drawn after everything else: without them every scene is what it was
    bare = [mod.scene_spec(i, 7, 0.7, attached=0.0) for i in range(600)]
    assert all({**a, "attached": 0} == b if a["source"] == SOLID_NAME else a == b
               for a, b in zip(specs, bare))


@pytest.mark.parametrize("kind", PART_KINDS)
def test_every_part_kind_builds(kind):
    k, m = random_part(np.random.default_rng(3), kind)
    assert k == kind and len(m.faces) > 0 and np.isfinite(m.vertices).all()
    assert m.area > 0


def test_assemblies_render_from_above():
    scene = make_scene(random_assembly(5), views=6, res=48, layout="upper", seed=1,
                       gt_points=100)
    assert scene.masks.any(axis=(1, 2)).all()


@pytest.mark.parametrize("get,name", [(get_novel_shape, n) for n in NOVEL_SHAPES]
                         + [(get_dev_shape, n) for n in DEV_SHAPES])
def test_novel_and_dev_shapes_build_and_render(get, name):
    m = get(name)
    lo, hi = m.bounds
    assert np.linalg.norm(hi - lo) == pytest.approx(1.0) and m.metadata["name"] == name
    scene = make_scene(m, views=4, res=32, layout="upper", seed=0, gt_points=10)
    assert scene.name == name and scene.masks.any(axis=(1, 2)).all()


def test_unknown_dev_shape_names_the_known_ones():
    with pytest.raises(ValueError, match="bottle"):
        get_dev_shape("shelf")


def test_unknown_novel_shape_names_the_known_ones():
    with pytest.raises(ValueError, match="scan_plant"):
        get_novel_shape("teapot")


def test_validation_scenes_are_never_training_scenes_and_follow_the_filters():
    import argparse
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    import validate_surface_correction as val

    with pytest.raises(SystemExit):  # indices below FIRST are the training scenes
        val.main(["--weights", "w.npz", "--first", "10"])
    a = argparse.Namespace(first=val.FIRST + 100, scenes=12, seed=2000, min_views=41,
                           rough_only=False, solids=val.SOLID_P)
    assert list(val._validation_scenes(a)) == []  # no scene has more than 40 views
    a.min_views, a.rough_only, a.scenes = 0, True, 8
    got = list(val._validation_scenes(a))
    assert got and all(spec["rough"] > 0 and i >= val.FIRST for i, spec, _ in got)
    assert all(len(scene.gt_points) == 50_000 for _, _, scene in got)
