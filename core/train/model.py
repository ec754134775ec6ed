"""The image -> point cloud networks: a convolutional encoder of the input view and a fully
connected decoder to J x 3 points in the canonical frame, bounded to the unit box
(0.5 tanh), as in the DRWR/DPC papers' networks. ``compact`` (:class:`PointNet2D`) is small
enough to train on a CPU in minutes; ``paper`` (:class:`PaperNet`) is the papers' own.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["PaperNet", "PointNet2D", "build_model", "build_optimizer"]


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
    (hidden -> hidden -> J·3) -> 0.5·tanh; ``dropout`` > 0 drops the decoder's hidden units
    with that probability in training mode (none in eval mode).

    forward: x (B, 3, S, S) float in [0, 1] -> (B, J, 3) points in (-0.5, 0.5)³. The input is
    centred ((x - 0.5) / 0.5) inside the network. The last layer starts with small weights and
    a bias that places the J points uniformly in a ball of radius 0.3, so training starts from
    a spread cloud rather than from J points at one spot.
    """

    def __init__(self, points: int, input_size: int = 64, width: int = 32, hidden: int = 512,
                 seed: int = 0, dropout: float = 0.0) -> None:
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
        self.dropout = float(dropout)  # applied in forward: the decoder's state keys stay
        g = torch.Generator().manual_seed(seed + 12345)
        d = torch.randn(points, 3, generator=g)
        r = 0.3 * torch.rand(points, 1, generator=g) ** (1 / 3)
        start = r * d / d.norm(dim=1, keepdim=True).clamp_min(1e-6)
        last = self.decoder[-1]
        with torch.no_grad():
            last.weight.mul_(0.1)
            last.bias.copy_(torch.atanh(2 * start).reshape(-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [0, 1] -> (B, hidden) the image's feature (the decoder's input)."""
        return self.fc(self.encoder((x - 0.5) / 0.5))

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """(B, hidden) feature -> (B, J, 3) points in (-0.5, 0.5)³."""
        if self.dropout > 0:
            h = self.decoder[1](self.decoder[0](h))
            h = nn.functional.dropout(h, self.dropout, self.training)
            out = self.decoder[2](h)
        else:
            out = self.decoder(h)
        return 0.5 * torch.tanh(out.view(h.shape[0], self.points, 3))


class PaperNet(nn.Module):
    """The DPC / DRWR network (DPC's dpc/nets/img_encoder.py and pc_decoder.py, which DRWR
    reuses): 5x5 stride-2 convolution to 16 channels, then [3x3 stride 2, 3x3] blocks doubling
    the channels until the map is 4x4 (four blocks, 32..256 channels, at 128²), three fully
    connected layers of ``fc`` (1024), one to J·3, 0.5·tanh; leaky ReLU (slope 0.2), no
    normalisation; He-initialised weights, the last layer N(0, 0.025²) as in DPC.

    forward: x (B, 3, S, S) float in [0, 1] -> (B, J, 3) points in (-0.5, 0.5)³; S a power of
    two >= 16.
    """

    def __init__(self, points: int, input_size: int = 128, fc: int = 1024) -> None:
        super().__init__()
        blocks = int(round(math.log2(input_size / 4))) - 1
        if input_size < 16 or 4 * 2 ** (blocks + 1) != input_size:
            raise ValueError(f"the paper network needs a power-of-two input_size >= 16, got "
                             f"{input_size}")
        self.points = points
        act = lambda: nn.LeakyReLU(0.2, inplace=True)  # noqa: E731
        layers: list[nn.Module] = [nn.Conv2d(3, 16, 5, stride=2, padding=2), act()]
        c = 16
        for _ in range(blocks):
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), act(),
                       nn.Conv2d(2 * c, 2 * c, 3, padding=1), act()]
            c *= 2
        self.encoder = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c * 16, fc), act(), nn.Linear(fc, fc),
                                act(), nn.Linear(fc, fc), act())
        self.out = nn.Linear(fc, points * 3)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, a=0.2)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.out.weight, std=0.025, a=-0.05, b=0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [0, 1] -> (B, fc) the last fully connected layer's output."""
        return self.fc(self.encoder(x * 2 - 1))

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """(B, fc) -> (B, J, 3) points in (-0.5, 0.5)³."""
        return 0.5 * torch.tanh(self.out(h).view(h.shape[0], self.points, 3))


def build_model(cfg) -> nn.Module:
    """The network of a TrainConfig (``cfg.arch``; weights seeded by ``cfg.seed``)."""
    torch.manual_seed(cfg.seed)
    if getattr(cfg, "arch", "compact") == "paper":
        return PaperNet(cfg.points, cfg.input_size)
    return PointNet2D(cfg.points, cfg.input_size, cfg.width, cfg.hidden, cfg.seed,
                      getattr(cfg, "dropout", 0.0))


def build_optimizer(net: nn.Module, cfg) -> torch.optim.Adam:
    """Adam at ``cfg.lr``; with ``cfg.weight_decay`` > 0 an L2 penalty on the weights (not the
    biases or norm gains), ``weight_decay * w`` added to their gradients, as DPC's
    regularisation loss (0.001 x sum w²/2) does."""
    wd = getattr(cfg, "weight_decay", 0.0)
    if wd <= 0:
        return torch.optim.Adam(net.parameters(), lr=cfg.lr)
    ps = list(net.parameters())
    return torch.optim.Adam([{"params": [q for q in ps if q.ndim > 1], "weight_decay": wd},
                             {"params": [q for q in ps if q.ndim <= 1], "weight_decay": 0.0}],
                            lr=cfg.lr)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


