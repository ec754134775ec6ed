"""Seconds per DRWR fit step: the fast repulsion kernel against the dense autograd reference.

One fit step is exactly ``Fitter.step`` with the ``drwr-paper`` preset (silhouette loss +
structure-aware repulsion, beta = 3, sigma = 1.5 px, all views every step; forward, backward
and the Adam update), with the points initialised uniformly in the visual hull
(``init='hull'``), on ``make_scene("blob", views=I, res=64 (I=8) / 128 (I=20), gt_points=1000)``.

The repulsion kernel is switched by replacing ``core.drwr.losses.repulsion`` (the name the loss
calls) with ``core.drwr.repulsion.repulsion(..., method=M)``:

* fast  -- ``method="auto"`` (the fitter's default; the grid kernel for J >= 512);
* naive -- ``method="naive"``, dense ``I x J x J`` tensors and plain autograd; run only where
  ``I * J * J * 4 B * 6`` stays under ``--naive-gb`` (8 GB), otherwise shown as "—".

Every (device, I, J, kernel) runs in a fresh child process, so one setting's memory cannot
contaminate another's; the peak memory is the child's RSS high-water mark during the steps
minus its RSS before them (``/proc/self/clear_refs`` resets the mark; without it the
``ru_maxrss`` delta is used), on CUDA also the peak of ``torch.cuda.max_memory_allocated``.
Timing: 1 warm-up step, then the median of a few steps (J <= 8000); for J >= 32000, where a
step takes many seconds, the first step is timed (its one-off cost, ~0.1 s, is negligible).
Torch runs on 1 thread.

Fit quality, so that speed never silently costs accuracy: at I=8, J=2000, 100 drwr-paper
steps (50 with --quick; cosine lr decay over those steps) from the same seed with the grid kernel and with the exact
chunked kernel, CD x 100 (``core.metrics.evaluate``) of both and their relative difference
(target within 2 %).  ``--quality-J 2000,8000`` adds J=8000 (the exact kernel then takes
~100 x 15 s on one core).

    python benchmarks/bench_step.py                 # full table, ~10-13 min on one loaded core
    python benchmarks/bench_step.py --quick         # I=8, J in {2k, 8k}; < 2 min
    python benchmarks/bench_step.py --out benchmarks/results_cpu.md --device cpu
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

RES = {8: 64, 20: 128}
FULL_I = (8, 20)
FULL_J = (2000, 8000, 32000, 100_000)
QUICK_I = (8,)
QUICK_J = (2000, 8000)
QUALITY_STEPS = 100
QUICK_QUALITY_STEPS = 50
SIGMA_NOTE = "β=3, σ=1.5 px"


# --------------------------------------------------------------------------- child side


def _proc_status(key: str) -> int | None:
    """A ``/proc/self/status`` memory field in bytes (None where unavailable)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak RSS (VmHWM) to the current RSS
        return True
    except OSError:
        return False


def _maxrss() -> int:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def _setup(I: int, J: int, device: str, method: str, iterations: int | None = None):
    import torch

    torch.set_num_threads(1)
    import core.drwr.losses
    from core.fit.config import apply_preset
    from core.fit.fitter import Fitter
    from core.io.mesh_scene import make_scene
    from core.drwr.repulsion import repulsion

    def rep(uv, w, delta, sigma):
        return repulsion(uv, w, delta, sigma, method=method)

    core.drwr.losses.repulsion = rep  # the name drwr_terms calls
    scene = make_scene("blob", views=I, res=RES.get(I, 128 if I > 8 else 64), gt_points=1000)
    over = {"points": J, "init": "hull", "device": device, "seed": 0}
    if iterations is not None:
        over["iterations"] = iterations
    cfg = apply_preset("drwr-paper", **over)
    assert cfg.beta == 3.0 and cfg.sigma == 1.5 and cfg.views_per_step == 0, cfg
    return scene, Fitter(scene, cfg)


def child_time(job: dict) -> dict:
    import gc

    import torch

    I, J, device, method = job["I"], job["J"], job["device"], job["method"]
    scene, fitter = _setup(I, J, device, method)
    cuda = fitter.device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize()

    gc.collect()
    sync()
    rss0 = _proc_status("VmRSS")
    maxrss0 = _maxrss()
    hwm_ok = _reset_hwm() and rss0 is not None
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        gpu0 = torch.cuda.memory_allocated()
    for _ in range(job["warmup"]):
        fitter.step()
    times: list[float] = []
    spent = 0.0
    while len(times) < job["steps"] and (not times or spent < job["max_seconds"]):
        sync()
        t0 = time.perf_counter()
        fitter.step()
        sync()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
    if hwm_ok:
        peak = _proc_status("VmHWM") - rss0
        how = "VmHWM"
    else:
        peak = _maxrss() - maxrss0
        how = "ru_maxrss"
    out = {
        "times": times,
        "median": statistics.median(times),
        "rss_peak": max(0, peak),
        "rss_how": how,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device_name": torch.cuda.get_device_name() if cuda else cpu_name(),
        "last_loss": fitter.last_losses.get("total"),
    }
    if cuda:
        out["gpu_peak"] = torch.cuda.max_memory_allocated() - gpu0
    return out


def child_quality(job: dict) -> dict:
    import torch

    from core.metrics import evaluate

    I, J, device, method = job["I"], job["J"], job["device"], job["method"]
    scene, fitter = _setup(I, J, device, method, iterations=job["steps"])
    t0 = time.perf_counter()
    fitter.run()
    if fitter.device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    m = evaluate(fitter.points_np(), scene)
    return {"cd": float(m["cd"]), "inside": float(m["inside_fraction"]), "seconds": dt,
            "steps": fitter.iteration}


def run_child(job: dict, timeout: float | None = None) -> dict:
    """Run one job in a fresh interpreter; returns its result dict or {"error": ...}."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(job)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or [f"exit {p.returncode}"]
    return {"error": f"exit {p.returncode}: {tail[0][:200]}"}


# --------------------------------------------------------------------------- parent side


def plan(J: int, quick: bool = False) -> tuple[int, int, float]:
    """(warm-up steps, timed steps, seconds after which no further timed step starts)."""
    if J <= 2000:
        return 1, (3 if quick else 5), 20.0
    if J <= 8000:
        return 1, 3, 20.0
    return 0, 1, 0.0


def naive_fits(I: int, J: int, gb: float) -> bool:
    return I * J * J * 4 * 6 < gb * 1e9


def fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def fmt_mb(b: int | None) -> str:
    if b is None:
        return "—"
    return f"{b / 2**20:,.0f} MiB" if b < 2**30 else f"{b / 2**30:.2f} GiB"


def fmt_j(J: int) -> str:
    return f"{J // 1000}k" if J % 1000 == 0 else str(J)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def bench_device(device: str, Is, Js, naive_gb: float, quick: bool) -> tuple[list[dict], dict]:
    rows, info = [], {}
    for I in Is:
        for J in Js:
            warm, steps, cap = plan(J, quick)
            job = {"kind": "time", "I": I, "J": J, "device": device, "warmup": warm,
                   "steps": steps, "max_seconds": cap}
            row = {"I": I, "J": J, "res": RES[I], "plan": (warm, steps)}
            t0 = time.perf_counter()
            log(f"[{device}] I={I} J={J}: fast (auto) ...")
            fast = run_child({**job, "method": "auto"})
            row["fast"] = fast
            if "error" not in fast:
                info = {k: fast[k] for k in ("torch", "threads", "device_name")}
            if naive_fits(I, J, naive_gb):
                log(f"[{device}] I={I} J={J}: naive ...")
                row["naive"] = run_child({**job, "method": "naive"})
            else:
                row["naive"] = None
            log(f"[{device}] I={I} J={J}: done in {time.perf_counter() - t0:.0f} s "
                f"(fast {fast.get('median', fast.get('error'))})")
            rows.append(row)
    return rows, info


def table_md(rows: list[dict], device: str) -> list[str]:
    cuda = device == "cuda"
    head = ["I (res)", "J", "fast s/step (auto→grid)", "naive s/step", "naive / fast",
            "fast peak RSS Δ", "naive peak RSS Δ"]
    if cuda:
        head += ["fast peak GPU", "naive peak GPU"]
    head += ["steps timed (fast / naive)"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        f, n = r["fast"], r["naive"]
        fe, ne = "error" in f, n is not None and "error" in n
        fm = None if fe else f["median"]
        nm = None if (n is None or ne) else n["median"]
        ratio = f"{nm / fm:.1f}×" if (fm and nm) else "—"
        cells = [f"{r['I']} ({r['res']}²)", fmt_j(r["J"]),
                 f"error: {f['error']}" if fe else fmt_s(fm),
                 f"error: {n['error']}" if ne else fmt_s(nm), ratio,
                 "—" if fe else fmt_mb(f["rss_peak"]),
                 "—" if (n is None or ne) else fmt_mb(n["rss_peak"])]
        if cuda:
            cells += ["—" if fe else fmt_mb(f.get("gpu_peak")),
                      "—" if (n is None or ne) else fmt_mb(n.get("gpu_peak"))]
        nt = "—" if (n is None or ne) else str(len(n["times"]))
        cells += [f"{'—' if fe else len(f['times'])} / {nt}"
                  + ("" if r["plan"][0] else " (no warm-up)")]
        out.append("| " + " | ".join(cells) + " |")
    return out


def targets_md(rows: list[dict]) -> list[str]:
    out = []
    by = {(r["I"], r["J"]): r for r in rows}
    # >= 20x naive at I=8, J=8000
    r = by.get((8, 8000))
    if r is not None and "error" not in r["fast"]:
        fm = r["fast"]["median"]
        n = r["naive"]
        if n is not None and "error" not in n:
            ratio, how = n["median"] / fm, "measured"
        else:
            base = next((by[(8, J)] for J in (4000, 2000) if (8, J) in by
                         and by[(8, J)]["naive"] and "error" not in by[(8, J)]["naive"]), None)
            if base is not None:
                est = base["naive"]["median"] * (8000 / base["J"]) ** 2
                ratio = est / fm
                how = (f"naive not run (I·J²·4 B·6 over the limit); estimated as naive(J="
                       f"{base['J']}) × (8000/{base['J']})² = {est:.1f} s")
            else:
                ratio, how = None, "no naive time to compare"
        if ratio is None:
            out.append(f"- naive/fast ≥ 20× at I=8, J=8000: n/a ({how})")
        else:
            ok = "MET" if ratio >= 20 else "NOT MET"
            out.append(f"- naive/fast ≥ 20× at I=8, J=8000: **{ratio:.1f}×, {ok}** ({how})")
    mem = [(r["I"], r["fast"]["rss_peak"]) for r in rows
           if r["J"] == 100_000 and "error" not in r["fast"]]
    if mem:
        worst = max(b for _, b in mem)
        ok = "MET" if worst < 4e9 else "NOT MET"
        per = ", ".join(f"I={i}: {fmt_mb(b)}" for i, b in mem)
        out.append(f"- J=100k peak memory (fast step) < 4 GB: **{ok}** ({per})")
    for r in rows:
        if "error" in r["fast"] and r["J"] == 100_000:
            out.append(f"- J=100k at I={r['I']}: {r['fast']['error']}")
    return out


def quality(device: str, Js, steps: int) -> list[str]:
    out = ["| I (res) | J | steps | CD×100 grid (fast) | CD×100 chunked (exact) | "
           "relative difference | within 2 % | s grid / s chunked |", "|" + "---|" * 8]
    for J in Js:
        res = {}
        for m in ("grid", "chunked"):
            log(f"[{device}] quality I=8 J={J}: {steps} steps, {m} ...")
            res[m] = run_child({"kind": "quality", "I": 8, "J": J, "device": device,
                                "method": m, "steps": steps})
        g, c = res["grid"], res["chunked"]
        if "error" in g or "error" in c:
            out.append(f"| 8 (64²) | {fmt_j(J)} | {steps} | {g.get('cd', g.get('error'))} | "
                       f"{c.get('cd', c.get('error'))} | — | — | — |")
            continue
        rel = abs(g["cd"] - c["cd"]) / c["cd"]
        out.append(f"| 8 (64²) | {fmt_j(J)} | {steps} | {g['cd']:.4f} | {c['cd']:.4f} | "
                   f"{100 * rel:.3f} % | {'yes' if rel <= 0.02 else 'NO'} | "
                   f"{g['seconds']:.1f} / {c['seconds']:.1f} |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="\n".join(__doc__.splitlines()[1:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small subset: I=8, J in {2k, 8k}")
    ap.add_argument("--out", metavar="FILE.md", help="also write the report as markdown here")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="auto: the CPU table, and the GPU table too when CUDA is present")
    ap.add_argument("--naive-gb", type=float, default=8.0,
                    help="run the dense reference only where I·J²·4 B·6 is below this (GB)")
    ap.add_argument("--quality-J", default="2000",
                    help="comma-separated J for the grid-vs-chunked fit-quality check at I=8 "
                         "('' to skip; 8000 costs ~100 chunked steps of several seconds)")
    ap.add_argument("--quality-steps", type=int, default=None,
                    help=f"fit steps of the quality check (default {QUALITY_STEPS}; "
                         f"{QUICK_QUALITY_STEPS} with --quick)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
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
    Is, Js = (QUICK_I, QUICK_J) if args.quick else (FULL_I, FULL_J)
    qJs = [int(x) for x in args.quality_J.split(",") if x.strip()]
    qsteps = args.quality_steps or (QUICK_QUALITY_STEPS if args.quick else QUALITY_STEPS)

    t_start = time.perf_counter()
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    md = ["# DRWR fit step: fast vs naive repulsion", ""]
    md += [
        f"- torch {torch.__version__}, torch threads per process: 1 "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}), "
        f"python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} logical CPUs"
        + (f", load average at start {load0[0]:.2f}" if load0 else ""),
        f"- step = `Fitter.step`, preset drwr-paper ({SIGMA_NOTE}, λ=100, all views, Adam), "
        "init 'hull', scene make_scene('blob', views=I, res=64 for I=8 / 128 for I=20, "
        "gt_points=1000), seed 0",
        "- fast = `repulsion(method='auto')` (grid kernel at these J); naive = dense I×J×J "
        f"autograd, run only where I·J²·4 B·6 < {args.naive_gb:g} GB, else —",
        "- s/step: median over the timed steps after 1 warm-up step (J ≥ 32k: the first step, "
        "no warm-up); peak RSS Δ: RSS high-water during the steps minus RSS before them, "
        "each setting and kernel in a fresh process",
        "",
    ]
    all_rows = {}
    for dev in devices:
        rows, info = bench_device(dev, Is, Js, args.naive_gb, args.quick)
        all_rows[dev] = rows
        name = info.get("device_name", dev)
        md += [f"## {dev.upper()} ({name}, torch threads {info.get('threads', 1)})", ""]
        md += table_md(rows, dev)
        md += ["", "Targets:", ""] + targets_md(rows) + [""]
        if qJs:
            md += [f"Fit quality on {dev} ({qsteps} drwr-paper steps at I=8, init 'hull', "
                   "same seed, cosine lr decay over those steps, CD×100 from "
                   "core.metrics.evaluate; grid = the fast kernel, chunked = exact):", ""]
            md += quality(dev, qJs, qsteps) + [""]
    load1 = os.getloadavg() if hasattr(os, "getloadavg") else None
    md += [f"Total wall time {time.perf_counter() - t_start:.0f} s"
           + (f"; load average at end {load1[0]:.2f}" if load1 else "") + "."]
    text = "\n".join(md) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
