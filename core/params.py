"""Config dataclasses that drive both the CLI flags and the GUI controls.

A job's config (``FitConfig``, ``TrainConfig``) is a dataclass deriving from
:class:`JobConfig` whose fields are declared with :func:`param`. Every field carries
``metadata`` with ``help`` (text for ``--help`` and tooltips), and for numbers ``min``/``max``
(slider range), optional ``log`` (log-scaled slider), ``choices`` (a combobox), ``live`` (may
change while a job runs; otherwise applies on Reset) and ``flag`` (CLI flag name when it
differs from ``--field-name``).

A config class may name starting points in ``PRESETS`` (preset name -> field values, with a
``"default"`` entry) and carry a ``preset`` field recording which one its values started
from; :meth:`JobConfig.from_preset` builds one, and the CLI offers ``--preset``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import fields
from typing import Any, ClassVar, TypeVar

__all__ = ["param", "JobConfig", "live_fields"]

C = TypeVar("C", bound="JobConfig")


def param(default: Any, help: str, **meta: Any) -> Any:
    """A dataclass field with CLI/GUI metadata (see the module docstring)."""
    return dataclasses.field(default=default, metadata={"help": help, **meta})


def live_fields(cls: type) -> tuple[str, ...]:
    """Names of the fields of config class ``cls`` that may change while a job runs."""
    return tuple(f.name for f in fields(cls) if f.metadata.get("live"))


class JobConfig:
    """Mixin for config dataclasses: validated copies, range checks from the metadata and
    named presets."""

    #: preset name -> field values (set by subclasses that have presets)
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def from_preset(cls: type[C], name: str, **overrides: Any) -> C:
        """The config of preset ``name`` with ``overrides`` (None values ignored), validated.
        ValueError naming the presets when ``name`` is not one."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(cls.PRESETS)}")
        vals = {**cls.PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
        cfg = cls(preset=name, **vals)  # type: ignore[call-arg]
        cfg.validate()
        return cfg

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` validated and applied."""
        new = dataclasses.replace(self, **changes)  # type: ignore[type-var]
        new.validate()
        return new

    def validate(self) -> None:
        """Raise ValueError naming the field when a value is out of range or not a choice."""
        for f in fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            m = f.metadata
            if "choices" in m and v not in m["choices"]:
                raise ValueError(f"{f.name} must be one of {m['choices']}, got {v!r}")
            if "min" in m and not (m["min"] <= v <= m["max"]):
                raise ValueError(f"{f.name} must be in [{m['min']}, {m['max']}], got {v!r}")
