"""Build argparse flags from the FitConfig dataclass (one config for CLI and GUI)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from core.fit.config import PRESETS, FitConfig, apply_preset

__all__ = ["add_config_flags", "config_from_args"]


def _flag(name: str, meta: dict[str, Any]) -> str:
    return "--" + meta.get("flag", name.replace("_", "-"))


def add_config_flags(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One flag per FitConfig field; defaults None so presets can fill them."""
    g = parser.add_argument_group("fit parameters")
    for f in fields(FitConfig):
        if f.name in skip:
            continue
        meta = dict(f.metadata)
        kw: dict[str, Any] = {"dest": f.name, "default": None}
        if f.name == "preset":
            kw["choices"] = list(PRESETS)
            help_ = f"start from a named preset ({', '.join(PRESETS)}; default: default)"
        else:
            help_ = f"{meta['help']} (default: {f.default})"
            if "choices" in meta:
                kw["choices"] = list(meta["choices"])
            else:
                kw["type"] = type(f.default)
                kw["metavar"] = f.name.upper()
        g.add_argument(_flag(f.name, meta), help=help_, **kw)


def config_from_args(args: argparse.Namespace) -> FitConfig:
    """FitConfig from parsed flags (preset first, then explicit flags)."""
    values = {f.name: getattr(args, f.name, None) for f in fields(FitConfig) if f.name != "preset"}
    return apply_preset(getattr(args, "preset", None) or "default", **values)
