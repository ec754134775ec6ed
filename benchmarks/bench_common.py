"""Shared pieces of benchmarks/bench_step.py: the child process that times fit steps (or runs a
short fit for the quality check) in a fresh interpreter, memory probes and table formatting."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

#: image size per number of views
RES = {8: 64, 20: 128}


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


def _setup(I: int, J: int, device: str, method: str, iterations: int | None = None,
           init: str = "hull", shape: str = "blob"):
    import torch

    torch.set_num_threads(1)
    from core.fit.config import apply_preset
    from core.fit.fitter import Fitter
    from core.evalsets import named_mesh
    from core.io.mesh_scene import make_scene

    scene = make_scene(named_mesh(shape), views=I, res=RES.get(I, 128 if I > 8 else 64),
                       gt_points=1000)
    # the kernel is a config parameter (FitConfig.repulsion), passed down to drwr_terms
    over = {"points": J, "init": init, "device": device, "seed": 0, "repulsion": method}
    if iterations is not None:
        over["iterations"] = iterations
    cfg = apply_preset("drwr-paper", **over)
    assert cfg.beta == 3.0 and cfg.sigma == 1.5 and cfg.views_per_step == 0, cfg
    return scene, Fitter(scene, cfg)


def child_time(job: dict) -> dict:
    import gc

    import torch

    I, J, device, method = job["I"], job["J"], job["device"], job["method"]
    scene, fitter = _setup(I, J, device, method, init=job.get("init", "hull"))
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
    cpu: list[float] = []
    spent = 0.0
    while len(times) < job["steps"] and (not times or spent < job["max_seconds"]):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        fitter.step()
        sync()
        dt = time.perf_counter() - t0
        cpu.append(time.process_time() - c0)  # CPU seconds of this process: on a shared,
        times.append(dt)                       # loaded machine closer to the unloaded time
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
        "cpu_median": statistics.median(cpu),
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

    from core.metrics import cloud_metrics

    I, J, device, method = job["I"], job["J"], job["device"], job["method"]
    scene, fitter = _setup(I, J, device, method, iterations=job["steps"],
                           init=job.get("init", "box"), shape=job.get("shape", "blob"))
    t0 = time.perf_counter()
    fitter.run()
    if fitter.device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    m = cloud_metrics(fitter.points_np(), scene)
    return {"cd": float(m["cd"]), "inside": float(m["inside_fraction"]), "seconds": dt,
            "steps": fitter.iteration}


def run_child(job: dict, timeout: float | None = None) -> dict:
    """Run one job in a fresh interpreter; returns its result dict or {"error": ...}."""
    cmd = [sys.executable, str(Path(__file__).resolve().parent / "bench_step.py"), "--child",
           json.dumps(job)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or [f"exit {p.returncode}"]
    return {"error": f"exit {p.returncode}: {tail[0][:200]}"}


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


