"""Tests of core.hull.correction: features, normals and targets against naive references,
weights round trip, the bundled model on shapes it never saw, and the training script."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial import cKDTree

from core.hull.visual_hull import carving_maps, hull_volume
from core.io.mesh_scene import make_scene, sample_surface
from core.metrics import evaluate
from core.geometry.shapes import HELDOUT_SHAPES, SHAPES
from core.hull.snap import snap_inside
from core.hull.correction import (
    DEPTHS_PX, N_FEATURES, TARGET_TOL_PX, WEIGHTS, DepthEnsemble, DepthModel, correct_points,
    depth_targets, margin_at, hull_normals, load_model, point_features)
from core.hull.prior import HullPrior

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sphere_scene():
    return make_scene(trimesh.creation.icosphere(4), views=10, res=64, layout="random",
                      seed=3, gt_points=20_000)


@pytest.fixture(scope="module")
def sphere_hull(sphere_scene):
    return hull_volume(sphere_scene, 64, level=0.5)


def _on_surface(hv, n=400):
    from skimage.measure import marching_cubes

    v, f, _, _ = marching_cubes(hv.vol, 0.5, spacing=tuple(hv.spacing))
    return sample_surface(v + hv.lo, f.astype(np.int64), n, 0)


def test_margin_at_matches_grid_values(sphere_hull):
    hv = sphere_hull
    idx = np.array([[10, 20, 30], [33, 33, 33], [5, 40, 12]])
    pts = hv.lo + idx * hv.spacing
    assert np.allclose(margin_at(hv, pts), hv.vol[tuple(idx.T)])


def test_normals_point_out_of_the_sphere(sphere_hull):
    P = _on_surface(sphere_hull)
    n = hull_normals(sphere_hull, P)
    radial = P / np.linalg.norm(P, axis=1, keepdims=True)  # the sphere is centred at 0
    assert np.allclose(np.linalg.norm(n, axis=1), 1.0)
    assert np.median(np.einsum("ij,ij->i", n, radial)) > 0.97


def test_features_shape_finite_and_scale_free(sphere_scene, sphere_hull):
    P = _on_surface(sphere_hull, 300)
    sd = carving_maps(sphere_scene.masks, level=0.5)
    X, n, px = point_features(sphere_scene, sphere_hull, sd, P, 0.5)
    assert X.shape == (300, N_FEATURES) and X.dtype == np.float32
    assert np.isfinite(X).all() and (px > 0).all()
    # the same scene scaled x3 about the origin (cameras moved with it) gives the same features
    sc = sphere_scene
    big = type(sc)(masks=sc.masks, K=sc.K, R=sc.R, t=3 * sc.t, name="big")
    hv3 = hull_volume(big, 64, level=0.5)
    X3, _, px3 = point_features(big, hv3, sd, 3 * P, 0.5)
    assert np.allclose(px3, 3 * px, rtol=1e-6)
    assert np.median(np.abs(X3 - X)) < 0.02


def test_depth_targets_match_brute_force():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(3000, 3))
    gt /= np.linalg.norm(gt, axis=1, keepdims=True)  # unit sphere samples
    P = gt[:50] * 1.03  # 0.03 outside, outward normals = radial
    n = P / np.linalg.norm(P, axis=1, keepdims=True)
    px = np.full(50, 0.01)
    depth, best = depth_targets(P, n, px, cKDTree(gt), tol=0.3)
    for j in range(50):  # naive: all candidate depths, all gt points
        q = P[j] - DEPTHS_PX[:, None] * px[j] * n[j]
        d = np.sqrt(((q[:, None] - gt[None]) ** 2).sum(-1)).min(1)
        d[d > 0.05] = np.inf
        assert best[j] == pytest.approx(d.min())
        assert depth[j] == DEPTHS_PX[np.argmax(d <= d.min() + 0.3 * px[j])]
    assert np.median(depth) == pytest.approx(3.0, abs=0.3)  # 0.03 / 0.01 px


def test_model_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    m = DepthModel(16)
    m.mu.normal_()
    path = tmp_path / "w.npz"
    m.save(path)
    m2 = load_model(path)
    x = torch.randn(7, N_FEATURES)
    assert torch.allclose(m(x), m2(x))


def test_missing_weights_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_model(tmp_path / "nope.npz")


def test_bundled_weights_exist_and_load():
    assert WEIGHTS.is_file()
    x = torch.zeros(3, N_FEATURES)
    assert torch.isfinite(load_model()(x)).all()


def _cd(scene, correct: bool, n: int = 1500) -> float:
    """CD x100 of the fit's start (hull surface points, optionally corrected) after the snap."""
    prior = HullPrior(scene, 128, level=0.5)
    return evaluate(snap_inside(prior.surface_points(n, 0, correct=correct), scene), scene)["cd"]


def test_learned_correction_flattens_the_held_out_stool_seat():
    # the stool is a held-out shape (never trained on); no view sees its seat edge-on, so the
    # seat's hull is a lens and the correction moves its caps onto the seat
    k = list(HELDOUT_SHAPES).index("stool")
    scene = make_scene("stool", views=8, res=64, layout="random", seed=100 + k,
                       gt_points=20_000)
    plain, learned = _cd(scene, False, 2000), _cd(scene, True, 2000)
    assert learned < 0.93 * plain, (plain, learned)


def test_learned_correction_keeps_a_sphere(sphere_scene):
    plain, learned = _cd(sphere_scene, False), _cd(sphere_scene, True)
    assert learned < 1.05 * plain, (plain, learned)


def test_correct_points_moves_along_normals(sphere_scene, sphere_hull):
    P = _on_surface(sphere_hull, 200)
    sd = carving_maps(sphere_scene.masks, level=0.5)
    out = correct_points(sphere_scene, sphere_hull, sd, P, 0.5)
    step = out.points - P
    n = hull_normals(sphere_hull, P)
    along = np.einsum("ij,ij->i", step, -n)
    assert np.allclose(np.linalg.norm(step, axis=1), np.abs(along), atol=1e-9)
    assert (out.depth >= -1).all() and (out.depth <= 40).all()
    assert len(correct_points(sphere_scene, sphere_hull, sd, P[:0], 0.5).points) == 0


def test_training_samples_and_learns(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_surface_correction as tsc

    assert not set(SHAPES) & set(HELDOUT_SHAPES)
    X, y, ids = tsc.scene_samples([0, 3], seed=5, assemblies=0.5, per_scene=1500)
    assert X.shape == (3000, N_FEATURES) and y.shape == ids.shape == (3000,)
    assert set(ids) == {0, 3}
    assert np.isfinite(X).all() and np.isfinite(y).all()
    model = tsc.train(X, y, np.zeros_like(ids), epochs=20, seed=0, batch=256)
    with torch.no_grad():
        pred = model(torch.tensor(X)).numpy()
    yc = np.clip(y, -1, 40)
    assert np.abs(pred[:, 0] - yc).mean() < 0.9 * np.abs(yc - np.median(yc)).mean()  # fits
    assert np.mean(pred[:, 1] <= pred[:, 0] + 1e-3) > 0.9  # the 0.25 quantile lies below
    assert (model.lo <= model.hi).all()


def test_target_slack_reaches_the_training_targets():
    """--target-tol: a tighter slack never gives a shallower target (the first candidate
    within 0.05 px of the closest approach lies at or after the first within 0.3 px) and
    changes some; the features do not depend on it."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_surface_correction as tsc

    X0, y0, _ = tsc.scene_samples([1], seed=5, assemblies=0.5, per_scene=600, tol=0.3)
    X1, y1, _ = tsc.scene_samples([1], seed=5, assemblies=0.5, per_scene=600, tol=0.05)
    np.testing.assert_array_equal(X0, X1)
    assert (y1 >= y0).all() and (y1 > y0).mean() > 0.1
    assert depth_targets.__defaults__ == (TARGET_TOL_PX,)  # the script's default slack


# -- the training script's --seed ------------------------------------------------------------
def _train_script():
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "train_surface_correction.py"
    spec = importlib.util.spec_from_file_location("train_surface_correction", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _InlinePool:
    """The training script's process pool, run in this process."""

    def __init__(self, n):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def map(self, fn, *its):
        return map(fn, *its)


def _weights(model) -> np.ndarray:
    return np.concatenate([p.detach().numpy().ravel() for p in model.net.parameters()])


def test_train_seed_sets_the_initialisation():
    mod = _train_script()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, N_FEATURES)).astype(np.float32)
    y, ids = rng.uniform(0, 5, 64), np.repeat(np.arange(8), 8)
    a1, a2, b = (_weights(mod.train(X, y, ids, 2, s)) for s in (3, 3, 4))
    assert np.array_equal(a1, a2) and not np.allclose(a1, b)


def test_main_passes_seed_to_train(monkeypatch, tmp_path):
    """--seed reaches train() (it was a fixed 0 before)."""
    mod = _train_script()
    seen = {}

    def fake_samples(indices, seed, assemblies, level, per_scene, tol, solids, attached):
        seen["tol"] = tol
        return np.zeros((2, N_FEATURES), np.float32), np.zeros(2), np.zeros(2)

    def fake_train(X, y, ids, epochs, seed, hidden, caution):
        seen.setdefault("seeds", []).append(seed)
        return DepthModel()

    monkeypatch.setattr(mod, "ProcessPoolExecutor", _InlinePool)
    monkeypatch.setattr(mod, "scene_samples", fake_samples)
    monkeypatch.setattr(mod, "train", fake_train)
    assert mod.main(["--seed", "77", "--scenes", "1", "--workers", "1",
                     "--out", str(tmp_path / "w.npz")]) == 0
    assert seen["seeds"] == [77 + k for k in range(mod.MEMBERS)]  # member k: seed + k
    assert seen["tol"] == TARGET_TOL_PX == 0.15
    m = load_model(tmp_path / "w.npz")
    assert isinstance(m, DepthEnsemble) and len(m.members) == mod.MEMBERS
    assert float(m.shrink) == mod.SHRINK
    seen.clear()
    assert mod.main(["--scenes", "1", "--workers", "1", "--target-tol", "0.1", "--members", "1",
                     "--out", str(tmp_path / "w1.npz")]) == 0
    assert seen["tol"] == 0.1 and seen["seeds"] == [2000]
    assert isinstance(load_model(tmp_path / "w1.npz"), DepthModel)  # one member: a plain model


def _model_with_outputs(med: float, low: float) -> DepthModel:
    """A 2-output DepthModel predicting the constants (med, low), trained on features in
    [0, 1]."""
    m = DepthModel(4, 2)
    with torch.no_grad():
        for p in m.net.parameters():
            p.zero_()
        m.net[-1].bias.copy_(torch.tensor([med, low]))
        m.lo.zero_()
        m.hi.fill_(1.0)
        m.caution.fill_(1.0)
    return m.eval()


@pytest.mark.parametrize("med,low,expect", [(5.0, 2.0, 2.0), (5.0, -1.0, 0.0), (2.0, 3.0, 2.0),
                                            (-0.5, -0.8, -0.5)])
def test_depth_is_cautious_inward(med, low, expect):
    m = _model_with_outputs(med, low)
    d, sure = m.depth(torch.full((3, N_FEATURES), 0.5))
    assert torch.allclose(d, torch.full((3,), expect)) and bool(sure.all())


def test_caution_blends_median_and_cautious_quantile():
    m = _model_with_outputs(6.0, 2.0)
    x = torch.full((2, N_FEATURES), 0.5)
    for c, expect in ((0.0, 6.0), (0.25, 5.0), (1.0, 2.0)):
        m.caution.fill_(c)
        assert torch.allclose(m.depth(x)[0], torch.full((2,), expect))
    assert torch.allclose(m.depth(x, cautious=False)[0], torch.full((2,), 6.0))


def test_ensemble_of_one_model_is_that_model():
    m = _model_with_outputs(5.0, 2.0)
    x = torch.full((3, N_FEATURES), 0.5)
    x[2, 0] = -0.5  # unfamiliar
    for shrink in (0.0, 4.0):
        e = DepthEnsemble([m, m, m], shrink)
        (d, s), (d1, s1) = e.depth(x), m.depth(x)
        assert torch.allclose(d, d1) and torch.equal(s, s1)


@pytest.mark.parametrize("shrink,expect", [(0.0, 4.0), (1.0, 3.2), (4.0, 2.0), (12.0, 1.0)])
def test_ensemble_shrinks_to_the_hull_where_members_disagree(shrink, expect):
    # members say 2 and 6 px: mean 4, population sd 2 -> 4 * 16 / (16 + shrink * 4)
    a, b = _model_with_outputs(2.0, 2.0), _model_with_outputs(6.0, 6.0)
    d, sure = DepthEnsemble([a, b], shrink).depth(torch.full((2, N_FEATURES), 0.5))
    assert torch.allclose(d, torch.full((2,), expect)) and bool(sure.all())
    # outward moves shrink the same way, and agreement on 0 stays 0 (no 0 / 0)
    c, e = _model_with_outputs(-0.2, -0.2), _model_with_outputs(-0.6, -0.6)
    d, _ = DepthEnsemble([c, e], shrink).depth(torch.full((1, N_FEATURES), 0.5))
    assert d.item() == pytest.approx(-0.4 * 0.16 / (0.16 + shrink * 0.04))
    z = _model_with_outputs(0.0, 0.0)
    assert DepthEnsemble([z, z], shrink).depth(torch.full((1, N_FEATURES), 0.5))[0].item() == 0


def test_ensemble_is_unsure_where_any_member_is():
    a, b = _model_with_outputs(3.0, 3.0), _model_with_outputs(3.0, 3.0)
    with torch.no_grad():
        b.hi.fill_(0.5)  # b's training range ends at 0.5: 0.9 is unfamiliar to b only
    x = torch.full((2, N_FEATURES), 0.4)
    x[1, 7] = 0.9
    d, sure = DepthEnsemble([a, b], 0.0).depth(x)
    assert sure.tolist() == [True, False] and d.tolist() == [3.0, 0.0]


def test_ensemble_save_load_round_trip(tmp_path):
    torch.manual_seed(1)
    e = DepthEnsemble([DepthModel(8, 2), DepthModel(8, 2), DepthModel(8, 2)], 2.5)
    for m in e.members:
        m.mu.normal_()
        m.caution.fill_(0.25)
    e.save(tmp_path / "e.npz")
    e2 = load_model(tmp_path / "e.npz")
    assert isinstance(e2, DepthEnsemble) and len(e2.members) == 3
    assert float(e2.shrink) == 2.5
    x = torch.randn(9, N_FEATURES)
    assert torch.allclose(e(x), e2(x))
    assert torch.allclose(e.depth(x)[0], e2.depth(x)[0])
    with pytest.raises(ValueError, match="at least one"):
        DepthEnsemble([])


def test_unfamiliar_features_keep_the_hull_surface():
    m = _model_with_outputs(5.0, 4.0)
    x = torch.full((4, N_FEATURES), 0.5)
    x[1, 3] = 1.2  # 0.2 of the range outside: clipped, still sure
    x[2, 5] = 1.3  # 0.3 outside (> OOD_MARGIN): unsure
    x[3, 0] = -0.5
    d, sure = m.depth(x)
    assert sure.tolist() == [True, True, False, False]
    assert d.tolist() == [4.0, 4.0, 0.0, 0.0]


@pytest.mark.parametrize("bad", [["--members", "0"], ["--solids", "1.5"], ["--assemblies", "-0.1"],
                                 ["--attached", "2"]])
def test_bad_recipe_numbers_fail_before_any_data_is_made(bad, monkeypatch, tmp_path, capsys):
    mod = _train_script()
    monkeypatch.setattr(mod, "scene_samples", lambda *a: pytest.fail("data made"))
    with pytest.raises(SystemExit):
        mod.main(bad + ["--out", str(tmp_path / "w.npz")])
    assert bad[0] in capsys.readouterr().err


def test_a_data_cache_made_with_other_settings_is_refused(monkeypatch, tmp_path, capsys):
    """--data is read back only if it was made with the same data settings: a cache written
    with the old 0.3 px slack must not silently train the 0.15 px default."""
    mod = _train_script()

    monkeypatch.setattr(mod, "ProcessPoolExecutor", _InlinePool)
    monkeypatch.setattr(mod, "scene_samples", lambda *a: (np.zeros((2, N_FEATURES), np.float32),
                                                          np.zeros(2), np.zeros(2, np.int64)))
    monkeypatch.setattr(mod, "train", lambda *a, **k: DepthModel())
    data, out = tmp_path / "d.npz", str(tmp_path / "w.npz")
    base = ["--scenes", "1", "--workers", "1", "--members", "1", "--data", str(data), "--out", out]
    assert mod.main(base + ["--target-tol", "0.3"]) == 0  # writes the cache, with its settings
    with np.load(data) as z:
        assert z["target_tol"].item() == 0.3 and z["scenes"].item() == 1
    assert mod.main(base + ["--target-tol", "0.3"]) == 0  # same settings: read back
    with pytest.raises(SystemExit):
        mod.main(base)  # the default slack differs
    assert "--target-tol 0.3" in capsys.readouterr().err
    np.savez(data, X=np.zeros((2, N_FEATURES), np.float32), y=np.zeros(2), ids=np.zeros(2))
    with pytest.raises(SystemExit):
        mod.main(base)  # an old cache that records nothing
    assert "(not recorded)" in capsys.readouterr().err


def test_training_is_bit_exact():
    mod = _train_script()
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, N_FEATURES)).astype(np.float32)
    y, ids = rng.uniform(-1, 8, 500), np.repeat(np.arange(10), 50)
    a, b = (mod.train(X, y, ids, 2, 9, batch=64) for _ in range(2))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


# -- the bundled weights are this script's output with its defaults ----------------------------
def test_bundled_weights_are_the_training_scripts_model(monkeypatch, tmp_path):
    """The bundled file has the layout the script writes (two quantile outputs, the feature
    range stored, the hidden width and caution of the script's defaults); rebuilding it bit
    for bit takes the full run (scripts/train_surface_correction.py --out W; cmp)."""
    mod = _train_script()
    seen = {}

    def fake_train(X, y, ids, epochs, seed, hidden, caution):
        seen.update(epochs=epochs, hidden=hidden, caution=caution, n=len(X))
        seen.setdefault("seeds", []).append(seed)
        return DepthModel(hidden, outputs=2)

    monkeypatch.setattr(mod, "train", fake_train)
    data = tmp_path / "d.npz"
    made = dict(scenes=mod.SCENES, seed=2000, assemblies=0.7, solids=mod.SOLID_P,
                attached=mod.ATTACHED_P, per_scene=4000,
                target_tol=TARGET_TOL_PX)
    np.savez(data, X=np.zeros((4, N_FEATURES), np.float32), y=np.zeros(4), ids=np.arange(4),
             **made)
    assert mod.main(["--data", str(data), "--out", str(tmp_path / "w.npz")]) == 0
    with np.load(tmp_path / "w.npz") as a, np.load(WEIGHTS) as b:
        assert sorted(a.files) == sorted(b.files)
        assert all(a[k].shape == b[k].shape and a[k].dtype == b[k].dtype for k in a.files)
        M = int(b["members"])
        assert M == mod.MEMBERS and float(b["shrink"]) == mod.SHRINK
        for k in range(M):
            assert int(b[f"m{k}.hidden"]) == seen["hidden"]
            assert float(b[f"m{k}.caution"]) == seen["caution"]
            assert np.isfinite(b[f"m{k}.lo"]).all() and np.isfinite(b[f"m{k}.hi"]).all()
    m = load_model()
    assert isinstance(m, DepthEnsemble) and m.outputs == 2 and seen["epochs"] == 20
    assert seen["seeds"] == [2000 + k for k in range(mod.MEMBERS)]
    # the members differ (different seeds), so their disagreement means something
    assert not torch.equal(m.members[0].net[0].weight, m.members[1].net[0].weight)
