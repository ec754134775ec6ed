"""The held-out shapes of the accuracy benchmark: distinct from the demo shapes
(core.geometry.shapes.SHAPES) and kept out of any tuning and training."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import trimesh

from core.geometry.shapes import box as _box
from core.geometry.shapes import ellipsoid as _ellipsoid
from core.geometry.shapes import join as _join
from core.geometry.shapes import normalise, tube
from core.geometry.shapes import revolve as _revolve
from core.geometry.shapes import rod as _rod

__all__ = ["HELDOUT_SHAPES", "get_heldout_shape"]

def table() -> trimesh.Trimesh:
    """Rectangular top on four thin legs."""
    parts = [_box((1.0, 0.6, 0.04), (0, 0, 0.72))]
    for x in (-0.45, 0.45):
        for y in (-0.25, 0.25):
            parts.append(_rod((x, y, 0.0), (x, y, 0.70), 0.015))
    return _join(parts)


def lamp() -> trimesh.Trimesh:
    """Disc base, thin pole, conical shade."""
    base = _revolve([(0, 0), (0.18, 0), (0.18, 0.03), (0, 0.03)])
    pole = _rod((0, 0, 0.03), (0, 0, 0.62), 0.012)
    shade = _revolve([(0, 0.55), (0.22, 0.55), (0.12, 0.80), (0, 0.80)])
    return _join([base, pole, shade])


def mug() -> trimesh.Trimesh:
    """Open cylinder cup (concave inside) with a handle."""
    body = _revolve([(0, 0), (0.20, 0), (0.20, 0.50), (0.17, 0.50), (0.17, 0.04), (0, 0.04)], 64)
    s = np.linspace(-0.5 * math.pi, 0.5 * math.pi, 40)
    arc = np.stack([0.185 + 0.15 * np.cos(s), np.zeros_like(s), 0.26 + 0.14 * np.sin(s)], 1)
    handle = tube(arc, 0.025)
    return _join([body, handle])


def bunny_like() -> trimesh.Trimesh:
    """Union of blobs: body, head, two long ears, tail."""
    parts = [_ellipsoid((0.35, 0.25, 0.25), (0, 0, 0.25)),
             _ellipsoid((0.16, 0.14, 0.14), (0.33, 0, 0.45)),
             _ellipsoid((0.05, 0.035, 0.18), (0.30, 0.07, 0.68)),
             _ellipsoid((0.05, 0.035, 0.18), (0.30, -0.07, 0.68)),
             _ellipsoid((0.07, 0.07, 0.07), (-0.36, 0, 0.30), 2)]
    return _join(parts)


def helix() -> trimesh.Trimesh:
    """Tube along a three-turn helix (capped ends)."""
    s = np.linspace(0, 6 * math.pi, 300)
    return normalise(tube(np.stack([0.3 * np.cos(s), 0.3 * np.sin(s), 0.05 * s], 1), 0.05))


def stool() -> trimesh.Trimesh:
    """Round seat on three thin splayed legs."""
    parts = [_revolve([(0, 0.50), (0.20, 0.50), (0.20, 0.55), (0, 0.55)])]
    for k in range(3):
        a = 2 * math.pi * k / 3
        parts.append(_rod((0.24 * math.cos(a), 0.24 * math.sin(a), 0.0),
                          (0.12 * math.cos(a), 0.12 * math.sin(a), 0.51), 0.016))
    return _join(parts)


HELDOUT_SHAPES: dict[str, Callable[[], trimesh.Trimesh]] = {
    "table": table, "lamp": lamp, "mug": mug, "bunny_like": bunny_like, "helix": helix,
    "stool": stool,
}


def get_heldout_shape(name: str) -> trimesh.Trimesh:
    """Build the named held-out shape, normalised (ValueError listing the names if unknown)."""
    if name not in HELDOUT_SHAPES:
        raise ValueError(f"unknown held-out shape {name!r}; known: {', '.join(HELDOUT_SHAPES)}")
    mesh = HELDOUT_SHAPES[name]()
    mesh.metadata["name"] = name
    return mesh
