"""core.formats on bad data: each problem is one SceneError naming the file."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from core.formats.loaders import load_scene
from core.formats import detect_and_load
from core.io.scene import SceneError
from dataset_writers import write_blender, write_colmap, write_dpc, write_dtu, write_nerfstudio


# -- bad data --------------------------------------------------------------------------------
def test_missing_image(tmp_path):
    write_blender(tmp_path / "b", W=32)
    (tmp_path / "b" / "train" / "r_2.png").unlink()
    with pytest.raises(SceneError, match=r"r_2\.png: image file is missing"):
        detect_and_load(tmp_path / "b")


def test_wrong_size_mask(tmp_path):
    write_colmap(tmp_path / "c")
    Image.new("L", (40, 30), 255).save(tmp_path / "c" / "masks" / "view 3.png.png")
    with pytest.raises(SceneError, match=r"view 3\.png\.png: mask is 40x30 but camera 1"):
        detect_and_load(tmp_path / "c")
    write_dtu(tmp_path / "d")
    Image.new("L", (40, 30), 255).save(tmp_path / "d" / "mask" / "002.png")
    with pytest.raises(SceneError, match=r"002\.png: mask is 40x30 but its image is 96x80"):
        detect_and_load(tmp_path / "d")


def test_unknown_camera_model(tmp_path):
    write_colmap(tmp_path / "c", model="SIMPLE_RADIAL")
    with pytest.raises(SceneError, match=r"cameras\.txt line 4: camera 1 uses camera model "
                                         r"SIMPLE_RADIAL, which is not supported"):
        detect_and_load(tmp_path / "c")
    write_nerfstudio(tmp_path / "n")
    meta = json.loads((tmp_path / "n" / "transforms.json").read_text())
    meta["k1"] = 0.05
    (tmp_path / "n" / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(SceneError, match=r"transforms\.json frame 0: camera_model OPENCV with "
                                         r"lens distortion \(k1\)"):
        detect_and_load(tmp_path / "n")


def test_empty_mask(tmp_path):
    write_dpc(tmp_path / "d", gt=False)
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(tmp_path / "d" / "render_4.png")
    with pytest.raises(SceneError, match=r"render_4\.png: mask is empty"):
        detect_and_load(tmp_path / "d")


def test_camera_missing_the_object(tmp_path):
    write_blender(tmp_path / "b", W=32)
    jf = tmp_path / "b" / "transforms_train.json"
    meta = json.loads(jf.read_text())
    meta["frames"][3]["transform_matrix"][0][3] += 40.0  # moved far sideways
    jf.write_text(json.dumps(meta))
    with pytest.raises(SceneError, match=r"transforms_train\.json frame 3 \(r_3\.png\): this "
                                         r"camera does not see the object"):
        detect_and_load(tmp_path / "b")


def test_not_a_dataset(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(SceneError, match="no known dataset layout"):
        load_scene(tmp_path / "x")
    with pytest.raises(SceneError, match=r"scene\.json: missing"):
        load_scene(tmp_path / "x", fmt="drwr-scene")
