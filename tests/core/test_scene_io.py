"""Tests of core.io.scene: write/read round trip and every validation of docs SCENE-FORMAT.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.io.scene import Scene, SceneError, read_scene, write_scene


def _meta(folder: Path) -> dict:
    return json.loads((folder / "scene.json").read_text())


def _put(folder: Path, meta: dict) -> None:
    (folder / "scene.json").write_text(json.dumps(meta))


def _raises(folder: Path, names: str | Path, *words: str) -> str:
    """read_scene(folder) raises SceneError whose message names ``names`` and all ``words``."""
    with pytest.raises(SceneError) as err:
        read_scene(folder)
    msg = str(err.value)
    assert str(names) in msg, f"message does not name {names}: {msg}"
    for w in words:
        assert w.lower() in msg.lower(), f"message lacks {w!r}: {msg}"
    assert "\n" not in msg
    return msg


# -- round trip ------------------------------------------------------------------------------
def test_round_trip_with_images(tiny, tmp_path):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (24, 24, 3), dtype=np.uint8) for _ in range(3)]
    s = Scene(masks=tiny.masks, K=tiny.K, R=tiny.R, t=tiny.t, images=imgs,
              gt_points=tiny.gt_points, name="x", extra={"note": [1, 2], "k": "v"})
    out = write_scene(s, tmp_path / "rt")
    assert (out / "scene.json").is_file() and (out / "masks" / "002.png").is_file()
    back = read_scene(out)
    assert back.masks.dtype == bool and np.array_equal(back.masks, s.masks)
    assert back.K.dtype == np.float64
    for k in ("K", "R", "t"):
        assert np.array_equal(getattr(back, k), getattr(s, k))  # JSON floats are exact
    assert back.images is not None and all(np.array_equal(a, b) for a, b in zip(back.images, imgs))
    assert back.gt_points.shape == (300, 3)
    assert np.allclose(back.gt_points, s.gt_points, atol=1e-6)  # float32 PLY
    assert back.extra == {"note": [1, 2], "k": "v"}
    assert back.name == "rt" and back.path == out
    # the scene.json path itself is accepted too
    assert np.array_equal(read_scene(out / "scene.json").masks, s.masks)


def test_written_json_follows_the_format(folder):
    meta = _meta(folder)
    assert meta["format"] == "drwr-scene" and meta["version"] == 1
    assert meta["ground_truth"] == "gt_points.ply"
    v = meta["views"][0]
    assert v["mask"] == "masks/000.png"
    assert np.asarray(v["K"]).shape == (3, 3) and np.asarray(v["t"]).shape == (3,)
    with Image.open(folder / v["mask"]) as im:
        assert im.mode == "L" and set(np.unique(np.asarray(im))) <= {0, 255}


def test_no_optional_parts(tiny, tmp_path):
    s = Scene(masks=tiny.masks, K=tiny.K, R=tiny.R, t=tiny.t)
    back = read_scene(write_scene(s, tmp_path / "bare"))
    assert back.images is None and back.gt_points is None and back.extra == {}


def test_unknown_keys_are_ignored(folder, tiny):
    meta = _meta(folder)
    meta["future_key"] = {"a": 1}
    meta["views"][1]["exposure"] = 0.5
    meta["views"][1]["distortion"] = [0.1, 0, 0, 0]
    _put(folder, meta)
    back = read_scene(folder)
    assert np.array_equal(back.masks, tiny.masks)


def test_written_by_hand_minimal(tmp_path):
    """A folder another tool writes: only required keys, its own file names, K with skew."""
    f = tmp_path / "hand"
    (f / "m").mkdir(parents=True)
    m = np.zeros((10, 12), np.uint8)
    m[3:7, 4:9] = 200
    Image.fromarray(m).save(f / "m" / "front.png")
    K = [[20.0, 0.5, 5.5], [0.0, 21.0, 4.5], [0.0, 0.0, 1.0]]
    _put(f, {"format": "drwr-scene", "version": 1,
             "views": [{"mask": "m/front.png", "K": K, "R": np.eye(3).tolist(),
                        "t": [0, 0, 3]}]})
    s = read_scene(f)
    assert s.masks.shape == (1, 10, 12) and s.resolution == (10, 12)
    assert s.masks.sum() == 20 and s.K[0, 0, 1] == 0.5


# -- validations: each raises SceneError naming the file -------------------------------------
def test_missing_folder(tmp_path):
    _raises(tmp_path / "nope", tmp_path / "nope")


def test_missing_scene_json(tmp_path):
    (tmp_path / "empty").mkdir()
    _raises(tmp_path / "empty", tmp_path / "empty" / "scene.json")


def test_invalid_json(folder):
    (folder / "scene.json").write_text("{not json")
    _raises(folder, folder / "scene.json")


@pytest.mark.parametrize("value", ["drwr-scene-x", None, 1])
def test_wrong_format(folder, value):
    meta = _meta(folder)
    meta["format"] = value
    _put(folder, meta)
    _raises(folder, folder / "scene.json", "format")


@pytest.mark.parametrize("value", [2, 0, "1", None])
def test_wrong_version(folder, value):
    meta = _meta(folder)
    meta["version"] = value
    _put(folder, meta)
    _raises(folder, folder / "scene.json", "version")


def test_no_views(folder):
    meta = _meta(folder)
    meta["views"] = []
    _put(folder, meta)
    _raises(folder, folder / "scene.json", "views")


def test_missing_mask(folder):
    (folder / "masks" / "001.png").unlink()
    _raises(folder, folder / "masks" / "001.png", "missing")


def test_missing_mask_key(folder):
    meta = _meta(folder)
    del meta["views"][2]["mask"]
    _put(folder, meta)
    _raises(folder, folder / "scene.json", "view 2", "mask")


def test_unreadable_mask(folder):
    (folder / "masks" / "001.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3)
    _raises(folder, folder / "masks" / "001.png")


def test_mask_not_an_image(folder):
    (folder / "masks" / "002.png").write_bytes(bytes(np.random.default_rng(0).integers(
        0, 256, 500, dtype=np.uint8)))
    _raises(folder, folder / "masks" / "002.png")


def test_masks_of_different_sizes(folder):
    m = np.zeros((20, 24), np.uint8)
    m[5:10, 5:10] = 255
    Image.fromarray(m).save(folder / "masks" / "001.png")
    msg = _raises(folder, folder / "masks" / "001.png")
    assert "24x20" in msg and "24x24" in msg


def test_all_empty_mask(folder):
    Image.fromarray(np.full((24, 24), 127, np.uint8)).save(folder / "masks" / "002.png")
    _raises(folder, folder / "masks" / "002.png", "empty")


@pytest.mark.parametrize("key,value", [
    ("K", [[1, 0, 0], [0, 1, 0]]),
    ("K", [1, 2, 3]),
    ("R", np.eye(4).tolist()),
    ("R", [[1, 0, 0], [0, 1], [0, 0, 1]]),  # ragged
    ("t", [0, 0]),
    ("t", [[0, 0, 3]]),
    ("t", "far away"),
])
def test_camera_wrong_shape(folder, key, value):
    meta = _meta(folder)
    meta["views"][1][key] = value
    _put(folder, meta)
    _raises(folder, folder / "scene.json", "view 1", key)


@pytest.mark.parametrize("key", ["K", "R", "t"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_camera_non_finite(folder, key, bad):
    meta = _meta(folder)
    if key == "t":
        meta["views"][0]["t"][2] = bad
    else:
        meta["views"][0][key][0][0] = bad
    _put(folder, meta)  # json.dumps writes NaN / Infinity, which json.loads reads back
    _raises(folder, folder / "scene.json", "view 0", key, "finite")


@pytest.mark.parametrize("R", [
    np.diag([1.0, 1.0, -1.0]),          # reflection: orthogonal, det -1
    np.eye(3) * 1.01,                   # scaled
    np.eye(3) + np.eye(3, k=1) * 3e-3,  # sheared beyond the 1e-3 tolerance
])
def test_R_not_a_rotation(folder, R):
    meta = _meta(folder)
    meta["views"][2]["R"] = R.tolist()
    _put(folder, meta)
    _raises(folder, folder / "scene.json", "view 2", "rotation")


def test_R_within_tolerance_accepted(folder):
    meta = _meta(folder)
    R = np.asarray(meta["views"][0]["R"])
    meta["views"][0]["R"] = (R + 1e-6).tolist()  # JSON written by a float32 tool
    _put(folder, meta)
    read_scene(folder)


def test_R_with_three_decimals_is_accepted_as_the_nearest_rotation(folder):
    """A rotation printed with 3 decimals (|R R^T - I| ~ 5e-4, refused by the old 1e-4 rule)
    loads, re-orthonormalised."""
    meta = _meta(folder)
    R = np.round(np.asarray(meta["views"][0]["R"]), 3)
    assert 1e-4 < np.abs(R @ R.T - np.eye(3)).max() < 1e-3
    meta["views"][0]["R"] = R.tolist()
    _put(folder, meta)
    back = read_scene(folder).R[0]
    assert np.allclose(back @ back.T, np.eye(3), atol=1e-12) and np.abs(back - R).max() < 1e-3


def test_ground_truth_without_xyz(folder):
    gt = folder / "gt_points.ply"
    gt.write_text("ply\nformat ascii 1.0\nelement vertex 2\nproperty float a\nproperty float b\n"
                  "property float c\nend_header\n0 0 0\n1 1 1\n")
    _raises(folder, gt)


@pytest.mark.parametrize("header", [
    b"element vertex\nproperty float x\nproperty float y\nproperty float z\n",  # no count
    b"element vertex 1\nproperty float x\nproperty float y\nproperty float z\n"
    b"property half w\n",  # a type the reader does not know
], ids=["no-count", "unknown-type"])
def test_ground_truth_malformed_header(folder, header):
    gt = folder / "gt_points.ply"
    gt.write_bytes(b"ply\nformat binary_little_endian 1.0\n" + header + b"end_header\n"
                   + b"\0" * 14)
    _raises(folder, gt)


def test_ground_truth_missing(folder):
    (folder / "gt_points.ply").unlink()
    _raises(folder, folder / "gt_points.ply")


def test_ground_truth_garbage(folder):
    (folder / "gt_points.ply").write_bytes(b"\x00\x01garbage" * 20)
    _raises(folder, folder / "gt_points.ply")


def test_missing_image(folder, tiny, tmp_path):
    s = Scene(masks=tiny.masks, K=tiny.K, R=tiny.R, t=tiny.t,
              images=[np.zeros((24, 24, 3), np.uint8)] * 3)
    f = write_scene(s, tmp_path / "img")
    (f / "images" / "000.png").unlink()
    _raises(f, f / "images" / "000.png")


# -- mask modes ------------------------------------------------------------------------------
def _box_mask() -> np.ndarray:
    m = np.zeros((24, 24), bool)
    m[6:15, 4:20] = True
    return m


def _write_view(folder: Path, img: Image.Image) -> None:
    img.save(folder / "masks" / "001.png")


@pytest.mark.parametrize("mode", ["L", "1", "P", "RGB", "LA", "RGBA", "I;16"])
def test_mask_modes(folder, mode):
    """Any mode PIL reads: foreground = value > 127 (for alpha modes: opaque = foreground)."""
    m = _box_mask()
    g = m.astype(np.uint8) * 255
    if mode == "L":
        img = Image.fromarray(np.where(m, 200, 20).astype(np.uint8))
    elif mode == "1":
        img = Image.fromarray(g).convert("1")
    elif mode == "P":
        img = Image.fromarray(g).convert("P")
    elif mode == "RGB":
        img = Image.fromarray(np.stack([g] * 3, -1))
    elif mode == "LA":
        img = Image.fromarray(np.stack([np.full_like(g, 90), g], -1), "LA")
    elif mode == "RGBA":  # a cut-out: colour everywhere, alpha = silhouette
        rgb = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
        img = Image.fromarray(np.concatenate([rgb, g[..., None]], -1), "RGBA")
    else:
        img = Image.fromarray(m.astype(np.uint16) * 65535)
    assert img.mode == mode
    _write_view(folder, img)
    back = read_scene(folder)
    assert np.array_equal(back.masks[1], m)


def test_opaque_rgba_mask_uses_grey_values(folder):
    """A black/white mask saved as RGBA with an opaque alpha channel (what image editors
    write) is a mask by its grey values; reading its constant alpha would make every pixel
    foreground."""
    m = _box_mask()
    g = m.astype(np.uint8) * 255
    img = Image.fromarray(np.stack([g, g, g, np.full_like(g, 255)], -1), "RGBA")
    _write_view(folder, img)
    back = read_scene(folder)
    assert np.array_equal(back.masks[1], m)


# -- to_original -----------------------------------------------------------------------------
def test_to_original_identity_without_key(tiny):
    pts = np.random.default_rng(0).normal(size=(10, 3))
    assert np.array_equal(tiny.to_original(pts), pts)


def test_to_original_applies_the_affine(tiny):
    T = np.eye(4)
    T[:3, :3] = 2.0 * np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    T[:3, 3] = [1.0, -2.0, 0.5]
    s = Scene(masks=tiny.masks, K=tiny.K, R=tiny.R, t=tiny.t, name="t",
              extra={"to_original": T.tolist()})
    pts = np.random.default_rng(1).normal(size=(7, 3))
    want = np.array([T @ np.append(p, 1.0) for p in pts])[:, :3]  # naive homogeneous reference
    assert np.allclose(s.to_original(pts), want)


@pytest.mark.parametrize("key", ["mask", "ground_truth"])
def test_an_absolute_path_is_refused(folder, tmp_path, key):
    """Paths in scene.json are relative to the folder: an absolute one (even to a real file
    of the same kind) would read what the scene does not hold."""
    other = write_scene(read_scene(folder), tmp_path / "elsewhere")
    meta = _meta(folder)
    if key == "mask":
        meta["views"][1]["mask"] = str(other / "masks" / "001.png")
    else:
        meta["ground_truth"] = str(other / "gt_points.ply")
    _put(folder, meta)
    _raises(folder, folder / "scene.json", key, "absolute", "relative")
