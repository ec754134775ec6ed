"""Shared fixtures of the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.io.mesh_scene import make_scene
from core.io.scene import Scene, write_scene


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread per test (2 shared cores), restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def scene():
    """A tiny made scene: the blob, 4 views at 32², no ground truth."""
    return make_scene("blob", views=4, res=32, gt_points=0, seed=0)


@pytest.fixture(scope="module")
def tiny() -> Scene:
    """The blob, 3 views at 24², 300 ground-truth points (for scene-file tests)."""
    return make_scene("blob", views=3, res=24, gt_points=300, seed=1)


@pytest.fixture
def folder(tiny, tmp_path) -> Path:
    """``tiny`` written as a drwr-scene folder in the test's temporary directory."""
    return write_scene(tiny, tmp_path / "scene")


def one_error_line(capsys, *needles: str) -> str:
    """The captured stderr is one line ``error: ...`` holding every needle; returns it."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for n in needles:
        assert n in err, err
    return err
