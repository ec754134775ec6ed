"""core.train.refine.refine_feature: the first stage of test-time refinement moves the
network's image feature, not the points, so the cloud fits the input view better while the
network's weights stay as they were; both networks split into encode and decode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.train.config import TrainConfig
from core.train.model import PaperNet, PointNet2D
from core.train.refine import _view_loss, refine_feature

RES = 48


def _view():
    """A camera looking along z at the origin from 2.5 away and a silhouette that covers
    only the left part of where a ball of radius 0.3 about the origin projects."""
    K = np.array([[60.0, 0, RES / 2 - 0.5], [0, 60.0, RES / 2 - 0.5], [0, 0, 1]])
    mask = np.zeros((RES, RES), bool)
    mask[14:34, 12:24] = True
    return mask, K, np.eye(3), np.array([0.0, 0.0, 2.5])


@pytest.mark.parametrize("net", [PointNet2D(64, 32, width=8, hidden=64), PaperNet(64, 32)])
def test_encode_then_decode_is_the_forward_pass(net):
    x = torch.rand(2, 3, 32, 32)
    net.eval()
    with torch.no_grad():
        np.testing.assert_array_equal(net.decode(net.encode(x)).numpy(), net(x).numpy())


def test_feature_refinement_fits_the_view_and_leaves_the_weights():
    torch.manual_seed(0)
    net = PointNet2D(256, 32, width=8, hidden=64).eval()
    with torch.no_grad():  # a trained network's last layer: not the small start of training
        net.decoder[-1].weight.mul_(10.0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.rand(3, 32, 32)
    mask, K, R, t = _view()
    loss = _view_loss(mask, K, R, t, 3.0, 1.0, 0)
    raw = net(x[None])[0].detach().numpy()
    out = refine_feature(net, x, mask, K, R, t, steps=40, step=0.1)
    assert out.shape == raw.shape == (256, 3) and out.dtype == np.float32
    lo, lr = (float(loss(torch.from_numpy(p)[None])) for p in (out, raw))
    assert lo < 0.9 * lr, (lo, lr)
    # the cloud stays one that the decoder can make: it is the decoder's output for some feature
    assert np.abs(out).max() < 0.5
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("case", ["no steps", "empty mask"])
def test_nothing_to_do_gives_the_networks_output(case):
    torch.manual_seed(1)
    net = PointNet2D(64, 32, width=8, hidden=64).eval()
    x = torch.rand(3, 32, 32)
    mask, K, R, t = _view()
    if case == "empty mask":
        mask = np.zeros_like(mask)
    out = refine_feature(net, x, mask, K, R, t, steps=0 if case == "no steps" else 10, step=0.1)
    with torch.no_grad():
        np.testing.assert_array_equal(out, net(x[None])[0].numpy())


def test_the_papers_presets_do_not_refine():
    for name in ("drwr-paper", "dpc"):
        values = TrainConfig.PRESETS[name]
        assert values["refine_steps"] == 0 and values["refine_feature_steps"] == 0, name
    assert TrainConfig().refine_feature_steps > 0


def test_a_scenes_prediction_is_refined_in_both_stages(tmp_path):
    from core.train.predict import Predictor
    from core.train.refine import refine_prediction
    from core.train.synth import make_object

    scene = make_object("chair", 0, 3, 32, 0, 512)
    cfg = TrainConfig(points=128, input_size=32, width=8, hidden=64, refine_steps=5,
                      refine_feature_steps=7)
    torch.manual_seed(0)
    net = PointNet2D(128, 32, width=8, hidden=64)
    pred = Predictor(net, cfg, torch.device("cpu"), {"input_kind": "rgb"}, 0, tmp_path)
    x = pred.input_for(scene, 1)
    args = (scene.masks[1], scene.K[1], scene.R[1], scene.t[1])
    first = refine_feature(net, x, *args, 7, cfg.refine_feature_step, cfg.sil_weight,
                           cfg.cover_weight, cfg.loss_size)
    want = refine_prediction(first, *args, 5, cfg.refine_step, cfg.sil_weight,
                             cfg.cover_weight, cfg.loss_size)
    np.testing.assert_allclose(pred.predict_scene(scene, 1), want, atol=1e-6)
    raw = pred.predict(x[None])[0].numpy()
    np.testing.assert_array_equal(pred.predict_scene(scene, 1, refine=0), raw)
    assert np.abs(first - raw).max() > 1e-4  # the feature stage moved the cloud
