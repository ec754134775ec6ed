"""`make-dataset` stopped by Ctrl-C or SIGTERM: the object under way is finished, no other is
started, the partial dataset is removed (a re-run then writes it), one line, 130/143."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

import core.train.synth as synth
from main import main

ARGS = ["--per-category", "3", "--categories", "chair", "table", "--views", "2", "--res", "16",
        "--points", "100", "--quiet"]


def _signal_after(monkeypatch, name: str, sig: int, to_parent: bool) -> list[str]:
    """Send ``sig`` once object ``name`` is written (from a worker: to its parent); returns
    the objects written by this process."""
    written: list[str] = []
    real = synth.write_scene

    def write(scene: Any, folder: Path) -> Any:
        out = real(scene, folder)
        written.append(scene.name)
        if scene.name == name:
            os.kill(os.getppid() if to_parent else os.getpid(), sig)
        return out

    monkeypatch.setattr(synth, "write_scene", write)
    return written


@pytest.mark.parametrize("sig, code, workers", [(signal.SIGINT, 130, 1),
                                                (signal.SIGTERM, 143, 1),
                                                (signal.SIGTERM, 143, 2)])
def test_a_stopped_make_dataset_removes_its_partial_output(tmp_path, capsys, monkeypatch, sig,
                                                           code, workers):
    out = tmp_path / "ds"
    written = _signal_after(monkeypatch, "chair_0001", sig, to_parent=workers > 1)
    capsys.readouterr()
    assert main(["make-dataset", str(out), "--workers", str(workers), *ARGS]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"interrupted: {out}: stopped after "), err
    assert "of 6 objects; the partial dataset was removed" in err[0]
    if workers == 1:  # the object under way was finished, no other started
        assert written == ["chair_0000", "chair_0001"] and "after 2 of 6" in err[0]
    assert not out.exists()
    monkeypatch.undo()
    assert main(["make-dataset", str(out), "--workers", "1", *ARGS]) == 0
    assert len([p for p in out.iterdir() if p.is_dir()]) == 6


def test_a_stop_keeps_an_empty_folder_given_as_out(tmp_path, capsys, monkeypatch):
    out = tmp_path / "given"
    out.mkdir()
    _signal_after(monkeypatch, "chair_0000", signal.SIGINT, to_parent=False)
    assert main(["make-dataset", str(out), "--workers", "1", *ARGS]) == 130
    assert out.is_dir() and list(out.iterdir()) == []
