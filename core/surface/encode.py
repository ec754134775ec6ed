"""Mesh → shape code → mesh: the whole mesh2sh route in two calls."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.surface.laplacian import mass_matrix
from core.surface.sh import ShapeCode, fit_code
from core.surface.spherical import MapError, SphereMap, map_to_sphere
from core.surface.spherical import repair as repair_mesh

__all__ = ["Encoding", "encode_mesh"]


@dataclass
class Encoding:
    """The code, the sphere map it was fitted on (its mesh may be the repaired one), what the
    repair did ("" when not needed) and timings in seconds."""

    code: ShapeCode
    sphere_map: SphereMap
    repaired: str = ""
    times: dict[str, float] = field(default_factory=dict)
    colors: np.ndarray | None = None


def _subdivide_with(v: np.ndarray, f: np.ndarray, colors: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split every edge at its midpoint, carrying vertex colours along (averaged)."""
    import trimesh

    vv, ff = trimesh.remesh.subdivide(np.c_[v, colors], f)
    return vv[:, :3], ff, vv[:, 3:]


def encode_mesh(vertices: np.ndarray, faces: np.ndarray, degree: int,
                colors: np.ndarray | None = None, repair: bool = False,
                repair_res: int = 64, what: str = "mesh") -> Encoding:
    """Map the mesh (vertices (V, 3), faces (F, 3), optional vertex colours (V, 3) in [0, 1])
    to the sphere and fit SH up to ``degree``. ``repair``: remesh first when the mesh is not a
    genus-0 closed manifold (colours are then dropped). A mesh with fewer than twice as many
    vertices as coefficients is subdivided (every edge split at its midpoint: the same
    surface, sampled finer). With ``repair``, a map that degenerates (MapError: sliver
    triangles) is retried once on the remeshed surface. Raises TopologyError or MapError."""
    from core.surface.spherical import TopologyError, require_genus0

    times: dict[str, Any] = {}
    v, f = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    done = ""
    if not repair:
        require_genus0(v, f, what)  # the mesh as given (not as subdivided below) is judged
    else:
        try:
            require_genus0(v, f, what)
        except TopologyError:
            t = time.perf_counter()
            v, f, done = repair_mesh(v, f, res=repair_res)
            colors = None
            times["repair"] = time.perf_counter() - t
    while len(v) < 2 * (degree + 1) ** 2:  # too coarse for a stable fit: split every edge
        import trimesh

        if colors is not None:
            v, f, colors = _subdivide_with(v, f, colors)
        else:
            v, f = trimesh.remesh.subdivide(v, f)
        done = (done + "; " if done else "") + f"subdivided to {len(f)} faces"
    t = time.perf_counter()
    try:
        sm = map_to_sphere(v, f, what=what)
    except MapError:
        if not repair or "remeshed" in done:
            raise
        t = time.perf_counter()  # sliver triangles: remesh once and map again
        v, f, what_done = repair_mesh(v, f, res=repair_res)
        done = (done + "; " if done else "") + what_done
        colors = None
        times["repair"] = time.perf_counter() - t
        sm = map_to_sphere(v, f, what=what)
    times["map"] = time.perf_counter() - t
    values = sm.vertices if colors is None else np.c_[sm.vertices, colors]
    channels = ("x", "y", "z") if colors is None else ("x", "y", "z", "r", "g", "b")
    t = time.perf_counter()
    w = mass_matrix(sm.sphere, sm.faces).diagonal()
    code = fit_code(sm.sphere, values, degree, w, channels)
    times["fit"] = time.perf_counter() - t
    return Encoding(code=code, sphere_map=sm, repaired=done, times=times, colors=colors)
