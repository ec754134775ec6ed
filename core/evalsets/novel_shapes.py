"""A second held-out set: object categories unlike the demo shapes, never used for training.

``NOVEL_SHAPES`` complements core.geometry.shapes.HELDOUT_SHAPES: neither the learned surface
correction (scripts/train_surface_correction.py) nor the random assemblies it trains on
(core.geometry.assemblies) may produce these categories; tests/core/test_training_data.py
checks both by name. Two of them are *scanned-style*: finely triangulated and with a rough
surface (vertices jittered along their normals, as a scanner's mesh is), one of those with
thin parts (a plant's leaves and stem). The benchmark also shows every shape to cameras only
from the upper hemisphere (layout ``upper``).

Every builder returns a trimesh.Trimesh normalised to bbox centre 0, bbox diagonal 1.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import trimesh

from core.geometry.assemblies import scanned_style
from core.geometry.shapes import box as _box
from core.geometry.shapes import build_named, tube
from core.geometry.shapes import ellipsoid as _ellipsoid
from core.geometry.shapes import join as _join
from core.geometry.shapes import revolve as _revolve
from core.geometry.shapes import rod as _rod

__all__ = ["NOVEL_SHAPES", "get_novel_shape", "scanned_style"]


def _leaf(length: float, width: float, thick: float, base, yaw: float, pitch: float
          ) -> trimesh.Trimesh:
    """A flat elliptic leaf from ``base`` pointing at (yaw, pitch), tilted about its axis."""
    m = _ellipsoid((length / 2, width / 2, thick / 2), (length / 2, 0, 0), 3)
    R = trimesh.transformations.euler_matrix(0.4, -pitch, yaw, "sxyz")
    m.apply_transform(R)
    m.apply_translation(base)
    return m


def scan_plant() -> trimesh.Trimesh:
    """Scanned-style potted plant: open pot (concave), thin stem, six thin leaves."""
    pot = _revolve([(0, 0), (0.14, 0), (0.18, 0.22), (0.165, 0.22), (0.13, 0.02), (0, 0.02)], 48)
    stem = tube(np.stack([0.02 * np.sin(np.linspace(0, 3, 30)), np.zeros(30),
                          np.linspace(0.05, 0.75, 30)], 1), 0.012, 10)
    leaves = [_leaf(0.30, 0.10, 0.008, (0.0, 0, 0.30 + 0.08 * k), 2.3 * k, 0.5 - 0.05 * k)
              for k in range(6)]
    parts = [scanned_style(p, 0.003, k) for k, p in enumerate([pot, stem] + leaves)]
    return _join(parts)


def figurine() -> trimesh.Trimesh:
    """Scanned-style standing figure: torso, head, arms held out, legs apart."""
    parts = [_ellipsoid((0.12, 0.08, 0.20), (0, 0, 0.55)), _ellipsoid((0.08, 0.08, 0.09), (0, 0, 0.85)),
             _rod((-0.12, 0, 0.68), (-0.40, 0.05, 0.55), 0.035),
             _rod((0.12, 0, 0.68), (0.38, -0.08, 0.78), 0.035),
             _rod((-0.06, 0, 0.40), (-0.12, 0.02, 0.0), 0.045),
             _rod((0.06, 0, 0.40), (0.14, -0.03, 0.0), 0.045)]
    return _join([scanned_style(p, 0.004, 10 + k) for k, p in enumerate(parts)])


def glasses() -> trimesh.Trimesh:
    """Spectacles frame: two thin rims, a bridge and two temples bent at the ends."""
    rims = []
    for x in (-0.16, 0.16):
        r = trimesh.creation.torus(major_radius=0.12, minor_radius=0.01, major_sections=48,
                                   minor_sections=10)
        r.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, [1, 0, 0]))
        r.apply_translation((x, 0, 0))
        rims.append(r)
    s = np.linspace(-0.04, 0.04, 10)
    bridge = tube(np.stack([s, np.zeros_like(s), 0.05 - 8 * s ** 2], 1), 0.008, 8)
    temples = []
    for x in (-0.28, 0.28):
        c = np.concatenate([np.stack([np.full(20, x), np.linspace(0, 0.45, 20), np.zeros(20)], 1),
                            np.stack([np.full(8, x), 0.45 + 0.05 * np.sin(np.linspace(0.3, 1.5, 8)),
                                      -0.1 * np.linspace(0.1, 1, 8)], 1)])
        temples.append(tube(c, 0.008, 8))
    return _join(rims + [bridge] + temples)


def shelf() -> trimesh.Trimesh:
    """Open bookshelf: two side panels, a back panel and four thin shelves (concave boxes)."""
    w, d, h, t = 0.6, 0.25, 0.9, 0.02
    parts = [_box((t, d, h), (-w / 2, 0, h / 2)), _box((t, d, h), (w / 2, 0, h / 2)),
             _box((w, t / 2, h), (0, d / 2, h / 2))]
    parts += [_box((w, d, t), (0, 0, z)) for z in (0.01, 0.3, 0.6, 0.89)]
    return _join(parts)


def fan() -> trimesh.Trimesh:
    """Desk fan rotor: hub, three thin pitched blades, a shaft and a round foot."""
    hub = _rod((0, -0.05, 0.6), (0, 0.05, 0.6), 0.05, 24)
    blades = []
    for k in range(3):
        b = _ellipsoid((0.22, 0.006, 0.08), (0.25, 0, 0), 3)
        b.apply_transform(trimesh.transformations.rotation_matrix(0.35, [1, 0, 0]))
        b.apply_transform(trimesh.transformations.rotation_matrix(2 * math.pi * k / 3, [0, 1, 0]))
        b.apply_translation((0, 0, 0.6))
        blades.append(b)
    shaft = _rod((0, 0.06, 0.6), (0, 0.06, 0.05), 0.015)
    foot = _revolve([(0, 0), (0.16, 0), (0.12, 0.05), (0, 0.05)])
    foot.apply_translation((0, 0.06, 0))
    return _join([hub, shaft, foot] + blades)


def watering_can() -> trimesh.Trimesh:
    """Body drum, a long thin spout and an arched handle over the top."""
    body = _revolve([(0, 0), (0.18, 0), (0.18, 0.30), (0, 0.30)], 48)
    s = np.linspace(0, 1, 30)
    spout = tube(np.stack([0.12 + 0.42 * s, np.zeros(30), 0.08 + 0.35 * s ** 1.5], 1), 0.018, 12)
    a = np.linspace(0, math.pi, 40)
    handle = tube(np.stack([-0.17 * np.cos(a), np.zeros(40), 0.30 + 0.16 * np.sin(a)], 1),
                  0.02, 10)
    return _join([body, spout, handle])


NOVEL_SHAPES: dict[str, Callable[[], trimesh.Trimesh]] = {
    "scan_plant": scan_plant, "figurine": figurine, "glasses": glasses, "shelf": shelf,
    "fan": fan, "watering_can": watering_can,
}


def get_novel_shape(name: str) -> trimesh.Trimesh:
    """Build the named novel held-out shape, normalised, with ``metadata['name']`` set.

    Raises ValueError listing the known names when ``name`` is unknown."""
    return build_named(NOVEL_SHAPES, name, "novel shape")
