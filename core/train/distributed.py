"""torchrun / DistributedDataParallel set-up; the same code runs as one plain process.

Under ``torchrun --nproc_per_node=N`` the environment holds RANK, WORLD_SIZE and LOCAL_RANK:
:func:`init_distributed` then joins the process group (NCCL when the device is CUDA, gloo on
CPU) and picks ``cuda:LOCAL_RANK`` on GPUs. Without them it is a single process (rank 0 of 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.device import resolve_device

__all__ = ["DistInfo", "init_distributed", "shutdown", "wait_for_all"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device_name: str) -> tuple[DistInfo, torch.device]:
    """Join the torchrun process group when WORLD_SIZE > 1; returns (info, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local)
    info = DistInfo(rank, world, local)
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return info, device


def wait_for_all() -> None:
    """Barrier: every rank waits until all have finished (no-op for a single process). Called
    on normal completion before leaving the group, so no rank tears gloo down while another
    still validates or writes (a rank that left first could abort with std::terminate)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    """Leave the process group (no-op for a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
