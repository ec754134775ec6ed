"""The window's training holds its run folder's writer lock like `train` does: a run folder
another writer holds is refused (the window keeps what it showed), and while the window
trains, a second writer of its folder is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

TINY = {"points": 64, "input_size": 32, "width": 4, "hidden": 32, "batch_size": 2,
        "views_per_object": 2, "workers": 0, "val_objects": 2, "iterations": 100_000}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: Any) -> Path:
    from core.train.synth import make_dataset

    return make_dataset(tmp_path_factory.mktemp("lock") / "ds", per_category=3, views=2,
                        res=32, categories=["chair"], progress=False, workers=1, n_points=300)


def test_window_training_holds_the_run_lock(window: Any, dataset: Path, tmp_path: Path) -> None:
    from core.formats.datasets import read_dataset
    from core.train.config import TrainConfig
    from core.train.run_lock import RunLock, RunLocked

    ds, tm = read_dataset(dataset), window.train_mode
    run = tmp_path / "run"
    other = RunLock(run).acquire()  # another writer (a separate lock, as another process)
    with pytest.raises(RunLocked, match="another training is writing this run"):
        tm.start(ds, config=TrainConfig(**TINY), run_dir=run)
    assert tm.ds is None and window.controller.worker is None
    other.release()
    tm.start(ds, config=TrainConfig(**TINY), run_dir=run)
    assert tm.run_dir == run and tm.run_lock is not None and tm.run_lock.held
    with pytest.raises(RunLocked):
        RunLock(run).acquire()
    tm.follow(str(run))  # following is not writing: the lock is given up
    RunLock(run).acquire().release()
    with pytest.raises(ValueError, match="lies inside the dataset"):
        tm.start(ds, config=TrainConfig(**TINY), run_dir=dataset / "run")
    assert not (dataset / "run").exists()
