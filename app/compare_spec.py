"""The settings of compare mode's second run: ``compare_config(spec, base) -> config``.

SPEC is comma-separated ``field=value`` overrides of ``base`` (the window's current config),
e.g. ``beta=3,sigma=2`` or ``preset=drwr-paper,points=4000``. Field names are the config's
own (``views_per_step``; ``views-per-step`` and the CLI flag name work too); each value is
read with the field's type (int, float, str, bool) and the result is validated by the
config (ranges and choices), so a bad spec fails before any run starts, with one line naming
the field.

``preset=NAME`` (fits only) swaps the preset under the settings changed from the current
preset: ``base`` at the default preset with 2000 points and ``preset=drwr-paper`` gives the
paper's settings with 2000 points. Plain Python, no Qt.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

__all__ = ["compare_config", "parse_spec", "describe", "SpecError"]


class SpecError(ValueError):
    """A compare SPEC that cannot be applied (one line naming the field and the problem)."""


def _names(config_cls: type) -> dict[str, str]:
    """Accepted spellings -> field name."""
    out: dict[str, str] = {}
    for f in fields(config_cls):
        out[f.name] = f.name
        out[f.name.replace("_", "-")] = f.name
        flag = f.metadata.get("flag")
        if flag:
            out[flag] = f.name
    return out


def parse_spec(spec: str, config_cls: type) -> dict[str, str]:
    """``field -> raw value`` of ``spec`` for ``config_cls``; SpecError on a malformed item, an
    unknown field or a field given twice."""
    names = _names(config_cls)
    items: dict[str, str] = {}
    parts = [p.strip() for p in str(spec).split(",")]
    if not any(parts):
        raise SpecError("give at least one field=value (e.g. beta=3,sigma=2 or "
                        "preset=drwr-paper)")
    for part in parts:
        if not part:
            continue
        key, eq, raw = part.partition("=")
        key, raw = key.strip(), raw.strip()
        if not eq or not key:
            raise SpecError(f"{part!r} is not field=value")
        if key not in names:
            known = ", ".join(f.name for f in fields(config_cls))
            raise SpecError(f"unknown field {key!r}; fields: {known}")
        name = names[key]
        if name in items:
            raise SpecError(f"{name} is given twice")
        if not raw:
            raise SpecError(f"{name} needs a value ({name}=...)")
        items[name] = raw
    return items


def _convert(name: str, raw: str, default: Any) -> Any:
    """``raw`` read as the type of the field's default."""
    kind = type(default)
    if kind is bool:
        low = raw.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise SpecError(f"{name} must be true or false, got {raw!r}")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise SpecError(f"{name} must be an integer, got {raw!r}") from None
    if kind is float:
        try:
            value = float(raw)
        except ValueError:
            raise SpecError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise SpecError(f"{name} must be a finite number, got {raw!r}")
        return value
    return raw


def _changed_from_preset(base: Any) -> dict[str, Any]:
    """The fields of config ``base`` that differ from its own preset's values."""
    start = type(base).from_preset(base.preset)
    return {f.name: getattr(base, f.name) for f in fields(base)
            if f.name != "preset" and getattr(base, f.name) != getattr(start, f.name)}


def compare_config(spec: str, base: Any) -> Any:
    """``base`` (a config dataclass) with the overrides of ``spec`` applied and validated; the
    config of compare mode's second run. SpecError (one line) when the spec is not valid."""
    cls = type(base)
    items = parse_spec(spec, cls)
    defaults = {f.name: getattr(base, f.name) for f in fields(cls)}
    config = base
    preset = items.pop("preset", None)
    if preset is not None:
        presets = getattr(cls, "PRESETS", None)
        if not presets or not hasattr(base, "preset"):
            raise SpecError(f"preset= applies to settings with presets; {cls.__name__} has none")
        if preset not in presets:
            raise SpecError(f"unknown preset {preset!r}; presets: {', '.join(presets)}")
        try:
            config = cls.from_preset(preset, **_changed_from_preset(base))
        except ValueError as exc:
            raise SpecError(str(exc)) from None
    values = {name: _convert(name, raw, defaults[name]) for name, raw in items.items()}
    try:
        return config.replace(**values)
    except (ValueError, TypeError) as exc:
        raise SpecError(str(exc)) from None


def describe(spec: str) -> str:
    """The spec as shown in the window (spaces after commas)."""
    return ", ".join(p.strip() for p in str(spec).split(",") if p.strip())
