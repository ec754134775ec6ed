"""A development set: object categories kept out of training *and* out of the reports.

The accuracy benchmark reports on two held-out sets (core.geometry.shapes.HELDOUT_SHAPES and
core.evalsets.novel_shapes.NOVEL_SHAPES). Choosing a method's settings on either would make
its numbers optimistic, and choosing them only on training-distribution scenes says little
about objects unlike the training ones. ``DEV_SHAPES`` is a third set, of categories in
neither of those nor in training (scripts/train_surface_correction.py refuses them;
tests/core/test_training_data.py checks), on which decisions about unseen categories are
made: ``python benchmarks/accuracy.py --sets dev``. One of them is scanned-style (rough,
finely triangulated). Its numbers choose; the held-out sets' numbers report.

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

__all__ = ["DEV_SHAPES", "get_dev_shape"]


def bottle() -> trimesh.Trimesh:
    """Closed bottle: flat bottom, round shoulder, neck and cap (a solid of revolution)."""
    return _join([_revolve([(0, 0), (0.12, 0), (0.12, 0.40), (0.05, 0.50), (0.04, 0.62),
                            (0.045, 0.62), (0.045, 0.68), (0, 0.68)], 48)])


def bench() -> trimesh.Trimesh:
    """Park bench: four seat slats, a back board, two frames of splayed round legs."""
    parts = [_box((0.9, 0.07, 0.025), (0, -0.12 + 0.08 * k, 0.42)) for k in range(4)]
    for x in (-0.38, 0.38):
        parts += [_box((0.04, 0.3, 0.04), (x, 0, 0.39)),
                  _rod((x, -0.12, 0.38), (x, -0.16, 0.0), 0.02),
                  _rod((x, 0.12, 0.38), (x, 0.16, 0.0), 0.02)]
    parts.append(_box((0.9, 0.025, 0.2), (0, 0.17, 0.62)))
    return _join(parts)


def cabinet() -> trimesh.Trimesh:
    """Closed cabinet on four short legs, an overhanging top and a drawer handle."""
    parts = [_box((0.5, 0.35, 0.55), (0, 0, 0.38)), _box((0.56, 0.4, 0.025), (0, 0, 0.67))]
    parts += [_rod((x, y, 0.1), (x, y, 0.0), 0.02) for x in (-0.22, 0.22) for y in (-0.14, 0.14)]
    parts.append(_box((0.16, 0.03, 0.02), (0, -0.19, 0.5)))
    return _join(parts)


def teapot() -> trimesh.Trimesh:
    """Scanned-style teapot: round body, curved spout, side handle, lid with a knob."""
    body = _ellipsoid((0.22, 0.22, 0.16), (0, 0, 0.16))
    s = np.linspace(0, 1, 20)
    spout = tube(np.stack([0.18 + 0.2 * s, np.zeros(20), 0.12 + 0.18 * s ** 1.3], 1), 0.03, 12)
    a = np.linspace(-1.3, 1.3, 30)
    handle = tube(np.stack([-0.2 - 0.12 * np.cos(a), np.zeros(30), 0.17 + 0.12 * np.sin(a)], 1),
                  0.02, 10)
    lid = _revolve([(0, 0.3), (0.1, 0.3), (0.02, 0.36), (0.025, 0.39), (0, 0.4)], 32)
    return _join([scanned_style(p, 0.003, 40 + k) for k, p in enumerate([body, spout, handle, lid])])


def wheel() -> trimesh.Trimesh:
    """Spoked wheel: a thin round rim, a hub and ten wire spokes."""
    rim = trimesh.creation.torus(major_radius=0.4, minor_radius=0.025, major_sections=64,
                                 minor_sections=12)
    hub = trimesh.creation.cylinder(radius=0.05, height=0.1, sections=24)
    spokes = [_rod((0, 0, 0), (0.39 * math.cos(t), 0.39 * math.sin(t), 0), 0.006, 8)
              for t in np.linspace(0, 2 * math.pi, 10, endpoint=False)]
    return _join([rim, hub] + spokes)


def crate() -> trimesh.Trimesh:
    """Open slatted crate: a floor, three rows of thin wall slats with gaps, corner posts."""
    t = 0.02
    parts = [_box((0.6, 0.4, t), (0, 0, t / 2))]
    for k in range(3):
        z = 0.06 + 0.1 * k
        parts += [_box((0.6, t, 0.06), (0, -0.2, z)), _box((0.6, t, 0.06), (0, 0.2, z)),
                  _box((t, 0.4, 0.06), (-0.3, 0, z)), _box((t, 0.4, 0.06), (0.3, 0, z))]
    parts += [_box((0.04, 0.04, 0.3), (x, y, 0.15)) for x in (-0.29, 0.29) for y in (-0.19, 0.19)]
    return _join(parts)


DEV_SHAPES: dict[str, Callable[[], trimesh.Trimesh]] = {
    "bottle": bottle, "bench": bench, "cabinet": cabinet, "teapot": teapot, "wheel": wheel,
    "crate": crate,
}


def get_dev_shape(name: str) -> trimesh.Trimesh:
    """Build the named development shape, normalised, with ``metadata['name']`` set.

    Raises ValueError listing the known names when ``name`` is unknown."""
    return build_named(DEV_SHAPES, name, "development shape")
