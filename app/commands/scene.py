"""`make-scene` and `convert`: write drwr-scene folders."""

from __future__ import annotations

import argparse

from pathlib import Path

from app.cli import UserError, parse_views


def cmd_make_scene(args: argparse.Namespace) -> int:
    from core.evalsets import named_mesh, shape_names
    from core.io.mesh_scene import make_scene
    from core.io.scene import write_scene

    source = named_mesh(args.source)
    if isinstance(source, str) and not Path(source).exists() and Path(source).suffix == "":
        raise UserError(f"{source}: neither a mesh file nor a shape name (shapes: "
                        f"{', '.join(shape_names())})")
    scene = make_scene(source, views=args.views, res=args.res, layout=args.layout,
                       radius=args.radius, fov_deg=args.fov_deg, gt_points=args.gt_points,
                       seed=args.seed)
    folder = write_scene(scene, args.out)
    print(f"wrote {scene.n_views} views at {args.res}x{args.res} to {folder}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from core.formats.loaders import load_scene
    from core.io.scene import write_scene

    scene = load_scene(args.src, res=args.res, views=parse_views(args.views),
                       max_views=args.max_views, fmt=args.format)
    folder = write_scene(scene, args.out)
    H, W = scene.resolution
    fmt = scene.extra.get("format", "drwr-scene")
    print(f"wrote {scene.n_views} views ({fmt}, {W}x{H}) to {folder}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from core.geometry.cameras import LAYOUTS

    m = sub.add_parser("make-scene", help="render a mesh or bundled shape into a drwr-scene")
    m.add_argument("source", help="mesh file (OBJ, PLY, STL, OFF, GLB) or a bundled shape name "
                   "(demo, held-out or the novel benchmark set)")
    m.add_argument("out", help="output scene folder")
    m.add_argument("--views", type=int, default=8)
    m.add_argument("--res", type=int, default=64)
    m.add_argument("--layout", default="fibonacci", choices=list(LAYOUTS))
    m.add_argument("--radius", type=float, default=2.0, help="camera distance from the centre")
    m.add_argument("--fov-deg", type=float, default=None, help="field of view (default: fit)")
    m.add_argument("--gt-points", type=int, default=100_000)
    m.add_argument("--seed", type=int, default=0)
    m.set_defaults(func=cmd_make_scene)

    c = sub.add_parser("convert", help="convert a dataset folder into a drwr-scene folder")
    c.add_argument("src")
    c.add_argument("out")
    c.add_argument("--format", help="force a format: blender, nerfstudio, dtu, dpc, colmap or "
                   "drwr-scene (default: detect from the folder's contents)")
    c.add_argument("--res", type=int, help="working resolution, longest side (default 128)")
    c.add_argument("--views", help="comma-separated view indices")
    c.add_argument("--max-views", type=int)
    c.set_defaults(func=cmd_convert)
