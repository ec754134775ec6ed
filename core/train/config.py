"""The training configuration: one dataclass drives the CLI flags and the GUI controls
(field metadata: see core.params)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from core.params import JobConfig, live_fields
from core.params import param as _f

__all__ = ["LIVE_FIELDS", "TrainConfig", "config_from_dict"]


@dataclass
class TrainConfig(JobConfig):
    """Parameters of one network training (image -> point cloud, silhouette supervision)."""

    points: int = _f(1024, "J: points the network predicts per object", min=16, max=65_536,
                     log=True, live=False)
    input_size: int = _f(64, "side in pixels the input view is resized to (a multiple of 16)",
                         min=16, max=512, live=False)
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
                         "over the iterations, or over the minutes when they end first)",
                         min=0.0, max=1.0, live=True)
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


LIVE_FIELDS = live_fields(TrainConfig)


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
