"""The bundled demo scene: the procedural chair, 8 views at 64x64 (built in code, cached)."""

from __future__ import annotations

import copy
from functools import lru_cache

from core.io.mesh_scene import make_scene
from core.io.scene import Scene

__all__ = ["demo_scene"]


@lru_cache(maxsize=1)
def _cached() -> Scene:
    return make_scene("chair", views=8, res=64, gt_points=20000, seed=0)


def demo_scene() -> Scene:
    """A fresh copy of the demo scene ("chair", 8 fibonacci views, 64x64, 20000 GT points).

    Built once per process; callers may modify the returned scene freely.
    """
    return copy.deepcopy(_cached())
