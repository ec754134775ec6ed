"""Building the learned depth correction's weights (core.correction.build): the seed reaches
every member, the sample cache records its settings, bad fractions are refused, and the
defaults rebuild the bundled weights' structure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.correction.depth import (N_FEATURES, TARGET_TOL_PX, WEIGHTS, DepthEnsemble,
                                   DepthModel, load_model)


def _train_script():
    import core.correction.build as mod

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


def test_bundled_weights_have_the_layout_and_settings_of_the_default_build(monkeypatch, tmp_path):
    """The bundled file has the layout the build writes with its defaults (the same arrays,
    shapes and dtypes; two quantile outputs, the feature range stored, the default hidden
    width, caution, member count and shrink). Its values are not compared: rebuilding them
    bit for bit takes the full run (scripts/train_surface_correction.py --out W; cmp)."""
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
