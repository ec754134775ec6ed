"""Faults a long `fit` must survive: SIGTERM and Ctrl-C export in the dataset's
original frame, Ctrl-C during start-up, --resume, two writers of one --out, a full disk,
an --out that cannot be written, --help-gui."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import main as main_module
from core.io.mesh_scene import make_scene
from core.io.points import read_points
from core.io.scene import read_scene, write_scene
from core.metrics import inside_fraction
from core.formats import original_scene

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
T = np.array([[3.0, 0, 0, 10.0], [0, 3.0, 0, -20.0], [0, 0, 3.0, 5.0], [0, 0, 0, 1]])


@pytest.fixture(scope="module")
def moved_scene(tmp_path_factory) -> Path:
    """A scene whose dataset frame is 3x larger and off-centre (extra.to_original)."""
    s = make_scene("blob", views=4, res=32, gt_points=500, seed=0)
    s.extra = {**s.extra, "to_original": T.tolist()}
    return write_scene(s, tmp_path_factory.mktemp("faults") / "moved")


def _default_sigint() -> None:
    """In the child: Ctrl-C as in a terminal. A test run started in the background (``cmd &``
    in a script, ``nohup``) has SIGINT ignored, every child inherits that, and Python then
    never raises KeyboardInterrupt: the Ctrl-C tests failed that way, twice."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*args: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "main.py", *map(str, args)], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, f"{path} never appeared"
        time.sleep(0.05)


def _in_original_frame(pts: np.ndarray, scene_dir: Path) -> float:
    return inside_fraction(pts, original_scene(read_scene(scene_dir)))


def test_sigterm_exports_in_the_original_frame_and_resume_continues(moved_scene, tmp_path):
    out = tmp_path / "x.ply"
    state = tmp_path / "x.ply.resume.pt"
    p = _start("fit", moved_scene, "--out", out, "--iterations", 100000, "--points", 200,
               "--autosave", 0.3, "--quiet")
    _wait_for(state, p)  # an autosave happened
    auto = read_points(out)
    assert _in_original_frame(auto, moved_scene) > 0.5  # the autosave is in the dataset's frame
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "interrupted" in err and str(out) in err
    assert _in_original_frame(read_points(out), moved_scene) > 0.5
    it = torch.load(state, weights_only=True)["iteration"]
    assert it > 0
    r = subprocess.run([sys.executable, "main.py", *map(str, [
                        "fit", moved_scene, "--out", out, "--iterations", it + 3, "--points",
                        200, "--resume", "--quiet", "--metrics-json", tmp_path / "m.json"])],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"at iteration {it}" in r.stdout
    assert json.loads((tmp_path / "m.json").read_text())["iterations"] == it + 3
    assert not state.exists()  # the fit completed: no resume file left behind


def test_ctrl_c_exports_and_ctrl_c_at_start_up_is_quiet(moved_scene, tmp_path):
    out = tmp_path / "y.ply"
    early = _start("fit", moved_scene, "--out", tmp_path / "early.ply", "--quiet")
    time.sleep(0.5)  # importing torch, loading the scene
    early.send_signal(signal.SIGINT)
    _, err = early.communicate(timeout=60)
    assert early.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    p = _start("fit", moved_scene, "--out", out, "--iterations", 100000, "--points", 200,
               "--autosave", 0.3, "--quiet")
    _wait_for(tmp_path / "y.ply.resume.pt", p)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "Traceback" not in err, err
    assert _in_original_frame(read_points(out), moved_scene) > 0.5


def _main(capsys, *args: object) -> tuple[int, str]:
    capsys.readouterr()
    rc = main_module.main([str(a) for a in args])
    return rc, capsys.readouterr().err


def test_a_full_disk_names_the_file_and_leaves_no_temp_file(moved_scene, tmp_path, capsys,
                                                            monkeypatch):
    import core.io.points as points

    def full(path, *a, **kw):
        Path(path).write_bytes(b"ply\n")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(points, "write_ply", full)
    out = tmp_path / "full.ply"
    rc, err = _main(capsys, "fit", moved_scene, "--out", out, "--iterations", 2,
                    "--points", 50, "--quiet")
    assert rc == 2 and err.strip() == f"error: {out}: No space left on device"
    assert list(tmp_path.iterdir()) == []  # no truncated temp file, no output


def test_an_unwritable_out_fails_before_the_fit_starts(moved_scene, tmp_path, capsys,
                                                      monkeypatch):
    import core.fit.fitter as fitter

    def no(*a, **kw):
        raise AssertionError("the fit started although --out cannot be written")

    monkeypatch.setattr(fitter.Fitter, "__init__", no)
    folder = tmp_path / "taken.ply"
    folder.mkdir()
    rc, err = _main(capsys, "fit", moved_scene, "--out", folder)
    assert rc == 2 and str(folder) in err and "folder" in err
    assert [p.name for p in tmp_path.iterdir()] == ["taken.ply"]
    assert list(folder.iterdir()) == []


def test_two_writers_of_one_out_do_not_collide(tmp_path, monkeypatch):
    """The old fixed temp name <stem>.tmp<ext>: the second writer replaced the first's temp
    file and the first died with 'No such file or directory'."""
    import core.io.points as points
    from app.cli import atomic_write

    real = points.write_points
    first_writing, second_done = threading.Event(), threading.Event()

    def slow(path, pts, *a, **kw):
        if threading.current_thread().name == "first":
            real(path, pts)
            first_writing.set()
            second_done.wait(10)
            return Path(path)
        return real(path, pts)

    monkeypatch.setattr(points, "write_points", slow)
    out = tmp_path / "same.ply"
    errors: list[BaseException] = []

    def first() -> None:
        try:
            atomic_write(out, np.ones((5, 3)))
        except BaseException as exc:  # noqa: BLE001 - checked below
            errors.append(exc)

    th = threading.Thread(target=first, name="first")
    th.start()
    assert first_writing.wait(10)
    atomic_write(out, np.zeros((7, 3)))
    second_done.set()
    th.join(10)
    assert errors == []
    assert read_points(out).shape == (5, 3)  # the last to finish wins, whole
    assert [p.name for p in tmp_path.iterdir()] == ["same.ply"]


def test_help_gui_exists_and_is_advertised(capsys):
    assert main_module.main(["--help"]) == 0
    assert "--help-gui" in capsys.readouterr().out
    assert main_module.main(["--help-gui"]) == 0
    text = capsys.readouterr().out
    for flag in ("--demo", "--scene", "--exit-after", "--screenshot"):
        assert flag in text
