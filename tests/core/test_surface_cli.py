"""CLI smoke tests: ``mesh``, ``sh-encode``, ``sh-decode`` as a user runs them, plus bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trimesh

import main as main_module
from core.io.mesh_scene import make_scene, sample_surface
from core.io.points import write_ply
from core.io.scene import write_scene
from core.surface.checks import topology

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _run(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("surface_cli")
    blob = trimesh.creation.icosphere(3, radius=0.4)
    blob.vertices *= [1.0, 0.8, 0.6]
    scene = make_scene(blob, views=5, res=40, gt_points=5000, seed=0)
    write_scene(scene, d / "scene")
    from core.geometry.shapes import normalise

    m = normalise(blob)
    write_ply(d / "cloud.ply", sample_surface(m.vertices, m.faces, 2000, seed=1))
    m.export(d / "blob.obj")
    trimesh.creation.torus(1.0, 0.3).export(d / "torus.obj")
    return d


def test_mesh_shencode_shdecode_end_to_end(files):
    r = _run("mesh", files / "cloud.ply", "--scene", files / "scene", "--out",
             files / "m.ply", "--grid", "40", "--metrics-json", files / "m.json")
    assert r.returncode == 0, r.stderr
    assert "closed manifold" in r.stdout and "mesh_iou_min=" in r.stdout
    res = json.loads((files / "m.json").read_text())
    assert res["watertight"] and res["manifold"]
    assert res["metrics"]["mesh_iou_min"] >= 0.95 and len(res["metrics"]["mesh_iou_per_view"]) == 5
    back = trimesh.load(files / "m.ply", force="mesh", process=False)
    assert topology(back.vertices, back.faces).watertight

    r = _run("sh-encode", files / "blob.obj", "--degree", "8", "--out", files / "c.npz",
             "--images", files / "img")
    assert r.returncode == 0, r.stderr
    assert "0 flipped" in r.stdout and (files / "img" / "geometry.png").is_file()
    r = _run("sh-decode", files / "c.npz", "--out", files / "d.obj", "--subdivisions", "3")
    assert r.returncode == 0, r.stderr
    dec = trimesh.load(files / "d.obj", force="mesh", process=False)
    assert len(dec.faces) == 20 * 4**3
    ref = trimesh.load(files / "blob.obj", force="mesh")
    assert abs(dec.bounds - ref.bounds).max() < 0.02  # the decoded shape is the blob


@pytest.mark.parametrize("fmt", [".obj", ".stl", ".glb"])
def test_mesh_without_scene_writes_every_format(files, fmt, capsys):
    out = files / f"nos{fmt}"
    assert main_module.main(["mesh", str(files / "cloud.ply"), "--out", str(out),
                             "--grid", "32"]) == 0
    assert "poisson" in capsys.readouterr().out
    back = trimesh.load(out, force="mesh")
    assert len(back.faces) > 100


def test_torus_is_refused_without_repair_and_encoded_with_it(files, capsys):
    rc = main_module.main(["sh-encode", str(files / "torus.obj"), "--degree", "4", "--out",
                           str(files / "t.npz")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {files / 'torus.obj'}: the mesh is not genus 0")
    assert main_module.main(["sh-encode", str(files / "torus.obj"), "--degree", "4", "--out",
                             str(files / "t.npz"), "--repair"]) == 0
    assert "closed with a" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["mesh", "{d}/nope.ply", "--out", "{d}/x.obj"], "nope.ply: no such file"),
    (["mesh", "{d}/cloud.ply", "--out", "{d}/x.txt"], "x.txt: mesh output must end in"),
    (["sh-encode", "{d}/blob.obj", "--out", "{d}/x.txt"], "x.txt: the code is written as .npz"),
    (["sh-encode", "{d}/blob.obj", "--degree", "90", "--out", "{d}/x.npz"], "--degree"),
    (["sh-decode", "{d}/blob.obj", "--out", "{d}/x.obj"], "blob.obj: not a shape code"),
    (["sh-decode", "{d}/c0.npz", "--out", "{d}/x.obj"], "c0.npz: no such file"),
])
def test_bad_input_is_one_line(files, capsys, argv, needle):
    rc = main_module.main([a.format(d=files) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1 and needle in err


def test_open_mesh_error_names_the_file(files, capsys):
    s = trimesh.creation.icosphere(2)
    trimesh.Trimesh(s.vertices, s.faces[4:], process=False).export(files / "open.obj")
    rc = main_module.main(["sh-encode", str(files / "open.obj"), "--out", str(files / "o.npz")])
    err = capsys.readouterr().err
    assert rc == 2 and "open.obj: the mesh is open" in err and "--repair" in err


def test_fit_mesh_out_writes_the_cloud_and_a_mesh(files):
    r = _run("fit", files / "scene", "--points", 300, "--iterations", 5, "--quiet",
             "--out", files / "fit.ply", "--mesh-out", files / "fit.obj",
             "--metrics-json", files / "fit.json")
    assert r.returncode == 0, r.stderr
    assert (files / "fit.ply").is_file() and "mesh_iou_min=" in r.stdout
    res = json.loads((files / "fit.json").read_text())
    assert res["mesh"]["watertight"] and res["mesh"]["metrics"]["mesh_iou_min"] >= 0.95
    r = _run("fit", files / "scene", "--points", 300, "--iterations", 5, "--quiet",
             "--out", files / "fit2.ply", "--mesh-out", files / "fit2.txt")
    assert r.returncode == 2 and "fit2.txt: mesh output must end in" in r.stderr
    assert not (files / "fit2.ply").exists()  # refused before the fit
