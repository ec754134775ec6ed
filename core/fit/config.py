"""The fit configuration: one dataclass drives the CLI flags and the GUI sliders
(field metadata: see core.params)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.params import JobConfig, live_fields
from core.params import param as _f

__all__ = ["FitConfig", "PRESETS", "apply_preset", "LIVE_FIELDS"]


@dataclass
class FitConfig(JobConfig):
    """Parameters of one single-shape DRWR fit."""

    points: int = _f(2000, "number of points J in the cloud", min=16, max=200_000, log=True,
                     live=False)
    iterations: int = _f(200, "optimisation steps", min=1, max=100_000, log=True, live=True)
    lr: float = _f(1e-4, "Adam learning rate (world units; the object's box diagonal is 1). "
                   "The default start is already on the surface: a small rate only pulls "
                   "stray points back into the masks (Adam's momentum would carry larger "
                   "steps past the surface); the paper preset uses 0.01 from a random box",
                   min=1e-5, max=0.1, log=True, live=True, flag="lr")
    lr_final: float = _f(0.1, "learning rate at the last step, as a fraction of lr (cosine decay)",
                         min=0.0, max=1.0, live=True)
    sil_weight: float = _f(100.0, "λ: weight of the silhouette loss, measured in pixels outside "
                           "the silhouette (see core.drwr.losses)", min=0.1, max=1000.0, log=True,
                           live=True)
    beta: float = _f(0.0, "β: weight of the structure-aware repulsion against the silhouette "
                     "loss (paper: 3)", min=0.0, max=20.0, live=True)
    sigma: float = _f(1.5, "σ: repulsion length scale in pixels of the silhouette image; "
                      "pairs farther than ~4σ do not interact", min=0.25, max=8.0, live=True)
    repulsion: str = _f("auto", "repulsion kernel: 'grid' (particle-mesh: splat, blur, sample; "
                        "cost linear in the points whatever their density, kernel error < 3e-3 of the exact one), "
                        "'cells' (exact pairs within ~4.5σ: fast for sparse clouds, slow for "
                        "dense ones), 'exact' (all pairs, small clouds only) or 'auto' (exact "
                        "for J <= 256, else grid or cells by a cost estimate)",
                        choices=("auto", "grid", "cells", "exact"), live=True)
    R: int = _f(5, "R: number of square neighbourhoods (radius 1..R pixels) averaged into the "
                "boundary bias δ; fewer = sharper boundary (paper: 5)", min=1, max=10, live=True,
                flag="R")
    views_per_step: int = _f(0, "views used per step (0 = all)", min=0, max=200, live=True)
    surface_weight: float = _f(0.0, "μ: pull towards the visual hull's surface, (h - level)² "
                               "in pixels² (0 = off, the paper's volume-filling DRWR)", min=0.0,
                               max=100.0, live=True)
    spread_weight: float = _f(0.0, "ν: 3-D repulsion among nearest neighbours for even density "
                              "on the surface (0 = off)", min=0.0, max=100.0, live=True)
    surface_level: float = _f(0.5, "level of the visual hull's surface, in pixels inside the "
                              "mask edges, that 'surface' init starts on and μ pulls to: larger "
                              "shrinks the hull more (helps with few views), smaller stays "
                              "closer to the silhouettes (helps with many views)", min=0.0,
                              max=2.0, live=False)
    surface_correction: str = _f(
        "learned", "'surface' init: move the hull-surface samples along their normals by a "
        "depth learned on random assemblies of primitives (flattens the hull's lenses onto "
        "thin seats and wings, moves tight parts out to the rims; where the prior is unsure "
        "the sample stays on the hull; core.correction.depth) or 'off' (the plain hull "
        "surface)", choices=("learned", "off"), live=False)
    snap: str = _f("on", "move every point outside a mask to the nearest point inside every "
                   "mask: the 'surface' start's samples before they are thinned, and all "
                   "points after the last iteration (core.hull.snap)",
                   choices=("on", "off"), live=True)
    init: str = _f("surface", "initialisation: 'surface' (evenly on the visual hull's surface), "
                   "'hull' (uniform inside the hull) or 'box' (uniform in the box the cameras "
                   "share, as in the paper)", choices=("surface", "hull", "box"), live=False)
    seed: int = _f(0, "random seed (initial points, view sampling)", min=0, max=2**31 - 1,
                   live=False)
    device: str = _f("auto", "compute device: auto (CUDA when present), cpu or cuda",
                     choices=("auto", "cpu", "cuda"), live=False)
    preset: str = _f("default", "named preset the other values started from",
                     choices=("default", "drwr-paper"), live=False)


LIVE_FIELDS = live_fields(FitConfig)

#: Named starting points. ``default``: points spread evenly (farthest-point sampling) on the
#: visual hull's surface, then DRWR's silhouette loss pulls any point outside a mask back in;
#: repulsion off (β = 0), because on a surface cloud it costs accuracy (see README, Accuracy).
#: ``drwr-paper`` follows the paper: uniform start in the box, β = 3, R = 5, 1500 steps.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "drwr-paper": {"init": "box", "beta": 3.0, "R": 5, "surface_weight": 0.0,
                   "spread_weight": 0.0, "iterations": 1500, "lr": 0.01, "snap": "off"},
}


FitConfig.PRESETS = PRESETS


def apply_preset(name: str, **overrides: Any) -> FitConfig:
    """FitConfig of preset ``name`` with ``overrides`` (None values ignored)."""
    return FitConfig.from_preset(name, **overrides)
