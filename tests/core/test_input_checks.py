"""Bad inputs caught at load with one line naming the file.

Each test here failed on the code before these checks: the input was accepted (a fit then
diverged or wrote garbage), read wrongly, or raised a bare exception.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.geometry.cameras import intrinsics, make_cameras
from core.io.mesh_scene import make_scene
from core.io.points import read_points, write_ply
from core.io.scene import SceneError, SceneWarning, read_scene, write_scene


def _edit(folder: Path, change) -> Path:
    sj = folder / "scene.json"
    meta = json.loads(sj.read_text())
    change(meta)
    sj.write_text(json.dumps(meta))
    return sj


def _refused(folder: Path, names: Path, *words: str) -> str:
    with pytest.raises(SceneError) as err:
        read_scene(folder)
    msg = str(err.value)
    assert str(names) in msg and "\n" not in msg, msg
    for w in words:
        assert w.lower() in msg.lower(), f"{w!r} not in {msg}"
    return msg


# -- item 3: K checked at load -----------------------------------------------------------------
@pytest.mark.parametrize("entry,value,word", [
    ((0, 0), 0.0, "focal"), ((1, 1), -30.0, "focal"), ((2, 2), 2.0, "[0, 0, 1]"),
    ((2, 0), 0.1, "[0, 0, 1]"), ((1, 0), 0.5, "[0, 0, 1]"), ((0, 2), 1e300, "below"),
])
def test_bad_intrinsics_refused_at_load(folder, entry, value, word):
    def change(meta):
        meta["views"][1]["K"][entry[0]][entry[1]] = value
    sj = _edit(folder, change)
    _refused(folder, sj, "view 1", "K", word)


def test_translation_1e300_refused_at_load(folder):
    sj = _edit(folder, lambda m: m["views"][2].__setitem__("t", [0.0, 0.0, 1e300]))
    _refused(folder, sj, "view 2", "out of range")


# -- item 4: extra.to_original and ground truth checked at load -------------------------------
@pytest.mark.parametrize("value", [
    [[float("nan")] * 4] * 4, "identity", np.zeros((4, 4)).tolist(), np.eye(3).tolist(),
    (np.eye(4) + np.eye(4, k=-3)).tolist(),  # last row not 0 0 0 1
], ids=["nan", "string", "singular", "3x3", "not-affine"])
def test_bad_to_original_refused_at_load(folder, value):
    value = value.tolist() if isinstance(value, np.ndarray) else value
    sj = _edit(folder, lambda m: m["extra"].__setitem__("to_original", value))
    _refused(folder, sj, "extra.to_original")


def test_valid_to_original_loads(folder):
    T = np.diag([2.0, 2.0, 2.0, 1.0])
    T[:3, 3] = [1, 2, 3]
    _edit(folder, lambda m: m["extra"].__setitem__("to_original", T.tolist()))
    s = read_scene(folder)
    assert np.allclose(s.to_original(np.zeros((1, 3))), [[1, 2, 3]])


def test_empty_ground_truth_refused_at_load(folder):
    gt = folder / "gt_points.ply"
    write_ply(gt, np.zeros((0, 3)))
    _refused(folder, gt, "no points")


# -- item 9: one clear line instead of a traceback --------------------------------------------
def test_mask_over_pils_pixel_limit(folder, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 24x24 = 576 > 2 * 100: a "bomb"
    _refused(folder, folder / "masks" / "000.png", "too large")


def _ply(path: Path, header: str, body: bytes = b"") -> Path:
    path.write_bytes(header.encode() + body)
    return path


def test_binary_ply_claiming_1e12_vertices(tmp_path):
    p = _ply(tmp_path / "huge.ply", "ply\nformat binary_little_endian 1.0\nelement vertex "
             "1000000000000\nproperty float x\nproperty float y\nproperty float z\n"
             "end_header\n", b"\0" * 120)
    with pytest.raises(ValueError, match="claims 1000000000000 vertices") as err:
        read_points(p)
    assert str(p) in str(err.value)


def test_ascii_ply_claiming_3e8_vertices(tmp_path):
    p = _ply(tmp_path / "huge.ply", "ply\nformat ascii 1.0\nelement vertex 300000000\n"
             "property float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n")
    with pytest.raises(ValueError, match="claims 300000000 vertices") as err:
        read_points(p)
    assert str(p) in str(err.value)


@pytest.mark.parametrize("kwargs,word", [
    ({"fov_deg": 0.0}, "fov_deg"), ({"fov_deg": -5.0}, "fov_deg"),
    ({"fov_deg": 180.0}, "fov_deg"), ({"fov_deg": float("nan")}, "fov_deg"),
    ({"radius": float("inf")}, "radius"), ({"radius": 1e300}, "radius"),
    ({"res": 100_000}, "res"), ({"views": 100_000}, "views"),
])
def test_make_scene_bad_values(kwargs, word):
    args = {"views": 2, "res": 16, "gt_points": 0, **kwargs}
    with pytest.raises(ValueError, match=word):
        make_scene("blob", **args)


def test_make_scene_object_filling_the_image():
    with pytest.raises(SceneError, match="fills the whole image"):
        make_scene("blob", views=2, res=16, gt_points=0, fov_deg=1.0)


def test_intrinsics_and_cameras_refuse_a_zero_field_of_view():
    with pytest.raises(ValueError, match="fov_deg"):
        intrinsics(64, 0.0)
    with pytest.raises(ValueError, match="fov_deg"):
        make_cameras(2, 64, fov_deg=0.0)


# -- item 10: readers ---------------------------------------------------------------------------
def test_ply_without_format_line_is_refused(tmp_path):
    p = _ply(tmp_path / "nofmt.ply", "ply\nelement vertex 1\nproperty float x\nproperty float y\n"
             "property float z\nend_header\n", np.array([1, 2, 3], "<f4").tobytes())
    with pytest.raises(ValueError, match="no 'format' line") as err:
        read_points(p)
    assert str(p) in str(err.value)


def test_ascii_ply_with_faces_before_vertices(tmp_path):
    p = _ply(tmp_path / "ff.ply", "ply\nformat ascii 1.0\nelement face 2\n"
             "property list uchar int vertex_indices\nelement vertex 3\nproperty float x\n"
             "property float y\nproperty float z\nend_header\n3 0 1 2\n4 0 1 2 2\n"
             "0 0 0\n1 0 0\n0 1 0\n")
    assert read_points(p).tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]


@pytest.mark.parametrize("endian", ["<", ">"])
def test_binary_ply_with_faces_and_edges_before_vertices(tmp_path, endian):
    name = "binary_little_endian" if endian == "<" else "binary_big_endian"
    v = np.array([[0.5, -1, 2], [3, 4, 5.25], [6, 7, 8]])
    faces = b"".join(np.array([k], "u1").tobytes() + np.arange(k, dtype=endian + "i4").tobytes()
                     for k in (3, 4))
    edges = np.array([[0, 1], [1, 2]], endian + "i4").tobytes()
    p = _ply(tmp_path / "ffb.ply", f"ply\nformat {name} 1.0\nelement face 2\n"
             "property list uchar int vertex_indices\nelement edge 2\nproperty int a\n"
             "property int b\nelement vertex 3\nproperty double x\nproperty double y\n"
             "property double z\nend_header\n",
             faces + edges + v.astype(endian + "f8").tobytes())
    assert np.array_equal(read_points(p), v)


def test_all_white_masks_are_refused(folder, tiny):
    for i in range(tiny.n_views):
        Image.fromarray(np.full((24, 24), 255, np.uint8)).save(folder / "masks" / f"{i:03d}.png")
    _refused(folder, folder / "scene.json", "all foreground")


def test_one_white_mask_warns(folder):
    Image.fromarray(np.full((24, 24), 255, np.uint8)).save(folder / "masks" / "001.png")
    with pytest.warns(SceneWarning, match="view 1 is all foreground"):
        read_scene(folder)


def test_one_view_warns(tiny, tmp_path):
    f = write_scene(tiny.subset([0]), tmp_path / "one")
    with pytest.warns(SceneWarning, match="single view"):
        read_scene(f)


def test_good_scene_loads_without_warnings(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_scene(folder)
