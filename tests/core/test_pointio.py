"""Tests of core.io.points: our files read back by our reader, trimesh and pyvista."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import trimesh

from core.io.points import read_points, write_obj, write_ply, write_points

pv = pytest.importorskip("pyvista")  # allowed in tests (not in core)

N = 57


@pytest.fixture(scope="module")
def pts() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(N, 3)) * [1.0, 10.0, 0.01]


@pytest.fixture(scope="module")
def cols() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (N, 3), dtype=np.uint8)


def _f32(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float32).astype(np.float64)


def _writers():
    return {
        "ply-binary": lambda p, x, c: write_ply(p, x, c, binary=True),
        "ply-ascii": lambda p, x, c: write_ply(p, x, c, binary=False),
        "obj": lambda p, x, c: write_obj(p, x, c),
    }


EXT = {"ply-binary": ".ply", "ply-ascii": ".ply", "obj": ".obj"}
CASES = [(k, c) for k in ("ply-binary", "ply-ascii", "obj") for c in (False, True)]


def _write(tmp_path: Path, kind: str, colored: bool, pts, cols) -> Path:
    path = tmp_path / f"cloud_{kind}_{int(colored)}{EXT[kind]}"
    out = _writers()[kind](path, pts, cols if colored else None)
    assert out == path and path.is_file()
    return path


@pytest.mark.parametrize("kind,colored", CASES)
def test_our_reader(tmp_path, pts, cols, kind, colored):
    p = _write(tmp_path, kind, colored, pts, cols)
    back = read_points(p)
    assert back.dtype == np.float64 and back.shape == (N, 3)
    if kind == "ply-binary":
        assert np.array_equal(back, _f32(pts))  # float32 exactly
    else:
        assert np.allclose(back, pts, rtol=1e-6, atol=1e-9)  # 7 significant digits


@pytest.mark.parametrize("kind,colored", CASES)
def test_trimesh_reads_it(tmp_path, pts, cols, kind, colored):
    p = _write(tmp_path, kind, colored, pts, cols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obj = trimesh.load(p)
    assert isinstance(obj, trimesh.PointCloud)
    assert np.allclose(obj.vertices, pts, rtol=1e-6, atol=1e-9)
    if colored:
        assert np.array_equal(np.asarray(obj.colors)[:, :3], cols)


@pytest.mark.parametrize("kind,colored", CASES)
def test_pyvista_reads_it(tmp_path, pts, cols, kind, colored):
    p = _write(tmp_path, kind, colored, pts, cols)
    mesh = pv.read(p)
    assert mesh.n_points == N
    assert np.allclose(mesh.points, pts, rtol=1e-6, atol=1e-9)
    if colored:
        rgb = np.asarray(mesh["RGB"]).astype(int)
        # VTK's OBJ reader truncates float*255 instead of rounding: allow one level
        assert np.abs(rgb - cols).max() <= (1 if kind == "obj" else 0)


def test_float_colors_are_scaled(tmp_path, pts, cols):
    p = write_ply(tmp_path / "f.ply", pts, cols / 255.0)
    obj = trimesh.load(p)
    assert np.array_equal(np.asarray(obj.colors)[:, :3], cols)


def test_ply_header(tmp_path, pts, cols):
    p = write_ply(tmp_path / "h.ply", pts, cols)
    raw = p.read_bytes()
    head = raw[: raw.index(b"end_header\n") + len(b"end_header\n")].decode()
    assert head.startswith("ply\nformat binary_little_endian 1.0\n")
    assert f"element vertex {N}\n" in head
    assert "property uchar red\nproperty uchar green\nproperty uchar blue\n" in head
    assert len(raw) - len(head) == N * (3 * 4 + 3)  # packed records, no padding


def test_xyz(tmp_path, pts):
    p = write_points(tmp_path / "c.xyz", pts)
    rows = p.read_text().split("\n")
    assert len(rows[0].split()) == 3
    assert np.allclose(read_points(p), pts, rtol=1e-6, atol=1e-9)
    assert np.allclose(np.loadtxt(p), pts, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("ext", [".ply", ".obj", ".xyz", ".PLY"])
def test_write_points_by_extension(tmp_path, pts, ext):
    p = write_points(tmp_path / f"c{ext}", pts)
    assert np.allclose(read_points(p), pts, rtol=1e-6, atol=1e-9)


def test_write_points_unknown_extension(tmp_path, pts):
    with pytest.raises(ValueError, match="c.las"):
        write_points(tmp_path / "c.las", pts)


def test_bad_shapes(tmp_path, pts):
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        write_ply(tmp_path / "a.ply", pts[:, :2])
    with pytest.raises(ValueError, match="colors"):
        write_ply(tmp_path / "a.ply", pts, np.zeros((N - 1, 3), np.uint8))


def test_reads_other_tools_ply(tmp_path):
    """A mesh PLY (vertex + face), big-endian doubles, extra properties, written by trimesh."""
    box = trimesh.creation.box()
    p = tmp_path / "box.ply"
    box.export(p)
    assert np.allclose(read_points(p), box.vertices)
    be = tmp_path / "be.ply"
    v = np.array([[1.5, -2.0, 3.25], [0.0, 1.0, -1.0]])
    rec = np.empty(2, dtype=[("nx", ">f8"), ("x", ">f8"), ("y", ">f8"), ("z", ">f8"),
                             ("q", ">i4")])
    rec["nx"], rec["x"], rec["y"], rec["z"], rec["q"] = 9, v[:, 0], v[:, 1], v[:, 2], 7
    be.write_bytes(b"ply\nformat binary_big_endian 1.0\nelement vertex 2\nproperty double nx\n"
                   b"property double x\nproperty double y\nproperty double z\nproperty int q\n"
                   b"end_header\n" + rec.tobytes())
    assert np.array_equal(read_points(be), v)


def test_ascii_ply_property_order(tmp_path):
    p = tmp_path / "o.ply"
    p.write_text("ply\nformat ascii 1.0\ncomment x\nelement vertex 2\nproperty float z\n"
                 "property float intensity\nproperty float y\nproperty float x\nend_header\n"
                 "3 9 2 1\n6 9 5 4\n")
    assert read_points(p).tolist() == [[1, 2, 3], [4, 5, 6]]


# -- errors name the file --------------------------------------------------------------------
BAD_FILES = {
    "missing.ply": None,
    "garbage.ply": b"\x00\xff\x10garbage bytes",
    "noxyz.ply": b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float a\nend_header\n1\n",
    "noend.ply": b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n",
    "trunc.ply": b"ply\nformat binary_little_endian 1.0\nelement vertex 10\nproperty float x\n"
                 b"property float y\nproperty float z\nend_header\n" + b"\x00" * 20,
    "short.ply": b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                 b"property float z\nend_header\n1 2 3\n",
    "faces-first.ply": b"ply\nformat ascii 1.0\nelement face 0\nproperty list uchar int vi\n"
                       b"end_header\n",
    "bad-count.ply": b"ply\nformat ascii 1.0\nelement vertex many\nproperty float x\n"
                     b"property float y\nproperty float z\nend_header\n",
    "no-count.ply": b"ply\nformat ascii 1.0\nelement vertex\nproperty float x\nproperty float y\n"
                    b"property float z\nend_header\n",
    "bad-type.ply": b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\n"
                    b"property float y\nproperty float z\nproperty quad w\nend_header\n"
                    + b"\0" * 20,
    "empty.obj": b"# nothing\nf 1 2 3\n",
    "bad-number.obj": b"v 1 2 3\nv 1 two 3\n",
    "two-coords.obj": b"v 1 2 3\nv 1 2\n",
    "two-cols.xyz": b"1 2\n3 4\n",
    "words.xyz": b"a b c\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_errors_name_the_file(tmp_path, name):
    p = tmp_path / name
    if BAD_FILES[name] is not None:
        p.write_bytes(BAD_FILES[name])
    with pytest.raises(ValueError) as err:
        read_points(p)
    assert str(p) in str(err.value), f"message does not name the file: {err.value}"
