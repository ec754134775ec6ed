"""One writer per training run folder: a second `train --out R` (or `train --resume`) while
another process holds R's lock is refused at once; a lock left by a killed process does not
block; a run folder that a refused or failed train made is not left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import main as main_module
from core.train.run_lock import LOCK_NAME, RunLock, RunLocked

ROOT = Path(__file__).resolve().parents[1]
HOLDER = ("import sys; from core.train.run_lock import RunLock; "
          "lock = RunLock(sys.argv[1]).acquire(); print('locked', flush=True); sys.stdin.read()")


def _main(capsys, *args: object) -> tuple[int, str]:
    capsys.readouterr()
    rc = main_module.main([str(a) for a in args])
    return rc, capsys.readouterr().err


@pytest.fixture()
def holder(tmp_path):
    """Another process holding the lock of ``tmp_path / 'R'``: (process, run folder)."""
    run = tmp_path / "R"
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)},
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    yield p, run
    if p.poll() is None:
        p.kill()
    p.wait()


def test_a_second_writer_is_refused_at_once(capsys, tmp_path, holder):
    proc, run = holder
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "dataset.json").write_text("{}")  # never read: the lock is taken first
    for extra in ([], ["--resume"]):
        rc, err = _main(capsys, "train", ds, "--out", run, *extra)
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1, err
        assert lines[0] == (f"error: {run}: another training is writing this run "
                            f"(process {proc.pid})")
    with pytest.raises(RunLocked):
        RunLock(run).acquire()


def test_a_killed_writer_does_not_block(capsys, tmp_path, holder):
    proc, run = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (run / LOCK_NAME).read_text() == str(proc.pid)  # left behind, stale pid
    with RunLock(run) as lock:
        assert lock.held
        assert (run / LOCK_NAME).read_text() == str(os.getpid())
    rc, err = _main(capsys, "train", tmp_path / "no-dataset", "--out", run)
    assert rc == 2 and "another training" not in err and "no-dataset" in err, err


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    first = RunLock(tmp_path / "R").acquire()
    with pytest.raises(RunLocked, match="another training is writing this run"):
        RunLock(tmp_path / "R").acquire()
    first.release()
    RunLock(tmp_path / "R").acquire().release()


def test_a_refused_train_leaves_no_run_folder(capsys, tmp_path):
    run = tmp_path / "new-run"
    rc, err = _main(capsys, "train", tmp_path / "no-dataset", "--out", run)
    assert rc == 2, err
    assert not run.exists()
