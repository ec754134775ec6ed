"""Build argparse flags from a job's config dataclass (one config for CLI and GUI):
FitConfig by default, any other JobConfig class when given; ``--preset`` for a class with
presets (``PRESETS`` and a ``preset`` field, core.params)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from core.fit.config import FitConfig

__all__ = ["add_config_flags", "config_from_args", "explicit_values"]


def _flag(name: str, meta: dict[str, Any]) -> str:
    return "--" + meta.get("flag", name.replace("_", "-"))


def add_config_flags(parser: argparse.ArgumentParser, skip: tuple[str, ...] = (),
                     config_cls: type = FitConfig, title: str = "fit parameters") -> None:
    """One flag per field of ``config_cls``; defaults None so presets (or a resumed run's
    config) can fill them."""
    g = parser.add_argument_group(title)
    for f in fields(config_cls):
        if f.name in skip:
            continue
        meta = dict(f.metadata)
        kw: dict[str, Any] = {"dest": f.name, "default": None}
        presets = getattr(config_cls, "PRESETS", {})
        if f.name == "preset" and presets:
            kw["choices"] = list(presets)
            help_ = (f"start from a named preset ({', '.join(presets)}; default: default); "
                     "flags given override its values")
        elif isinstance(f.default, bool):  # a switch: --no-NAME turns a default-on field off
            kw.update(action="store_const", const=not f.default)
            state = "on by default; this flag turns it off" if f.default else "off by default"
            help_ = f"{meta['help']} ({state})"
        else:
            help_ = f"{meta['help']} (default: {f.default})"
            if "choices" in meta:
                kw["choices"] = list(meta["choices"])
            else:
                kw["type"] = type(f.default)
                kw["metavar"] = f.name.upper()
        g.add_argument(_flag(f.name, meta), help=help_, **kw)


def explicit_values(args: argparse.Namespace, config_cls: type) -> dict[str, Any]:
    """The fields of ``config_cls`` given on the command line (not None)."""
    return {f.name: getattr(args, f.name) for f in fields(config_cls)
            if getattr(args, f.name, None) is not None}


def config_from_args(args: argparse.Namespace, config_cls: type = FitConfig) -> Any:
    """The config from parsed flags: from the preset given (else "default"), then the explicit
    flags, for a class with presets; else from the defaults and the explicit flags
    (validated)."""
    values = explicit_values(args, config_cls)
    if getattr(config_cls, "PRESETS", {}) and "preset" in {f.name for f in fields(config_cls)}:
        name = values.pop("preset", None) or "default"
        return config_cls.from_preset(name, **values)
    cfg = config_cls(**values)
    cfg.validate()
    return cfg
