"""Transfer benchmark: the network trained with DEFAULT settings on datasets of a foreign make.

For each dataset spec (``SPECS``; objects from ``benchmarks/transfer_shapes.py``, written by
``benchmarks/transfer_data.py``, never by ``make-dataset``'s families) it makes the dataset,
runs

    python main.py train DATA --out RUN --minutes M --device cpu --threads 1 --quiet
    python main.py evaluate RUN DATA --split test --json WORK/eval_test_NAME.json --quiet

and writes ``benchmarks/results_transfer.md``: per dataset and category the network, the
category medoid and silhouette retrieval (CD×100 with both halves), the overall ratio
network / medoid, and whether the network beats retrieval in every category. Nothing is
chosen on these numbers: the test split is scored once per run, after training.

    python benchmarks/transfer.py [--datasets A B] [--minutes 12] [--work DIR] [--out PATH]
        [--split T,V,E] [--note TEXT] [--reuse-runs]

A dataset folder under ``--work`` whose dataset.json records the same spec is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_results import results_path, write_results  # noqa: E402
from benchmarks.transfer_data import TransferSpec, write_transfer_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: the dataset makes: A = 5 random views at 64² from all around, per-part colours, white
#: background; B = 8 views from above at 48², side light on grey, one noisy colour per object
SPECS = {
    "A": TransferSpec(views=5, res=64, elevation="all", shading="lambert", seed=0),
    "B": TransferSpec(views=8, res=48, elevation="above", shading="side", seed=1),
}
METHODS = ("network", "medoid", "retrieval")


def _fail(msg: str) -> None:
    """One line ``error: <msg>`` on stderr and exit status 2."""
    print(f"error: {msg}", file=sys.stderr)
    raise SystemExit(2)


def _spec_extra(spec: TransferSpec) -> dict:
    return {"make": "benchmarks/transfer_data.py", "views": spec.views, "res": spec.res,
            "elevation": spec.elevation, "shading": spec.shading, "seed": spec.seed,
            "split_per_category": list(spec.split), "points": spec.points}


def ensure_dataset(path: Path, spec: TransferSpec) -> tuple[Path, bool]:
    """The dataset of ``spec`` at ``path`` (made unless one with the same spec is there);
    (path, whether it was reused)."""
    index = path / "dataset.json"
    if index.is_file():
        meta = json.loads(index.read_text())
        want = _spec_extra(spec)
        cats = sorted({meta["categories"][i] for i in meta["splits"]["train"]})
        if {k: meta.get("extra", {}).get(k) for k in want} == want and \
                cats == sorted(spec.categories):
            return path, True
        _fail(f"{path}: holds a dataset of another spec; give another --work")
    write_transfer_dataset(path, spec, progress=True)
    return path, False


def _run(cmd: list[str]) -> float:
    """Run ``cmd`` from the repository root; its wall time in seconds (exit on failure)."""
    print("$", shlex.join(cmd), flush=True)
    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    if rc:
        _fail(f"command failed with status {rc}: {shlex.join(cmd)}")
    return time.perf_counter() - t0


def _steps(run: Path) -> tuple[int, dict | None, float]:
    """Last training step in RUN/metrics.jsonl, the best validation record and the training
    clock (seconds) of the last record."""
    step, best, clock = 0, None, 0.0
    for line in (run / "metrics.jsonl").read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict):
            continue
        if isinstance(rec.get("time"), (int, float)):
            clock = max(clock, float(rec["time"]))
        if "total" in rec:
            step = max(step, int(rec["step"]))
        if "val_cd" in rec and (best is None or rec["val_cd"] < best["val_cd"]):
            best = rec
    return step, best, clock


def halves(result: dict, cat: str | None, method: str) -> tuple[float, float, float, int]:
    """(cd, pred->gt, gt->pred, n) of ``method`` over the objects of ``cat`` (None: all)."""
    rows = [r[method] for r in result["objects"]
            if method in r and (cat is None or r["category"] == cat)]
    mean = lambda k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
    return mean("cd"), mean("cd_pred_gt"), mean("cd_gt_pred"), len(rows)


def table(result: dict) -> tuple[str, float, bool]:
    """Markdown rows per category and overall; (text, network / medoid overall, network
    better than retrieval in every category)."""
    head = ("| test | n | network CD×100 (pred→gt / gt→pred) "
            "| medoid CD×100 (pred→gt / gt→pred) "
            "| retrieval CD×100 (pred→gt / gt→pred) |\n|---|---|---|---|---|\n")
    lines, every = [], True
    cats = sorted({r["category"] for r in result["objects"]})
    for cat in cats + [None]:
        cells = {m: halves(result, cat, m) for m in METHODS}
        if cat is not None:
            every &= cells["network"][0] < cells["retrieval"][0]
        best = min(cells[m][0] for m in METHODS)
        txt = [f"**{c[0]:.3f}** ({c[1]:.3f} / {c[2]:.3f})" if c[0] == best
               else f"{c[0]:.3f} ({c[1]:.3f} / {c[2]:.3f})" for c in (cells[m] for m in METHODS)]
        lines.append(f"| {cat or 'overall'} | {cells['network'][3]} | " + " | ".join(txt) + " |")
    net, med = halves(result, None, "network")[0], halves(result, None, "medoid")[0]
    return head + "\n".join(lines) + "\n", net / med, every


def _refined(result: dict) -> str:
    n, f = result.get("refine_steps"), result.get("refine_feature_steps")
    stages = f"{f} steps on the network's feature, then {n} on the points" if f else f"{n} steps"
    return (f"refined on their input view by {stages} (`--refine-steps`)" if n else
            "raw (no test-time refinement)")


def measure(name: str, spec: TransferSpec, work: Path, minutes: float,
            reuse_run: bool = False) -> str:
    """Make dataset ``name``, train with defaults, evaluate on test; its markdown section.
    ``reuse_run``: a finished run already in ``work`` is scored instead of trained again."""
    data, reused = ensure_dataset(work / f"data_{name}", spec)
    run = work / f"run_{name}"
    trained = (run / "checkpoints" / "best.pt").is_file() and (run / "metrics.jsonl").is_file()
    if run.exists() and any(run.iterdir()) and not (reuse_run and trained):
        _fail(f"{run}: run folder exists; give another --work (or --reuse-runs if it is a "
              "finished training)")
    meta = json.loads((data / "dataset.json").read_text())
    sizes = {s: len(ids) for s, ids in meta["splits"].items()}
    py = sys.executable
    train = [py, "main.py", "train", str(data), "--out", str(run), "--minutes", f"{minutes:g}",
             "--device", "cpu", "--threads", "1", "--quiet"]
    ev_json = work / f"eval_test_{name}.json"  # outside the run folder that evaluate reads
    evaluate = [py, "main.py", "evaluate", str(run), str(data), "--split", "test", "--json",
                str(ev_json), "--no-objects", "--quiet"]
    if reuse_run and trained:
        load0 = load1 = None
        t_train = _steps(run)[2]
        print(f"reusing the finished run {run} (training clock {t_train:.0f} s)", flush=True)
    else:
        load0 = os.getloadavg()
        t_train = _run(train)
        load1 = os.getloadavg()
    t_eval = _run(evaluate)
    steps, best, _ = _steps(run)
    result = json.loads(ev_json.read_text())
    text, ratio, every = table(result)
    gen = ("python benchmarks/transfer_data.py DATA " + " ".join(
        f"--{k} {v}" for k, v in (("views", spec.views), ("res", spec.res),
                                  ("elevation", spec.elevation), ("shading", spec.shading),
                                  ("seed", spec.seed)))
        + f" --categories {' '.join(spec.categories)} --split {','.join(map(str, spec.split))}")
    load_txt = ("training clock read from the run's metrics.jsonl (run scored with "
                "--reuse-runs)" if load0 is None else
                f"load average {load0[0]:.1f} before, {load1[0]:.1f} after training (2-core "
                "machine shared with other jobs)")
    best_txt = (f"best validation CD×100 {best['val_cd']:.3f} at step {best['step']}"
                if best else "no validation record")
    return (f"## Dataset {name}\n\n"
            f"Spec: {json.dumps(asdict(spec))}.\n"
            f"Sizes: train {sizes.get('train', 0)} / val {sizes.get('val', 0)} / test "
            f"{sizes.get('test', 0)} objects ({len(spec.categories)} categories, "
            f"{spec.split[0]} / {spec.split[1]} / {spec.split[2]} per category)"
            f"{' (dataset folder reused)' if reused else ''}.\n\n"
            f"```\n{gen}\n{shlex.join(['python'] + train[1:])}\n"
            f"{shlex.join(['python'] + evaluate[1:])}\n```\n\n"
            f"Training: {steps} steps in {t_train:.0f} s wall ({best_txt}; evaluate scores "
            f"best.pt); {load_txt}. Evaluation {t_eval:.0f} s; the network's predictions "
            f"{_refined(result)}; baselines at "
            f"the network's {result['n_points']} points, input view {result['view']}.\n\n"
            f"{text}\n"
            f"Network / medoid overall: **{ratio:.2f}×** (target ≤ 0.65×). Network better than "
            f"retrieval in every category: **{'yes' if every else 'no'}**.\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(SPECS), choices=list(SPECS))
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--work", type=Path, default=ROOT / "transfer_work",
                    help="folder for the datasets and runs (default ./transfer_work)")
    ap.add_argument("--out", type=Path, default=results_path("transfer"))
    ap.add_argument("--split", default="",
                    help="train,val,test objects per category instead of the specs' 50,5,10")
    ap.add_argument("--note", default="", help="a line added to the results file")
    ap.add_argument("--reuse-runs", action="store_true",
                    help="score finished runs already in --work instead of training again")
    a = ap.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    specs = {n: SPECS[n] for n in a.datasets}
    if a.split:
        try:
            split = tuple(int(x) for x in a.split.split(","))
            replace(SPECS["A"], split=split).check()
        except ValueError:
            ap.error(f"--split must be three counts T,V,E with T >= 1, got {a.split!r}")
        specs = {n: replace(s, split=split) for n, s in specs.items()}
    intro = ("CD×100 is `core.metrics.chamfer`'s: the mean of its two halves, pred→gt "
             "(accuracy) and gt→pred (completeness), each a mean Euclidean nearest-neighbour "
             "distance ×100 (DPC protocol); mean over the test objects, input view 0, no "
             "alignment. Defaults "
             "only: nothing was tuned on these datasets, and the test split is scored once.\n")
    if a.note:
        intro += "\n" + a.note + "\n"
    sections: list[str] = []
    for n, s in specs.items():  # the file is rewritten after each dataset
        sections.append(measure(n, s, a.work.resolve(), a.minutes, a.reuse_runs))
        write_results(a.out, intro + "\n" + "\n".join(sections), "transfer.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
