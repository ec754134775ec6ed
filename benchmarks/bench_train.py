"""Cost of one training step (core.train.trainer.Trainer.step) and images per second.

    python benchmarks/bench_train.py                 # CPU: 64², J=2048, batch 16 x 5 views
    python benchmarks/bench_train.py --device cuda   # also the paper's 128², J=16384 on CUDA
    python benchmarks/bench_train.py --out table.md   # default: benchmarks/results_train.md

One step = batch of B objects (input view -> network -> J points) scored in V supervising views
each with the batched DRWR terms (silhouette + repulsion, β > 0), backward, Adam. The data are
procedural objects (tests/train_fixtures.py) written to a temporary drwr-dataset. Reported:
median seconds per step over --steps steps after 3 warm-up steps, its split into the network
(forward + backward of the model alone) and the DRWR terms (forward + backward alone),
the forward + backward of the DRWR paper's network at the same batch, input size and J
(``paper_network``: the yardstick the DRWR terms are held to; measured in the same run, since
the machine's load moves every absolute number), supervising images per second (B·V / s), input
images per second (B / s), and the projected hours for 1e5 batches beside the DRWR paper's 36 h
(their GPU, 128², 16k points). torch runs on one CPU thread unless --threads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch
from torch import nn

from core.formats.datasets import read_dataset
from core.train.config import TrainConfig
from core.train.trainer import Trainer
from tests.train_fixtures import make_tiny_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_results import results_path, write_results  # noqa: E402

PAPER_HOURS = 36.0


def paper_network(points: int, input_size: int) -> nn.Sequential:
    """The DRWR paper's image -> J points network (its encoder and decoder layer by layer):
    a 5x5 stride-2 convolution to 16 channels, four blocks of [3x3 stride 2, 3x3] at
    32/64/128/256 channels, three fully connected layers of 1024 and one to J·3; ReLU between
    layers, tanh at the end. x (B, 3, S, S) -> (B, J, 3); S a multiple of 32."""
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 5, stride=2, padding=2), nn.ReLU()]
    for cin, cout in ((16, 32), (32, 64), (64, 128), (128, 256)):
        layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.ReLU(),
                   nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU()]
    feat = 256 * (input_size // 32) ** 2
    layers += [nn.Flatten(), nn.Linear(feat, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
               nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, points * 3), nn.Tanh(),
               nn.Unflatten(1, (points, 3))]
    return nn.Sequential(*layers)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _median_time(fn, steps: int, dev: torch.device) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(steps):
        _sync(dev)
        t0 = time.perf_counter()
        fn()
        _sync(dev)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _median_times(fns, steps: int, dev: torch.device) -> list[float]:
    """Median seconds of each of ``fns`` over ``steps`` rounds that call them in turn."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(steps):
        for fn, ts in zip(fns, times):
            _sync(dev)
            t0 = time.perf_counter()
            fn()
            _sync(dev)
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def measure(res: int, points: int, batch: int, views: int, device: str, steps: int,
            workdir: Path) -> dict:
    per_cat = max(2, -(-batch // 3))
    root = make_tiny_dataset(workdir / f"ds{res}", per_category=per_cat, views=views, res=res,
                             gt_points=500, holdout=(0, 0))
    ds = read_dataset(root)
    cfg = TrainConfig(points=points, input_size=res, batch_size=batch, views_per_object=views,
                      device=device, workers=0, val_every=10**6, iterations=10**6)
    tr = Trainer(ds, cfg)
    dev = tr.device
    t_step = _median_time(tr.step, steps, dev)
    batch_ = tr._next_batch()

    def net_only():
        tr.model(batch_["input"]).sum().backward()

    pts = tr.model(batch_["input"]).detach()

    def terms_only():
        tr.loss_terms(pts.clone().requires_grad_(True), batch_)["total"].backward()

    paper = paper_network(points, res).to(dev)

    def paper_only():
        paper(batch_["input"]).sum().backward()

    # interleaved, so that a change in the machine's load hits all three alike
    t_net, t_terms, t_paper = _median_times((net_only, terms_only, paper_only), steps, dev)
    return {"device": str(dev), "res": res, "J": points, "B": batch, "V": views,
            "s_step": t_step, "s_net": t_net, "s_terms": t_terms, "s_paper": t_paper,
            "sup_img_s": batch * views / t_step, "in_img_s": batch / t_step,
            "hours_1e5": t_step * 1e5 / 3600.0}


def report(rows: list[dict], threads: int) -> str:
    lines = [f"torch {torch.__version__}, {threads} CPU thread(s)", "",
             "| device | res | J | batch x views | s/step | network s | DRWR terms s | "
             "paper network s | terms / paper network | "
             "supervising img/s | input img/s | h per 1e5 batches (vs the paper's 36 h at 128², 16k points, GPU) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['device']} | {r['res']}² | {r['J']} | {r['B']} x {r['V']} | "
                     f"{r['s_step']:.3f} | {r['s_net']:.3f} | {r['s_terms']:.3f} | "
                     f"{r['s_paper']:.3f} | {r['s_terms'] / r['s_paper']:.2f} | "
                     f"{r['sup_img_s']:.0f} | {r['in_img_s']:.1f} | {r['hours_1e5']:.1f} "
                     f"({r['hours_1e5'] / PAPER_HOURS:.2f}x) |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="auto: the CPU row, plus the paper's setting on CUDA when present")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per setting (median)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--out", default=str(results_path("train")),
                    help="write the table to this markdown file too (default: %(default)s)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = []
    if args.device in ("auto", "cpu"):
        settings.append((64, 2048, 16, 5, "cpu"))
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        settings += [(64, 2048, 16, 5, "cuda"), (128, 16384, 16, 5, "cuda")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for res, J, B, V, dev in settings:
            r = measure(res, J, B, V, dev, args.steps, Path(tmp))
            print(f"{dev} {res}² J={J} {B}x{V}: {r['s_step']:.3f} s/step", flush=True)
            rows.append(r)
    text = report(rows, args.threads)
    print(text)
    write_results(args.out, "# bench_train.py results\n\n" + text, "bench_train.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
