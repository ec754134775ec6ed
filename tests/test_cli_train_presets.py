"""`train --preset drwr-paper` and `--preset dpc` run a few steps on a CPU: the run's config
is the preset's, flags override it, the DRWR terms use the preset's loss grid, and the run
resumes and predicts with the paper network."""

from __future__ import annotations

import json

import pytest

from core.train.config import PRESETS
from core.train.predict import load_run
from main import main
from tests.train_fixtures import make_tiny_dataset

FAST = ["--workers", "0", "--quiet", "--val-objects", "2"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("presets") / "ds", per_category=3,
                             views=4, res=64, gt_points=300)


@pytest.mark.parametrize("preset", ["drwr-paper", "dpc"])
def test_preset_runs_a_few_steps(dataset, tmp_path, preset, capsys):
    run = tmp_path / preset
    assert main(["train", str(dataset), "--preset", preset, "--iterations", "3",
                 "--out", str(run), *FAST]) == 0
    out = capsys.readouterr()
    assert "trained 3 steps" in out.out
    cfg = json.loads((run / "config.json").read_text())
    for k, v in PRESETS[preset].items():
        if k != "iterations":
            assert cfg[k] == v, k
    assert cfg["preset"] == preset and cfg["iterations"] == 3
    grid = PRESETS[preset]["loss_size"]
    assert cfg["_run"]["image_size"] == [grid, grid]  # the DRWR terms' grid, not 64²
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if "total" in r] == [1, 2, 3]
    assert all(r["lr"] == 1e-4 for r in recs if "lr" in r)  # constant, no warm-up
    pred = load_run(run, "latest")
    assert pred.config.preset == preset and pred.config.points == PRESETS[preset]["points"]
    if preset == "dpc":  # a 25M-parameter network: one run is enough here
        return
    assert main(["train", str(dataset), "--out", str(run), "--iterations", "4", "--resume",
                 *FAST]) == 0
    assert load_run(run, "latest").iteration == 4
    assert json.loads((run / "config.json").read_text())["points"] == PRESETS[preset]["points"]


def test_flags_override_the_preset(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(dataset), "--preset", "dpc", "--iterations", "2", "--points",
                 "500", "--batch-size", "2", "--loss-size", "32", "--out", str(run),
                 *FAST]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["points"], cfg["batch_size"], cfg["loss_size"]) == (500, 2, 32)
    assert (cfg["weight_decay"], cfg["arch"], cfg["preset"]) == (1e-3, "paper", "dpc")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["train", str(dataset), "--preset", "nope", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "invalid choice: 'nope' (choose from 'default', 'drwr-paper', 'dpc')" in \
        capsys.readouterr().err
