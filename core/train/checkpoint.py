"""Training checkpoints: plain dicts of tensors and Python values, so that
``torch.load(path, weights_only=True)`` reads them.

Keys: ``format`` ("drwr-train-checkpoint"), ``version`` (1), ``model`` (state dict),
``optimizer`` (state dict), ``iteration``, ``elapsed`` (training seconds so far), ``config``
(TrainConfig as a dict), ``rng`` ({"torch": ByteTensor, "cuda": [ByteTensor...]}),
``best_cd``, ``info`` (dict: dataset path, image size, input kind, val split, world size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from core.io.atomic import atomic_write

__all__ = [
    "CHECKPOINT_FORMAT",
    "read_checkpoint",
    "rng_state",
    "set_rng_state",
    "write_checkpoint",
]

CHECKPOINT_FORMAT = "drwr-train-checkpoint"


def rng_state() -> dict[str, Any]:
    """The torch RNG states (CPU and every CUDA device) as tensors."""
    st: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _save(obj: dict[str, Any], tmp: Path) -> None:
    with open(tmp, "wb") as fh:  # a Python file: a full disk is an OSError (ENOSPC), not
        torch.save(obj, fh)      # the RuntimeError torch's own writer raises for it


def write_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` atomically (core.io.atomic.atomic_write: a unique temporary file, then
    rename). On failure (a full disk...) no temporary file is left and the OSError names
    ``path``; the previous checkpoint there is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    obj = {"format": CHECKPOINT_FORMAT, "version": 1, **state}
    return atomic_write(path, lambda tmp: _save(obj, tmp))


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint with ``weights_only=True``; ValueError naming the file when it is not
    one (missing, unreadable, another format)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        ck = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many kinds for foreign/corrupt files
        raise ValueError(f"{path}: not a readable checkpoint ({exc.__class__.__name__})") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a DRWR Studio training checkpoint")
    return ck
