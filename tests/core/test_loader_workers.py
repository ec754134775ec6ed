"""DataLoader worker processes are ended on request and at exit (core.train.loader_workers)."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from core.train import loader_workers
from core.train.resume import ignore_stop_signals


def test_end_stops_the_workers_and_accepts_none() -> None:
    loader = DataLoader(torch.arange(8.0), batch_size=2, num_workers=2,
                        worker_init_fn=ignore_stop_signals)
    it = loader_workers.start(loader)
    assert next(it).shape == (2,)
    assert loader_workers.live() == 1 and len(multiprocessing.active_children()) == 2
    loader_workers.end(it)
    assert loader_workers.live() == 0 and multiprocessing.active_children() == []
    loader_workers.end(None)
    loader_workers.end(iter(DataLoader(torch.arange(4.0))))  # no worker processes


_KEPT = """
import torch
from torch.utils.data import DataLoader
from core.train import loader_workers
from core.train.resume import ignore_stop_signals
loader = DataLoader(torch.arange(8.0), batch_size=2, num_workers=2,
                    worker_init_fn=ignore_stop_signals)
kept = loader_workers.start(loader)
next(kept)
print("exiting with the iterator alive")
"""


def test_a_process_that_keeps_an_iterator_still_exits() -> None:
    """Workers ignore SIGTERM: without the exit handler, multiprocessing's would wait forever."""
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-c", _KEPT], cwd=root, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "exiting with the iterator alive" in res.stdout
