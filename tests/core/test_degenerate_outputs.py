"""Degenerate inputs to ``sh-decode``, ``sh-encode`` and ``mesh`` are refused in one line with
exit status 2 and no file; no mesh with a non-finite vertex, without volume or inside out is
ever written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

import main as main_module
from core.io.points import write_ply
from core.io.scene import SceneError
from core.surface.mesh import mesh_from_cloud
from core.surface.mesh_io import load_surface, write_mesh
from core.surface.sh import ShapeCode, decode, save_code
from tests.core.conftest import one_error_line


@pytest.fixture(scope="module")
def code_file(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sh")
    s = trimesh.creation.icosphere(2)
    s.vertices *= [1.0, 0.8, 0.6]
    s.export(d / "ell.obj")
    assert main_module.main(["sh-encode", str(d / "ell.obj"), "--degree", "4", "--out",
                             str(d / "c.npz")]) == 0
    return d / "c.npz"


@pytest.mark.parametrize("degree", ["-1", "0"])
def test_sh_decode_refuses_a_degree_below_one(code_file, tmp_path, capsys, degree):
    out = tmp_path / "d.obj"
    rc = main_module.main(["sh-decode", str(code_file), "--out", str(out), "--degree", degree])
    assert rc == 2 and not out.exists()
    one_error_line(capsys, "--degree must be >= 1")


def test_sh_decode_refuses_a_nan_coefficient(code_file, tmp_path, capsys):
    coeffs = np.load(code_file)["coeffs"].astype(np.float64)
    coeffs[3, 1] = np.nan
    bad = save_code(tmp_path / "nan.npz", ShapeCode(coeffs, 4))
    out = tmp_path / "d.obj"
    rc = main_module.main(["sh-decode", str(bad), "--out", str(out)])
    assert rc == 2 and not out.exists()
    one_error_line(capsys, f"{bad}: 1 coefficients are not finite")


def test_decode_rejects_a_negative_degree(code_file):
    from core.surface.sh import load_code

    with pytest.raises(ValueError, match="degree must be >= 0"):
        decode(load_code(code_file), 1, degree=-1)


def test_sh_decode_of_a_degree_zero_code_writes_nothing(tmp_path, capsys):
    """A degree-0 code is one point: its decoding encloses no volume."""
    c = save_code(tmp_path / "c0.npz", ShapeCode(np.array([[0.1, 0.2, 0.3]]), 0))
    out = tmp_path / "d.obj"
    assert main_module.main(["sh-decode", str(c), "--out", str(out)]) == 2
    assert not out.exists()
    one_error_line(capsys, f"{out}: the mesh encloses no volume")


def test_sh_decode_of_a_mirrored_code_is_refused_as_inside_out(code_file, tmp_path, capsys):
    coeffs = np.load(code_file)["coeffs"].astype(np.float64)
    bad = save_code(tmp_path / "mirror.npz", ShapeCode(-coeffs, 4))  # x, y, z -> -x, -y, -z
    out = tmp_path / "d.obj"
    assert main_module.main(["sh-decode", str(bad), "--out", str(out)]) == 2
    assert not out.exists()
    one_error_line(capsys, f"{out}: the mesh is inside out")


def test_sh_encode_refuses_a_nan_vertex(tmp_path, capsys):
    s = trimesh.creation.icosphere(2)
    v = s.vertices.copy()
    v[5] = np.nan
    mesh = tmp_path / "nan.obj"
    mesh.write_text("".join(f"v {a} {b} {c}\n" for a, b, c in v)
                    + "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in s.faces))
    out = tmp_path / "c.npz"
    assert main_module.main(["sh-encode", str(mesh), "--out", str(out)]) == 2
    assert not out.exists()
    one_error_line(capsys, f"{mesh}: 1 mesh vertices are not finite")
    with pytest.raises(SceneError):
        load_surface(mesh)


def _degenerate_clouds() -> dict[str, np.ndarray]:
    r = np.random.default_rng(0)
    t = r.random(200)
    return {"one point": np.ones((200, 3)),
            "one line": np.c_[t, 2 * t, 3 * t] + 5.0,
            "one plane": np.c_[r.random(200), r.random(200), np.zeros(200)] @ np.array(
                [[0.6, 0.8, 0.0], [-0.8, 0.6, 0.0], [0.0, 0.0, 1.0]]).T}


@pytest.mark.parametrize("kind", ["one point", "one line", "one plane"])
def test_mesh_refuses_a_cloud_without_volume(tmp_path, capsys, kind):
    cloud = write_ply(tmp_path / "c.ply", _degenerate_clouds()[kind])  # float32 on disk
    out = tmp_path / "m.obj"
    assert main_module.main(["mesh", str(cloud), "--out", str(out)]) == 2
    assert not out.exists()
    word = {"one point": "are all one point", "one line": "lie on one line",
            "one plane": "lie in one plane"}[kind]
    one_error_line(capsys, f"{cloud}: the cloud's 200 points {word}")


def test_cloud_rank_counts_spanned_dimensions():
    from core.surface.checks import cloud_rank

    clouds = _degenerate_clouds()
    assert [cloud_rank(clouds[k]) for k in ("one point", "one line", "one plane")] == [0, 1, 2]
    thin = np.random.default_rng(1).random((300, 3)) * [1.0, 1.0, 1e-3]  # a thin slab
    assert cloud_rank(thin) == 3
    with pytest.raises(ValueError, match="lie in one plane"):
        mesh_from_cloud(clouds["one plane"])


def test_write_mesh_checks_before_writing(tmp_path):
    from core.surface.checks import check_solid

    s = trimesh.creation.icosphere(1)
    v, f = np.asarray(s.vertices), np.asarray(s.faces)
    out = tmp_path / "m.ply"
    out.write_text("the user's file")
    bad_v = v.copy()
    bad_v[0, 2] = np.inf
    for verts, faces, msg in [(bad_v, f, "non-finite vertices"),
                              (v, f[:, ::-1], "inside out"),
                              (v * [1.0, 1.0, 0.0], f, "encloses no volume"),
                              (v, f[:0], "no faces")]:
        with pytest.raises(ValueError, match=msg):
            write_mesh(out, verts, faces)
        assert out.read_text() == "the user's file"
    check_solid(v, f[4:], "open")  # an open patch has no inside to check
    write_mesh(out, v, f)
    assert trimesh.load(out, force="mesh").volume > 0
