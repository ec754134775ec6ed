"""What one view contributes before any map is made: the network's input image of a view,
and the silhouettes and cameras brought down to the grid the DRWR terms use."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.io.scene import Scene, SceneError

__all__ = ["input_image", "loss_grid", "loss_grid_size"]


def input_image(scene: Scene, view: int, size: tuple[int, int]) -> np.ndarray:
    """(H', W', 3) uint8 network input of ``view`` at ``size`` = (H', W').

    The view's image when the scene has images (RGBA composited on white), else its mask
    (foreground 255) repeated to 3 channels; resized with bilinear antialiasing.
    """
    if not 0 <= view < scene.n_views:
        raise SceneError(f"{scene.name}: view {view} does not exist ({scene.n_views} views)")
    if scene.images is not None:
        img = np.asarray(scene.images[view])
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, -1)
        if img.shape[-1] == 4:
            a = img[..., 3:4].astype(np.float32) / 255.0
            img = (img[..., :3] * a + 255.0 * (1 - a)).round().astype(np.uint8)
        img = img[..., :3].astype(np.uint8)
    else:
        img = np.repeat(scene.masks[view][..., None].astype(np.uint8) * 255, 3, -1)
    H, W = size
    if img.shape[:2] != (H, W):
        img = np.asarray(Image.fromarray(img).resize((W, H), Image.BILINEAR))
    return img


def loss_grid_size(size: tuple[int, int], side: int) -> tuple[int, int]:
    """(H', W') of :func:`loss_grid` for masks of ``size`` (H, W)."""
    H, W = size
    if not side or side >= max(H, W):
        return H, W
    return max(1, round(H * side / max(H, W))), max(1, round(W * side / max(H, W)))


def loss_grid(masks: np.ndarray, K: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks (I, H, W) bool and intrinsics K (I, 3, 3) brought down to longest side ``side``
    (no change when ``side`` is 0 or not smaller): masks area-averaged then ``>= 0.5``, K
    rescaled about pixel centres (``u' = (u + 0.5) s - 0.5``), as the dataset readers
    resize. Returns (masks (I, H', W') bool, K (I, 3, 3))."""
    H, W = masks.shape[1:]
    if not side or side >= max(H, W):
        return masks, K
    H2, W2 = loss_grid_size((H, W), side)
    sx, sy = W2 / W, H2 / H
    small = np.stack([np.asarray(Image.fromarray(m.astype(np.float32)).resize((W2, H2),
                                                                               Image.BOX))
                      for m in masks]) >= 0.5
    A = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return small, A @ K
