"""Seconds per DRWR fit step and peak memory: the repulsion kernels side by side.

One fit step is exactly ``Fitter.step`` with the ``drwr-paper`` preset (silhouette loss +
structure-aware repulsion, beta = 3, sigma = 1.5 px, all views every step; forward, backward
and the Adam update) on ``make_scene("blob", views=I, res=64 (I=8) / 128 (I=20))``, from two
starts: ``box`` (uniform in the box the cameras share, the paper's start: sparse in the image)
and ``hull`` (uniform inside the visual hull: the density of a converged fit).

The kernel is the config parameter ``FitConfig.repulsion`` (passed down to drwr_terms; nothing
is patched):

* grid  -- particle-mesh (core.drwr.repulsion_grid), cost linear in J;
* cells -- the cell list (core.drwr.repulsion_cells), cost ~ pairs within 4.55 sigma;
* exact -- all pairs (core.drwr.repulsion_exact.repulsion_chunked: the exact kernel with a
  hand-written backward, memory-bounded; at least as fast as the dense ``I x J x J`` autograd
  reference, so "exact / grid" is a lower bound of "dense reference / grid"), run only where
  ``I * J^2`` stays under ``--exact-pairs`` (1.3e9), otherwise "—";
* auto  -- which of grid / cells ``auto`` would pick (column "auto →"; not timed again).

Every (I, J, start, kernel) runs in a fresh child process (benchmarks/bench_common.py): peak
memory = RSS high-water mark during the steps minus RSS before them; on CUDA also the peak of
``torch.cuda.max_memory_allocated``.  Timing: 1 warm-up step, then the median of a few steps
(J <= 8000); for J >= 32000 the first step is timed.  Torch runs on 1 thread.  Cells runs
whose step would exceed ``--cells-max-s`` are stopped and shown as "> N s".

    python benchmarks/bench_step.py                 # full table (long on a shared 2-core box)
    python benchmarks/bench_step.py --quick         # I=8, J in {2k, 8k}
    python benchmarks/bench_step.py --I 20 --J 100000 --starts hull --kernels grid
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import (RES, child_quality, child_time, cpu_name, fmt_j, fmt_mb,  # noqa: E402
                          fmt_s, log, run_child)
from bench_results import results_path  # noqa: E402

FULL_I = (8, 20)
FULL_J = (2000, 8000, 32000, 100_000)
KERNELS = ("grid", "cells", "exact")


def plan(J: int, quick: bool = False) -> tuple[int, int, float]:
    """(warm-up steps, timed steps, seconds after which no further timed step starts)."""
    if J <= 2000:
        return 1, (3 if quick else 5), 20.0
    if J <= 8000:
        return 1, 3, 20.0
    return 0, 1, 0.0


def exact_fits(I: int, J: int, pairs: float) -> bool:
    return I * J * J <= pairs


def auto_pick(I: int, J: int) -> str:
    from core.drwr.repulsion import choose_method

    res = RES[I]
    return choose_method(I, J, 1.5, (-1.0, -1.0, float(res), float(res)))


def bench(device: str, Is, Js, starts, kernels, args) -> tuple[list[dict], dict]:
    rows, info = [], {}
    for I in Is:
        for J in Js:
            for start in starts:
                warm, steps, cap = plan(J, args.quick)
                job = {"kind": "time", "I": I, "J": J, "device": device, "warmup": warm,
                       "steps": steps, "max_seconds": cap, "init": start}
                row = {"I": I, "J": J, "res": RES[I], "start": start, "auto": auto_pick(I, J)}
                for k in kernels:
                    if k == "exact" and not exact_fits(I, J, args.exact_pairs):
                        row[k] = None
                        continue
                    log(f"[{device}] I={I} J={J} {start}: {k} ...")
                    timeout = args.cells_max_s * (warm + 2) + 120 if k == "cells" else None
                    r = run_child({**job, "method": k}, timeout=timeout)
                    row[k] = r
                    if "error" not in r:
                        info = {x: r[x] for x in ("torch", "threads", "device_name")}
                    log(f"    {r.get('median', r.get('error'))}")
                rows.append(row)
    return rows, info


def _cell(r, key="median"):
    if r is None:
        return "—"
    if "error" in r:
        return "timed out" if "timed out" in r["error"] else "error"
    if key == "median":
        return fmt_s(r[key]) + (f" ({fmt_s(r['cpu_median'])})" if "cpu_median" in r else "")
    return fmt_mb(r.get(key))


def table_md(rows: list[dict], kernels, cuda: bool) -> list[str]:
    head = ["I (res)", "J", "start", "auto →"]
    head += [f"{k} s/step (CPU s)" for k in kernels]
    if "exact" in kernels:
        head += ["exact / grid"]
    if "cells" in kernels:
        head += ["cells / grid"]
    head += [f"{k} peak RSS Δ" for k in kernels]
    if cuda:
        head += [f"{k} peak GPU" for k in kernels]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        med = {k: (r.get(k) or {}).get("median") for k in kernels}
        cells = [f"{r['I']} ({r['res']}²)", fmt_j(r["J"]), r["start"], r["auto"]]
        cells += [_cell(r.get(k)) for k in kernels]
        g = med.get("grid")
        for k in ("exact", "cells"):
            if k in kernels:
                cells.append(f"{med[k] / g:.1f}×" if (g and med.get(k)) else "—")
        cells += [_cell(r.get(k), "rss_peak") for k in kernels]
        if cuda:
            cells += [_cell(r.get(k), "gpu_peak") for k in kernels]
        out.append("| " + " | ".join(cells) + " |")
    return out


def targets_md(rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        g = r.get("grid") or {}
        if r["I"] == 20 and r["J"] == 100_000 and r["start"] == "hull" and "median" in g:
            ok = g["median"] <= 2.0 and g["rss_peak"] <= 4e9
            cpu = f" ({g['cpu_median']:.2f} CPU s)" if "cpu_median" in g else ""
            out.append(f"- J=100k, I=20, 128², hull start, grid: {g['median']:.2f} s/step{cpu}, "
                       f"peak RSS Δ {fmt_mb(g['rss_peak'])} (target ≤ 2 s, ≤ 4 GB: "
                       f"wall time: **{'MET' if ok else 'NOT MET'}**)")
        if r["I"] == 8 and r["J"] == 8000 and "median" in g:
            n = r.get("exact")
            if n and "median" in n:
                ratio, how = n["median"] / g["median"], "measured"
            else:
                base = next((b for b in rows if b["I"] == 8 and b["J"] == 2000
                             and b["start"] == r["start"] and b.get("exact")
                             and "median" in b["exact"]), None)
                if base is None:
                    continue
                est = base["exact"]["median"] * 16
                ratio, how = est / g["median"], f"exact estimated as exact(J=2k) × 16 = {est:.1f} s"
            out.append(f"- J=8k, I=8, {r['start']} start: exact / grid = **{ratio:.0f}×** "
                       f"(target ≥ 20×: {'MET' if ratio >= 20 else 'NOT MET'}; {how})")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="\n".join(__doc__.splitlines()[1:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="I=8, J in {2k, 8k}")
    ap.add_argument("--I", default=None, help="comma list of view counts (8, 20)")
    ap.add_argument("--J", default=None, help="comma list of point counts")
    ap.add_argument("--starts", default="box,hull", help="comma list of box, hull")
    ap.add_argument("--kernels", default=",".join(KERNELS), help="comma list of grid, cells, exact")
    ap.add_argument("--out", metavar="FILE.md", help="also write the report as markdown here "
                    "(default: benchmarks/results_step.md for a full run with the default "
                    "options; other runs print only)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="auto: the CPU table, and the GPU table too when CUDA is present")
    ap.add_argument("--exact-pairs", type=float, default=1.3e9,
                    help="run the exact all-pairs kernel only where I·J² is at most this")
    ap.add_argument("--cells-max-s", type=float, default=400.0,
                    help="stop a cells run whose steps take longer than about this")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        import json

        job = json.loads(args.child)
        res = child_time(job) if job["kind"] == "time" else child_quality(job)
        print("RESULT " + json.dumps(res), flush=True)
        return 0

    import torch

    torch.set_num_threads(1)
    has_cuda = torch.cuda.is_available()
    if args.device == "cuda" and not has_cuda:
        sys.exit("bench_step: --device cuda asked for, but this torch has no CUDA device")
    devices = {"auto": ["cpu"] + (["cuda"] if has_cuda else []), "cpu": ["cpu"],
               "cuda": ["cuda"]}[args.device]
    Is = tuple(int(x) for x in args.I.split(",")) if args.I else ((8,) if args.quick else FULL_I)
    Js = tuple(int(x) for x in args.J.split(",")) if args.J else (
        (2000, 8000) if args.quick else FULL_J)
    starts = tuple(args.starts.split(","))
    kernels = tuple(args.kernels.split(","))
    t_start = time.perf_counter()
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    md = ["# DRWR fit step: grid vs cells vs exact repulsion", ""]
    md += [
        f"- torch {torch.__version__}, 1 torch thread per process, python "
        f"{platform.python_version()}, {cpu_name()}, {os.cpu_count()} logical CPUs"
        + (f", load average at start {load0:.2f}" if load0 is not None else ""),
        "- step = `Fitter.step`, preset drwr-paper (β=3, σ=1.5 px, λ=100, all views, Adam), "
        "scene make_scene('blob', views=I, res=64 for I=8 / 128 for I=20), seed 0; start "
        "'box' (uniform in the cameras' common box) or 'hull' (uniform inside the visual hull)",
        f"- exact = all pairs (chunked exact kernel), run only where I·J² ≤ {args.exact_pairs:g}",
        "- s/step: median wall time over the timed steps after 1 warm-up (J ≥ 32k: the first "
        "step); in brackets the process's CPU seconds per step (what one unshared core would "
        "take, about); "
        "peak RSS Δ: RSS high-water during the steps minus RSS before them; each cell of the "
        "table in a fresh process",
        f"- command: `python benchmarks/bench_step.py {' '.join(sys.argv[1:])}`",
        "",
    ]
    for dev in devices:
        rows, info = bench(dev, Is, Js, starts, kernels, args)
        md += [f"## {dev.upper()} ({info.get('device_name', dev)})", ""]
        md += table_md(rows, kernels, dev == "cuda")
        md += ["", "Targets:", ""] + (targets_md(rows) or ["- (not in this run)"]) + [""]
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    md += [f"Total wall time {time.perf_counter() - t_start:.0f} s"
           + (f"; load average at end {load1:.2f}" if load1 is not None else "") + "."]
    text = "\n".join(md) + "\n"
    print(text)
    full = not (args.quick or args.I or args.J or args.device == "cuda"
                or args.starts != "box,hull" or args.kernels != ",".join(KERNELS))
    out = args.out or (results_path("step") if full else None)
    if out:
        Path(out).write_text(text)
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
