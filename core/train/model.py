"""The image -> point cloud network: a convolutional encoder of the input view and a fully
connected decoder to J x 3 points in the canonical frame, bounded to the unit box
(0.5 tanh), as in the DRWR/DPC papers' networks, small enough to train on a CPU in minutes.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PointNet2D", "build_model"]


def _stage(cin: int, cout: int) -> nn.Sequential:
    """Stride-2 conv, then a conv at the new size; GroupNorm (no batch statistics: the same
    in training and evaluation, any batch size, under DDP) and ReLU after each."""
    g = max(1, min(8, cout // 4))
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.GroupNorm(g, cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.GroupNorm(g, cout),
        nn.ReLU(inplace=True),
    )


class PointNet2D(nn.Module):
    """Encoder (4 stride-2 stages, ``width``·2^k channels) -> ``hidden`` features -> decoder
    (hidden -> hidden -> J·3) -> 0.5·tanh.

    forward: x (B, 3, S, S) float in [0, 1] -> (B, J, 3) points in (-0.5, 0.5)³. The input is
    centred ((x - 0.5) / 0.5) inside the network. The last layer starts with small weights and
    a bias that places the J points uniformly in a ball of radius 0.3, so training starts from
    a spread cloud rather than from J points at one spot.
    """

    def __init__(self, points: int, input_size: int = 64, width: int = 32, hidden: int = 512,
                 seed: int = 0) -> None:
        super().__init__()
        if input_size % 16:
            raise ValueError(f"input_size must be a multiple of 16, got {input_size}")
        self.points = points
        chans = [3] + [width * 2**k for k in range(4)]
        self.encoder = nn.Sequential(*[_stage(a, b) for a, b in zip(chans[:-1], chans[1:])])
        feat = chans[-1] * (input_size // 16) ** 2
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(feat, hidden), nn.ReLU(inplace=True))
        self.decoder = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
                                     nn.Linear(hidden, points * 3))
        g = torch.Generator().manual_seed(seed + 12345)
        d = torch.randn(points, 3, generator=g)
        r = 0.3 * torch.rand(points, 1, generator=g) ** (1 / 3)
        start = r * d / d.norm(dim=1, keepdim=True).clamp_min(1e-6)
        last = self.decoder[-1]
        with torch.no_grad():
            last.weight.mul_(0.1)
            last.bias.copy_(torch.atanh(2 * start).reshape(-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(self.encoder((x - 0.5) / 0.5))
        return 0.5 * torch.tanh(self.decoder(h).view(x.shape[0], self.points, 3))


def build_model(cfg) -> PointNet2D:
    """The network of a TrainConfig (weights seeded by ``cfg.seed``)."""
    torch.manual_seed(cfg.seed)
    return PointNet2D(cfg.points, cfg.input_size, cfg.width, cfg.hidden, cfg.seed)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


