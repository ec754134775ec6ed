"""Write and read triangle meshes through trimesh (OBJ, PLY, STL, GLB), atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import trimesh

__all__ = [
    "MESH_OUT_FORMATS", "load_surface", "to_original_mesh", "to_working", "write_mesh"]

MESH_OUT_FORMATS = (".obj", ".ply", ".stl", ".glb")


def write_mesh(path: str | Path, vertices: np.ndarray, faces: np.ndarray,
               colors: np.ndarray | None = None) -> Path:
    """Write vertices (V, 3), faces (F, 3) and optional vertex colours (V, 3) in [0, 1] to
    ``path`` (format from the suffix, one of MESH_OUT_FORMATS) via a temporary file, so an
    existing file is never left half-written. Raises ValueError, before writing anything, for
    another suffix and for a mesh :func:`core.surface.checks.check_solid` refuses (non-finite
    vertices; a closed mesh without volume or inside out)."""
    from core.surface.checks import check_solid

    p = Path(path)
    ext = p.suffix.lower()
    if ext not in MESH_OUT_FORMATS:
        raise ValueError(f"{p}: mesh output must end in {', '.join(MESH_OUT_FORMATS)}")
    check_solid(vertices, faces, str(p))
    kw = {}
    if colors is not None:
        c = np.clip(np.asarray(colors, np.float64), 0, 1)
        kw["vertex_colors"] = np.c_[np.rint(c * 255), np.full(len(c), 255)].astype(np.uint8)
    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64),
                           process=False, **kw)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.stem + ".tmp" + p.suffix)
    mesh.export(tmp, file_type=ext[1:])
    os.replace(tmp, p)
    return p


def load_surface(path: str | Path) -> trimesh.Trimesh:
    """A mesh file as a surface whose topology can be checked: read as stored (OBJ/PLY keep
    their vertex indices; vertices that merely coincide stay distinct, as the writer meant)
    and, when that is not a closed manifold (e.g. STL, which stores every triangle
    separately), with coincident vertices merged; the first that is closed wins. Errors as
    :func:`core.io.mesh_scene.load_mesh` (SceneError naming the file), also for a vertex
    that is not finite (which the merged reading drops)."""
    from core.io.mesh_scene import load_mesh
    from core.io.scene import SceneError
    from core.surface.checks import topology

    merged = load_mesh(path)  # validates the file and gives the merged reading
    raw = trimesh.load(Path(path), force="mesh", process=False)
    if isinstance(raw, trimesh.Trimesh) and not np.all(np.isfinite(raw.vertices)):
        bad = int(np.sum(~np.all(np.isfinite(raw.vertices), axis=1)))
        raise SceneError(f"{path}: {bad} mesh vertices are not finite (NaN or infinity)")
    if isinstance(raw, trimesh.Trimesh) and len(raw.faces) and topology(
            raw.vertices, raw.faces).closed_manifold:
        return raw
    return merged


def _transform(extra: dict | None) -> np.ndarray | None:
    T = (extra or {}).get("to_original")
    return None if T is None else np.asarray(T, np.float64)


def to_working(extra: dict | None, points: np.ndarray) -> np.ndarray:
    """Points (N, 3) from a dataset's original world into the scene's working coordinates
    (the inverse of ``Scene.to_original``; ``extra`` is the scene's ``extra`` dict)."""
    T = _transform(extra)
    if T is None:
        return np.asarray(points, np.float64)
    return (np.asarray(points, np.float64) - T[:3, 3]) @ np.linalg.inv(T[:3, :3]).T


def to_original_mesh(extra: dict | None, vertices: np.ndarray, faces: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """A working-coordinates mesh mapped to the original world; faces flipped when the map
    mirrors, so they stay outward."""
    T = _transform(extra)
    if T is None:
        return vertices, faces
    v = np.asarray(vertices, np.float64) @ T[:3, :3].T + T[:3, 3]
    return v, (faces[:, ::-1].copy() if np.linalg.det(T[:3, :3]) < 0 else faces)
