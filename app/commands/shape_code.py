"""`sh-encode` / `sh-decode`: spherical-harmonic shape codes of genus-0 meshes."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from app.cli import UserError


def cmd_encode(args: argparse.Namespace) -> int:
    from core.surface.encode import encode_mesh
    from core.surface.mesh_io import load_surface
    from core.surface.sh import save_code
    from core.surface.sh_images import write_images

    out = Path(args.out)
    if out.suffix.lower() != ".npz":
        raise UserError(f"{out}: the code is written as .npz")
    if not 0 <= args.degree <= 60:
        raise UserError(f"--degree must be in 0..60, got {args.degree}")
    mesh = load_surface(args.mesh)
    colors = None
    vc = getattr(mesh.visual, "vertex_colors", None) if mesh.visual.kind == "vertex" else None
    if vc is not None and len(vc) == len(mesh.vertices):
        colors = np.asarray(vc, np.float64)[:, :3] / 255.0
    try:
        enc = encode_mesh(mesh.vertices, mesh.faces, args.degree, colors, repair=args.repair,
                          what=str(args.mesh))
    except ValueError as exc:  # TopologyError, too few vertices for the degree
        raise UserError(str(exc) if str(exc).startswith(str(args.mesh))
                        else f"{args.mesh}: {exc}") from None
    save_code(out, enc.code)
    sm = enc.sphere_map
    if enc.repaired:
        print(f"{args.mesh}: {enc.repaired}")
    t = enc.times
    print(f"wrote degree {args.degree} code ({enc.code.coeffs.shape[0]} coefficients x "
          f"{len(enc.code.channels)} channels) to {out}; {len(sm.faces)} faces mapped in "
          f"{sm.steps} flow steps, {sm.flipped} flipped; map {t['map']:.2f} s, fit "
          f"{t['fit']:.2f} s")
    if sm.flipped:
        print(f"warning: {sm.flipped} of {len(sm.faces)} faces are flipped on the sphere (thin "
              "parts); the code is less reliable there")
    if args.images:
        paths = write_images(enc.code, args.images)
        print(f"wrote {len(paths)} amplitude images to {args.images}")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from core.surface.mesh_io import write_mesh
    from core.surface.sh import decode, load_code

    code = load_code(args.code)
    if not 0 <= args.subdivisions <= 7:
        raise UserError(f"--subdivisions must be in 0..7, got {args.subdivisions}")
    if args.degree is not None and args.degree < 1:
        raise UserError(f"--degree must be >= 1 (degree 0 decodes to a single point), got "
                        f"{args.degree}")
    v, f, col = decode(code, args.subdivisions, args.degree)
    write_mesh(args.out, v, f, col)
    print(f"wrote {len(f)} faces to {args.out} (degree "
          f"{code.degree if args.degree is None else min(args.degree, code.degree)})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from app.output_guard import reads, writes

    e = sub.add_parser("sh-encode", help="spherical-harmonic code of a genus-0 mesh "
                       "(conformal map to the sphere, least-squares fit)")
    reads(e.add_argument("mesh", help="closed genus-0 mesh (.obj, .ply, .stl, .off, .glb)"),
          "mesh")
    e.add_argument("--degree", type=int, default=20, help="highest SH degree L (default 20)")
    writes(e.add_argument("--out", required=True, help="output code (.npz)"))
    writes(e.add_argument("--images", help="folder for coefficient amplitude PNGs"), folder=True)
    e.add_argument("--repair", action="store_true",
                   help="remesh first when the mesh is open, non-manifold, in parts or has "
                   "handles (handles are closed)")
    e.set_defaults(func=cmd_encode)
    d = sub.add_parser("sh-decode", help="mesh from a spherical-harmonic code")
    reads(d.add_argument("code", help="code written by sh-encode (.npz)"), "code")
    writes(d.add_argument("--out", required=True, help="output mesh (.obj, .ply, .stl or .glb)"))
    d.add_argument("--subdivisions", type=int, default=4,
                   help="icosphere subdivisions (faces = 20 * 4^S; default 4)")
    d.add_argument("--degree", type=int, help="decode only up to this degree")
    d.set_defaults(func=cmd_decode)
