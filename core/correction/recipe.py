"""The learned depth correction's training data: which scenes, drawn how, and the samples
(features and target depths) taken from each.

Scene i is drawn from its own generators (``seed``, i), so the data do not depend on how many
processes make them, and adding scenes or a kind of scene leaves the others as they were. A
fraction ``assemblies`` of the scenes shows a random assembly of primitives
(core.geometry.assemblies), the rest one of the demo shapes (core.geometry.shapes.SHAPES);
then a fraction ``solids`` is replaced by a thick closed solid with large flat faces
(random_solid), a fraction ``attached`` of them with 1-3 thin parts. A quarter of the objects
are made scanner-like (``ROUGH_P``, ``ROUGHNESS``). Each object is randomly stretched and
rotated, and seen by 4-40 cameras laid out all around or from the upper hemisphere, at 64-256
px. Only ``TRAINING_SOURCES`` can be drawn: the evaluation sets (core.evalsets) cannot be
imported from here (an import-linter contract), and the tests check that no evaluation name is
among the training sources.
"""

from __future__ import annotations

import time

import numpy as np

from core.correction.depth import TARGET_TOL_PX
from core.geometry.assemblies import ASSEMBLY_NAME, SOLID_NAME
from core.geometry.shapes import SHAPES

__all__ = ["TRAINING_SOURCES", "SCENES", "MEMBERS", "SHRINK", "ASSEMBLIES_P", "SOLID_P",
           "ATTACHED_P", "scene_spec", "scene_mesh", "samples_of", "scene_samples"]

#: Fraction of scenes showing a random assembly instead of a demo shape.
ASSEMBLIES_P = 0.7
#: Every name a training scene can carry: the demo shapes, random assemblies and solids.
TRAINING_SOURCES = (*SHAPES, ASSEMBLY_NAME, SOLID_NAME)

LAYOUT_P = {"random": 0.55, "fibonacci": 0.15, "upper": 0.30}
RES_P = {64: 0.30, 96: 0.25, 128: 0.25, 160: 0.10, 192: 0.06, 256: 0.04}
VIEWS = (4, 40)
#: Fraction of scenes whose mesh is made scanner-like (finely triangulated, vertices jittered
#: along their normals by ROUGHNESS, uniform; core.geometry.assemblies.scanned_style).
ROUGH_P = 0.25
ROUGHNESS = (0.002, 0.006)
#: Training scenes: scene i depends only on (seed, i), so a larger count keeps every scene of a
#: smaller one; 960 did better than 480 on the development set (docs/accuracy.md).
SCENES = 960
#: Ensemble members trained (seeds --seed + k) and how far their disagreement shrinks a
#: depth towards the hull surface (core.correction.depth.DepthEnsemble; docs/accuracy.md).
MEMBERS = 10
SHRINK = 2.0
#: Fraction of scenes showing a thick solid with large flat faces (random_solid) instead.
SOLID_P = 0.1
#: Fraction of those solids with 1-3 thin parts attached (handles, spouts, knobs, fins, rims):
#: 0 in the bundled weights (0.5 was tried and not adopted: docs/accuracy.md).
ATTACHED_P = 0.0


def scene_spec(i: int, seed: int, assemblies: float, solids: float = SOLID_P,
               attached: float = ATTACHED_P) -> dict:
    """The random choices of training scene ``i`` (from its own generators)."""
    rng = np.random.default_rng([seed, i])
    if rng.random() < assemblies:
        source, obj_seed = ASSEMBLY_NAME, int(rng.integers(1 << 30))
    else:
        source, obj_seed = list(SHAPES)[rng.integers(len(SHAPES))], 0
    stretch = list(rng.uniform(0.6, 1.6, 3)) if rng.random() < 0.7 else [1.0, 1.0, 1.0]
    views = int(round(np.exp(rng.uniform(np.log(VIEWS[0]), np.log(VIEWS[1])))))
    return {"source": source, "obj_seed": obj_seed, "stretch": stretch,
            "rot_seed": int(rng.integers(1 << 30)),
            "layout": str(rng.choice(list(LAYOUT_P), p=list(LAYOUT_P.values()))),
            "res": int(rng.choice(list(RES_P), p=list(RES_P.values()))), "views": views,
            "cam_seed": int(rng.integers(1 << 20)), **_rough_spec(i, seed), **_solid_spec(
                i, seed, solids, attached)}


def _rough_spec(i: int, seed: int) -> dict:
    """Whether scene ``i`` is made scanner-like, from its own generator (so the other choices
    of every scene are what they were before roughness was added)."""
    rng = np.random.default_rng([seed, i, 7])
    rough = bool(rng.random() < ROUGH_P)
    return {"rough": float(rng.uniform(*ROUGHNESS)) if rough else 0.0,
            "rough_seed": int(rng.integers(1 << 30))}


def _solid_spec(i: int, seed: int, solids: float, attached: float = ATTACHED_P) -> dict:
    """Whether scene ``i`` shows a solid instead, from its own generator (so the other scenes
    are what they were before solids were added): {} or the overriding source and seed, and
    how many thin parts are attached to it (0 for a fraction 1 - ``attached`` of the solids;
    drawn after the seed, so the solids without parts are what they were before parts)."""
    rng = np.random.default_rng([seed, i, 11])
    if rng.random() < solids:
        obj_seed = int(rng.integers(1 << 30))
        n = int(rng.integers(1, 4)) if rng.random() < attached else 0
        return {"source": SOLID_NAME, "obj_seed": obj_seed, "attached": n}
    return {}


def scene_mesh(spec: dict):
    """The (stretched, rotated) training mesh of a scene spec; never a held-out shape."""
    from scipy.spatial.transform import Rotation

    from core.geometry.assemblies import random_assembly, random_solid, scanned_style
    from core.geometry.shapes import get_shape

    name = spec["source"]
    if name not in TRAINING_SOURCES:
        raise AssertionError(f"{name}: not a training source")
    if name == ASSEMBLY_NAME:
        mesh = random_assembly(spec["obj_seed"])
    elif name == SOLID_NAME:
        mesh = random_solid(spec["obj_seed"], spec.get("attached", 0))
    else:
        mesh = get_shape(name).copy()
    if spec.get("rough", 0.0) > 0:
        mesh = scanned_style(mesh, spec["rough"], spec["rough_seed"])
    mesh.apply_transform(np.diag(spec["stretch"] + [1.0]))
    T = np.eye(4)
    T[:3, :3] = Rotation.random(random_state=spec["rot_seed"]).as_matrix()
    return mesh.apply_transform(T)


def samples_of(scene, mesh, per_scene: int, seed: int, level: float,
               tol: float = TARGET_TOL_PX):
    """Training pairs of one rendered scene: ``per_scene`` area samples (seed ``seed``) of its
    hull surface at ``level`` px -> features X (N, F) and target depths y (N,) against the
    mesh's true surface (100k samples of the normalised mesh, make_scene's frame); ``tol``:
    the targets' slack in pixels (core.correction.depth.depth_targets)."""
    from scipy.spatial import cKDTree

    from core.geometry.shapes import normalise
    from core.correction.depth import depth_targets, point_features
    from core.hull.visual_hull import carving_maps, hull_mesh
    from core.io.mesh_scene import sample_surface

    norm = normalise(mesh)  # make_scene's frame
    dense = sample_surface(norm.vertices, norm.faces, 100_000, 5)
    verts, faces, hv = hull_mesh(scene, 128, level)
    P = sample_surface(verts, faces, per_scene, seed)
    # the pair list always: the dense sums differ in the last bits, and the data must not
    # depend on which one a scene's crowding picks (bit-for-bit rebuilds)
    X, n, px = point_features(scene, hv, carving_maps(scene.masks, level=level), P, level,
                              pairs="tree")
    y, _ = depth_targets(P, n, px, cKDTree(dense), tol)
    return X, y


def scene_samples(indices: list[int], seed: int, assemblies: float, level: float = 0.5,
                  per_scene: int = 4000, tol: float = TARGET_TOL_PX, solids: float = SOLID_P,
                  attached: float = ATTACHED_P) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (N, F), targets (N,) pixels (slack ``tol``, see samples_of) and scene ids
    (N,) of the scenes ``indices`` (``assemblies``, ``solids``, ``attached``: see scene_spec)."""
    import torch

    from core.io.mesh_scene import make_scene
    from core.io.scene import SceneError

    torch.set_num_threads(1)
    Xs, ys, ids = [], [], []
    t0 = time.time()
    for i in indices:
        spec = scene_spec(i, seed, assemblies, solids, attached)
        mesh = scene_mesh(spec)
        try:
            scene = make_scene(mesh, views=spec["views"], res=spec["res"], layout=spec["layout"],
                               seed=spec["cam_seed"], gt_points=0)
        except SceneError as exc:  # deterministic: the same scenes are skipped every run
            print(f"scene {i}: skipped ({exc})", flush=True)
            continue
        X, y = samples_of(scene, mesh, per_scene, i, level, tol)
        Xs.append(X)
        ys.append(y)
        ids.append(np.full(len(X), i))
        print(f"scene {i}: {spec['source']}, {spec['views']} views ({spec['layout']}), "
              f"{spec['res']} px, median depth {np.median(y):.2f} px ({time.time() - t0:.0f} s)",
              flush=True)
    if not Xs:
        from core.correction.depth import N_FEATURES
        return np.zeros((0, N_FEATURES), np.float32), np.zeros(0), np.zeros(0, np.int64)
    return np.concatenate(Xs), np.concatenate(ys), np.concatenate(ids)
