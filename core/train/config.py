"""The training configuration: one dataclass drives the CLI flags and the GUI controls
(field metadata: see core.params)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from core.params import JobConfig, live_fields
from core.params import param as _f

__all__ = ["LIVE_FIELDS", "PRESETS", "TrainConfig", "config_from_dict"]


@dataclass
class TrainConfig(JobConfig):
    """Parameters of one network training (image -> point cloud, silhouette supervision)."""

    points: int = _f(1024, "J: points the network predicts per object", min=16, max=65_536,
                     log=True, live=False)
    input_size: int = _f(64, "side in pixels the input view is resized to (a multiple of 16; "
                         "a power of two for the 'paper' network)", min=16, max=512, live=False)
    arch: str = _f("compact", "network: 'compact' (GroupNorm encoder of four stride-2 stages, "
                   "one hidden decoder layer; sized by width and hidden) or 'paper' (the "
                   "DPC/DRWR network: 5x5 stride-2 convolution to 16 channels, [3x3 stride 2, "
                   "3x3] blocks doubling the channels down to 4x4, three fully connected "
                   "layers of 1024, one to J·3; width and hidden unused)",
                   choices=("compact", "paper"), live=False)
    loss_size: int = _f(0, "side in pixels of the silhouette grid the DRWR terms are computed "
                        "on: the supervising masks are area-averaged down to it and their "
                        "cameras scaled (0 = the dataset's own image size; never upsampled)",
                        min=0, max=1024, live=False)
    width: int = _f(16, "channels of the encoder's first convolution (doubling at each of its "
                    "four stride-2 stages)", min=4, max=256, log=True, live=False)
    hidden: int = _f(512, "width of the encoder's fully connected feature and the decoder's "
                     "hidden layer", min=32, max=8192, log=True, live=False)
    batch_size: int = _f(16, "objects per step (per process under torchrun; the effective "
                         "batch is batch_size x processes)", min=1, max=4096, log=True,
                         live=False)
    views_per_object: int = _f(5, "supervising views per object per step (drawn at random from "
                               "the object's views, repeated when it has fewer)", min=1, max=64,
                               live=False)
    lr: float = _f(1e-3, "Adam learning rate at the start", min=1e-6, max=0.1, log=True,
                   live=True, flag="lr")
    lr_final: float = _f(0.05, "learning rate at the end, as a fraction of lr (cosine decay "
                         "over the iterations, or over the minutes when they end first; 1 = "
                         "constant)", min=0.0, max=1.0, live=True)
    weight_decay: float = _f(0.0, "L2 penalty on the network's weights (not its biases), added "
                             "to the gradient as weight_decay x w (DPC's regularisation)",
                             min=0.0, max=1.0, live=False)
    warmup: int = _f(100, "steps of linear learning-rate warm-up", min=0, max=100_000,
                     live=False)
    sil_weight: float = _f(3.0, "λ: weight of the silhouette loss (pixels outside the "
                           "supervising silhouettes, mean over points and views)", min=0.01,
                           max=1000.0, log=True, live=True)
    beta: float = _f(0.02, "β: weight of the structure-aware repulsion that spreads the points "
                     "over the silhouettes (mean over points and views)", min=0.0, max=10.0,
                     live=True)
    cover_weight: float = _f(1.0, "weight of the coverage term: pixels from samples of each "
                             "supervising silhouette to the nearest projected point (pulls "
                             "points into parts no point reaches, e.g. thin legs; 0 = off, "
                             "DRWR's own losses only)", min=0.0, max=100.0, live=True)
    sigma: float = _f(1.0, "σ: repulsion length scale in pixels at a 64-pixel image side; "
                      "scaled with the image side (so the same value serves 32² and 128²)",
                      min=0.1, max=8.0, live=True)
    R: int = _f(5, "R: square neighbourhoods (radius 1..R pixels) averaged into the boundary "
                "bias δ (paper: 5)", min=1, max=10, live=True, flag="R")
    jitter: float = _f(0.2, "colour augmentation of RGB inputs during training: random "
                       "brightness, contrast and per-channel gain of ± this fraction (0 = off)",
                       min=0.0, max=1.0, live=False)
    shift: float = _f(0.0, "geometric augmentation of the input view during training: random "
                      "translation by up to ± this fraction of its side and scale by 1 ± this "
                      "fraction, the border filled with the image's corner colour (0 = off; "
                      "the supervising views are unchanged)", min=0.0, max=0.5, live=False)
    dropout: float = _f(0.0, "dropout probability on the compact network's decoder hidden "
                        "layer during training (0 = off; never in evaluation)", min=0.0,
                        max=0.9, live=False)
    iterations: int = _f(100_000, "training steps (stops earlier when the minutes end)",
                         min=1, max=10_000_000, log=True, live=True)
    minutes: float = _f(0.0, "wall-clock limit in minutes (0 = none); the learning-rate "
                        "schedule then follows whichever limit is nearer", min=0.0,
                        max=100_000.0, live=True)
    val_every: int = _f(200, "steps between validations (CD×100 on the validation objects)",
                        min=1, max=1_000_000, log=True, live=True)
    val_objects: int = _f(64, "validation objects scored (the first of the val split; the "
                          "train split when there is no val split, so the test split is never "
                          "seen)", min=1, max=100_000, log=True, live=False)
    seed: int = _f(0, "random seed (initial weights, batches, views, augmentation)", min=0,
                   max=2**31 - 1, live=False)
    device: str = _f("auto", "compute device: auto (CUDA when present), cpu or cuda",
                     choices=("auto", "cpu", "cuda"), live=False)
    tensorboard: bool = _f(True, "write TensorBoard event files into the run folder "
                           "(<run>/tensorboard: loss terms, learning rate, validation metrics "
                           "and predicted clouds; tensorboard --logdir runs/ compares runs)",
                           live=False, flag="no-tensorboard")
    workers: int = _f(1, "DataLoader worker processes (0 = load in the training process)",
                      min=0, max=64, live=False)
    preset: str = _f("default", "named preset the other values started from (PRESETS)",
                     choices=("default", "drwr-paper", "dpc"), live=False)
    refine_steps: int = _f(20, "test-time refinement in predict and evaluate: Adam steps that "
                           "move each predicted point towards its input view's silhouette at "
                           "its own depth (the silhouette and coverage terms of that view, its "
                           "camera), after refine_feature_steps; 0 = off: the network's raw "
                           "output, neither stage",
                           min=0, max=10_000, live=False)
    refine_step: float = _f(0.002, "size of a refinement step, as a fraction of the predicted "
                            "cloud's bounding-box diagonal", min=1e-5, max=0.1, log=True,
                            live=False)
    refine_feature_steps: int = _f(50, "test-time refinement, first stage (with refine_steps "
                                   "> 0): Adam steps on the network's image feature (the "
                                   "decoder's input) on the same terms, so the whole cloud "
                                   "changes as the network would change it (0 = off)",
                                   min=0, max=10_000, live=False)
    refine_feature_step: float = _f(0.1, "size of a feature refinement step, as a fraction of "
                                    "the feature's mean absolute value", min=1e-5, max=10.0,
                                    log=True, live=False)


LIVE_FIELDS = live_fields(TrainConfig)

#: DRWR's repulsion (drwr/models/model_base.py, add_potential_loss) is
#: ``potential_weight * mean_j(w_j * mean_j'(w_j' * exp(-d^2 / gauss_threshold + gauss_bias
#: + ring_j)))``; ours (core.drwr.repulsion) sums over j' with exp(-d^2 / sigma^2 + delta_j)
#: and is weighted by β: the same term for β = potential_weight * e^gauss_bias / J and, as
#: their squared pixel distances are divided by vox_size / 32, σ² = gauss_threshold *
#: vox_size / 32 px²: sqrt(5) px on a 32² grid, sqrt(10) px on 64² (our σ is per 64 px of
#: side: 2 sqrt(5) and sqrt(10)).
_DRWR_BETA = 3.0 * math.exp(3.5)


def _drwr_sigma(grid: int) -> float:
    """Our σ (px per 64 px of side) of DRWR's kernel on a ``grid``² loss grid."""
    return round(math.sqrt(5.0 * grid / 32.0) * 64.0 / grid, 4)

#: Named starting points (docs/training.md, "The papers' settings"). ``drwr-paper``: the DRWR
#: authors' released config (chenchao15/drwr drwr/resources/default_config.yaml + config.yaml):
#: 128² RGB input, the DPC/DRWR network, J = 2000, the DRWR terms on a 32² grid
#: (vox_size 32), β = 3 with their σ and ring bias (R = 5), silhouette weight 1 (coord_weight),
#: no coverage term, no augmentation, batch 1 x 4 views, Adam 1e-4 constant, no weight decay
#: (their train.py leaves reg_loss out), 10^6 steps. ``dpc``: DPC's default_config.yaml
#: (eldar/differentiable-point-clouds): J = 8000 on a 64² grid, batch 8 x 4 views, Adam 1e-4
#: constant for 600 000 steps, weight decay 0.001 — with the DRWR terms in place of DPC's
#: projection loss, as DRWR's Table 1 trains at DPC's setting.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "drwr-paper": {"arch": "paper", "input_size": 128, "points": 2000, "loss_size": 32,
                   "beta": round(_DRWR_BETA / 2000, 6), "sigma": _drwr_sigma(32), "R": 5,
                   "sil_weight": 1.0, "cover_weight": 0.0, "jitter": 0.0, "shift": 0.0,
                   "dropout": 0.0, "batch_size": 1, "views_per_object": 4, "lr": 1e-4,
                   "lr_final": 1.0, "warmup": 0, "weight_decay": 0.0, "iterations": 1_000_000,
                   "refine_steps": 0, "refine_feature_steps": 0},
    "dpc": {"arch": "paper", "input_size": 128, "points": 8000, "loss_size": 64,
            "beta": round(_DRWR_BETA / 8000, 6), "sigma": _drwr_sigma(64), "R": 5,
            "sil_weight": 1.0, "cover_weight": 0.0, "jitter": 0.0, "shift": 0.0,
            "dropout": 0.0, "batch_size": 8, "views_per_object": 4, "lr": 1e-4,
            "lr_final": 1.0, "warmup": 0, "weight_decay": 1e-3, "iterations": 600_000,
            "refine_steps": 0, "refine_feature_steps": 0},
}
TrainConfig.PRESETS = PRESETS


def config_from_dict(d: dict[str, Any]) -> TrainConfig:
    """TrainConfig from a plain dict (a checkpoint's or config.json's); unknown keys ignored,
    missing ones take their defaults."""
    names = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in d.items() if k in names})
    cfg.validate()
    return cfg


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Plain dict of the config (JSON- and weights_only-safe)."""
    return asdict(cfg)
