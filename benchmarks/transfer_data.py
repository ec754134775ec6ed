"""Foreign-make drwr-dataset folders for the transfer benchmark (evaluation data).

The objects come from ``benchmarks/transfer_shapes.py`` (chairs, tables, airplanes, cars built
from ``core.geometry.shapes`` primitives and trimesh, not from the training families of
``make-dataset``); masks are rendered by ``core.geometry.rasterize.render_silhouettes``, RGB
images by ``core.geometry.shade.shade_mesh``, and the folder is written by
``core.io.dataset.write_dataset`` (shared/DATASET-FORMAT.md).

    python benchmarks/transfer_data.py OUT [--views 5] [--res 64] [--elevation all|above]
        [--shading lambert|side] [--seed 0] [--categories chair table airplane]
        [--split 50,5,10] [--points 8192]

``--split T,V,E``: train / val / test objects per category. Cameras: distance 2 from the
origin, looking at it, image up = world +z, field of view fitting a ball of radius 0.58;
directions uniform by area on the sphere (``all``) or between 15° and 75° elevation
(``above``). Shading ``lambert``: light up-left from the viewer, ambient 0.35, white
background, one colour per part kind; ``side``: light from the right, ambient 0.15, grey
background, one colour per object with ±15 % brightness noise per triangle. Ground truth:
points uniform by area on the outer surface (samples inside another convex part dropped).
Object ``k`` of a category depends only on (seed, category, k).
"""

from __future__ import annotations

import argparse
import colorsys
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.transfer_shapes import CATEGORIES, Part, build  # noqa: E402
from core.geometry.cameras import intrinsics, look_at  # noqa: E402
from core.geometry.rasterize import render_silhouettes  # noqa: E402
from core.geometry.shade import shade_mesh  # noqa: E402
from core.io.dataset import write_dataset  # noqa: E402
from core.io.scene import Scene, write_scene  # noqa: E402

__all__ = ["TransferSpec", "make_object", "write_transfer_dataset", "ELEVATIONS", "SHADINGS"]

ELEVATIONS = {"all": (-90.0, 90.0), "above": (15.0, 75.0)}
SHADINGS = ("lambert", "side")
RADIUS = 2.0
FOV_DEG = 2 * math.degrees(math.asin(0.58 / RADIUS))


@dataclass
class TransferSpec:
    """One dataset make: views per object (3-10), image side (32-128), elevation band,
    shading variant, seed, categories and train/val/test objects per category."""

    views: int = 5
    res: int = 64
    elevation: str = "all"
    shading: str = "lambert"
    seed: int = 0
    categories: list[str] = field(default_factory=lambda: ["chair", "table", "airplane"])
    split: tuple[int, int, int] = (50, 5, 10)
    points: int = 8192

    def check(self) -> None:
        """ValueError naming the first bad field."""
        if not 3 <= self.views <= 10:
            raise ValueError(f"views must be in [3, 10], got {self.views}")
        if not 32 <= self.res <= 128:
            raise ValueError(f"res must be in [32, 128], got {self.res}")
        if self.elevation not in ELEVATIONS:
            raise ValueError(f"elevation must be one of {', '.join(ELEVATIONS)}")
        if self.shading not in SHADINGS:
            raise ValueError(f"shading must be one of {', '.join(SHADINGS)}")
        bad = [c for c in self.categories if c not in CATEGORIES]
        if bad or not self.categories:
            raise ValueError(f"categories must be among {', '.join(CATEGORIES)}, got {bad}")
        if len(self.split) != 3 or min(self.split) < 0 or self.split[0] < 1:
            raise ValueError(f"split must be train,val,test counts with train >= 1, "
                             f"got {self.split}")
        if self.points < 1:
            raise ValueError(f"points must be >= 1, got {self.points}")


def _cameras(n: int, res: int, band: tuple[float, float], rng: np.random.Generator):
    """K, R, t of ``n`` cameras at RADIUS, directions uniform by area in the elevation band."""
    z = rng.uniform(math.sin(math.radians(band[0])), math.sin(math.radians(band[1])), n)
    az = rng.uniform(0, 2 * math.pi, n)
    r = np.sqrt(np.clip(1 - z * z, 0, None))
    dirs = np.stack([r * np.cos(az), r * np.sin(az), z], 1)
    Rs, ts = zip(*(look_at(RADIUS * d) for d in dirs))
    return np.repeat(intrinsics(res, FOV_DEG)[None], n, 0), np.stack(Rs), np.stack(ts)


def _colour(rng: np.random.Generator) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.2, 0.9),
                                        rng.uniform(0.35, 0.9)))


def _face_colours(parts: list[Part], shading: str, rng: np.random.Generator) -> np.ndarray:
    """(F, 3) albedo of the concatenated parts' triangles."""
    if shading == "lambert":
        kinds = sorted({p.kind for p in parts})
        col = {k: _colour(rng) for k in kinds}
        return np.vstack([np.repeat(col[p.kind][None], len(p.mesh.faces), 0) for p in parts])
    base = _colour(rng)
    n = sum(len(p.mesh.faces) for p in parts)
    return np.clip(base[None] * rng.uniform(0.85, 1.15, (n, 1)), 0, 1)


def _inside(points: np.ndarray, eq: np.ndarray) -> np.ndarray:
    """Points strictly inside a convex hull given by its facet equations (n.x + d <= 0)."""
    return np.all(points @ eq[:, :3].T + eq[:, 3] < -1e-6, axis=1)


def outer_surface_points(parts: list[Part], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points (n, 3) uniform by area on the parts' surfaces, without those strictly
    inside another convex part (parts overlap where they join)."""
    from scipy.spatial import ConvexHull

    hulls = [ConvexHull(p.mesh.vertices).equations if p.convex else None for p in parts]
    area = np.array([p.mesh.area for p in parts])
    got: list[np.ndarray] = []
    total = 0
    for _ in range(50):
        counts = rng.multinomial(int(1.3 * (n - total)) + 64, area / area.sum())
        for i, (p, k) in enumerate(zip(parts, counts)):
            if not k:
                continue
            pts, _ = p.mesh.sample(int(k), return_index=True, seed=int(rng.integers(1 << 31)))
            keep = np.ones(len(pts), bool)
            for j, eq in enumerate(hulls):
                if j != i and eq is not None:
                    keep &= ~_inside(pts, eq)
            got.append(pts[keep])
            total += int(keep.sum())
        if total >= n:
            break
    pts = np.vstack(got)
    return pts[rng.permutation(len(pts))[:n]]


def make_object(category: str, index: int, spec: TransferSpec) -> Scene:
    """Object ``index`` of ``category``: masks, RGB images, cameras and ground truth."""
    rng = np.random.default_rng([spec.seed, list(CATEGORIES).index(category) + 101, index])
    parts = build(category, rng)
    verts, faces, off = [], [], 0
    for p in parts:
        verts.append(np.asarray(p.mesh.vertices, np.float64))
        faces.append(np.asarray(p.mesh.faces, np.int64) + off)
        off += len(p.mesh.vertices)
    v, f = np.vstack(verts), np.vstack(faces)
    K, R, t = _cameras(spec.views, spec.res, ELEVATIONS[spec.elevation], rng)
    masks = render_silhouettes(v, f, K, R, t, spec.res, spec.res)
    fc = _face_colours(parts, spec.shading, rng)
    if spec.shading == "lambert":
        images, _ = shade_mesh(v, f, fc, K, R, t, spec.res, spec.res)
    else:
        images, _ = shade_mesh(v, f, fc, K, R, t, spec.res, spec.res, light=(0.8, -0.25, -0.55),
                               ambient=0.15, background=0.75)
    gt = outer_surface_points(parts, spec.points, rng)
    extra = {"category": category, "index": index, "make": "transfer", "seed": spec.seed,
             "frame": "z up, front +x, bbox centre 0, diagonal 1", "camera_radius": RADIUS,
             "fov_deg": FOV_DEG, "elevation": spec.elevation, "shading": spec.shading}
    return Scene(masks=masks, K=K, R=R, t=t, images=list(images), gt_points=gt,
                 name=f"{category}_{index:04d}", extra=extra)


def write_transfer_dataset(out: str | Path, spec: TransferSpec, progress: bool = False) -> Path:
    """Write the dataset of ``spec`` to the new or empty folder ``out``; returns ``out``."""
    spec.check()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out}: output folder exists and is not empty")
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    cats: dict[str, str] = {}
    per = sum(spec.split)
    t0 = time.perf_counter()
    for c in spec.categories:
        for k in range(per):
            scene = make_object(c, k, spec)
            name = scene.name
            write_scene(scene, out / name)
            n_tr, n_va = spec.split[0], spec.split[1]
            split = "train" if k < n_tr else "val" if k < n_tr + n_va else "test"
            splits[split].append(name)
            cats[name] = c
            if progress:
                print(f"\r{c} {k + 1}/{per}  {time.perf_counter() - t0:.0f} s", end="", flush=True)
    if progress:
        print()
    splits = {s: ids for s, ids in splits.items() if ids}
    extra = {"make": "benchmarks/transfer_data.py", "views": spec.views, "res": spec.res,
             "elevation": spec.elevation, "shading": spec.shading, "seed": spec.seed,
             "split_per_category": list(spec.split), "points": spec.points}
    return write_dataset(out, {}, splits, cats, extra)


def _parse(argv: list[str] | None) -> tuple[Path, TransferSpec]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--views", type=int, default=5)
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--elevation", choices=list(ELEVATIONS), default="all")
    ap.add_argument("--shading", choices=SHADINGS, default="lambert")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--categories", nargs="+", default=["chair", "table", "airplane"])
    ap.add_argument("--split", default="50,5,10", help="train,val,test objects per category")
    ap.add_argument("--points", type=int, default=8192)
    a = ap.parse_args(argv)
    try:
        split = tuple(int(x) for x in a.split.split(","))
    except ValueError:
        ap.error(f"--split must be three integers, got {a.split!r}")
    return a.out, TransferSpec(a.views, a.res, a.elevation, a.shading, a.seed, list(a.categories),
                               split, a.points)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    out, spec = _parse(argv)
    try:
        write_transfer_dataset(out, spec, progress=True)
    except ValueError as exc:
        print(f"error: {out}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
