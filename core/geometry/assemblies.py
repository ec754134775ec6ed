"""Random assemblies of primitives: the training objects of the learned surface correction.

A user's object is anything, so the depth prior (core.correction.depth) is trained on objects
built at random from generic parts rather than on a few demo shapes:

- parts (``PART_KINDS``): boxes, thin slabs and plates, rods, swept tubes along random
  curves, ellipsoids, thin discs, cones, tori, capsules, bumpy blobs, open cups and bowls
  (concave), open boxes (concave), U-brackets;
- each part after the first is attached at a random point of the surface of one placed
  before it, in a random orientation; with probability 0.35 an assembly is mirrored about a
  plane (legs, wings, handles come in pairs); sizes are log-uniform, thin dimensions down to
  about 1 % of the object.

:func:`random_assembly` is deterministic for a given seed and returns a normalised mesh
(bbox centre 0, diagonal 1) named ``"assembly"``; :func:`random_solid` likewise a single
thick closed solid with large flat faces (``SOLID_KINDS``: drum, tapered drum, block, prism,
stepped drum) named ``"solid"``, optionally with a few thin parts attached (``ATTACH_KINDS``:
handles, spouts, knobs, fins, rims). The held-out categories of the accuracy benchmark
(core.evalsets.HELDOUT_SHAPES, core.evalsets.novel_shapes.NOVEL_SHAPES,
core.evalsets.dev_shapes.DEV_SHAPES) are not among the kinds and are never produced;
tests/core/test_training_data.py checks that.
"""

from __future__ import annotations

import math

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from core.geometry.shapes import box, normalise, tube

__all__ = ["PART_KINDS", "random_part", "random_assembly", "ASSEMBLY_NAME", "scanned_style",
           "SOLID_KINDS", "SOLID_NAME", "random_solid", "ATTACH_KINDS"]

ASSEMBLY_NAME = "assembly"
PART_KINDS = ("box", "slab", "rod", "bent_tube", "ellipsoid", "disc", "cone", "torus",
              "capsule", "blob", "cup", "open_box", "bracket")
SOLID_NAME = "solid"
#: thick closed solids with large flat faces (cans, jars, boxes, blocks): random_solid
SOLID_KINDS = ("drum", "frustum", "block", "prism", "stepped")
#: thin parts random_solid can attach to a solid (handles, spouts, knobs, fins, rims)
ATTACH_KINDS = ("rod", "bent_tube", "torus", "capsule", "slab", "disc")


def _logu(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _box(ext, center=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    """core.geometry.shapes.box with every extent at least 1e-3 (random sizes can be tiny)."""
    return box(np.maximum(np.asarray(ext, float), 1e-3), center)


def _blob(rng: np.random.Generator) -> trimesh.Trimesh:
    m = trimesh.creation.icosphere(3)
    v = m.vertices
    r = np.ones(len(v))
    for _ in range(3):  # low-frequency radial bumps
        k = rng.normal(size=3) * rng.uniform(1, 4)
        r += rng.uniform(0.05, 0.2) * np.sin(v @ k + rng.uniform(0, 2 * math.pi))
    m.vertices = v * r[:, None] * np.array([_logu(rng, 0.1, 0.5) for _ in range(3)])
    return m


def _cup(rng: np.random.Generator) -> trimesh.Trimesh:
    """Open cup or bowl (revolved profile with a wall): a concavity no silhouette shows."""
    r, h = _logu(rng, 0.08, 0.4), _logu(rng, 0.05, 0.5)
    w = max(r * _logu(rng, 0.04, 0.25), 0.006)
    flare = rng.uniform(0.6, 1.4)
    top = r * flare
    prof = [(0, 0), (r, 0), (top, h), (top - w, h), (r - w, w), (0, w)]
    return trimesh.creation.revolve(np.asarray(prof), sections=40)


def _open_box(rng: np.random.Generator) -> trimesh.Trimesh:
    """Box without a lid: floor and four walls of thickness t."""
    a, b, c = (_logu(rng, 0.1, 0.6) for _ in range(3))
    t = max(min(a, b, c) * _logu(rng, 0.04, 0.25), 0.006)
    return trimesh.util.concatenate([
        _box((a, b, t), (0, 0, t / 2)), _box((t, b, c), (-a / 2, 0, c / 2)),
        _box((t, b, c), (a / 2, 0, c / 2)), _box((a, t, c), (0, -b / 2, c / 2)),
        _box((a, t, c), (0, b / 2, c / 2))])


def _bracket(rng: np.random.Generator) -> trimesh.Trimesh:
    """U-shaped bracket of three slabs (an open concavity)."""
    a, c = _logu(rng, 0.15, 0.6), _logu(rng, 0.1, 0.5)
    b = _logu(rng, 0.03, 0.4)
    t = _logu(rng, 0.008, 0.05)
    return trimesh.util.concatenate([_box((a, b, t), (0, 0, 0)), _box((t, b, c), (-a / 2, 0, c / 2)),
                                     _box((t, b, c), (a / 2, 0, c / 2))])


def _bent_tube(rng: np.random.Generator) -> trimesh.Trimesh:
    """Tube along a smooth random curve (arcs, S-bends, handles, springs)."""
    s = np.linspace(0, 1, 40)
    L = _logu(rng, 0.2, 0.9)
    coef = rng.normal(size=(3, 3)) * L * rng.uniform(0.1, 0.6)
    curve = np.stack([L * s, np.zeros_like(s), np.zeros_like(s)], 1)
    for f in range(3):
        curve += np.sin((f + 1) * math.pi * s)[:, None] * coef[f]
    return tube(curve, _logu(rng, 0.006, 0.05), sections=12)


def random_part(rng: np.random.Generator, kind: str | None = None) -> tuple[str, trimesh.Trimesh]:
    """(kind, mesh) of one random part centred near the origin, in its own frame."""
    kind = PART_KINDS[rng.integers(len(PART_KINDS))] if kind is None else kind
    if kind == "box":
        m = _box([_logu(rng, 0.05, 0.6) for _ in range(3)])
    elif kind == "slab":  # thin plate
        m = _box([_logu(rng, 0.1, 0.8), _logu(rng, 0.1, 0.8), _logu(rng, 0.006, 0.04)])
    elif kind == "rod":
        m = trimesh.creation.cylinder(radius=_logu(rng, 0.005, 0.06), height=_logu(rng, 0.15, 1.0),
                                      sections=int(rng.choice([8, 16, 32])))
    elif kind == "bent_tube":
        m = _bent_tube(rng)
    elif kind == "ellipsoid":
        m = trimesh.creation.icosphere(3)
        m.vertices *= np.array([_logu(rng, 0.03, 0.4) for _ in range(3)])
    elif kind == "disc":
        m = trimesh.creation.cylinder(radius=_logu(rng, 0.08, 0.45), height=_logu(rng, 0.006, 0.05),
                                      sections=48)
    elif kind == "cone":
        m = trimesh.creation.cone(radius=_logu(rng, 0.04, 0.35), height=_logu(rng, 0.08, 0.7),
                                  sections=32)
    elif kind == "torus":
        R = _logu(rng, 0.08, 0.4)
        m = trimesh.creation.torus(major_radius=R, minor_radius=R * _logu(rng, 0.04, 0.4),
                                   major_sections=48, minor_sections=12)
    elif kind == "capsule":
        m = trimesh.creation.capsule(height=_logu(rng, 0.05, 0.7), radius=_logu(rng, 0.01, 0.15),
                                     count=[16, 16])
    elif kind == "blob":
        m = _blob(rng)
    elif kind == "cup":
        m = _cup(rng)
    elif kind == "open_box":
        m = _open_box(rng)
    elif kind == "bracket":
        m = _bracket(rng)
    else:
        raise ValueError(f"unknown part kind {kind!r}; kinds: {', '.join(PART_KINDS)}")
    m.apply_translation(-m.bounds.mean(0))
    return kind, m


def scanned_style(mesh: trimesh.Trimesh, roughness: float = 0.004, seed: int = 0,
                  max_edge: float = 0.02) -> trimesh.Trimesh:
    """A scanner-like copy of ``mesh``: subdivided to edges <= ``max_edge`` and every vertex
    moved along its normal by Gaussian noise of sd ``roughness`` (both in the mesh's units)."""
    v, f = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=max_edge,
                                            max_iter=10)
    m = trimesh.Trimesh(v, f, process=True)
    rng = np.random.default_rng(seed)
    m.vertices = m.vertices + m.vertex_normals * rng.normal(0, roughness, (len(m.vertices), 1))
    return m


def random_solid(seed: int, attached: int = 0) -> trimesh.Trimesh:
    """One thick closed solid with large flat faces (deterministic for ``seed``): a drum, a
    tapered drum, a block, an n-gon prism (3-8 sides) or two stacked drums (a shoulder, an
    annular flat face), proportions 1:4 either way. Normalised, named ``"solid"``;
    ``metadata['parts']`` holds the kind. Assemblies rarely show such faces large and whole,
    yet users' objects (cans, jars, boxes) often do; seen at many views their hull is tight,
    and a prior that has only met the lens-shaped hull over a thin plate sinks them.

    ``attached`` > 0: that many thin parts (``ATTACH_KINDS``, drawn from their own generator,
    so the solid itself is the same for every ``attached``) are fixed at random points of its
    surface in random orientations, as handles, spouts, knobs, fins and rims are on kettles,
    jugs and tools; the result is normalised again, so the solid fills less of the image and
    its faces are seen at fewer pixels. Their kinds follow the solid's in ``metadata['parts']``."""
    rng = np.random.default_rng(seed)
    kind = SOLID_KINDS[rng.integers(len(SOLID_KINDS))]
    r, h = 0.25, 0.25 * _logu(rng, 0.5, 8.0)
    if kind == "drum":
        m = trimesh.creation.cylinder(radius=r, height=h, sections=int(rng.choice([24, 48, 96])))
    elif kind == "frustum":
        top = r * rng.uniform(0.3, 0.95)
        m = trimesh.creation.revolve(np.array([[0, 0], [r, 0], [top, h], [0, h]]), sections=48)
    elif kind == "block":
        m = _box([2 * r, 2 * r * _logu(rng, 0.25, 1.0), h])
    elif kind == "prism":
        m = trimesh.creation.cylinder(radius=r, height=h, sections=int(rng.integers(3, 9)))
    else:  # stepped: a narrower drum on a wider one
        r2, h1 = r * rng.uniform(0.3, 0.8), h * rng.uniform(0.3, 0.8)
        prof = np.array([[0, 0], [r, 0], [r, h1], [r2, h1], [r2, h], [0, h]])
        m = trimesh.creation.revolve(prof, sections=48)
    out = normalise(m)
    kinds = [kind]
    if attached > 0:
        out, extra = _attach(out, attached, np.random.default_rng([seed, 1]))
        kinds += extra
    out.metadata["name"] = SOLID_NAME
    out.metadata["parts"] = kinds
    return out


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """(4, 4) homogeneous transform: a uniformly random rotation (one draw from ``rng``)."""
    T = np.eye(4)
    T[:3, :3] = Rotation.random(random_state=int(rng.integers(1 << 30))).as_matrix()
    return T


def _surface_point(host: trimesh.Trimesh, rng: np.random.Generator) -> np.ndarray:
    """(3,) one area-uniform random point of ``host``'s surface (one draw from ``rng``)."""
    p, _ = trimesh.sample.sample_surface(host, 1, seed=int(rng.integers(1 << 30)))
    return p[0]


def _attach(host: trimesh.Trimesh, n: int, rng: np.random.Generator
            ) -> tuple[trimesh.Trimesh, list[str]]:
    """``host`` with ``n`` thin parts (ATTACH_KINDS) centred at random points of its surface,
    randomly oriented; normalised. Returns the mesh and the parts' kinds."""
    placed, kinds = [host], []
    for _ in range(n):
        kind, m = random_part(rng, ATTACH_KINDS[rng.integers(len(ATTACH_KINDS))])
        T = _random_rotation(rng)
        T[:3, 3] = _surface_point(host, rng)
        m.apply_transform(T)
        placed.append(m)
        kinds.append(kind)
    return normalise(trimesh.util.concatenate(placed)), kinds


def random_assembly(seed: int, n_parts: int | None = None) -> trimesh.Trimesh:
    """A random assembly of 1-6 parts (deterministic for ``seed``), normalised, named
    ``"assembly"``; ``metadata['parts']`` lists the part kinds."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([1, 2, 2, 3, 3, 4, 4, 5, 6])) if n_parts is None else n_parts
    placed: list[trimesh.Trimesh] = []
    kinds = []
    for k in range(n):
        kind, m = random_part(rng)
        T = _random_rotation(rng)
        if placed:  # attach at a random surface point of an earlier part
            host = placed[rng.integers(len(placed))]
            T[:3, 3] = _surface_point(host, rng) + rng.normal(0, 0.02, 3)
        m.apply_transform(T)
        placed.append(m)
        kinds.append(kind)
    mesh = trimesh.util.concatenate(placed)
    if rng.random() < 0.35:  # mirror about a plane through the bbox edge: pairs of parts
        ax = int(rng.integers(3))
        mirror = mesh.copy()
        S = np.eye(4)
        S[ax, ax] = -1
        off = mesh.bounds[1, ax] * rng.uniform(0.5, 2.0)
        S[ax, 3] = 2 * off
        mirror.apply_transform(S)
        mirror.invert()  # the reflection flips the winding back
        mesh = trimesh.util.concatenate([mesh, mirror])
    out = normalise(mesh)
    out.metadata["name"] = ASSEMBLY_NAME
    out.metadata["parts"] = kinds
    return out
