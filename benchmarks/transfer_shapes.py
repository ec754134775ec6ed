"""Object builders of the transfer benchmark's "foreign make": chairs, tables, airplanes and
cars built here from ``core.geometry.shapes`` primitives and trimesh, independently of the
training families that ``make-dataset`` uses (other styles, proportions and parts).

Frame: z up, front towards +x (a chair's back at -x, an airplane's nose at +x, its wings along
y), as every drwr-dataset here. Each builder takes a seeded ``numpy.random.Generator`` and
returns a list of ``Part``s (kind, mesh, convex); :func:`build` normalises them together to
bounding-box centre 0 and diagonal 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import trimesh

from core.geometry.shapes import box, ellipsoid, revolve, rod, tube

__all__ = ["Part", "CATEGORIES", "build"]


@dataclass
class Part:
    """One watertight piece; ``convex`` parts take part in the outer-surface test."""

    kind: str
    mesh: trimesh.Trimesh
    convex: bool = True


def _hull(points) -> trimesh.Trimesh:
    return trimesh.convex.convex_hull(np.asarray(points, float))


def _slab(corners_xy, z0: float, z1: float) -> trimesh.Trimesh:
    """Convex prism of a planar polygon (x, y) between heights z0 and z1."""
    c = np.asarray(corners_xy, float)
    return _hull(np.vstack([np.c_[c, np.full(len(c), z0)], np.c_[c, np.full(len(c), z1)]]))


def _u(rng, lo, hi) -> float:
    return float(rng.uniform(lo, hi))


# ------------------------------------------------------------------------------- chairs


def chair(rng: np.random.Generator) -> list[Part]:
    """Cantilever tube frame, pedestal stool with a pad back, or a block armchair."""
    style = rng.choice(["cantilever", "stool", "armchair"])
    w, d = _u(rng, 0.38, 0.6), _u(rng, 0.36, 0.55)
    h = _u(rng, 0.3, 0.5)  # seat height
    parts: list[Part] = []
    if style == "cantilever":
        r = _u(rng, 0.012, 0.022)
        for y in (-w / 2 + r, w / 2 - r):
            s = np.linspace(0, 1, 24)
            # runner on the floor from the back to the front, up, then back under the seat
            pts = [(-d / 2 + 0.6 * d * (t / 0.4), y, r) for t in s[s <= 0.4]]
            pts += [(0.1 * d + 0.25 * d * math.sin(math.pi * (t - 0.4) / 0.6), y,
                     r + (h - r) * (t - 0.4) / 0.6) for t in s[s > 0.4]]
            pts += [(0.1 * d - 0.6 * d * k, y, h) for k in np.linspace(0.1, 1, 8)]
            parts.append(Part("frame", tube(np.array(pts), r, sections=10), convex=False))
        th = _u(rng, 0.025, 0.05)
        parts.append(Part("seat", box((d, w, th), (-0.05 * d, 0, h + th / 2))))
        bh, tilt = _u(rng, 0.3, 0.5), _u(rng, 0.05, 0.3)
        back = box((th, w, bh), (0, 0, 0))
        back.apply_transform(trimesh.transformations.rotation_matrix(-tilt, [0, 1, 0]))
        back.apply_translation((-0.55 * d - 0.5 * bh * math.sin(tilt), 0,
                                h + 0.5 * bh * math.cos(tilt)))
        parts.append(Part("back", back))
    elif style == "stool":
        rad = 0.5 * min(w, d)
        th = _u(rng, 0.03, 0.07)
        seat = revolve([(0, h), (rad, h), (rad * 0.95, h + th), (0, h + th)])
        base_r = _u(rng, 0.5, 0.9) * rad
        base = revolve([(0, 0), (base_r, 0), (base_r * 0.6, 0.03), (0, 0.03)])
        parts += [Part("seat", seat), Part("base", base),
                  Part("pole", rod((0, 0, 0.02), (0, 0, h), _u(rng, 0.02, 0.04)))]
        bh = _u(rng, 0.12, 0.3)
        pad = ellipsoid((0.03, rad * _u(rng, 0.7, 1.0), bh / 2),
                        (-rad * 0.9, 0, h + th + 0.1 + bh / 2))
        parts.append(Part("back", pad))
        for y in (-0.4 * rad, 0.4 * rad):
            parts.append(Part("back", rod((-rad * 0.8, y, h + th * 0.5),
                                            (-rad * 0.9, y, h + th + 0.12), 0.012)))
    else:  # armchair: thick blocks
        th = _u(rng, 0.1, 0.2)
        foot = _u(rng, 0.03, 0.1)
        arm_w, arm_h = _u(rng, 0.06, 0.12), _u(rng, 0.15, 0.3)
        parts.append(Part("seat", box((d, w, th), (0, 0, foot + th / 2))))
        bh = _u(rng, 0.3, 0.55)
        parts.append(Part("back", box((0.12, w, bh), (-d / 2 - 0.06, 0, foot + bh / 2))))
        for s in (-1, 1):
            arm_at = (-0.06, s * (w / 2 + arm_w / 2), foot + (th + arm_h) / 2)
            parts.append(Part("arm", box((d + 0.12, arm_w, th + arm_h), arm_at)))
            for x in (-d / 2, d / 2 - 0.05):
                parts.append(Part("feet", ellipsoid((0.03, 0.03, foot / 2 + 0.005),
                                                    (x, s * (w / 2 - 0.03), foot / 2))))
    return parts


# ------------------------------------------------------------------------------- tables


def table(rng: np.random.Generator) -> list[Part]:
    """Tulip pedestal, X-leg trestle, bent-tube frame or a three-legged round side table."""
    style = rng.choice(["tulip", "xlegs", "tubeframe", "tripod"])
    h = _u(rng, 0.35, 0.8)
    th = _u(rng, 0.02, 0.06)
    parts: list[Part] = []
    if style in ("tulip", "tripod"):
        rad = _u(rng, 0.3, 0.6)
        parts.append(Part("top", revolve([(0, h - th), (rad, h - th), (rad, h), (0, h)])))
        if style == "tulip":
            b = _u(rng, 0.3, 0.7) * rad
            parts.append(Part("base", revolve([(0, 0), (b, 0), (b * 0.3, 0.08), (0.04, h * 0.6),
                                                (0.12 * rad, h - th), (0, h - th)])))
        else:
            for k in range(3):
                a = 2 * math.pi * k / 3 + _u(rng, -0.2, 0.2)
                top = (0.6 * rad * math.cos(a), 0.6 * rad * math.sin(a), h - th)
                foot = (0.85 * rad * math.cos(a), 0.85 * rad * math.sin(a), 0.0)
                parts.append(Part("legs", rod(foot, top, _u(rng, 0.012, 0.025))))
            zs = h * 0.3
            parts.append(Part("shelf", revolve([(0, zs), (0.55 * rad, zs),
                                                 (0.55 * rad, zs + 0.015), (0, zs + 0.015)])))
        return parts
    length, width = _u(rng, 0.7, 1.4), _u(rng, 0.3, 0.8)
    parts.append(Part("top", box((length, width, th), (0, 0, h - th / 2))))
    r = _u(rng, 0.012, 0.03)
    inset = _u(rng, 0.05, 0.2) * length
    for x in (-length / 2 + inset, length / 2 - inset):
        y = 0.45 * width
        if style == "xlegs":
            parts.append(Part("legs", rod((x, -y, 0), (x, y, h - th), r)))
            parts.append(Part("legs", rod((x, y, 0), (x, -y, h - th), r)))
            parts.append(Part("feet", box((0.04, 2 * y + 0.04, 0.03), (x, 0, 0.015))))
        else:  # an upside-down U of tube at each end
            bend = min(0.08, 0.4 * y)
            arc = [(x, -y + bend - bend * math.cos(a), h - th - bend + bend * math.sin(a))
                   for a in np.linspace(0, math.pi / 2, 8)]
            arc2 = [(x, y - bend + bend * math.cos(a), h - th - bend + bend * math.sin(a))
                    for a in np.linspace(math.pi / 2, 0, 8)]
            pts = [(x, -y, 0.0)] + arc + arc2 + [(x, y, 0.0)]
            parts.append(Part("legs", tube(np.array(pts), r, sections=10), convex=False))
    if style == "xlegs" and rng.random() < 0.5:
        xe = length / 2 - inset
        parts.append(Part("legs", rod((-xe, 0, h * 0.45), (xe, 0, h * 0.45), r)))
    return parts


# ----------------------------------------------------------------------------- airplanes


def _wing(root_x, root_chord, span, tip_chord, sweep, dihedral, z, thick, sign) -> trimesh.Trimesh:
    """One trapezoid wing (convex), from the root at y=0 to the tip at y=sign*span."""
    tip_x = root_x - span * math.tan(sweep)
    tz = z + span * math.tan(dihedral)
    pts = []
    for (x, y, zz, c) in ((root_x, 0.0, z, root_chord), (tip_x, sign * span, tz, tip_chord)):
        for dz in (-thick / 2, thick / 2):
            pts += [(x + c / 2, y, zz + dz), (x - c / 2, y, zz + dz)]
    return _hull(pts)


def airplane(rng: np.random.Generator) -> list[Part]:
    """Propeller high-wing, delta jet, glider or swept airliner."""
    style = rng.choice(["prop", "delta", "glider", "airliner"])
    L = _u(rng, 0.9, 1.3)
    fr = _u(rng, 0.04, 0.09) * (0.6 if style == "glider" else 1.0)
    parts = [Part("fuselage", ellipsoid((L / 2, fr, fr * _u(rng, 0.9, 1.3)), (0, 0, 0)))]
    if style == "delta":
        span, chord = _u(rng, 0.3, 0.5), _u(rng, 0.45, 0.7)
        wing = _hull([(chord * 0.3, 0, 0.008), (chord * 0.3, 0, -0.008),
                      (-chord * 0.7, span, 0.004), (-chord * 0.7, span, -0.004),
                      (-chord * 0.7, -span, 0.004), (-chord * 0.7, -span, -0.004),
                      (-chord * 0.8, 0, 0.008), (-chord * 0.8, 0, -0.008)])
        wing.apply_translation((-0.05 * L, 0, -0.3 * fr))
        fin_h = _u(rng, 0.15, 0.3)
        fin = _hull([(-0.25 * L, -0.006, 0), (-0.5 * L, -0.006, 0), (-0.48 * L, -0.006, fin_h),
                     (-0.25 * L, 0.006, 0), (-0.5 * L, 0.006, 0), (-0.48 * L, 0.006, fin_h)])
        return parts + [Part("wing", wing), Part("tail", fin)]
    span = {"prop": _u(rng, 0.4, 0.6), "glider": _u(rng, 0.8, 1.2),
            "airliner": _u(rng, 0.45, 0.7)}[style]
    chord = span * _u(rng, 0.12, 0.3) * (0.6 if style == "glider" else 1.0)
    sweep = math.radians(_u(rng, 20, 38)) if style == "airliner" else math.radians(_u(rng, -3, 6))
    dihedral = math.radians(_u(rng, 0, 7))
    z = {"prop": fr * 0.9, "glider": fr * 0.7, "airliner": -fr * 0.5}[style]
    root_x = _u(rng, -0.05, 0.12) * L
    for s in (-1, 1):
        parts.append(Part("wing", _wing(root_x, chord, span, chord * _u(rng, 0.35, 1.0), sweep,
                                        dihedral, z, 0.014, s)))
        parts.append(Part("tail", _wing(-0.45 * L, chord * 0.6, span * _u(rng, 0.25, 0.4),
                                        chord * 0.35, sweep * 0.8, 0,
                                        0.0 if style != "glider" else 0.2, 0.01, s)))
    fin_h = _u(rng, 0.12, 0.25) if style != "glider" else 0.2
    fin = _hull([(-0.3 * L, -0.005, 0), (-0.5 * L, -0.005, 0), (-0.52 * L, -0.005, fin_h),
                 (-0.42 * L, -0.005, fin_h), (-0.3 * L, 0.005, 0), (-0.5 * L, 0.005, 0),
                 (-0.52 * L, 0.005, fin_h), (-0.42 * L, 0.005, fin_h)])
    parts.append(Part("tail", fin))
    if style == "prop":
        pr = _u(rng, 0.1, 0.2)
        parts.append(Part("engine", ellipsoid((0.01, pr, pr), (L / 2 + 0.01, 0, 0),
                                              subdivisions=2)))
    elif style == "airliner":
        n = int(rng.choice([1, 2]))
        for s in (-1, 1):
            for k in range(n):
                y = s * span * (0.3 + 0.3 * k)
                x = root_x - abs(y) * math.tan(sweep) + 0.15 * chord
                parts.append(Part("engine", rod((x + 0.1, y, z - 0.05), (x - 0.08, y, z - 0.05),
                                                _u(rng, 0.025, 0.04))))
    return parts


# ---------------------------------------------------------------------------------- cars


def car(rng: np.random.Generator) -> list[Part]:
    """Sedan (trapezoid cabin), van (tall box) or sports car (ellipsoid body)."""
    style = rng.choice(["sedan", "van", "sports"])
    L, W = _u(rng, 0.8, 1.2), _u(rng, 0.35, 0.5)
    wr = _u(rng, 0.07, 0.12)
    parts: list[Part] = []
    if style == "sports":
        bh = _u(rng, 0.08, 0.14)
        parts.append(Part("body", ellipsoid((L / 2, W / 2, bh), (0, 0, wr + 0.02))))
        parts.append(Part("cabin", ellipsoid((L * 0.18, W * 0.35, bh * 0.9),
                                             (-0.05 * L, 0, wr + bh * 0.9))))
    else:
        bh = _u(rng, 0.12, 0.2) if style == "sedan" else _u(rng, 0.3, 0.45)
        parts.append(Part("body", box((L, W, bh), (0, 0, wr + bh / 2))))
        if style == "sedan":
            ch, cl = _u(rng, 0.1, 0.16), _u(rng, 0.35, 0.55) * L
            top = cl * _u(rng, 0.5, 0.8)
            z0 = wr + bh
            cab = _hull([(cl / 2, -W * 0.45, z0), (-cl / 2, -W * 0.45, z0), (cl / 2, W * 0.45, z0),
                         (-cl / 2, W * 0.45, z0), (top / 2, -W * 0.4, z0 + ch),
                         (-top / 2, -W * 0.4, z0 + ch),
                         (top / 2, W * 0.4, z0 + ch), (-top / 2, W * 0.4, z0 + ch)])
            cab.apply_translation((-_u(rng, 0.0, 0.15) * L, 0, 0))
            parts.append(Part("cabin", cab))
        else:
            parts.append(Part("cabin", ellipsoid((0.12 * L, W * 0.45, bh * 0.3),
                                                 (L / 2, 0, wr + bh * 0.3))))
    for x in (-0.33 * L, 0.33 * L):
        for s in (-1, 1):
            parts.append(Part("wheels", rod((x, s * (W / 2 - 0.04), wr),
                                            (x, s * (W / 2 + 0.02), wr),
                                            wr, sections=20)))
    return parts


CATEGORIES = {"chair": chair, "table": table, "airplane": airplane, "car": car}


def build(category: str, rng: np.random.Generator) -> list[Part]:
    """The parts of one random ``category`` object, normalised together (bounding-box centre 0,
    diagonal 1). ValueError for an unknown category."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
    parts = CATEGORIES[category](rng)
    v = np.vstack([p.mesh.vertices for p in parts])
    lo, hi = v.min(0), v.max(0)
    c, s = (lo + hi) / 2, 1.0 / float(np.linalg.norm(hi - lo))
    for p in parts:
        p.mesh = p.mesh.copy()
        p.mesh.vertices = (np.asarray(p.mesh.vertices) - c) * s
    return parts
