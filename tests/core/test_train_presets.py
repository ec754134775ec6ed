"""The papers' training settings: the presets' values against the released configs, the
paper network, the loss grid and DPC's weight decay."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.geometry.cameras import project_np
from core.train.config import PRESETS, TrainConfig, config_from_dict
from core.train.view_inputs import loss_grid
from core.train.model import PaperNet, build_model, build_optimizer, n_parameters


def test_drwr_paper_preset_is_the_released_config():
    """chenchao15/drwr default_config.yaml + config.yaml: 128² input, pc_num_points 2000,
    vox_size 32, potential_weight 3, gauss_threshold 5, gauss_bias 3.5, ring_n 5,
    coord_weight 1, batch_size 1, step_size 4, learning_rate 1e-4 constant."""
    c = TrainConfig.from_preset("drwr-paper")
    assert (c.preset, c.arch, c.input_size, c.points, c.loss_size) == (
        "drwr-paper", "paper", 128, 2000, 32)
    assert (c.batch_size, c.views_per_object, c.lr, c.lr_final, c.warmup) == (1, 4, 1e-4, 1.0, 0)
    assert (c.R, c.sil_weight, c.cover_weight, c.jitter, c.weight_decay) == (5, 1.0, 0.0, 0.0,
                                                                               0.0)
    for name in ("drwr-paper", "dpc"):  # no augmentation whatever the defaults become
        assert (PRESETS[name]["shift"], PRESETS[name]["dropout"]) == (0.0, 0.0)
    # their potential_weight · e^gauss_bias · mean over pairs == our β · sum over pairs
    assert c.beta * c.points == pytest.approx(3.0 * math.exp(3.5), rel=1e-5)
    # their exp(-d² / 5) on the 32² grid == our exp(-d² / σ_px²), σ given per 64 px of side
    assert (c.sigma * 32 / 64) ** 2 == pytest.approx(5.0, rel=1e-4)


def test_dpc_preset_is_dpcs_config():
    """eldar/differentiable-point-clouds default_config.yaml: pc_num_points 8000, vox_size 64,
    batch_size 8, step_size 4, learning_rate 1e-4 (learning_rate_step 1.0: constant),
    max_number_of_steps 600000, weight_decay 0.001."""
    c = TrainConfig.from_preset("dpc")
    assert (c.points, c.loss_size, c.batch_size, c.views_per_object) == (8000, 64, 8, 4)
    assert (c.lr, c.lr_final, c.iterations, c.weight_decay) == (1e-4, 1.0, 600_000, 1e-3)
    assert (c.sigma * 64 / 64) ** 2 == pytest.approx(5.0 * 64 / 32, rel=1e-4)  # DRWR at 64²


def test_presets_take_overrides_and_refuse_unknown_names():
    c = TrainConfig.from_preset("dpc", batch_size=2, iterations=None)
    assert c.batch_size == 2 and c.iterations == 600_000 and c.points == 8000
    with pytest.raises(ValueError, match="unknown preset 'dpcc'; choose one of default, "
                       "drwr-paper, dpc"):
        TrainConfig.from_preset("dpcc")
    assert set(PRESETS) == set(TrainConfig.__dataclass_fields__["preset"].metadata["choices"])
    # a checkpoint's config from before the new fields: their defaults
    old = config_from_dict({"points": 64})
    assert (old.arch, old.loss_size, old.weight_decay, old.preset) == ("compact", 0, 0.0,
                                                                       "default")


def test_paper_network_shape():
    """5x5/2 to 16 channels, blocks to 4x4 (4 of them at 128², 256 channels), 3 x 1024 FC."""
    net = PaperNet(2000, 128)
    convs = [m for m in net.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [16, 32, 32, 64, 64, 128, 128, 256, 256]
    assert convs[0].kernel_size == (5, 5) and convs[0].stride == (2, 2)
    lin = [m for m in net.fc if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(4096, 1024), (1024, 1024),
                                                              (1024, 1024)]
    assert net.out.out_features == 6000
    with torch.no_grad():
        y = net(torch.rand(2, 3, 128, 128))
    assert y.shape == (2, 2000, 3) and float(y.abs().max()) < 0.5
    assert float(y.std()) > 0.02  # a spread start, not one spot
    assert len([m for m in PaperNet(64, 64).encoder if isinstance(m, torch.nn.Conv2d)]) == 7
    with pytest.raises(ValueError, match="power-of-two input_size"):
        PaperNet(64, 96)
    cfg = TrainConfig.from_preset("drwr-paper")
    assert n_parameters(build_model(cfg)) == n_parameters(net)


def test_loss_grid_keeps_pixel_centres():
    """A point's pixel on the small grid is its pixel on the full one, rescaled about pixel
    centres; each small pixel is inside when most of its block of full pixels is."""
    rng = np.random.default_rng(0)
    masks = np.zeros((2, 128, 96), bool)
    masks[0, 20:100, 10:70] = True
    masks[1, 40:60, 30:90] = True
    K = np.repeat(np.array([[150.0, 0, 47.5], [0, 150.0, 63.5], [0, 0, 1]])[None], 2, 0)
    small, Ks = loss_grid(masks, K, 32)
    assert small.shape == (2, 32, 24)
    R = np.repeat(np.eye(3)[None], 2, 0)
    t = np.array([[0, 0, 3.0], [0.1, 0, 3.0]])
    X = rng.uniform(-0.5, 0.5, (50, 3))
    uv, _ = project_np(X, K, R, t)
    uv_s, _ = project_np(X, Ks, R, t)
    np.testing.assert_allclose(uv_s, (uv + 0.5) * 0.25 - 0.5, atol=1e-9)
    blocks = masks.reshape(2, 32, 4, 24, 4).mean((2, 4))  # the naive area average
    np.testing.assert_array_equal(small, blocks >= 0.5)
    same, K2 = loss_grid(masks, K, 0)
    assert same is masks and K2 is K
    assert loss_grid(masks, K, 128)[0] is masks  # never upsampled


def test_weight_decay_on_weights_only():
    """DPC's L2 loss (0.001 · Σ w²/2) adds 0.001 · w to the gradient of each weight, none
    to a bias: one Adam step on a zero task gradient moves weights, not biases."""
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    cfg = TrainConfig(lr=1e-2, weight_decay=1e-3)
    opt = build_optimizer(net, cfg)
    before = [p.detach().clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    moved = [not torch.equal(a, p) for a, p in zip(before, net.parameters())]
    assert moved == [True, False, True, False]  # weight, bias, weight, bias
    plain = build_optimizer(net, TrainConfig(lr=1e-2))
    assert len(plain.param_groups) == 1 and plain.param_groups[0]["weight_decay"] == 0
