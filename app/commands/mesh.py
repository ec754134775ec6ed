"""`mesh`: a watertight, manifold surface from a cloud (held to a scene's silhouettes)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.cli import UserError, write_json

__all__ = ["check_mesh_out", "export_fit_mesh", "mesh_and_report", "register"]


def check_mesh_out(path: str | Path) -> None:
    """UserError unless ``path`` ends in a mesh format we write."""
    _check_out(Path(path))


def _check_out(out: Path) -> None:
    from core.surface.mesh_io import MESH_OUT_FORMATS

    if out.suffix.lower() not in MESH_OUT_FORMATS:
        raise UserError(f"{out}: mesh output must end in {', '.join(MESH_OUT_FORMATS)}")


def mesh_and_report(points: np.ndarray, scene: Any, out: Path, method: str = "auto",
                    grid: int = 128, cover: bool = True, quiet: bool = False
                    ) -> dict[str, Any]:
    """Mesh ``points`` (N, 3; the scene's working coordinates when a scene is given), write
    it to ``out`` (original coordinates) and return (and print) its topology and metrics."""
    from core.surface.mesh import mesh_from_cloud
    from core.surface.mesh_io import to_original_mesh, write_mesh
    from core.surface.metrics import mesh_metrics

    _check_out(out)
    t0 = time.perf_counter()
    sm = mesh_from_cloud(points, scene, method=method, res=grid, cover=cover)
    elapsed = time.perf_counter() - t0
    extra = scene.extra if scene is not None else None
    v, f = to_original_mesh(extra, sm.vertices, sm.faces)
    write_mesh(out, v, f)
    topo = sm.topology
    info = {k: v for k, v in sm.info.items()}
    res: dict[str, Any] = {"mesh": str(out), "method": sm.method, "vertices": len(sm.vertices),
                           "faces": len(sm.faces), "time_s": elapsed,
                           "watertight": topo.watertight, "manifold": topo.closed_manifold,
                           "components": topo.components, "euler": topo.euler, "info": info}
    if not quiet:
        print(f"wrote {len(sm.faces)} faces to {out} ({sm.method}, {elapsed:.1f} s): "
              f"{topo.describe()}")
    if scene is not None:
        m = mesh_metrics(sm.vertices, sm.faces, scene, cloud=points)
        res["metrics"] = m
        if not quiet:
            keys = ["mesh_cd", "cloud_cd", "mesh_fscore_0.01", "mesh_iou_min", "mesh_iou_mean"]
            print("  ".join(f"{k}={m[k]:.4f}" for k in keys if k in m))
    return res


def export_fit_mesh(path: str, points: np.ndarray, scene: Any) -> dict[str, Any]:
    """`fit --mesh-out`: mesh the fitted points (working coordinates) with the scene."""
    return mesh_and_report(points, scene, Path(path))


def cmd_mesh(args: argparse.Namespace) -> int:
    from core.formats.loaders import load_scene
    from core.io.points import read_points
    from core.surface.mesh_io import to_working

    out = Path(args.out)
    _check_out(out)
    pts = read_points(args.cloud)
    scene = None
    if args.scene:
        scene = load_scene(args.scene, res=args.res)
        pts = to_working(scene.extra, pts)
    try:
        res = mesh_and_report(pts, scene, out, args.method, args.grid, not args.no_cover)
    except ValueError as exc:
        raise UserError(f"{args.cloud}: {exc}") from None
    write_json(args.metrics_json, res)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from core.surface.mesh import METHODS

    from app.output_guard import reads, writes

    m = sub.add_parser("mesh", help="a watertight, manifold mesh from a point cloud "
                       "(held to the silhouettes with --scene)")
    reads(m.add_argument("cloud", help="point cloud (.ply, .obj, .xyz)"), "cloud")
    writes(m.add_argument("--out", required=True, help="output mesh (.obj, .ply, .stl or .glb)"))
    reads(m.add_argument("--scene", help="scene the cloud was fitted to: the mesh is "
                         "intersected with its visual hull and made to cover every mask; "
                         "metrics are printed"), "scene")
    m.add_argument("--method", choices=METHODS, default="auto",
                   help="auto (imls with a scene, poisson without), imls (moving least-squares "
                   "signed distance of the cloud), poisson (screened Poisson)")
    m.add_argument("--grid", type=int, default=128, help="grid resolution (default 128, >= 16)")
    m.add_argument("--no-cover", action="store_true",
                   help="skip the blobs that make the mesh cover every mask pixel")
    m.add_argument("--res", type=int, help="working resolution for dataset folders")
    writes(m.add_argument("--metrics-json", help="write topology and metrics to this JSON file"))
    m.set_defaults(func=cmd_mesh)
