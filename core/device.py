"""Which torch device a job runs on: one rule for fitting, training and prediction."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """'auto' -> CUDA (device ``local_rank``, wrapped to the devices present) when present,
    else CPU; 'cpu', 'cuda' or any torch device name as given. ValueError for 'cuda' without
    CUDA."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda asked for, but this torch has no CUDA device")
        return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    return torch.device(name)
