"""Images deeper than 8 bits read by their true bit depth: a 16-bit grey photograph is grey, not
white, in scene images, dataset readers' images and ``predict`` inputs; float and 32-bit
images are scaled from their full range; 48-bit RGB reads as 8 bits per channel."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from core.io.mesh_scene import make_scene
from core.formats.common import read_rgb_alpha
from core.io.scene import read_scene, write_scene
from core.train.predict import image_input

RAMP16 = (np.arange(24 * 32, dtype=np.int64).reshape(24, 32) * 85 % 65536).astype(np.uint16)


def write_png16(path: Path, arr: np.ndarray) -> Path:
    """A 16-bit PNG (grey (H, W) or RGB (H, W, 3)) written by hand (PIL writes no 48-bit)."""
    arr = np.asarray(arr, np.uint16)
    H, W = arr.shape[:2]
    colour_type = 2 if arr.ndim == 3 else 0
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(H))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data)))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 16, colour_type, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def expected8(a16: np.ndarray) -> np.ndarray:
    return np.rint(a16.astype(np.float64) * 255.0 / 65535.0).astype(np.uint8)


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path):
    from core.io.images import grey_full_scale
    from core.io.scene import read_image

    path = tmp_path / "g16.png"
    Image.fromarray(RAMP16).save(path)
    with Image.open(path) as im:
        assert im.mode == "I;16" and grey_full_scale(im) == 65535.0
    rgb, alpha = read_image(path)
    assert alpha is None and rgb.dtype == np.uint8 and rgb.shape == (24, 32, 3)
    assert np.array_equal(rgb[..., 0], expected8(RAMP16))
    assert np.array_equal(rgb[..., 0], rgb[..., 2])
    assert 100 < rgb.mean() < 155  # a ramp over the full range, not white


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_16bit_grey_tiff_in_dataset_readers(tmp_path, byteorder):
    """The dataset readers' image path (read_rgb_alpha) reads I;16 and I;16B TIFFs."""
    path = tmp_path / "g16.tif"
    tifffile.imwrite(path, RAMP16, byteorder=byteorder)
    rgb, alpha = read_rgb_alpha(path)
    assert alpha is None
    assert np.array_equal(rgb[..., 1], expected8(RAMP16))


def test_48bit_rgb_png_reads_8_bits_per_channel(tmp_path):
    from core.io.scene import read_image

    a = np.zeros((6, 5, 3), np.uint16)
    a[..., 0], a[..., 1], a[..., 2] = 30000, 1000, 65535
    rgb, _ = read_image(write_png16(tmp_path / "c48.png", a))
    assert rgb[0, 0].tolist() == [117, 3, 255]  # the high byte, as PIL reads 48-bit PNGs


def test_float_image_full_scale_is_one(tmp_path):
    from core.io.images import image_rgb_alpha

    f = np.linspace(0.0, 1.0, 24 * 32, dtype=np.float32).reshape(24, 32)
    f[0, 0], f[0, 1] = -0.5, 2.0  # out of range: clipped
    tifffile.imwrite(tmp_path / "f.tif", f)
    with Image.open(tmp_path / "f.tif") as im:
        assert im.mode == "F"
        rgb, _ = image_rgb_alpha(im)
    assert rgb[0, 0, 0] == 0 and rgb[0, 1, 0] == 255
    assert np.array_equal(rgb[1:, :, 0], np.rint(np.clip(f[1:], 0, 1) * 255).astype(np.uint8))


def test_signed_32bit_tiff_scaled_by_its_declared_depth(tmp_path):
    from core.io.images import grey_full_scale, image_rgb_alpha

    a = (RAMP16.astype(np.int64) << 15).astype(np.int32)  # 0 .. 2^31 - 2^15
    a[0, 0] = -5  # negative: black
    tifffile.imwrite(tmp_path / "i32.tif", a)
    with Image.open(tmp_path / "i32.tif") as im:
        assert im.mode == "I" and grey_full_scale(im) == 2.0 ** 31 - 1
        rgb, _ = image_rgb_alpha(im)
    want = np.rint(np.clip(a, 0, None) / (2.0 ** 31 - 1) * 255).astype(np.uint8)
    assert np.array_equal(rgb[..., 0], want)


def test_scene_with_16bit_images_reads_them_grey(tmp_path):
    sc = make_scene("blob", views=2, res=24, gt_points=0, seed=0)
    folder = write_scene(sc, tmp_path / "s")
    meta = json.loads((folder / "scene.json").read_text())
    img16 = RAMP16[:, :24]
    for i, v in enumerate(meta["views"]):
        Image.fromarray(img16).save(folder / f"img{i}.png")
        v["image"] = f"img{i}.png"
    (folder / "scene.json").write_text(json.dumps(meta))
    back = read_scene(folder)
    assert back.images is not None
    assert np.array_equal(back.images[1][..., 0], expected8(img16))


def test_predict_input_from_a_16bit_image_equals_its_8bit_copy(tmp_path):
    Image.fromarray(RAMP16).save(tmp_path / "g16.png")
    Image.fromarray(expected8(RAMP16)).save(tmp_path / "g8.png")
    x16 = image_input(tmp_path / "g16.png", (16, 16))
    x8 = image_input(tmp_path / "g8.png", (16, 16))
    assert x16.shape == (3, 16, 16)
    assert np.array_equal(x16.numpy(), x8.numpy())
