"""One training object's per-view maps, made from its scene alone (so any process can make
them, in any order, with the same numbers), and the cheap look at an object that a training
store needs before any map is made (view count, image size, whether it has images).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.drwr.silhouette import boundary_bias, signed_distance
from core.io.dataset import DrwrDataset
from core.io.scene import SceneError, load_json
from core.train.view_inputs import input_image, loss_grid

__all__ = ["FG_SAMPLES", "FG_SEED", "fg_samples", "object_maps", "object_summary"]

#: silhouette pixel samples kept per view for the coverage term
FG_SAMPLES = 512
#: object k's samples come from ``numpy.random.default_rng((FG_SEED, k))``
FG_SEED = 0


def object_maps(ds: DrwrDataset, oid: str, S: int, R: int, loss_size: int,
                keep_gt: bool) -> dict[str, Any]:
    """The arrays of object ``oid`` (its I views): ``inputs`` (I, 3, S, S) uint8, ``K``,
    ``R`` (I, 3, 3) / ``t`` (I, 3) float32, ``sd`` (I, H, W) float32, ``mask`` (I, H, W)
    uint8, ``bias`` (I, H, W) float32 (δ for ``R``), plus ``res`` (the masks' (H, W) before
    the loss grid), ``name``, ``has_images``, ``gt`` (the ground truth when ``keep_gt``).
    SceneError naming the file when the scene is unreadable or a mask is empty on the grid."""
    s = ds.scene(oid)
    n = s.n_views
    masks, K = loss_grid(s.masks, s.K, loss_size)
    for i, m in enumerate(masks):
        if not m.any():
            raise SceneError(f"{s.path or oid}: view {i}'s mask is empty on the "
                             f"{m.shape[1]}x{m.shape[0]} loss grid (a larger --loss-size "
                             "keeps it)")
    for k, im in enumerate(s.images or []):
        if np.shape(im)[:2] != s.resolution:
            raise SceneError(f"{s.path or oid}: image {k} is {np.shape(im)[1]}x"
                             f"{np.shape(im)[0]}, its mask {s.resolution[1]}x{s.resolution[0]}")
    return {"res": s.resolution, "name": s.path or s.name, "has_images": s.images is not None,
            "inputs": np.stack([input_image(s, i, (S, S)).transpose(2, 0, 1) for i in range(n)]),
            "K": np.asarray(K, np.float32), "R": np.asarray(s.R, np.float32),
            "t": np.asarray(s.t, np.float32), "sd": signed_distance(masks),
            "mask": np.asarray(masks, np.uint8), "bias": boundary_bias(masks, R),
            "gt": s.gt_points if keep_gt else None}


def fg_samples(mask: np.ndarray, k: int) -> tuple[np.ndarray, np.random.Generator]:
    """(I, FG_SAMPLES, 2) float32 pixel centres (u, v) drawn uniformly from each of object
    ``k``'s masks (I, H, W), and the generator ``default_rng((FG_SEED, k))`` after them."""
    rng = np.random.default_rng((FG_SEED, k))
    fg = np.zeros((len(mask), FG_SAMPLES, 2), np.float32)
    width = mask.shape[2]
    for i, m in enumerate(mask):
        on = np.flatnonzero(m != 0)  # row-major, as np.nonzero's (row, col)
        rr, cc = np.divmod(on[rng.integers(len(on), size=FG_SAMPLES)], width)
        fg[i, :, 0], fg[i, :, 1] = cc, rr
    return fg, rng


def object_summary(ds: DrwrDataset, oid: str) -> dict[str, Any]:
    """``n`` views, ``res`` (H, W) of the first mask, ``has_images``, ``name`` of object
    ``oid``: from its scene.json and the first mask's header when it is a drwr-scene folder,
    else (another layout, or a scene.json this cannot read) from the whole scene."""
    folder = Path(ds.root) / oid
    if ds.loader is None:
        try:
            views = load_json(folder / "scene.json")["views"]
            with Image.open(folder / str(views[0]["mask"])) as im:
                res = (int(im.size[1]), int(im.size[0]))
            return {"n": len(views), "res": res, "name": folder,
                    "has_images": all(bool(v.get("image")) for v in views)}
        except (OSError, ValueError, SceneError, LookupError, TypeError, AttributeError):
            pass  # the full read names the problem
    s = ds.scene(oid)
    return {"n": s.n_views, "res": s.resolution, "name": s.path or s.name,
            "has_images": s.images is not None}
