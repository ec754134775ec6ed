"""Memory and start-up time of a training as the dataset grows: peak RSS and wall time of
``main.py train DATA --iterations 3 --workers 0`` (measured by ``/usr/bin/time -v``), plus the
peak proportional set size (PSS) of the whole process tree (the training and the processes
that build the views' maps), sampled every 0.1 s from /proc.

    python benchmarks/bench_train_data.py /tmp/d160 /tmp/d1600 --before 924742f \\
        --out benchmarks/results_train_data.md

For each dataset: ``cold`` = a fresh view cache (the maps are built, in parallel), ``warm`` =
the same cache again (reused, read in place); with ``--before REV`` also that revision of this
repository (``git archive``) running the same command, side by side on the same machine.
Make the datasets with ``main.py make-dataset DIR --per-category N --views 5 --res 128``
(N = 76 gives 159 training objects, N = 762 gives 1599).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tree_pss(pid: int) -> int:
    """Summed PSS in bytes of ``pid`` and its descendants (0 where /proc cannot tell)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            continue
    return total


def run(tree: Path, data: Path, cache: Path, threads: int) -> dict:
    """One ``train --iterations 3 --workers 0`` from ``tree``: peak RSS (GB), wall s,
    peak tree PSS (GB), the training's own line about the cache."""
    out = Path(tempfile.mkdtemp(prefix="bench-run-"))
    shutil.rmtree(out)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": str(tree)}
    cmd = ["/usr/bin/time", "-v", sys.executable, str(tree / "main.py"), "train", str(data),
           "--out", str(out), "--iterations", "3", "--workers", "0", "--quiet",
           "--threads", str(threads)]
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_pss(proc.pid))
            time.sleep(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    stdout, stderr = proc.communicate()
    th.join()
    shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: {data}: training failed:\n{stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", stderr)
    h, m, s = (float(x) if x else 0.0 for x in wall.groups())
    n = re.search(r"training on (\d+) objects", stderr)
    return {"objects": int(n.group(1)) if n else 0, "rss_gb": rss / 2**20,
            "wall_s": 3600 * h + 60 * m + s, "pss_gb": peak[0] / 2**30,
            "note": "reusing" if "reusing the training" in stderr else
            ("built" if "stored the training" in stderr else "")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", nargs="+", type=Path, help="drwr-dataset folders")
    ap.add_argument("--before", help="a git revision of this repository to measure too")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--out", type=Path, help="also write the table here (markdown)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-train-data-"))
    trees = [("after", ROOT)]
    if args.before:
        old = work / "before"
        old.mkdir()
        arch = subprocess.run(["git", "archive", args.before], cwd=ROOT, check=True,
                              capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=arch, check=True)
        trees.insert(0, (f"before ({args.before})", old))
    rows = []
    try:
        for data in args.datasets:
            for name, tree in trees:
                cache = work / f"cache-{len(rows)}"
                runs = [("", run(tree, data, cache, args.threads))]
                if tree == ROOT:
                    runs = [("cold", runs[0][1]), ("warm", run(tree, data, cache, args.threads))]
                for kind, r in runs:
                    rows.append({"dataset": data.name, "code": f"{name} {kind}".strip(), **r})
                    print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"# Training start-up memory and time vs dataset size ({platform.node()}, "
        f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')})", "",
        "`main.py train DATA --iterations 3 --workers 0 --threads "
        f"{args.threads}` on 128² datasets of 5 views; peak RSS and wall time from "
        "`/usr/bin/time -v` (the training process; the map builders' own peaks are below "
        "it), tree PSS = peak summed proportional set size of the training and its map "
        "builders (sampled every 0.1 s). cold = fresh view cache (maps built), warm = the "
        "same cache reused.", "",
        "| dataset | code | train objects | peak RSS GB | tree PSS GB | wall s |",
        "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['code']} | {r['objects']} | {r['rss_gb']:.2f} | "
                     f"{r['pss_gb']:.2f} | {r['wall_s']:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
