"""Parametric object families for synthetic training data: chair, table, airplane, lamp.

``build(category, rng) -> list[Part]``: one random member of the family, in the canonical
frame before normalisation (**z up, front towards +x**; see core.train.parts). Each family
varies proportions *and* parts: leg count and style, backs and arms, round or rectangular tops,
wing sweep / taper / dihedral, tail layout, engine count, shade shape. Parts are convex
(core.train.parts), so ground-truth points lie on the outer surface only.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from core.train.parts import Part, box, ellipsoid, frustum, hull, rod

__all__ = ["FAMILIES", "CATEGORIES", "build"]


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _pick(rng: np.random.Generator, options: list, p: list[float] | None = None):
    return options[int(rng.choice(len(options), p=p))]


# ------------------------------------------------------------------------------- chairs
def _legs_four(rng, cx, cy, top, kind, splay_max=0.05, square=None) -> list[Part]:
    """Four legs under the corners (±cx, ±cy) from z=0 to ``top``, round or square, splayed."""
    square = rng.random() < 0.4 if square is None else square
    th = _u(rng, 0.014, 0.03)
    splay = _u(rng, 0.0, splay_max) if rng.random() < 0.4 else 0.0
    parts = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            p_top = np.array([sx * cx, sy * cy, top])
            p_bot = np.array([sx * (cx + splay), sy * (cy + splay), 0.0])
            if square:
                d = np.array([th, th, 0.0])
                pts = [p + np.array([ax, ay, 0]) * d for p in (p_top, p_bot)
                       for ax in (-1, 1) for ay in (-1, 1)]
                parts.append(hull(pts, kind))
            else:
                parts.append(rod(p_bot, p_top, th, kind))
    return parts


def _star_base(rng, top, kind) -> list[Part]:
    """Swivel base: a column, 4-5 spokes on the floor with small wheels."""
    n = int(rng.integers(4, 6))
    reach = _u(rng, 0.2, 0.3)
    parts = [rod((0, 0, 0.06), (0, 0, top), _u(rng, 0.02, 0.035), kind)]
    for k in range(n):
        a = 2 * math.pi * k / n + 0.3
        end = (reach * math.cos(a), reach * math.sin(a), 0.05)
        parts.append(rod((0, 0, 0.07), end, 0.018, kind, sections=8))
        parts.append(ellipsoid((0.025, 0.025, 0.025), (end[0], end[1], 0.025), "wheel", 1))
    return parts


def chair(rng: np.random.Generator) -> list[Part]:
    w, d = _u(rng, 0.40, 0.60), _u(rng, 0.38, 0.56)
    h, st = _u(rng, 0.38, 0.50), _u(rng, 0.03, 0.08)
    parts: list[Part] = []
    if rng.random() < 0.2:  # round seat
        r = 0.5 * min(w, d) + 0.03
        parts.append(frustum((0, 0, h - st), (0, 0, h), r, r, "seat"))
        cx = cy = 0.6 * r
    else:
        parts.append(box((d, w, st), (0, 0, h - st / 2), "seat"))
        cx, cy = d / 2 - 0.04, w / 2 - 0.04
    legs = _pick(rng, ["four", "four", "star", "sled", "block"], [0.35, 0.2, 0.2, 0.15, 0.1])
    if legs == "four":
        parts += _legs_four(rng, cx, cy, h - st, "leg")
        if rng.random() < 0.35:  # stretchers
            z = _u(rng, 0.08, 0.2)
            parts.append(box((2 * cx, 0.02, 0.02), (0, -cy, z), "leg"))
            parts.append(box((2 * cx, 0.02, 0.02), (0, cy, z), "leg"))
    elif legs == "star":
        parts += _star_base(rng, h - st, "leg")
    elif legs == "sled":
        for sy in (-1, 1):
            y = sy * cy
            parts.append(rod((-cx, y, 0.012), (cx, y, 0.012), 0.012, "leg", 8))
            parts.append(rod((-cx, y, 0.012), (-cx * 0.8, y, h - st), 0.012, "leg", 8))
            parts.append(rod((cx, y, 0.012), (cx * 0.8, y, h - st), 0.012, "leg", 8))
    else:  # block base
        parts.append(box((2 * cx, 2 * cy, h - st), (0, 0, (h - st) / 2), "leg"))
    # back: at the rear (-x) edge, tilted backwards
    bh, tilt = _u(rng, 0.25, 0.55), math.radians(_u(rng, 0, 18))
    x0, yw = -d / 2 + 0.02, (w if legs != "star" else w * _u(rng, 0.7, 1.0)) / 2
    top = np.array([x0 - bh * math.sin(tilt), 0, h + bh * math.cos(tilt)])
    style = _pick(rng, ["panel", "slats", "rails"], [0.5, 0.25, 0.25])
    bt = _u(rng, 0.02, 0.05)
    if style == "panel":
        z0 = h + (0.0 if rng.random() < 0.6 else _u(rng, 0.05, 0.12))
        pts = [(x, y, z) for y in (-yw, yw) for x, z in
               ((x0, z0), (x0 - bt, z0), (top[0], top[2]), (top[0] - bt, top[2]))]
        parts.append(hull(pts, "back"))
        if z0 > h:
            for sy in (-1, 1):
                parts.append(rod((x0 - bt / 2, sy * yw * 0.8, h), (x0 - bt / 2, sy * yw * 0.8,
                                 z0 + 0.01), 0.012, "leg", 8))
    else:
        for sy in (-1, 1):
            parts.append(rod((x0, sy * (yw - 0.015), h - 0.01),
                             (top[0], sy * (yw - 0.015), top[2]), 0.018, "back", 8))
        parts.append(rod((top[0], -yw, top[2] - 0.03), (top[0], yw, top[2] - 0.03),
                         _u(rng, 0.015, 0.035), "back", 8))
        n = int(rng.integers(2, 6)) if style == "slats" else int(rng.integers(1, 3))
        for k in range(n):
            if style == "slats":
                y = -yw + 2 * yw * (k + 1) / (n + 1)
                parts.append(rod((x0, y, h), (top[0], y, top[2] - 0.03), 0.01, "back", 6))
            else:
                f = (k + 1) / (n + 1)
                p = np.array([x0, 0, h]) * (1 - f) + top * f
                parts.append(rod((p[0], -yw, p[2]), (p[0], yw, p[2]), 0.012, "back", 6))
    if rng.random() < 0.35:  # arms
        ah = _u(rng, 0.16, 0.26)
        for sy in (-1, 1):
            y = sy * (yw + 0.01)
            parts.append(box((d * 0.9, 0.05, 0.03), (0, y, h + ah), "arm"))
            parts.append(rod((d * 0.35, y, h - 0.01), (d * 0.35, y, h + ah), 0.015, "arm", 8))
    return parts


# ------------------------------------------------------------------------------- tables
def table(rng: np.random.Generator) -> list[Part]:
    kind = _pick(rng, ["dining", "coffee", "bar", "desk"], [0.4, 0.25, 0.15, 0.2])
    h = {"dining": (0.68, 0.8), "coffee": (0.3, 0.48), "bar": (0.95, 1.1), "desk": (0.7, 0.78)}
    h = _u(rng, *h[kind])
    tt = _u(rng, 0.02, 0.07)
    shape = _pick(rng, ["rect", "round"], [0.7, 0.3]) if kind != "desk" else "rect"
    if shape == "round":
        r = _u(rng, 0.3, 0.6) if kind != "bar" else _u(rng, 0.25, 0.4)
        parts = [frustum((0, 0, h - tt), (0, 0, h), r, r, "top", 32)]
        cx = cy = 0.62 * r
    else:
        L = _u(rng, 0.7, 1.8) if kind != "bar" else _u(rng, 0.5, 0.8)
        Wd = L * _u(rng, 0.4, 1.0)
        parts = [box((L, Wd, tt), (0, 0, h - tt / 2), "top")]
        inset = _u(rng, 0.02, 0.1)
        cx, cy = L / 2 - inset, Wd / 2 - inset
    base = _pick(rng, ["four", "pedestal", "trestle", "panels"],
                 [0.5, 0.2, 0.15, 0.15] if shape == "rect" else [0.45, 0.55, 0.0, 0.0])
    top = h - tt
    if base == "four":
        parts += _legs_four(rng, cx, cy, top, "leg", splay_max=0.06)
        if rng.random() < 0.5:  # apron
            a = _u(rng, 0.05, 0.12)
            parts.append(box((2 * cx, 2 * cy, a), (0, 0, top - a / 2), "leg"))
        if rng.random() < 0.25:  # lower shelf
            z = _u(rng, 0.08, 0.3) * h
            parts.append(box((2 * cx + 0.04, 2 * cy + 0.04, 0.02), (0, 0, z), "top"))
    elif base == "pedestal":
        parts.append(rod((0, 0, 0.03), (0, 0, top), _u(rng, 0.03, 0.08), "leg"))
        if rng.random() < 0.5:
            rb = _u(rng, 0.15, 0.3)
            parts.append(frustum((0, 0, 0), (0, 0, 0.04), rb, rb * 0.8, "leg"))
        else:
            reach, n = _u(rng, 0.18, 0.32), int(rng.integers(3, 5))
            for k in range(n):
                a = 2 * math.pi * k / n
                parts.append(rod((0, 0, 0.025), (reach * math.cos(a), reach * math.sin(a),
                                                 0.025), 0.025, "leg", 8))
    elif base == "trestle":
        for sx in (-1, 1):
            x = sx * cx
            parts.append(box((0.05, 0.06, top - 0.04), (x, 0, (top + 0.04) / 2), "leg"))
            parts.append(box((0.08, 2 * cy, 0.04), (x, 0, 0.02), "leg"))
        parts.append(box((2 * cx, 0.04, 0.04), (0, 0, _u(rng, 0.15, 0.5) * top), "leg"))
    else:  # two full side panels (desk-like), optional modesty panel
        pt = _u(rng, 0.02, 0.05)
        for sx in (-1, 1):
            parts.append(box((pt, 2 * cy + 0.04, top), (sx * (cx + 0.02), 0, top / 2), "leg"))
        if rng.random() < 0.5:
            parts.append(box((2 * cx, 0.02, top * 0.5), (0, cy, top * 0.7), "leg"))
    return parts


# ------------------------------------------------------------------------------- airplanes
def _wing(root_x, z, span, chord, taper, sweep, dihedral, thick, kind,
          sides=(-1, 1), y0=0.0) -> list[Part]:
    """Tapered swept wing halves (convex slabs) from y0 outwards; sweep/dihedral in radians."""
    parts = []
    for s in sides:
        tip_c = chord * taper
        dx = -span * math.tan(sweep)  # leading edge moves back (towards -x)
        dz = span * math.tan(dihedral)
        pts = []
        for (x, y, zz, c) in ((root_x, s * y0, z, chord),
                              (root_x + dx, s * (y0 + span), z + dz, tip_c)):
            for xe in (x, x - c):
                for ze in (zz - thick / 2, zz + thick / 2):
                    pts.append((xe, y, ze))
        parts.append(hull(pts, kind))
    return parts


def airplane(rng: np.random.Generator) -> list[Part]:
    L = 1.0
    r = _u(rng, 0.035, 0.085)
    nose, tail = _u(rng, 0.1, 0.22), _u(rng, 0.2, 0.35)
    xs = np.linspace(-L / 2, L / 2, 9)
    prof = np.ones_like(xs)
    prof = np.minimum(prof, np.clip((L / 2 - xs) / nose, 0.05, 1.0) ** 0.5)
    prof = np.minimum(prof, np.clip((xs + L / 2) / tail, 0.25, 1.0))
    th = 2 * math.pi * np.arange(12) / 12
    pts = [(x, r * p * math.cos(a), r * p * math.sin(a) + (0.3 * r * (1 - p) if x < 0 else 0))
           for x, p in zip(xs, prof) for a in th]
    parts = [hull(pts, "body")]
    span = _u(rng, 0.35, 0.75)
    chord = _u(rng, 0.12, 0.3)
    sweep = math.radians(_u(rng, 0, 40))
    taper = _u(rng, 0.25, 1.0)
    dihedral = math.radians(_u(rng, -4, 8))
    wz = _pick(rng, [-0.6 * r, 0.0, 0.7 * r])
    wx = _u(rng, 0.0, 0.18) + chord / 2
    thick = _u(rng, 0.012, 0.03)
    parts += _wing(wx, wz, span, chord, taper, sweep, dihedral, thick, "wing", y0=0.0)
    tail_kind = _pick(rng, ["conventional", "t-tail", "v-tail"], [0.55, 0.25, 0.2])
    fin_h, fin_c = _u(rng, 0.1, 0.22), _u(rng, 0.1, 0.2)
    fin_sweep = math.radians(_u(rng, 20, 50))
    hs_span, hs_c = span * _u(rng, 0.25, 0.45), _u(rng, 0.07, 0.13)
    xt = -L / 2 + fin_c + 0.01
    if tail_kind == "v-tail":
        a = math.radians(_u(rng, 30, 50))
        parts += _wing(xt, 0.3 * r, hs_span * 1.2, fin_c, 0.6, fin_sweep * 0.7, a, 0.012,
                       "tail")
    else:
        fin = [(xt, 0, 0.5 * r), (xt - fin_c, 0, 0.5 * r),
               (xt - fin_c - fin_h * math.tan(fin_sweep) * 0.3, 0, 0.5 * r + fin_h),
               (xt - fin_h * math.tan(fin_sweep), 0, 0.5 * r + fin_h)]
        fin = [(x, y + s * 0.006, z) for x, y, z in fin for s in (-1, 1)]
        parts.append(hull(fin, "tail"))
        hz = 0.5 * r + fin_h if tail_kind == "t-tail" else 0.35 * r
        hx = xt - (fin_h * math.tan(fin_sweep) * 0.8 if tail_kind == "t-tail" else 0.0)
        parts += _wing(hx, hz, hs_span, hs_c, 0.6, sweep * 0.8, 0.0, 0.01, "tail")
    engines = _pick(rng, [0, 2, 4, "rear"], [0.25, 0.45, 0.15, 0.15])
    er, el = _u(rng, 0.025, 0.05), _u(rng, 0.12, 0.22)
    pos = []
    if engines in (2, 4):
        for f in ((0.35,) if engines == 2 else (0.3, 0.62)):
            y = f * span
            x = wx - y * math.tan(sweep) + 0.35 * el
            z = wz + y * math.tan(dihedral) - er - thick
            pos += [(x, s * y, z) for s in (-1, 1)]
    elif engines == "rear":
        pos = [(-L / 2 + tail + 0.05, s * (r + er + 0.01), 0.3 * r) for s in (-1, 1)]
    for x, y, z in pos:
        parts.append(frustum((x, y, z), (x - el, y, z), er, er * 0.8, "engine", 12))
        zp = wz + abs(y) * math.tan(dihedral) if engines != "rear" else z
        parts.append(box((el * 0.5, 0.01, abs(zp - z) + 0.01),
                         (x - el / 2, y if engines != "rear" else y - math.copysign(er, y),
                          (zp + z) / 2), "engine"))
    return parts


# ------------------------------------------------------------------------------- lamps
def lamp(rng: np.random.Generator) -> list[Part]:
    hgt = _u(rng, 0.4, 1.2)
    parts: list[Part] = []
    rb = _u(rng, 0.1, 0.2)
    if rng.random() < 0.6:
        parts.append(frustum((0, 0, 0), (0, 0, _u(rng, 0.02, 0.06)), rb, rb * _u(rng, 0.6, 1),
                             "base"))
    else:
        parts.append(box((2 * rb, 2 * rb, 0.04), (0, 0, 0.02), "base"))
    bent = rng.random() < 0.35
    top = np.array([0.0, 0.0, hgt])
    if bent:  # an arm reaching forward (+x)
        mid = np.array([0.0, 0.0, hgt * _u(rng, 0.5, 0.8)])
        top = np.array([_u(rng, 0.15, 0.4), 0.0, hgt])
        parts.append(rod((0, 0, 0.02), mid, 0.012, "pole", 8))
        parts.append(rod(mid, top, 0.012, "pole", 8))
    else:
        parts.append(rod((0, 0, 0.02), top, _u(rng, 0.01, 0.03), "pole", 8))
    shade = _pick(rng, ["cone", "drum", "globe"])
    sr, sh = _u(rng, 0.1, 0.25), _u(rng, 0.1, 0.25)
    if shade == "globe":
        parts.append(ellipsoid((sr * 0.7,) * 3, top + [0, 0, sr * 0.5], "shade"))
    else:
        r_top = sr * (_u(rng, 0.3, 0.7) if shade == "cone" else 1.0)
        parts.append(frustum(top - [0, 0, sh * 0.6], top + [0, 0, sh * 0.4], sr, r_top, "shade"))
    return parts


FAMILIES: dict[str, Callable[[np.random.Generator], list[Part]]] = {
    "chair": chair, "table": table, "airplane": airplane, "lamp": lamp,
}
CATEGORIES = tuple(FAMILIES)


def build(category: str, rng: np.random.Generator) -> list[Part]:
    """Parts of one random ``category`` object; ValueError listing the families otherwise."""
    if category not in FAMILIES:
        raise ValueError(f"unknown category {category!r}; choose from {', '.join(FAMILIES)}")
    return FAMILIES[category](rng)
