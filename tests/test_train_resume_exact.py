"""A stopped training continues exactly: Ctrl-C, SIGTERM (the signal arrives in the middle of
an optimiser step) and SIGKILL (in the middle of the final best.pt write), each followed by
`train --resume`, end with the weights, optimiser state and metrics.jsonl of the same
training run without a stop, bit for bit. A resume on other data is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.train.synth import make_dataset
from main import main

ROOT = Path(__file__).resolve().parents[1]
STEPS = 8  # validations (and checkpoints) at 3, 6 and 8
FLAGS = ["--points", "32", "--input-size", "16", "--width", "4", "--hidden", "32",
         "--batch-size", "2", "--views-per-object", "2", "--workers", "0", "--device", "cpu",
         "--lr", "0.01", "--warmup", "0", "--val-every", "3", "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("exact") / "ds", per_category=3,
                        categories=("chair", "table"), views=2, res=16, n_points=200,
                        workers=1, progress=False)


@pytest.fixture(scope="module")
def reference(dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("exact") / "ref"
    assert main(["train", str(dataset), "--out", str(run), "--iterations", str(STEPS),
                 *FLAGS]) == 0
    return run


def _losses(run: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock times."""
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in recs]


def _assert_same_run(run: Path, ref: Path) -> None:
    for name in ("latest.pt", "best.pt"):
        a = torch.load(run / "checkpoints" / name, weights_only=True)
        b = torch.load(ref / "checkpoints" / name, weights_only=True)
        assert a["iteration"] == b["iteration"], name
        for k in b["model"]:
            assert torch.equal(a["model"][k], b["model"][k]), (name, k)
        for i, st in b["optimizer"]["state"].items():
            for k, v in st.items():
                assert torch.equal(a["optimizer"]["state"][i][k], v), (name, i, k)
    assert _losses(run) == _losses(ref)


def _signal_in_step(at: int, sig: int):
    """Send ``sig`` to this process right after the optimiser's update of step ``at``, before
    the step ends (the worst moment: weights and Adam moved, the step not yet counted)."""
    count = [0]

    def hook(opt, args, kwargs) -> None:
        count[0] += 1
        if count[0] == at:
            os.kill(os.getpid(), sig)

    from torch.optim.optimizer import register_optimizer_step_post_hook

    return register_optimizer_step_post_hook(hook)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_step_then_resume_equals_the_run_without_a_stop(dataset, reference,
                                                                     tmp_path, capsys, sig,
                                                                     code):
    run = tmp_path / "run"
    handle = _signal_in_step(5, sig)
    try:
        rc = main(["train", str(dataset), "--out", str(run), "--iterations", str(STEPS), *FLAGS])
    finally:
        handle.remove()
    assert rc == code
    err = capsys.readouterr().err
    assert "interrupted at iteration 5" in err and "Traceback" not in err
    ck = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    adam_steps = {int(s["step"]) for s in ck["optimizer"]["state"].values()}
    assert ck["iteration"] == 5 and adam_steps == {5}  # the step the signal came in, whole
    assert main(["train", str(dataset), "--out", str(run), "--resume", "--quiet",
                 "--threads", "1"]) == 0
    _assert_same_run(run, reference)


KILL_IN_BEST = """
import os, signal, sys, torch
real = torch.save
def save(obj, f, *a, **kw):
    name = os.path.basename(str(getattr(f, "name", f)))
    if "best" in name and isinstance(obj, dict) and obj.get("iteration") == {at}:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(obj, f, *a, **kw)
torch.save = save
from main import main
sys.exit(main(sys.argv[1:]))
"""


def test_killed_while_writing_a_checkpoint_then_resumed_equals_the_run_without_a_stop(
        dataset, reference, tmp_path):
    best = torch.load(reference / "checkpoints" / "best.pt", weights_only=True)
    assert best["iteration"] == STEPS  # the last validation improved: best.pt is written then
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", KILL_IN_BEST.format(at=STEPS), "train",
                        str(dataset), "--out", str(run), "--iterations", str(STEPS), *FLAGS],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    with open(run / "metrics.jsonl", "a") as fh:  # as if cut while writing a record
        fh.write('{"step": 9, "tot')
    assert main(["train", str(dataset), "--out", str(run), "--resume", "--quiet",
                 "--threads", "1"]) == 0
    _assert_same_run(run, reference)


def test_resume_on_other_data_is_refused_naming_what_differs(dataset, reference, tmp_path,
                                                             capsys):
    other = make_dataset(tmp_path / "other", per_category=3, categories=("chair", "table"),
                         views=2, res=24, n_points=200, seed=1, workers=1, progress=False)
    run = tmp_path / "run"
    import shutil

    shutil.copytree(reference, run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["train", str(other), "--out", str(run), "--resume", "--iterations", "12",
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {run / 'checkpoints' / 'latest.pt'}: ")
    assert "image size 24x24 here, 16x16 in the run" in err[0]
    assert "another dataset index" in err[0] and str(dataset) in err[0]
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # untouched
    moved = tmp_path / "moved"  # the same dataset elsewhere resumes
    shutil.copytree(dataset, moved)
    assert main(["train", str(moved), "--out", str(run), "--resume", "--iterations", "9",
                 "--quiet", "--threads", "1"]) == 0
