"""Farthest-point sampling: core.correction.hull_field.farthest_point_sample against the greedy loop it
replaced (torch, float32, O(n N)), on area samples of a sphere (``pool`` = 4 candidates per
chosen point, as HullField.surface_points uses).

    python benchmarks/bench_fps.py                 # J = 10k, 20k (both); 100k, 200k (new)
    python benchmarks/bench_fps.py --old-max 200000   # also time the old loop at large J

Prints one line per J: seconds for each and their ratio (old / new).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.geometry.pointcloud import farthest_point_sample  # noqa: E402


def old_fps(points: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """The loop farthest_point_sample replaced (torch float32, one pass over N per point)."""
    P = torch.as_tensor(np.asarray(points, np.float32))
    idx = torch.empty(n, dtype=torch.long)
    idx[0] = seed % len(P)
    d = ((P - P[idx[0]]) ** 2).sum(1)
    for k in range(1, n):
        idx[k] = torch.argmax(d)
        d = torch.minimum(d, ((P - P[idx[k]]) ** 2).sum(1))
    return P[idx].numpy().astype(np.float64)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--J", type=int, nargs="+", default=[10_000, 20_000, 100_000, 200_000])
    ap.add_argument("--old-max", type=int, default=20_000, help="largest J the old loop runs")
    ap.add_argument("--pool", type=int, default=4)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(f"{'J':>8} {'N':>8} {'new s':>8} {'old s':>8} {'old/new':>8}")
    for J in a.J:
        P = rng.normal(size=(a.pool * J, 3))
        P /= np.linalg.norm(P, axis=1, keepdims=True)
        t0 = time.perf_counter()
        farthest_point_sample(P, J)
        new = time.perf_counter() - t0
        old = float("nan")
        if J <= a.old_max:
            t0 = time.perf_counter()
            old_fps(P, J)
            old = time.perf_counter() - t0
        print(f"{J:>8} {len(P):>8} {new:>8.1f} {old:>8.1f} {old / new:>8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    from bench_results import record

    raise SystemExit(record("fps", main))
