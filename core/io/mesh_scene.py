"""Build a synthetic scene from a mesh: normalise, place cameras, render exact silhouettes,
sample ground-truth surface points.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import trimesh

from core.geometry.cameras import make_cameras
from core.geometry.rasterize import render_silhouettes
from core.io.scene import MAX_VIEWS, Scene, SceneError
from core.geometry.shapes import SHAPES, get_shape, normalise

__all__ = ["make_scene", "load_mesh", "sample_surface", "MESH_FORMATS"]

MESH_FORMATS = (".obj", ".ply", ".stl", ".off", ".glb", ".gltf")
MAX_RES = 4096  # mask side make_scene renders at most (pixels)


def sample_surface(vertices: np.ndarray, faces: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` points (n, 3) float64 uniform by area on the triangles (vertices (V,3), faces (F,3)).

    Deterministic for a given ``seed``. Raises ValueError when the mesh has zero area.
    """
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)]  # (F, 3, 3)
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    total = area.sum()
    if not total > 0:
        raise ValueError("sample_surface: mesh has zero surface area")
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(area / total)
    fi = np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(area) - 1)
    r1, r2 = rng.random(n), rng.random(n)
    flip = r1 + r2 > 1  # fold the unit square onto the triangle
    r1, r2 = np.where(flip, 1 - r1, r1), np.where(flip, 1 - r2, r2)
    t = tri[fi]
    return t[:, 0] + r1[:, None] * (t[:, 1] - t[:, 0]) + r2[:, None] * (t[:, 2] - t[:, 0])


def load_mesh(path: str | Path) -> trimesh.Trimesh:
    """Read a mesh file trimesh understands (OBJ, PLY, STL, OFF, GLB, ...) as one mesh.

    Scenes are flattened (``force='mesh'``). Raises SceneError naming the file when it is
    missing, unreadable or has no triangles.
    """
    p = Path(path)
    if not p.is_file():
        raise SceneError(f"{p}: no such mesh file")
    try:
        mesh = trimesh.load(p, force="mesh")
    except Exception as exc:  # trimesh raises many kinds of errors for bad files
        raise SceneError(f"{p}: cannot read mesh ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise SceneError(f"{p}: file has no triangles (need a surface mesh, not a point cloud)")
    if not np.all(np.isfinite(mesh.vertices)):
        raise SceneError(f"{p}: mesh has non-finite vertex coordinates")
    return mesh


def _resolve(source: str | Path | trimesh.Trimesh) -> tuple[trimesh.Trimesh, str, str]:
    """(mesh, scene name, source description)."""
    if isinstance(source, trimesh.Trimesh):
        if len(source.faces) == 0:
            raise SceneError("make_scene: the given mesh has no faces")
        name = source.metadata.get("name")
        return source, str(name or "mesh"), str(name) if name else "<trimesh.Trimesh>"
    if isinstance(source, str) and source in SHAPES:
        return get_shape(source), source, source
    p = Path(source)
    if not p.exists() and isinstance(source, str) and p.suffix == "":
        raise SceneError(f"{source}: neither a mesh file nor a shape name (shapes: "
                         f"{', '.join(SHAPES)})")
    return load_mesh(p), p.stem, str(p)


def make_scene(
    source: str | Path | trimesh.Trimesh,
    views: int = 8,
    res: int = 64,
    layout: str = "fibonacci",
    radius: float = 2.0,
    fov_deg: float | None = None,
    gt_points: int = 100_000,
    seed: int = 0,
) -> Scene:
    """Synthetic scene of ``source`` (mesh file path, shape name, or a Trimesh).

    The mesh is normalised (bbox centre 0, bbox diagonal 1); ``views`` cameras from
    :func:`core.geometry.cameras.make_cameras` (``layout``, ``radius``, ``fov_deg``, ``seed``) render
    exact (views, res, res) silhouettes; ``gt_points`` surface points (seeded, uniform by area)
    become the ground truth (0: none). ``scene.extra`` records source, layout, radius, fov_deg,
    seed and the normalisation (``x_scene = (x_file - center) * scale``).

    Raises SceneError naming the file for missing/unreadable meshes and naming the view when
    a silhouette is empty; ValueError for bad arguments.
    """
    if not 1 <= views <= MAX_VIEWS:
        raise ValueError(f"views must be in [1, {MAX_VIEWS}], got {views}")
    if not 4 <= res <= MAX_RES:
        raise ValueError(f"res must be in [4, {MAX_RES}] pixels, got {res}")
    if gt_points < 0:
        raise ValueError(f"gt_points must be >= 0, got {gt_points}")
    mesh, name, desc = _resolve(source)
    lo, hi = mesh.bounds
    try:
        norm = normalise(mesh)
    except ValueError as exc:
        raise SceneError(f"{desc}: {exc}") from None
    K, R, t = make_cameras(views, res, layout=layout, radius=radius, fov_deg=fov_deg, seed=seed)
    masks = render_silhouettes(norm.vertices, norm.faces, K, R, t, res, res)
    for i, m in enumerate(masks):
        if not m.any():
            raise SceneError(
                f"{desc}: view {i} has an empty silhouette (the object is not in view)"
            )
        if m.all():
            raise SceneError(f"{desc}: the object fills the whole image in view {i} (no "
                             "silhouette edge: widen the field of view or move the cameras out)")
    gt = sample_surface(norm.vertices, norm.faces, gt_points, seed) if gt_points else None
    fov = 2 * math.degrees(math.atan(0.5 * res / K[0, 0, 0]))
    extra = {
        "source": desc, "layout": layout, "radius": float(radius), "fov_deg": fov, "seed": seed,
        "normalisation": {"center": ((lo + hi) / 2).tolist(),
                          "scale": 1.0 / float(np.linalg.norm(hi - lo))},
    }
    return Scene(masks=masks, K=K, R=R, t=t, gt_points=gt, name=name, extra=extra)
