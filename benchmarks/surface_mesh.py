"""Meshes of fitted clouds on the held-out shapes: watertight? surface CD vs the cloud's, IoU.

    python benchmarks/surface_mesh.py --work /tmp/surf [--shapes table lamp ...]

Per shape, exactly what a user runs (skipped when the file exists already):
    python main.py make-scene SHAPE WORK/SHAPE --views 20 --res 128
    python main.py fit WORK/SHAPE --points 8000 --out WORK/SHAPE.ply --threads 1 --metrics-json ..
    python main.py mesh WORK/SHAPE.ply --scene WORK/SHAPE --out WORK/SHAPE.mesh.obj --metrics-json ..
then, in this process, two references on the same scene: the mesh without the coverage
blobs (``cover=False``) and the project's visual-hull surface (``hull_mesh``, level 0.65 px),
scored by the same :func:`core.surface.metrics.mesh_metrics` (100k area samples; silhouettes
rendered exactly). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ["table", "lamp", "mug", "bunny_like", "helix", "stool"]


def _run(*args: object) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--shapes", nargs="+", default=SHAPES)
    ap.add_argument("--no-references", action="store_true", help="skip the two reference rows")
    a = ap.parse_args()
    from core.hull.visual_hull import hull_mesh
    from core.io.points import read_points
    from core.io.scene import read_scene
    from core.surface.mesh import mesh_from_cloud
    from core.surface.metrics import mesh_metrics

    w = a.work
    w.mkdir(parents=True, exist_ok=True)
    print("| shape | cloud CD×100 | mesh CD×100 | ratio | watertight, manifold | components, "
          "Euler | IoU min / mean | blobs | time s | no blobs: IoU min, CD | hull surface: "
          "IoU min, CD |")
    print("|" + "---|" * 11)
    for s in a.shapes:
        if not (w / s / "scene.json").is_file():
            _run("make-scene", s, w / s, "--views", 20, "--res", 128)
        if not (w / f"{s}.ply").is_file():
            _run("fit", w / s, "--points", 8000, "--out", w / f"{s}.ply", "--quiet",
                 "--threads", 1, "--metrics-json", w / f"{s}.fit.json")
        if not (w / f"{s}.mesh.json").is_file():
            _run("mesh", w / f"{s}.ply", "--scene", w / s, "--out", w / f"{s}.mesh.obj",
                 "--metrics-json", w / f"{s}.mesh.json")
        r = json.loads((w / f"{s}.mesh.json").read_text())
        m = r["metrics"]
        refs = ["—", "—"]
        if not a.no_references:
            scene, pts = read_scene(w / s), read_points(w / f"{s}.ply")
            plain = mesh_from_cloud(pts, scene, cover=False)
            mp = mesh_metrics(plain.vertices, plain.faces, scene)
            hv, hf, _ = hull_mesh(scene, 128)
            mh = mesh_metrics(hv, hf, scene)
            refs = [f"{mp['mesh_iou_min']:.4f}, {mp['mesh_cd']:.3f}",
                    f"{mh['mesh_iou_min']:.4f}, {mh['mesh_cd']:.3f}"]
        print(f"| {s} | {m['cloud_cd']:.3f} | {m['mesh_cd']:.3f} | "
              f"{m['mesh_cd'] / m['cloud_cd']:.3f} | {r['watertight']}, {r['manifold']} | "
              f"{r['components']}, {r['euler']} | {m['mesh_iou_min']:.4f} / "
              f"{m['mesh_iou_mean']:.4f} | {r['info'].get('blobs', 0)} | {r['time_s']:.1f} | "
              f"{refs[0]} | {refs[1]} |", flush=True)


if __name__ == "__main__":
    from bench_results import record

    raise SystemExit(record("surface_mesh", main, markdown=True))
