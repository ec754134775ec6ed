"""Errors that say what is wrong and where: an empty cloud names its file, a drwr-dataset
given as a scene points to --dataset, the window checks --export and --screenshot before it
starts, and nothing the project does puts a NumPy/torch warning on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import main as main_module
from app import gui_main

ROOT = Path(__file__).resolve().parents[1]
EMPTY_PLY = ("ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\nproperty float y\n"
             "property float z\nend_header\n")


def _main(capsys, *args: object) -> tuple[int, str]:
    capsys.readouterr()
    rc = main_module.main([str(a) for a in args])
    return rc, capsys.readouterr().err


def _line(rc: int, err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: "), f"{rc}:\n{err}"
    return lines[0]


@pytest.mark.parametrize("name,text", [("empty.ply", EMPTY_PLY), ("empty.xyz", "")])
def test_an_empty_cloud_names_its_file(capsys, tmp_path, name, text):
    empty = tmp_path / name
    empty.write_text(text)
    full = tmp_path / "full.xyz"
    full.write_text("0 0 0\n1 0 0\n0 1 0\n")
    for pred, ref in ((empty, full), (full, empty)):
        line = _line(*_main(capsys, "metrics", pred, ref))
        assert line == f"error: {empty}: the cloud is empty (no points)"


def _dataset(root: Path) -> Path:
    (root / "chair_0000").mkdir(parents=True)
    (root / "chair_0000" / "scene.json").write_text("{}")
    (root / "dataset.json").write_text("{}")
    return root


@pytest.mark.parametrize("command", ["fit", "hull"])
def test_a_dataset_given_as_a_scene_points_to_dataset(capsys, tmp_path, command):
    ds = _dataset(tmp_path / "ds")
    for given in (ds, ds / "dataset.json"):
        line = _line(*_main(capsys, command, given, "--out", tmp_path / "o.ply"))
        assert line.startswith(f"error: {given}: is a drwr-dataset")
        assert "--dataset" in line and str(ds / "chair_0000") in line


def _window_problem(*argv: str) -> str:
    return gui_main._check_args(gui_main.build_parser().parse_args(list(argv)))


def test_window_checks_export_and_screenshot_before_it_starts(tmp_path):
    bad = tmp_path / "cloud.txt"
    assert _window_problem("--exit-after", "5", "--export", str(bad)) == (
        f"{bad}: --export must end in .ply, .obj, .xyz")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    shot = blocker / "shot.png"
    problem = _window_problem("--exit-after", "5", "--screenshot", str(shot))
    assert problem.startswith(f"{shot}: --screenshot cannot be written there")
    assert _window_problem("--exit-after", "5", "--screenshot", str(tmp_path / "s.jpg")).endswith(
        "--screenshot must end in .png")
    assert _window_problem("--exit-after", "5", "--screenshot", str(tmp_path / "new" / "s.png"),
                           "--export", str(tmp_path / "c.ply")) == ""


def test_projecting_read_only_arrays_warns_nothing():
    """Read-only arrays (views of loaded files) are copied before they become tensors, so
    torch's non-writable warning never reaches stderr (it is printed once per process, so a
    fresh one is used)."""
    code = ("import numpy as np; from core.geometry.cameras import project_np\n"
            "K = np.broadcast_to(np.eye(3), (2, 3, 3)); R = K\n"
            "t = np.broadcast_to(np.array([0, 0, 2.0]), (2, 3)); p = np.zeros((5, 3))\n"
            "p.flags.writeable = False\n"
            "uv, z = project_np(p, K, R, t); assert uv.shape == (2, 5, 2)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, text=True,
                       capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0 and r.stderr == "", r.stderr
