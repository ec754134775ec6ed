"""The parameter panel's description of a config dataclass: one plain dict per field, from
the field metadata (``core.params.param``) that also makes the CLI flags."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

__all__ = ["param_specs", "HIDDEN_FIELDS", "LABELS"]

HIDDEN_FIELDS = ("preset",)  # not a control: the panel edits the values themselves
LABELS = {"lr": "learning rate", "lr_final": "final lr fraction", "beta": "β", "sigma": "σ",
          "views_per_step": "views per step", "points": "points J", "sil_weight": "λ silhouette",
          "surface_weight": "μ hull surface", "spread_weight": "ν 3-D spread",
          "surface_level": "hull level (px)", "snap": "snap inside at end",
          "cover_weight": "coverage weight", "views_per_object": "views per object",
          "batch_size": "batch size", "input_size": "input size", "val_every": "validate every",
          "val_objects": "validation objects", "minutes": "minutes limit", "arch": "network",
          "loss_size": "loss grid (px)", "weight_decay": "weight decay"}


def param_specs(config: Any = None, config_cls: type | None = None) -> list[dict[str, Any]]:
    """Plain dicts (name, label, help, min, max, log, live, choices, default, kind) for the
    parameter panel, from the field metadata (``core.params.param``) of a config dataclass:
    ``config``'s class, else ``config_cls``, else FitConfig; defaults from ``config``."""
    if config_cls is None:
        if config is not None:
            config_cls = type(config)
        else:
            from core.fit.config import FitConfig

            config_cls = FitConfig
    cfg = config if config is not None else config_cls()
    out = []
    for f in fields(config_cls):
        if f.name in HIDDEN_FIELDS:
            continue
        m = dict(f.metadata)
        v = getattr(cfg, f.name)
        spec = {"name": f.name, "label": LABELS.get(f.name, f.name), "help": m.get("help", ""),
                "live": bool(m.get("live")), "default": v,
                "kind": "bool" if isinstance(v, bool) else
                "int" if isinstance(v, int) else type(v).__name__}
        for k in ("min", "max", "log", "choices"):
            if k in m:
                spec[k] = m[k]
        out.append(spec)
    return out
