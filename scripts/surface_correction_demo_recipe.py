"""The recipe of the *bundled* surface-correction weights (demo shapes only), kept so that
``scripts/train_surface_correction.py --recipe demo --out W`` rebuilds
resources/surface_correction.npz bit for bit.

This is the training script's previous version (e565ce3) without its unused options: 140
scenes of the demo shapes (core.geometry.shapes.SHAPES), randomly stretched (x0.6-1.6 per
axis, 70 %) and rotated, 'random' camera layout at the (views, px) pairs of ``SETTINGS``,
6000 hull samples per scene; scenes drawn from one generator per worker (``seed + worker``),
so the data depend on ``--workers`` (2 for the bundled weights), and the model is trained with
as many torch threads as workers; DepthModel with one output, smooth-L1 (beta 0.5 px),
AdamW + one-cycle, 25 epochs; data ``--seed 1000``, model initialisation, validation split and
batch order from seed 0 (``TRAIN_SEED``: that version passed a fixed 0 to its training). The file holds the single-output model's keys
only (no feature range: core.hull.correction's out-of-range fallback is inert for it).
"""

from __future__ import annotations

import time

import numpy as np

SETTINGS = [(8, 64), (12, 96), (20, 128), (16, 64), (30, 128), (10, 128), (24, 96)]
DEFAULTS = {"scenes": 140, "epochs": 25, "seed": 1000, "per_scene": 6000}
TRAIN_SEED = 0  # the bundled model was initialised (and split) with seed 0, the data with 1000


def scene_samples(worker: int, n_scenes: int, seed: int, level: float = 0.5,
                  per_scene: int = 6000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (N, F), targets (N,) pixels and scene ids (N,) of one worker's scenes."""
    import torch
    from scipy.spatial.transform import Rotation

    from core.geometry.novel_shapes import NOVEL_SHAPES
    from core.geometry.shapes import HELDOUT_SHAPES, SHAPES, get_shape
    from core.io.mesh_scene import make_scene
    from train_surface_correction import samples_of

    torch.set_num_threads(1)
    assert not set(SHAPES) & (set(HELDOUT_SHAPES) | set(NOVEL_SHAPES))
    rng = np.random.default_rng(seed + worker)
    Xs, ys, ids = [], [], []
    t0 = time.time()
    for k in range(n_scenes):
        name = list(SHAPES)[rng.integers(len(SHAPES))]
        mesh = get_shape(name).copy()
        if rng.random() < 0.7:
            mesh.apply_transform(np.diag(list(rng.uniform(0.6, 1.6, 3)) + [1]))
        T = np.eye(4)
        T[:3, :3] = Rotation.random(random_state=rng.integers(1 << 30)).as_matrix()
        mesh.apply_transform(T)
        views, res = SETTINGS[rng.integers(len(SETTINGS))]
        scene = make_scene(mesh, views=views, res=res, layout="random",
                           seed=int(rng.integers(1 << 20)), gt_points=1000)
        X, y = samples_of(scene, mesh, per_scene, k, level)
        Xs.append(X)
        ys.append(y)
        ids.append(np.full(len(X), worker * 100_000 + k))
        print(f"worker {worker} scene {k + 1}/{n_scenes}: {name}, {views} views, {res} px, "
              f"median depth {np.median(y):.2f} px ({time.time() - t0:.0f} s)", flush=True)
    return np.concatenate(Xs), np.concatenate(ys), np.concatenate(ids)


def train(X: np.ndarray, y: np.ndarray, ids: np.ndarray, epochs: int, seed: int,
          threads: int, batch: int = 4096):
    """The single-output DepthModel, smooth-L1; ``threads`` torch threads (the worker count)."""
    import torch

    from core.hull.correction import DepthModel
    from train_surface_correction import fit_depth_model

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    model = DepthModel(64, 1)
    model.mu.copy_(torch.tensor(X.mean(0)))
    model.sd.copy_(torch.tensor(X.std(0) + 1e-6))
    return fit_depth_model(
        model, X, y, ids, epochs, seed, batch,
        lambda pred, target: torch.nn.functional.smooth_l1_loss(pred[:, 0], target, beta=0.5))


def save(model, path) -> None:
    """The bundled file's layout: ``hidden`` and the single-output model's original keys."""
    keep = ("mu", "sd")
    arrays = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()
              if k in keep or k.startswith("net.")}
    np.savez(path, hidden=np.array(model.hidden), **arrays)


def build(scenes: int, workers: int, epochs: int, seed: int, per_scene: int, out: str) -> None:
    """Make the data in ``workers`` processes, train, write ``out``."""
    from concurrent.futures import ProcessPoolExecutor

    per = [scenes // workers + (w < scenes % workers) for w in range(workers)]
    with ProcessPoolExecutor(workers) as ex:
        parts = list(ex.map(scene_samples, range(workers), per, [seed] * workers,
                            [0.5] * workers, [per_scene] * workers))
    X, y, ids = (np.concatenate([p[k] for p in parts]) for k in range(3))
    print(f"{len(X)} samples from {scenes} scenes", flush=True)
    save(train(X, y, ids, epochs, TRAIN_SEED, workers), out)
