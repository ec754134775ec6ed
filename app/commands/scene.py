"""`make-scene` and `convert`: write drwr-scene folders (a new or empty folder, or with
``--overwrite`` one whose scene is replaced: the old views' masks and images go too)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli import (
    UserError,
    parse_views,
)


def _check_out(out: Path, overwrite: bool) -> None:
    """UserError, before any work, for an output that exists and is not an empty folder
    (unless ``overwrite`` and it is a folder)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UserError(f"{out}: exists and is not empty; add --overwrite to replace the scene "
                        "in it, or choose another folder")


def _write(scene: Any, out: Path) -> Path:
    """Write ``scene`` into ``out``, then remove the view files an earlier scene left there
    (masks/, images/ entries and a ground truth the new scene does not list)."""
    from core.io.scene import write_scene

    folder = write_scene(scene, out)
    keep = {f"{i:03d}.png" for i in range(scene.n_views)}
    for sub in ("masks", "images"):
        d = folder / sub
        if not d.is_dir():
            continue
        stale = [f for f in d.iterdir() if f.is_file() and not (
            f.name in keep and (sub == "masks" or scene.images is not None))]
        for f in stale:
            f.unlink()
        if not any(d.iterdir()):
            d.rmdir()
    if scene.gt_points is None:
        (folder / "gt_points.ply").unlink(missing_ok=True)
    return folder


def cmd_make_scene(args: argparse.Namespace) -> int:
    from core.evalsets import named_mesh, shape_names
    from core.io.mesh_scene import make_scene

    _check_out(Path(args.out), args.overwrite)
    source = named_mesh(args.source)
    if isinstance(source, str) and not Path(source).exists() and Path(source).suffix == "":
        raise UserError(f"{source}: neither a mesh file nor a shape name (shapes: "
                        f"{', '.join(shape_names())})")
    scene = make_scene(source, views=args.views, res=args.res, layout=args.layout,
                       radius=args.radius, fov_deg=args.fov_deg, gt_points=args.gt_points,
                       seed=args.seed)
    folder = _write(scene, Path(args.out))
    print(f"wrote {scene.n_views} views at {args.res}x{args.res} to {folder}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from core.formats.loaders import load_scene

    _check_out(Path(args.out), args.overwrite)
    scene = load_scene(args.src, res=args.res, views=parse_views(args.views),
                       max_views=args.max_views, fmt=args.format)
    folder = _write(scene, Path(args.out))
    H, W = scene.resolution
    fmt = scene.extra.get("format", "drwr-scene")
    print(f"wrote {scene.n_views} views ({fmt}, {W}x{H}) to {folder}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from core.geometry.cameras import LAYOUTS

    from app.output_guard import reads, value, writes

    m = sub.add_parser("make-scene", help="render a mesh or bundled shape into a drwr-scene")
    reads(m.add_argument("source", help="mesh file (OBJ, PLY, STL, OFF, GLB) or a bundled shape "
                         "name (demo, held-out or the novel benchmark set)"), "mesh")
    writes(m.add_argument("out", help="output scene folder (new or empty; see --overwrite)"),
           replaces=True)
    m.add_argument("--views", type=int, default=8)
    m.add_argument("--res", type=int, default=64)
    m.add_argument("--layout", default="fibonacci", choices=list(LAYOUTS))
    m.add_argument("--radius", type=float, default=2.0, help="camera distance from the centre")
    m.add_argument("--fov-deg", type=float, default=None, help="field of view (default: fit)")
    m.add_argument("--gt-points", type=int, default=100_000)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--overwrite", action="store_true",
                   help="replace the scene in an existing, non-empty OUT folder")
    m.set_defaults(func=cmd_make_scene)

    c = sub.add_parser("convert", help="convert a dataset folder into a drwr-scene folder")
    reads(c.add_argument("src", help="dataset or scene folder"), "dataset")
    writes(c.add_argument("out", help="output scene folder (new or empty; see --overwrite)"),
           replaces=True)
    value(c.add_argument("--format", help="force a format: blender, nerfstudio, dtu, dpc, colmap "
                   "or drwr-scene (default: detect from the folder's contents)"))
    c.add_argument("--res", type=int, help="working resolution, longest side (default 128)")
    value(c.add_argument("--views", help="comma-separated view indices"))
    c.add_argument("--max-views", type=int)
    c.add_argument("--overwrite", action="store_true",
                   help="replace the scene in an existing, non-empty OUT folder")
    c.set_defaults(func=cmd_convert)
