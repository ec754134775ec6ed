"""A `fit` stopped by Ctrl-C or SIGTERM in the middle of an optimiser step and continued with
--resume writes the same cloud as the fit never stopped, bit for bit."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from core.io.mesh_scene import make_scene
from core.io.points import read_points
from core.io.scene import write_scene
from main import main

ARGS = ["--iterations", "40", "--points", "200", "--threads", "1", "--quiet", "--autosave",
        "1e9"]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return write_scene(make_scene("blob", views=4, res=32, gt_points=300, seed=0),
                       tmp_path_factory.mktemp("fitx") / "s")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_fit_stopped_mid_step_then_resumed_equals_the_fit_without_a_stop(scene, tmp_path,
                                                                           sig, code):
    assert main(["fit", str(scene), "--out", str(tmp_path / "ref.ply"), *ARGS]) == 0
    steps = [0]

    def hook(opt, args, kwargs) -> None:  # after the update of step 17, before it is counted
        steps[0] += 1
        if steps[0] == 17:
            os.kill(os.getpid(), sig)

    out = tmp_path / "x.ply"
    handle = register_optimizer_step_post_hook(hook)
    try:
        assert main(["fit", str(scene), "--out", str(out), *ARGS]) == code
    finally:
        handle.remove()
    assert torch.load(tmp_path / "x.ply.resume.pt", weights_only=True)["iteration"] == 17
    assert main(["fit", str(scene), "--out", str(out), "--resume", *ARGS]) == 0
    assert np.array_equal(read_points(out), read_points(tmp_path / "ref.ply"))
