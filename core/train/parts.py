"""Convex parts for the parametric families, and the object they assemble into.

Every part is a watertight **convex** trimesh (box, rod, frustum, ellipsoid, convex hull of
points), so the object's true surface is the part surfaces minus what lies inside another part;
:func:`surface_points` samples exactly that (no points buried inside where parts overlap).

The canonical frame of every family (see docs/training-data.md): **z up, front towards +x**,
bounding box centred at the origin with diagonal 1 (so the object lies inside the unit cube
[-0.5, 0.5]^3), as ShapeNet's normalisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import ConvexHull

from core.geometry import shapes
from core.io.mesh_scene import sample_surface

__all__ = ["Part", "Assembly", "box", "rod", "frustum", "ellipsoid", "hull", "surface_points"]


@dataclass
class Part:
    """A convex watertight part: ``mesh`` and the ``kind`` that picks its colour."""

    mesh: trimesh.Trimesh
    kind: str


def box(size, center, kind: str) -> Part:
    """A labelled core.geometry.shapes.box."""
    return Part(shapes.box(np.asarray(size, float), np.asarray(center, float)), kind)


def rod(p0, p1, radius: float, kind: str, sections: int = 12) -> Part:
    """A labelled core.geometry.shapes.rod."""
    return Part(shapes.rod(p0, p1, radius, sections), kind)


def frustum(p0, p1, r0: float, r1: float, kind: str, sections: int = 24) -> Part:
    """Truncated cone from p0 (radius r0) to p1 (radius r1); a cone when one radius is ~0."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    axis = (p1 - p0) / np.linalg.norm(p1 - p0)
    a = np.array([1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
    u = np.cross(axis, a)
    u /= np.linalg.norm(u)
    w = np.cross(axis, u)
    th = 2 * math.pi * np.arange(sections) / sections
    ring = np.cos(th)[:, None] * u + np.sin(th)[:, None] * w
    pts = np.vstack([p0 + max(r0, 1e-4) * ring, p1 + max(r1, 1e-4) * ring])
    return hull(pts, kind)


def ellipsoid(radii, center, kind: str, subdivisions: int = 2) -> Part:
    m = trimesh.creation.icosphere(subdivisions=subdivisions)
    m.vertices = m.vertices * np.asarray(radii, float) + np.asarray(center, float)
    return Part(m, kind)


def hull(points, kind: str) -> Part:
    """Convex hull of ``points`` (N, 3) as a watertight part."""
    h = ConvexHull(np.asarray(points, float))
    m = trimesh.Trimesh(h.points, h.simplices, process=True)
    trimesh.repair.fix_normals(m)
    return Part(m, kind)


@dataclass
class Assembly:
    """An object: ``vertices`` (V,3), ``faces`` (F,3), ``face_part`` (F,) part index,
    ``kinds`` (one per part) and the convex parts' half-spaces (for surface sampling)."""

    vertices: np.ndarray
    faces: np.ndarray
    face_part: np.ndarray
    kinds: list[str]
    planes: list[np.ndarray]  # per part (P_k, 4): n.x + d <= 0 inside

    @classmethod
    def of(cls, parts: list[Part], normalise: bool = True) -> "Assembly":
        """Concatenate ``parts``; with ``normalise`` move the bounding-box centre to the origin
        and scale the bounding-box diagonal to 1 (the canonical frame's normalisation)."""
        verts, faces, fp, off = [], [], [], 0
        for k, p in enumerate(parts):
            v = np.asarray(p.mesh.vertices, np.float64)
            verts.append(v)
            faces.append(np.asarray(p.mesh.faces, np.int64) + off)
            fp.append(np.full(len(p.mesh.faces), k))
            off += len(v)
        V = np.concatenate(verts)
        if normalise:
            lo, hi = V.min(0), V.max(0)
            V = (V - (lo + hi) / 2) / float(np.linalg.norm(hi - lo))
        planes = []
        for k in range(len(parts)):
            eq = ConvexHull(V[np.concatenate(faces)[np.concatenate(fp) == k].ravel()]).equations
            planes.append(eq)
        return cls(V, np.concatenate(faces), np.concatenate(fp), [p.kind for p in parts], planes)


def surface_points(obj: Assembly, n: int, seed: int = 0, tol: float = 1e-6) -> np.ndarray:
    """``n`` points (n, 3) uniform by area on the object's outer surface: samples on a part
    strictly inside another (convex) part are dropped, and sampling repeats until ``n`` remain.
    Deterministic for ``seed``."""
    out: list[np.ndarray] = []
    have, rnd = 0, 0
    while have < n:
        m = max(2 * (n - have), 1024)
        pts = sample_surface(obj.vertices, obj.faces, m, seed=seed * 7919 + rnd)
        rnd += 1
        own = _owner(obj, pts)
        keep = np.ones(len(pts), bool)
        for k, eq in enumerate(obj.planes):
            d = pts @ eq[:, :3].T + eq[:, 3]  # (m, P_k)
            keep &= ~((d.max(1) < -tol) & (own != k))
        out.append(pts[keep])
        have += int(keep.sum())
        if rnd > 50:
            raise ValueError("surface_points: the object has (almost) no outer surface")
    return np.concatenate(out)[:n]


def _owner(obj: Assembly, pts: np.ndarray) -> np.ndarray:
    """Index of the part each sampled point lies on: the part whose boundary is nearest."""
    dist = np.stack([np.abs((pts @ eq[:, :3].T + eq[:, 3]).max(1)) for eq in obj.planes], 1)
    return dist.argmin(1)
