"""A run folder's files under faults: a full disk while training, damaged metrics.jsonl lines
on resume and while following, a config.json nested too deep. Each gives one line naming the
file (and line), never a traceback, and leaves nothing half-written behind."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from core.train.synth import make_dataset
from main import main

FLAGS = ["--points", "32", "--input-size", "16", "--width", "4", "--hidden", "32",
         "--batch-size", "2", "--views-per-object", "2", "--workers", "0", "--device", "cpu",
         "--val-every", "3", "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("runfiles") / "ds", per_category=3,
                        categories=("chair", "table"), views=2, res=16, n_points=200,
                        workers=1, progress=False)


@pytest.fixture(scope="module")
def run6(dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runfiles") / "run6"
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "6", *FLAGS]) == 0
    return run


def _one_error(capsys) -> str:
    """The one error line (after the start-up lines "training on N objects ..." and "stored
    the training views' maps in ...", if any)."""
    err = [x for x in capsys.readouterr().err.strip().splitlines()
           if not x.startswith(("training on ", "stored the training views' maps"))]
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_full_disk_while_checkpointing_is_one_line_and_leaves_no_temp_file(
        dataset, tmp_path, capsys, monkeypatch):
    def full(obj: Any, f: Any, *a: Any, **kw: Any) -> None:
        if hasattr(f, "write"):
            f.write(b"PK\x03\x04 half a checkpoint")
        else:
            Path(f).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    run = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "6", *FLAGS]) == 2
    line = _one_error(capsys)
    assert line == f"error: {run / 'checkpoints' / 'best.pt'}: No space left on device"
    assert [p.name for p in (run / "checkpoints").iterdir()] == []  # no temp file, no stub
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3, 3]  # the log up to the failed save
    assert json.loads((run / "config.json").read_text())["points"] == 32


DAMAGED = {
    "a list": (b"[1, 2]", "not a record (a JSON list, not an object)"),
    "a text step": (b'{"step": "x", "total": 1.0}', "'step' is \"x\", not a whole number"),
    "no step": (b'{"total": 1.0}', "'step' is null"),
    "a cut record": (b'{"step": 4, "tot', "not JSON"),
    "a text loss": (b'{"step": 4, "total": "low"}', "'total' is not a number"),
    "bytes": (b"\xff\xfe\x00garbage", "not UTF-8 text"),
}


@pytest.mark.parametrize("kind", list(DAMAGED))
def test_a_damaged_metrics_line_refuses_the_resume_naming_file_and_line(run6, dataset, tmp_path,
                                                                        capsys, kind):
    bad, words = DAMAGED[kind]
    run = tmp_path / "run"
    shutil.copytree(run6, run)
    metrics = run / "metrics.jsonl"
    lines = metrics.read_bytes().split(b"\n")
    metrics.write_bytes(b"\n".join(lines[:2] + [bad] + lines[2:]))  # as line 3
    before = _files(run)
    capsys.readouterr()
    assert main(["train", str(dataset), "--out", str(run), "--resume", "--iterations", "9",
                 "--quiet", "--threads", "1"]) == 2
    line = _one_error(capsys)
    assert line.startswith(f"error: {metrics}: line 3: ") and words in line, line
    assert _files(run) == before  # nothing rewritten, nothing lost


def test_a_record_cut_while_training_runs_keeps_the_next_records_whole(dataset, tmp_path):
    """Someone appends half a record while the training writes: the training's next record
    starts a line of its own, so only the cut one is damaged."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    run = tmp_path / "run"
    steps = [0]

    def cut(opt: Any, args: Any, kwargs: Any) -> None:
        steps[0] += 1
        if steps[0] == 4:
            with open(run / "metrics.jsonl", "a") as fh:
                fh.write('{"step": 4, "tot')

    handle = register_optimizer_step_post_hook(cut)
    try:
        assert main(["train", str(dataset), "--out", str(run), "--iterations", "6",
                     *FLAGS]) == 0
    finally:
        handle.remove()
    from core.train.runlog import MetricsError, read_metrics

    recs = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in recs if "total" in r] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(MetricsError, match=r"metrics.jsonl: line 5: not JSON"):
        read_metrics(run / "metrics.jsonl", strict=True)


def test_a_record_cut_by_a_kill_at_the_end_is_dropped_on_resume(run6, dataset, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run6, run)
    with open(run / "metrics.jsonl", "ab") as fh:
        fh.write(b'{"step": 7, "total": 0.5, "sil')
    assert main(["train", str(dataset), "--out", str(run), "--resume", "--iterations", "7",
                 "--quiet", "--threads", "1"]) == 0
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if "total" in r] == list(range(1, 8))


def test_following_names_each_damaged_line_and_keeps_the_records(tmp_path):
    from app.follow import MetricsTail

    p = tmp_path / "metrics.jsonl"
    good = [json.dumps({"step": k, "total": 1.0 / k}).encode() for k in (1, 2, 3)]
    p.write_bytes(b"\n".join([good[0], b"[1, 2]", good[1], b'{"step": "x"}']) + b"\n")
    t = MetricsTail(p)
    assert [r["step"] for r in t.read()] == [1, 2]
    assert t.problems == [f"{p}: line 2: not a record (a JSON list, not an object)",
                          f"{p}: line 4: 'step' is \"x\", not a whole number >= 0"]
    with open(p, "ab") as fh:
        fh.write(b'{"step": 3, "tot\xff\n' + good[2] + b"\n")
    assert [r["step"] for r in t.read()] == [3]
    assert t.problems == [f"{p}: line 5: not UTF-8 text"]


def _deep(path: Path, depth: int = 100_000) -> None:
    path.write_text("[" * depth + "]" * depth)


def test_a_config_nested_too_deep_is_one_line_when_following(tmp_path):
    from PyQt5 import QtCore

    from app.follow import RunFollower

    class Window(QtCore.QObject):
        def __init__(self) -> None:
            super().__init__()
            self.errors: list[str] = []

        def show_error(self, msg: str) -> None:
            self.errors.append(msg)

    run = tmp_path / "run"
    run.mkdir()
    _deep(run / "config.json")
    win = Window()
    f = RunFollower(win, run)
    f._load_dataset()
    assert win.errors == [f"{run / 'config.json'}: JSON nested too deeply to read; showing the "
                          "curves only"]
    assert f.ds is None


def test_the_json_reader_names_a_file_nested_too_deep(tmp_path):
    from core.io.scene import SceneError, load_json

    _deep(tmp_path / "x.json")
    with pytest.raises(SceneError, match=r"x.json: JSON nested too deep"):
        load_json(tmp_path / "x.json")


def test_a_whole_last_record_without_its_newline_is_kept(tmp_path):
    from core.train.runlog import read_metrics

    p = tmp_path / "metrics.jsonl"
    p.write_bytes(b'{"step": 1, "total": 1.0}\n\n{"step": 2, "total": 0.5}')
    assert [r["step"] for r in read_metrics(p, strict=True)] == [1, 2]  # blank line: nothing
    p.write_bytes(b'{"step": 1, "total": 1.0}\n{"step": 2, "to')
    assert [r["step"] for r in read_metrics(p, strict=True)] == [1]
