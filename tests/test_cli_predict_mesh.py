"""`predict --mesh`: a watertight mesh beside each predicted cloud (core/surface), held to
the input scene's silhouettes or from the cloud alone; wrong combinations give one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from core.io.points import read_points
from main import main
from tests.train_fixtures import make_tiny_dataset

TINY = ["--points", "256", "--input-size", "32", "--width", "4", "--hidden", "32",
        "--batch-size", "3", "--views-per-object", "2", "--workers", "0", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("pm")
    ds = make_tiny_dataset(root / "ds", per_category=3, views=3, res=24, gt_points=300)
    run = root / "run"
    assert main(["train", str(ds), "--out", str(run), "--iterations", "4", "--val-every", "4",
                 *TINY]) == 0
    return ds, run


def _closed_mesh_around(path, cloud) -> trimesh.Trimesh:
    m = trimesh.load(path, force="mesh", process=False)
    assert len(m.faces) > 50 and m.is_watertight and m.is_winding_consistent
    lo, hi = cloud.min(0), cloud.max(0)  # the mesh wraps this cloud, in its frame:
    span = float((hi - lo).max())
    mlo, mhi = m.vertices.min(0), m.vertices.max(0)
    assert np.linalg.norm((mlo + mhi) / 2 - (lo + hi) / 2) < 0.25 * span
    assert 0.3 * span < float((mhi - mlo).max()) < 3 * span
    return m


def test_predict_dataset_mesh_beside_each_cloud(trained, tmp_path, capsys):
    ds, run = trained
    out = tmp_path / "p"
    assert main(["predict", str(run), str(ds), "--out", str(out), "--mesh", "--quiet"]) == 0
    test_ids = json.loads((ds / "dataset.json").read_text())["splits"]["test"]
    assert sorted(p.stem for p in out.glob("*.obj")) == sorted(test_ids)
    for oid in test_ids:
        _closed_mesh_around(out / f"{oid}.obj", read_points(out / f"{oid}.ply"))
    assert f"{len(test_ids)} OBJ meshes" in capsys.readouterr().out


def test_predict_mesh_cloud_only_and_ply_beside_ply(trained, tmp_path):
    ds, run = trained
    oid = json.loads((ds / "dataset.json").read_text())["splits"]["test"][0]
    cloud = tmp_path / "s.ply"
    assert main(["predict", str(run), str(ds / oid), "--out", str(cloud), "--mesh",
                 "--mesh-cloud-only", "--mesh-format", "ply", "--mesh-grid", "48"]) == 0
    assert read_points(cloud).shape == (256, 3)  # the cloud is not overwritten by the mesh
    _closed_mesh_around(tmp_path / "s_mesh.ply", read_points(cloud))
    image = ds / oid / "images" / "000.png"  # an image: the cloud-only route
    assert main(["predict", str(run), str(image), "--out", str(tmp_path / "i.xyz"), "--mesh",
                 "--mesh-grid", "48"]) == 0
    _closed_mesh_around(tmp_path / "i.obj", read_points(tmp_path / "i.xyz"))


def test_predict_mesh_bad_combinations(trained, tmp_path, capsys):
    ds, run = trained
    oid = json.loads((ds / "dataset.json").read_text())["splits"]["test"][0]
    image = ds / oid / "images" / "000.png"
    assert main(["predict", str(run), str(image), "--out", str(tmp_path / "i.ply"),
                 "--mesh-cloud-only"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --mesh-cloud-only goes with --mesh"]
    assert not (tmp_path / "i.ply").exists()
