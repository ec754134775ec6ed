"""The evaluation shape sets, in one place that training and tuning code cannot import
(an import-linter contract in pyproject.toml forbids it to core.train, core.correction and
everything below them).

- ``HELDOUT_SHAPES`` (:mod:`.heldout_shapes`): table, lamp, mug, bunny_like, helix, stool;
- ``NOVEL_SHAPES`` (:mod:`.novel_shapes`): categories unlike the demo shapes and the
  learned correction's training objects;
- ``DEV_SHAPES`` (:mod:`.dev_shapes`): a development set on which settings may be chosen.

:func:`named_mesh` builds any demo or held-out/novel shape by name (what ``make-scene NAME``
accepts).
"""

from __future__ import annotations

from pathlib import Path

import trimesh

from core.geometry.shapes import SHAPES, get_shape

from .dev_shapes import DEV_SHAPES, get_dev_shape
from .heldout_shapes import HELDOUT_SHAPES, get_heldout_shape
from .novel_shapes import NOVEL_SHAPES, get_novel_shape

__all__ = ["HELDOUT_SHAPES", "NOVEL_SHAPES", "DEV_SHAPES", "EVAL_NAMES", "get_dev_shape",
           "get_heldout_shape", "get_novel_shape", "named_mesh", "shape_names"]

#: every name of the three evaluation sets
EVAL_NAMES = (*HELDOUT_SHAPES, *NOVEL_SHAPES, *DEV_SHAPES)


def shape_names() -> list[str]:
    """The names ``make-scene`` accepts: demo shapes, held-out and novel shapes."""
    return [*SHAPES, *HELDOUT_SHAPES, *NOVEL_SHAPES]


def named_mesh(source: str | Path | trimesh.Trimesh) -> str | Path | trimesh.Trimesh:
    """``source`` as core.io.mesh_scene.make_scene takes it: a held-out or novel shape name
    becomes its mesh (named), anything else (a demo name, a path, a mesh) is passed on."""
    if isinstance(source, str) and source in HELDOUT_SHAPES:
        return get_heldout_shape(source)
    if isinstance(source, str) and source in NOVEL_SHAPES:
        return get_novel_shape(source)
    if isinstance(source, str) and source in SHAPES:
        mesh = get_shape(source)
        mesh.metadata["name"] = source
        return mesh
    return source
