"""Open whatever the user points at as a :class:`Scene`.

A ``drwr-scene`` folder (scene.json) is read directly; other dataset layouts are detected from
the folder's contents by :mod:`core.formats` when present.
"""

from __future__ import annotations

from pathlib import Path

from core.io.scene import Scene, SceneError, read_scene

__all__ = ["load_scene"]


def load_scene(path: str | Path, res: int | None = None, views: list[int] | None = None,
               max_views: int | None = None, fmt: str | None = None) -> Scene:
    """Read a scene from ``path``; optionally keep a subset of views.

    ``res`` (working resolution) and ``fmt`` (force a dataset format, see core.formats) apply
    to dataset folders only. Raises SceneError naming the file and problem.
    """
    p = Path(path)
    if not p.exists():
        raise SceneError(f"{p}: no such file or folder")
    is_native = (p / "scene.json").is_file() or p.name == "scene.json"
    if fmt is None and not is_native and ((p / "dataset.json").is_file()
                                          or p.name == "dataset.json"):
        root = p if p.is_dir() else p.parent
        objects = sorted(q.name for q in root.iterdir() if (q / "scene.json").is_file())
        example = f" (e.g. {root / objects[0]})" if objects else ""
        raise SceneError(f"{p}: is a drwr-dataset (many objects), not a scene: open it with "
                         f"--dataset (the window's training mode) or `train`, or give one "
                         f"object's folder{example}")
    if fmt == "drwr-scene" or (fmt is None and is_native):
        scene = read_scene(p)
    else:
        from core.formats import detect_and_load

        # datasets read only the selected views (and normalise with them)
        return detect_and_load(p, res=res, fmt=fmt, views=views, max_views=max_views)
    if views is not None:
        scene = scene.subset(views)
    elif max_views is not None and max_views < scene.n_views:
        scene = scene.subset(list(range(max_views)))
    return scene
