"""Property-based tests of the file readers: whatever bytes or JSON a file holds, the reader
either loads it or raises ValueError (SceneError is one) whose single-line message names the
file; never another exception. Example counts are kept small (the whole file runs in ~20 s).

Readers: scene.json (read_scene), dataset.json (read_dataset), PLY (read_points), shape codes
(load_code), metrics.jsonl (read_metrics).
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from core.formats.datasets import read_dataset
from core.io.mesh_scene import make_scene
from core.io.points import read_points
from core.io.scene import read_scene, write_scene
from core.surface.sh import load_code
from core.train.runlog import read_metrics

FUZZ = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_SCENE = make_scene("blob", views=2, res=16, gt_points=50, seed=0)
_TEMPLATE = Path(tempfile.mkdtemp(prefix="fuzz_scene_"))
write_scene(_SCENE, _TEMPLATE / "s")
_META = json.loads((_TEMPLATE / "s" / "scene.json").read_text())


def _loads_or_names(read: Callable[[Path], Any], path: Path, named: Path) -> Any:
    """read(path); a ValueError must be one line naming ``named`` (a file or its folder)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read(path)
    except ValueError as exc:
        msg = str(exc)
        assert str(named) in msg, msg
        assert "\n" not in msg, msg
        return None


# -- JSON values -------------------------------------------------------------------------------
_scalars = (st.none() | st.booleans() | st.integers(-10**6, 10**6)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
_json = st.recursive(_scalars, lambda c: st.lists(c, max_size=4)
                     | st.dictionaries(st.text(max_size=6), c, max_size=4), max_leaves=12)
_numbers = st.floats(-1e9, 1e9) | st.integers(-5, 5) | st.sampled_from(
    [float("nan"), float("inf"), 0.0, 1.0, 1e300])


def _matrix(shape: tuple[int, ...]) -> st.SearchStrategy:
    if not shape:
        return _numbers
    return st.lists(_matrix(shape[1:]), min_size=shape[0], max_size=shape[0])


def _near(value: Any, n: int) -> st.SearchStrategy:
    """``value`` itself, an n x n / n-vector of numbers, or any JSON value."""
    return st.sampled_from([value]) | _matrix((n, n) if n else (3,)) | _json


@st.composite
def _scene_meta(draw) -> Any:
    """A scene.json document close to a valid one, with any field replaced."""
    if draw(st.integers(0, 5)) == 0:
        return draw(_json)
    meta = json.loads(json.dumps(_META))
    for key in ("format", "version", "ground_truth", "extra"):
        if draw(st.integers(0, 4)) == 0:
            meta[key] = draw(_json)
    views = meta["views"]
    for v in views:
        v["K"] = draw(_near(v["K"], 3))
        v["R"] = draw(_near(v["R"], 3))
        v["t"] = draw(_near(v["t"], 0))
        v["mask"] = draw(st.sampled_from([v["mask"], "masks/none.png", "scene.json",
                                          "gt_points.ply", "masks", "/dev/null", ""]) | _json)
        if draw(st.booleans()):
            v["image"] = draw(st.sampled_from(["masks/000.png", "nope.png", "gt_points.ply"])
                              | _json)
    if draw(st.integers(0, 3)) == 0:
        meta["views"] = draw(_json)
    return meta


def _scene_folder() -> Path:
    d = Path(tempfile.mkdtemp(prefix="fuzz_"))
    shutil.copytree(_TEMPLATE / "s", d / "s")
    return d / "s"


@FUZZ
@given(meta=_scene_meta())
def test_scene_json_loads_or_names_the_file(meta):
    s = _scene_folder()
    try:
        (s / "scene.json").write_text(json.dumps(meta))
        scene = _loads_or_names(read_scene, s, s)
        if scene is not None:
            assert np.all(np.isfinite(scene.K)) and np.all(np.isfinite(scene.t))
    finally:
        shutil.rmtree(s.parent)


@FUZZ
@given(data=st.binary(max_size=300) | st.sampled_from([b"\xff\xfe{", b"[" * 50_000,
                                                       b'{"views": [' * 30_000]))
def test_scene_json_bytes_load_or_name_the_file(data):
    s = _scene_folder()
    try:
        (s / "scene.json").write_bytes(data)
        _loads_or_names(read_scene, s, s / "scene.json")
    finally:
        shutil.rmtree(s.parent)


@st.composite
def _dataset_meta(draw) -> Any:
    if draw(st.integers(0, 5)) == 0:
        return draw(_json)
    meta: dict[str, Any] = {"format": "drwr-dataset", "version": 1,
                            "splits": {"train": ["a"]}, "categories": {"a": "blob"}}
    for key in ("format", "version", "categories", "extra"):
        if draw(st.integers(0, 4)) == 0:
            meta[key] = draw(_json)
    ids = st.sampled_from(["a", "b", "", ".", "..", "a/b", "s"]) | st.text(max_size=5)
    if draw(st.booleans()):
        meta["splits"] = draw(st.dictionaries(
            st.sampled_from(["train", "val", "test"]) | st.text(max_size=4),
            st.lists(ids, max_size=3) | _json, max_size=3))
    return meta


@FUZZ
@given(meta=_dataset_meta(), raw=st.none() | st.binary(max_size=200) | st.sampled_from(
    [b"[" * 50_000, b'{"splits": {"train": ' * 30_000]))
def test_dataset_json_loads_or_names_the_file(meta, raw):
    s = _scene_folder()
    root = s.parent
    try:
        s.rename(root / "a")
        index = root / "dataset.json"
        if raw is None:
            index.write_text(json.dumps(meta))
        else:
            index.write_bytes(raw)
        _loads_or_names(read_dataset, root, root)
    finally:
        shutil.rmtree(root)


# -- PLY -----------------------------------------------------------------------------------------
_PLY_TYPES = ["float", "double", "uchar", "int", "short", "float32", "uint8", "bogus"]


@st.composite
def _ply(draw) -> bytes:
    fmt = draw(st.sampled_from(["ascii", "binary_little_endian", "binary_big_endian", "x"]))
    lines = ["ply", f"format {fmt} 1.0"]
    for name in draw(st.lists(st.sampled_from(["vertex", "face", "edge"]), min_size=0,
                              max_size=3)):
        count = draw(st.integers(0, 6) | st.sampled_from([10**9, 2**31, -1]))
        lines.append(f"element {name} {count}")
        if name == "face":
            lines.append(draw(st.sampled_from(["property list uchar int vertex_indices",
                                               "property list bogus int vertex_indices",
                                               "property list"])))
        else:
            props = draw(st.lists(st.sampled_from(["x", "y", "z", "red", "nx"]), max_size=5))
            lines += [f"property {draw(st.sampled_from(_PLY_TYPES))} {p}" for p in props]
    if draw(st.integers(0, 5)):
        lines.append("end_header")
    head = ("\n".join(lines) + "\n").encode()
    if fmt == "ascii" and draw(st.booleans()):
        rows = draw(st.lists(st.lists(_numbers | st.sampled_from(["nan", "x", "1e999"]),
                                      max_size=7), max_size=8))
        return head + "\n".join(" ".join(map(str, r)) for r in rows).encode()
    return head + draw(st.binary(max_size=200))


@FUZZ
@given(data=_ply() | st.binary(max_size=200))
def test_ply_loads_or_names_the_file(data):
    d = Path(tempfile.mkdtemp(prefix="fuzz_"))
    try:
        path = d / "c.ply"
        path.write_bytes(data)
        pts = _loads_or_names(read_points, path, path)
        if pts is not None:
            assert pts.ndim == 2 and pts.shape[1] == 3 and np.all(np.isfinite(pts))
    finally:
        shutil.rmtree(d)


# -- shape codes ---------------------------------------------------------------------------------
_arrays = st.one_of(
    st.sampled_from([np.asarray("drwr-sh-code/1"), np.asarray("x,y,z"), np.asarray(2),
                     np.asarray([1, 2]), np.asarray("x,y,z,r,g,b"), np.asarray(-2),
                     np.asarray(1j), np.zeros((0, 3)), np.asarray(10**12)]),
    st.integers(0, 3).flatmap(lambda d: st.lists(
        _numbers, min_size=3 * (d + 1) ** 2, max_size=3 * (d + 1) ** 2).map(
        lambda v, d=d: np.asarray(v, np.float64).reshape((d + 1) ** 2, 3))),
)


@st.composite
def _code_npz(draw) -> bytes:
    keys = {"format": np.asarray("drwr-sh-code/1"), "degree": np.asarray(1),
            "coeffs": np.zeros((4, 3), np.float32), "channels": np.asarray("x,y,z")}
    for k in list(keys):
        c = draw(st.integers(0, 5))
        if c == 0:
            del keys[k]
        elif c >= 3:
            keys[k] = draw(_arrays)
    buf = io.BytesIO()
    np.savez(buf, **keys)
    data = buf.getvalue()
    if draw(st.integers(0, 4)) == 0:  # a damaged archive
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=20))
    return data


@settings(FUZZ, max_examples=150)
@given(data=_code_npz() | st.binary(max_size=200))
def test_shape_code_loads_or_names_the_file(data):
    d = Path(tempfile.mkdtemp(prefix="fuzz_"))
    try:
        path = d / "c.npz"
        path.write_bytes(data)
        code = _loads_or_names(load_code, path, path)
        if code is not None:
            assert code.degree >= 0 and np.all(np.isfinite(code.coeffs))
            assert code.coeffs.shape == ((code.degree + 1) ** 2, len(code.channels))
    finally:
        shutil.rmtree(d)


# -- metrics.jsonl -------------------------------------------------------------------------------
_lines = st.lists(
    st.one_of(_json.map(json.dumps), st.sampled_from(
        ['{"step": 1, "total": 0.5}', '{"step": "x"}', "[1, 2]", '"total"', '{"step": 2',
         "[" * 20_000]), st.text(max_size=20)), max_size=6)


@pytest.mark.xfail(strict=True, reason="read_metrics lets UnicodeDecodeError and RecursionError "
                   "through and returns non-object records")
@settings(FUZZ, phases=[Phase.explicit, Phase.generate])  # no shrinking while it fails
@given(lines=_lines, tail=st.binary(max_size=30))
def test_metrics_jsonl_loads_or_names_the_file(lines, tail):
    d = Path(tempfile.mkdtemp(prefix="fuzz_"))
    try:
        path = d / "metrics.jsonl"
        path.write_bytes("\n".join(lines).encode() + b"\n" + tail)
        records = _loads_or_names(read_metrics, path, path)
        if records is not None:
            assert all(isinstance(r, dict) for r in records), records
    finally:
        shutil.rmtree(d)


@pytest.fixture(scope="module", autouse=True)
def _remove_template():
    yield
    shutil.rmtree(_TEMPLATE, ignore_errors=True)
