"""Spherical-harmonic shape codes: encode → decode error per degree, and timings.

    python benchmarks/surface_sh.py [--degrees 5 10 20 40] [--meshes DIR]

Shapes: the demo ``blob`` (smooth, genus 0), a bumpy sphere (r = 1 + 0.25 sin3x cos2y +
0.15 sin(4z + 1)) as an icosphere (20480 faces) and as a UV sphere (~10k faces: the timing
case), an ellipsoid (1 : 0.6 : 0.35), each normalised (bbox diagonal 1), plus every ``*.mesh.obj`` in
``--meshes`` (e.g. meshes of fitted clouds), repaired to genus 0 at grid 64 first. Per degree:
CD×100 (DPC protocol, 20k area samples of the decoded icosphere (subdivisions 5) against 20k
of the input) and the mean point-to-surface distance ×100 both ways (no sampling floor), and
the fit time. Map and repair times per shape. Timings are wall seconds on whatever machine
runs it (one thread).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import trimesh

from core.geometry.shapes import get_shape, normalise
from core.io.mesh_scene import sample_surface
from core.metrics import chamfer
from core.surface.laplacian import mass_matrix
from core.surface.mesh_io import load_surface
from core.surface.metrics import surface_distance
from core.surface.sh import decode, fit_code
from core.surface.spherical import MapError, map_to_sphere, repair


def _refine(m: trimesh.Trimesh, faces: int = 5_000) -> trimesh.Trimesh:
    v, f = m.vertices, m.faces
    while len(f) < faces:
        v, f = trimesh.remesh.subdivide(v, f)
    return trimesh.Trimesh(v, f, process=False)


def shapes(meshes: Path | None) -> list[tuple[str, trimesh.Trimesh, float]]:
    ico = trimesh.creation.icosphere(5)
    d = ico.vertices
    r = 1 + 0.25 * np.sin(3 * d[:, 0]) * np.cos(2 * d[:, 1]) + 0.15 * np.sin(4 * d[:, 2] + 1)
    ell = trimesh.Trimesh(trimesh.creation.icosphere(4).vertices * [1, 0.6, 0.35],
                          trimesh.creation.icosphere(4).faces, process=False)
    uv = trimesh.creation.uv_sphere(count=[51, 51])
    du = uv.vertices / np.linalg.norm(uv.vertices, axis=1, keepdims=True)
    ru = 1 + 0.25 * np.sin(3 * du[:, 0]) * np.cos(2 * du[:, 1]) + 0.15 * np.sin(4 * du[:, 2] + 1)
    out = [("blob (demo)", _refine(normalise(get_shape("blob"))), 0.0),
           ("bumpy sphere, UV (~10k faces)",
            normalise(trimesh.Trimesh(du * ru[:, None], uv.faces)), 0.0),
           ("bumpy sphere", normalise(trimesh.Trimesh(d * r[:, None], ico.faces, process=False)),
            0.0),
           ("ellipsoid", normalise(ell), 0.0)]
    for p in sorted(meshes.glob("*.mesh.obj")) if meshes else []:
        m = load_surface(p)
        t = time.perf_counter()
        v, f, _ = repair(m.vertices, m.faces, res=64)
        out.append((f"{p.name.split('.')[0]} (fit mesh, repaired)",
                    trimesh.Trimesh(v, f, process=False), time.perf_counter() - t))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--degrees", type=int, nargs="+", default=[5, 10, 20, 40])
    ap.add_argument("--meshes", type=Path, help="folder with *.mesh.obj to repair and encode")
    a = ap.parse_args()
    head = " | ".join(f"L={L} CD / SD / fit s" for L in a.degrees)
    print(f"| shape | faces | repair s | map s (steps, flipped) | {head} |")
    print("|" + "---|" * (4 + len(a.degrees)))
    for name, m, t_rep in shapes(a.meshes):
        t = time.perf_counter()
        try:
            sm = map_to_sphere(m.vertices, m.faces)
        except MapError as exc:
            print(f"| {name} | {len(m.faces)} | {t_rep:.1f} | refused: {exc} |", flush=True)
            continue
        t_map = time.perf_counter() - t
        w = mass_matrix(sm.sphere, sm.faces).diagonal()
        ref = sample_surface(m.vertices, m.faces, 20_000, 1)
        cells = []
        for L in a.degrees:
            t = time.perf_counter()
            code = fit_code(sm.sphere, sm.vertices, L, w)
            t_fit = time.perf_counter() - t
            v, f, _ = decode(code, 5)
            cd = chamfer(sample_surface(v, f, 20_000, 2), ref)["cd"]
            sd = surface_distance(v, f, m.vertices, m.faces)["sd"]
            cells.append(f"{cd:.3f} / {sd:.3f} / {t_fit:.2f}")
        rep = f"{t_rep:.1f}" if t_rep else "—"
        print(f"| {name} | {len(m.faces)} | {rep} | {t_map:.2f} ({sm.steps}, {sm.flipped}) | "
              + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    from bench_results import record

    raise SystemExit(record("surface_sh", main, markdown=True))
