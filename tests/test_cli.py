"""End-to-end smoke tests of the headless CLI (``python main.py COMMAND``) on a tiny scene.

The commands run as real subprocesses (exit status, stdout/stderr as a user sees them). Each
one imports torch (seconds), so they run once per module (make-scene, then the others), and
the many bad-input cases run in-process through ``main.main`` (the same code path, return value
and stderr; an exception escaping it is the traceback a user would see).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh

import main as main_module
from core.metrics import cloud_metrics
from core.io.points import read_points, write_ply
from core.io.scene import read_scene

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _cmd(*args: object) -> list[str]:
    return [sys.executable, "main.py", *map(str, args)]


def _run_all(cmds: dict[str, list[str]], parallel: int = 1, timeout: float = 120.0) -> dict:
    """Run the commands, ``parallel`` at a time; name -> CompletedProcess."""
    todo = list(cmds.items())
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    done: dict[str, subprocess.CompletedProcess] = {}
    while todo or running:
        while todo and len(running) < parallel:
            name, cmd = todo.pop(0)
            p = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            running[name] = (p, time.monotonic())
        for name, (p, t0) in list(running.items()):
            if p.poll() is None and time.monotonic() - t0 < timeout:
                continue
            if p.poll() is None:
                p.kill()
            out, err = p.communicate()
            done[name] = subprocess.CompletedProcess(p.args, p.returncode, out, err)
            del running[name]
        time.sleep(0.02)
    return done


def _ok(r: subprocess.CompletedProcess) -> None:
    assert r.returncode == 0, f"{' '.join(r.args[1:])} failed ({r.returncode}):\n{r.stderr}"
    assert "Traceback" not in r.stderr


def _user_error(rc: int, stderr: str, *words: str) -> str:
    """Exit status 2 and exactly one stderr line 'error: ...' (no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert rc == 2, f"exit status {rc}, stderr:\n{stderr}"
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert lines[0].startswith("error: "), lines[0]
    for w in words:
        assert str(w) in lines[0], f"{w!r} not in {lines[0]!r}"
    return lines[0]


# -- fixtures: one scene, then the independent commands --------------------------------------
@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def scene_dir(work) -> Path:
    d = work / "blob"
    r = subprocess.run(_cmd("make-scene", "blob", d, "--views", 4, "--res", 32,
                            "--gt-points", 2000), cwd=ROOT, env=ENV, capture_output=True,
                       text=True, timeout=120)
    _ok(r)
    assert str(d) in r.stdout
    return d


@pytest.fixture(scope="module")
def pred_file(work, scene_dir) -> Path:
    """A prediction for `metrics`: the scene's ground truth, shifted by 0.01 along x."""
    gt = read_points(scene_dir / "gt_points.ply")
    return write_ply(work / "pred.ply", gt[::3] + [0.01, 0.0, 0.0])


@pytest.fixture(scope="module")
def malformed_pred(work) -> Path:
    p = work / "malformed.ply"
    p.write_bytes(b"ply\nformat ascii 1.0\nelement vertex\nproperty float x\nproperty float y\n"
                  b"property float z\nend_header\n1 2 3\n")
    return p


@pytest.fixture(scope="module")
def runs(work, scene_dir, pred_file) -> dict:
    return _run_all({
        "help": _cmd("--help"),
        "hull": _cmd("hull", scene_dir, "--out", work / "hull.ply", "--points", 500,
                     "--grid", 64, "--metrics-json", work / "hull.json"),
        "fit": _cmd("fit", scene_dir, "--out", work / "fit.ply", "--points", 200,
                    "--iterations", 30, "--metrics-json", work / "fit.json", "--quiet"),
        "metrics": _cmd("metrics", pred_file, scene_dir, "--json", work / "metrics.json"),
    })


# -- the happy path --------------------------------------------------------------------------
def test_help(runs):
    r = runs["help"]
    _ok(r)
    for c in ("fit", "make-scene", "hull", "metrics", "convert"):
        assert c in r.stdout


def test_make_scene(scene_dir):
    s = read_scene(scene_dir)
    assert s.masks.shape == (4, 32, 32) and s.masks.any(axis=(1, 2)).all()
    assert s.gt_points.shape == (2000, 3)
    assert s.extra["source"] == "blob"


def test_hull(runs, work, scene_dir):
    _ok(runs["hull"])
    pts = read_points(work / "hull.ply")
    assert pts.shape == (500, 3) and np.isfinite(pts).all()
    m = json.loads((work / "hull.json").read_text())["metrics"]
    assert 0 < m["cd"] < 10  # x100: a few hundredths of the unit object
    assert m["inside_fraction"] > 0.95


def test_fit(runs, work, scene_dir):
    r = runs["fit"]
    _ok(r)
    assert "wrote 200 points" in r.stdout
    pts = read_points(work / "fit.ply")
    assert pts.shape == (200, 3) and np.isfinite(pts).all()
    assert len(trimesh.load(work / "fit.ply").vertices) == 200  # a standard PLY
    assert not (work / "fit.tmp.ply").exists()  # the atomic write cleaned up
    res = json.loads((work / "fit.json").read_text())
    assert res["iterations"] == 30 and res["points"] == 200
    assert res["config"]["points"] == 200 and res["config"]["iterations"] == 30
    m = res["metrics"]
    assert math.isfinite(m["cd"]) and 0 < m["cd"] < 10
    assert m["inside_fraction"] > 0.9
    # the reported metrics are those of the written cloud
    again = cloud_metrics(pts, read_scene(scene_dir))
    assert again["cd"] == pytest.approx(m["cd"], rel=1e-4)


def test_metrics(runs, work, scene_dir, pred_file):
    r = runs["metrics"]
    _ok(r)
    assert "cd=" in r.stdout
    m = json.loads((work / "metrics.json").read_text())
    pred, scene = read_points(pred_file).astype(np.float64), read_scene(scene_dir)
    gt = scene.gt_points.astype(np.float64)
    # naive references: all-pairs distances, and a per-point, per-view pixel lookup
    d = np.sqrt(((pred[:, None, :] - gt[None, :, :]) ** 2).sum(-1))
    dp, dg = d.min(1), d.min(0)
    assert m["cd_pred_gt"] == pytest.approx(100 * dp.mean(), rel=1e-6)
    assert m["cd_gt_pred"] == pytest.approx(100 * dg.mean(), rel=1e-6)
    assert m["cd"] == pytest.approx(50 * (dp.mean() + dg.mean()), rel=1e-6)
    for tau in (0.01, 0.02):
        prec, rec = (dp <= tau).mean(), (dg <= tau).mean()
        assert m[f"fscore_{tau}"] == pytest.approx(2 * prec * rec / (prec + rec), rel=1e-6)
    H, W = scene.resolution
    inside = 0
    for x in pred:
        ok = True
        for K, R, t, mask in zip(scene.K, scene.R, scene.t, scene.masks):
            c = K @ (R @ x + t)
            u, v = round(c[0] / c[2]), round(c[1] / c[2])
            ok = ok and c[2] > 0 and 0 <= u < W and 0 <= v < H and bool(mask[v, u])
        inside += ok
    assert m["inside_fraction"] == pytest.approx(inside / len(pred), abs=1e-12)
    assert 0.5 < m["cd_pred_gt"] < 1.5  # every point is 0.01 (= 1 x100) off the surface


# -- bad input as a user sees it -------------------------------------------------------------
def _main(capsys, *args: object) -> tuple[int, str]:
    capsys.readouterr()
    rc = main_module.main([str(a) for a in args])
    return rc, capsys.readouterr().err


def _bad_inputs(work: Path, scene_dir: Path, pred: Path,
                malformed: Path) -> dict[str, tuple[list, object]]:
    """name -> (argv, text the error line must contain)."""
    missing = work / "missing_dir"
    no_json = work / "not_a_scene"
    no_json.mkdir(exist_ok=True)
    bad_json = work / "bad_json_scene"
    bad_json.mkdir(exist_ok=True)
    (bad_json / "scene.json").write_text("{")
    garbage = work / "garbage2.ply"
    garbage.write_bytes(b"\x00\x01\x02 not a cloud")
    bad_mesh = work / "bad_mesh.obj"
    bad_mesh.write_text("this is not an obj\n")
    out = work / "o.ply"
    a_file = work / "a_file.txt"
    a_file.write_text("not a folder")
    a_folder = work / "a_folder.ply"
    a_folder.mkdir(exist_ok=True)
    return {
        "fit-missing": (["fit", missing, "--out", out], missing),
        "fit-no-scene-json": (["fit", no_json, "--out", out], no_json),
        "fit-bad-json": (["fit", bad_json, "--out", out], bad_json / "scene.json"),
        "fit-bad-out": (["fit", scene_dir, "--out", work / "o.txt", "--iterations", 1],
                        "o.txt"),
        "fit-bad-value": (["fit", scene_dir, "--out", out, "--beta", -1], "beta"),
        "fit-bad-views": (["fit", scene_dir, "--out", out, "--views", "0,9"], "view 9"),
        "hull-missing": (["hull", missing, "--out", out], missing),
        "hull-bad-grid": (["hull", scene_dir, "--out", out, "--grid", 4], "res"),
        "metrics-missing-pred": (["metrics", work / "nope.ply", scene_dir], "nope.ply"),
        "metrics-garbage-pred": (["metrics", garbage, scene_dir], garbage),
        "metrics-malformed-pred": (["metrics", malformed, scene_dir], malformed),
        "metrics-missing-ref": (["metrics", pred, missing], missing),
        "metrics-bad-ref-scene": (["metrics", pred, bad_json], bad_json / "scene.json"),
        "make-scene-missing-mesh": (["make-scene", work / "nowhere.obj", work / "s2"],
                                    work / "nowhere.obj"),
        "make-scene-bad-mesh": (["make-scene", bad_mesh, work / "s3"], bad_mesh),
        "make-scene-unknown-shape": (["make-scene", "no_such_shape", work / "s4"],
                                     "no_such_shape"),
        "make-scene-bad-res": (["make-scene", "blob", work / "s5", "--res", 2], "res"),
        "convert-missing": (["convert", missing, work / "s6"], missing),
        # output paths that cannot be written: a regular file where a folder must go
        "make-scene-out-is-file": (["make-scene", "blob", a_file, "--views", 2, "--res", 8,
                                    "--gt-points", 0], a_file),
        "fit-out-under-file": (["fit", scene_dir, "--out", a_file / "f.ply"], a_file),
        "hull-out-under-file": (["hull", scene_dir, "--out", a_file / "h.ply", "--grid", 16,
                                 "--points", 10], a_file),
        "metrics-json-under-file": (["metrics", pred, scene_dir, "--json", a_file / "m.json"],
                                    a_file),
        # --threads -1, an --out that is a folder, the scene's own ground truth
        "fit-threads-negative": (["fit", scene_dir, "--out", out, "--threads", -1], "--threads"),
        "fit-out-is-folder": (["fit", scene_dir, "--out", a_folder], a_folder),
        "hull-out-is-folder": (["hull", scene_dir, "--out", a_folder], a_folder),
        "fit-out-is-ground-truth": (["fit", scene_dir, "--out", scene_dir / "gt_points.ply",
                                     "--iterations", 1], "inside the scene"),
        "hull-out-is-ground-truth": (["hull", scene_dir, "--out", scene_dir / "gt_points.ply",
                                      "--grid", 16], "inside the scene"),
        "fit-autosave-zero": (["fit", scene_dir, "--out", out, "--autosave", 0], "--autosave"),
    }


def _case_names() -> list[str]:
    """The case names, from the table itself (not repeated by hand)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "scene").mkdir()
        return list(_bad_inputs(d, d / "scene", d / "p.ply", d / "m.ply"))


CASES = _case_names()


@pytest.mark.parametrize("case", CASES)
def test_bad_input_in_process(case, capsys, work, scene_dir, pred_file, malformed_pred):
    argv, must = _bad_inputs(work, scene_dir, pred_file, malformed_pred)[case]
    try:
        rc, err = _main(capsys, *argv)
    except SystemExit as exc:  # argparse
        pytest.fail(f"argparse rejected {argv}: {exc}")
    except Exception as exc:  # noqa: BLE001 - this is what a user would see as a traceback
        pytest.fail(f"uncaught {exc.__class__.__name__} (a traceback for the user): {exc}")
    _user_error(rc, err, must)
    assert not (work / "o.ply").exists()
    assert not [p.name for p in work.iterdir() if ".tmp" in p.name]  # no temp file left
    gt = read_points(scene_dir / "gt_points.ply")
    assert gt.shape == (2000, 3)  # the ground truth was not overwritten
