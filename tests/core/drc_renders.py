"""Renders written the way DRC's Blender renderer writes them (the renders DPC trains on), for
the DPC reader tests. Written from the renderer's definitions, not from the reader:

- the ShapeNet OBJ is imported with Blender's default axes (forward -Z, up Y): OBJ +Y becomes
  Blender +Z and OBJ -Z becomes Blender +Y, so ``x_blender = OBJ_TO_BLENDER @ x_obj``;
- the camera sits at ``pos`` = (rho cos(az) cos(el), rho sin(az) cos(el), rho sin(el)) in
  Blender's world and looks at the origin, upright (no in-plane turn): the image's right is
  ``forward x up`` with up = Blender +Z;
- ``camera_<i>.mat`` holds ``pos`` and ``extrinsic``, the 4x4 world (Blender) -> camera matrix
  in computer-vision axes (x right, y down, z forward);
- ``render_<i>.png`` is RGBA, row 0 the top of the picture, alpha the object's silhouette.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from core.geometry.rasterize import render_silhouettes

#: columns: where OBJ's +X, +Y, +Z go in Blender's world
OBJ_TO_BLENDER = np.stack([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]], axis=1)
FOCAL = 60.0 / 32.0  # the renderer's 60 mm lens on a 32 mm sensor, in image widths


def campos(rho: float, azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Camera position (3,) in Blender's world, as the renderer places it."""
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    return rho * np.array([math.cos(a) * math.cos(e), math.sin(a) * math.cos(e), math.sin(e)])


def extrinsic(pos: np.ndarray) -> np.ndarray:
    """(4, 4) Blender world -> camera (x right, y down, z forward) of a camera at ``pos``
    looking at the origin, upright."""
    fwd = -pos / np.linalg.norm(pos)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    E = np.eye(4)
    E[:3, :3] = np.stack([right, down, fwd])
    E[:3, 3] = -E[:3, :3] @ pos
    return E


def write_render_folder(folder: Path, vertices: np.ndarray, faces: np.ndarray,
                        poses: list[tuple[float, float, float]], W: int,
                        colour: tuple[int, int, int] = (200, 90, 40),
                        with_extrinsic: bool = True) -> dict[str, np.ndarray]:
    """Render the mesh (vertices in the OBJ frame) from ``poses`` [(rho, azimuth, elevation)]
    into ``folder`` as render_<i>.png + camera_<i>.mat. Returns the cameras in the OBJ frame
    (OpenCV axes) ``K`` (3, 3), ``R`` (n, 3, 3), ``t`` (n, 3) and the ``masks`` (n, W, W)."""
    folder.mkdir(parents=True, exist_ok=True)
    K = np.array([[FOCAL * W, 0, (W - 1) / 2], [0, FOCAL * W, (W - 1) / 2], [0, 0, 1.0]])
    Es = [extrinsic(campos(*p)) for p in poses]
    n = len(Es)
    vb = np.asarray(vertices, np.float64) @ OBJ_TO_BLENDER.T  # the imported mesh
    Rb = np.stack([E[:3, :3] for E in Es])
    tb = np.stack([E[:3, 3] for E in Es])
    masks = render_silhouettes(vb, faces, np.repeat(K[None], n, 0), Rb, tb, W, W)
    for i, (E, p) in enumerate(zip(Es, poses)):
        img = np.zeros((W, W, 4), np.uint8)
        img[..., :3] = colour
        img[..., 3] = masks[i] * 255
        Image.fromarray(img, "RGBA").save(folder / f"render_{i}.png")
        cam = {"pos": campos(*p)[None]}  # scipy stores a (1, 3) row
        if with_extrinsic:
            cam["extrinsic"] = E
        scipy.io.savemat(folder / f"camera_{i}.mat", cam)
    return {"K": K, "R": Rb @ OBJ_TO_BLENDER, "t": tb, "masks": masks}
