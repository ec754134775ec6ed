"""`make-scene` and `convert` write into a new or empty folder; a non-empty one is refused
(nothing in it touched) unless --overwrite, which replaces the scene and drops the old
scene's leftover views while keeping the user's other files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import main as main_module

SMALL = ["--views", "2", "--res", "16", "--gt-points", "200"]


def _main(capsys, *args: object) -> tuple[int, str]:
    capsys.readouterr()
    rc = main_module.main([str(a) for a in args])
    return rc, capsys.readouterr().err


def _old_scene(folder: Path) -> None:
    """A folder with an older 4-view scene with images and a file of the user's."""
    for sub in ("masks", "images"):
        (folder / sub).mkdir(parents=True)
        for i in range(4):
            (folder / sub / f"{i:03d}.png").write_bytes(b"old view")
    (folder / "scene.json").write_text('{"old": true}')
    (folder / "notes.txt").write_text("mine")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("src") / "scene"
    assert main_module.main(["make-scene", "chair", str(folder), *SMALL]) == 0
    return folder


@pytest.mark.parametrize("command", ["make-scene", "convert"])
def test_non_empty_folder_is_refused_without_overwrite(capsys, tmp_path, source, command):
    out = tmp_path / "out"
    _old_scene(out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    args = ["chair", out, *SMALL] if command == "make-scene" else [source, out]
    rc, err = _main(capsys, command, *args)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith(f"error: {out}: "), err
    assert "--overwrite" in lines[0]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("command", ["make-scene", "convert"])
def test_overwrite_replaces_the_scene(capsys, tmp_path, source, command):
    out = tmp_path / "out"
    _old_scene(out)
    args = ["chair", out, *SMALL] if command == "make-scene" else [source, out]
    rc, err = _main(capsys, command, *args, "--overwrite")
    assert rc == 0, err
    meta = json.loads((out / "scene.json").read_text())
    assert len(meta["views"]) == 2
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["000.png", "001.png"]
    images = sorted(p.name for p in (out / "images").iterdir()) if (out / "images").is_dir() else []
    assert images == (["000.png", "001.png"] if "image" in meta["views"][0] else [])
    assert all((out / "masks" / n).read_bytes() != b"old view" for n in ("000.png", "001.png"))
    assert (out / "notes.txt").read_text() == "mine"


def test_an_empty_folder_needs_no_overwrite(capsys, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    rc, err = _main(capsys, "make-scene", "chair", out, *SMALL)
    assert rc == 0, err
    assert (out / "scene.json").is_file()
