"""Pinhole cameras in the OpenCV convention of the ``drwr-scene`` format.

World -> camera: ``x_cam = R @ x_world + t``; the camera looks along +z, x right, y down.
Pixels: ``u = fx*x/z + s*y/z + cx``, ``v = fy*y/z + cy``; the centre of pixel (0, 0) is at
``u = v = 0``, so a W-pixel-wide image spans ``u in [-0.5, W - 0.5]``.

Shapes: I views, J points. ``K (I,3,3)``, ``R (I,3,3)``, ``t (I,3)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "frusta_segments",
    "project",
    "project_np",
    "look_at",
    "intrinsics",
    "view_directions",
    "make_cameras",
    "camera_centers",
    "pixel_sizes",
    "LAYOUTS",
]

LAYOUTS = ("fibonacci", "ring", "random", "upper")
UPPER_MIN_ELEVATION = 10.0  # degrees: the lowest camera of the "upper" layout
MAX_RADIUS = 1e6  # farthest camera distance make_cameras places (float precision)


def project(
    points: torch.Tensor, K: torch.Tensor, R: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Project points into every view.

    Args:
        points: (J, 3) world points seen by every view, or (I, J, 3): one row of points per
            view (a batch of objects, each in its own views).
        K: (I, 3, 3) intrinsics.  R: (I, 3, 3) rotations.  t: (I, 3) translations.

    Returns:
        uv: (I, J, 2) pixel coordinates (u = column, v = row; pixel (0,0) centre at 0,0).
        depth: (I, J) camera-space z.
    """
    if points.ndim not in (2, 3) or points.shape[-1] != 3:
        raise ValueError(f"points must be (J, 3) or (I, J, 3), got {tuple(points.shape)}")
    if K.shape[-2:] != (3, 3) or R.shape[-2:] != (3, 3) or t.shape[-1] != 3:
        raise ValueError("K and R must be (I, 3, 3) and t (I, 3)")
    if points.ndim == 3 and points.shape[0] != R.shape[0]:
        raise ValueError(f"per-view points (I, J, 3) need I = {R.shape[0]} rows, got "
                         f"{points.shape[0]}")
    eq = "iab,jb->ija" if points.ndim == 2 else "iab,ijb->ija"
    cam = torch.einsum(eq, R, points) + t[:, None, :]  # (I, J, 3)
    z = cam[..., 2]
    zs = torch.where(z.abs() < 1e-8, torch.full_like(z, 1e-8), z)
    x = cam[..., 0] / zs
    y = cam[..., 1] / zs
    u = K[:, 0, 0, None] * x + K[:, 0, 1, None] * y + K[:, 0, 2, None]
    v = K[:, 1, 1, None] * y + K[:, 1, 2, None]
    return torch.stack([u, v], dim=-1), z


def project_np(
    points: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """NumPy version of :func:`project`; same shapes, float64."""
    # np.array copies: the inputs may be read-only views (torch warns on those)
    uv, z = project(
        torch.from_numpy(np.array(points, np.float64)),
        torch.from_numpy(np.array(K, np.float64)),
        torch.from_numpy(np.array(R, np.float64)),
        torch.from_numpy(np.array(t, np.float64)),
    )
    return uv.numpy(), z.numpy()


def pixel_sizes(z: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(I, N) world size of one pixel at depths z (I, N) (from :func:`project_np`) in the views
    with intrinsics K (I, 3, 3): depth over the geometric-mean focal length (depths clamped to
    1e-9)."""
    return np.maximum(z, 1e-9) / np.sqrt(K[:, 0, 0] * K[:, 1, 1])[:, None]


def camera_centers(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """World positions of the camera centres, (I, 3): ``C = -R^T t``."""
    return -np.einsum("iba,ib->ia", np.asarray(R), np.asarray(t))


def look_at(
    eye: np.ndarray, target: np.ndarray | None = None, up: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """World->camera (R (3,3), t (3,)) of a camera at ``eye`` looking at ``target``.

    ``up`` is the world direction that appears upwards in the image (default +z; +y when the
    view direction is parallel to z).
    """
    eye = np.asarray(eye, np.float64)
    target = np.zeros(3) if target is None else np.asarray(target, np.float64)
    fwd = target - eye
    n = np.linalg.norm(fwd)
    if n < 1e-12:
        raise ValueError("eye and target coincide")
    fwd /= n
    up = np.array([0.0, 0.0, 1.0]) if up is None else np.asarray(up, np.float64)
    if abs(np.dot(up, fwd)) > 0.999:
        up = np.array([0.0, 1.0, 0.0])
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    R = np.stack([right, down, fwd])  # rows: camera x, y, z axes in world coordinates
    t = -R @ eye
    return R, t


def intrinsics(res: int, fov_deg: float) -> np.ndarray:
    """K (3,3) of a square ``res``-pixel image with horizontal field of view ``fov_deg``
    (0 < fov_deg < 180; ValueError otherwise)."""
    if not (math.isfinite(fov_deg) and 0 < fov_deg < 180):
        raise ValueError(f"fov_deg must be in (0, 180) degrees, got {fov_deg}")
    f = 0.5 * res / math.tan(math.radians(fov_deg) / 2)
    c = (res - 1) / 2.0
    return np.array([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]])


def view_directions(n: int, layout: str = "fibonacci", seed: int = 0) -> np.ndarray:
    """Unit directions from the object to the cameras, (n, 3).

    fibonacci: evenly over the sphere; ring: around the equator at 20 degrees elevation,
    alternating +-; random: uniform on the sphere (seeded); upper: uniform on the upper
    hemisphere above ``UPPER_MIN_ELEVATION`` degrees (seeded; cameras only from above, as when
    an object stands on a table).
    """
    if n < 1:
        raise ValueError("need at least one view")
    if layout == "fibonacci":
        i = np.arange(n) + 0.5
        z = 1 - 2 * i / n
        phi = math.pi * (3 - math.sqrt(5)) * i
        r = np.sqrt(1 - z * z)
        d = np.stack([r * np.cos(phi), r * np.sin(phi), z], 1)
    elif layout == "ring":
        az = 2 * math.pi * np.arange(n) / n
        el = np.radians(np.where(np.arange(n) % 2 == 0, 20.0, -20.0 if n > 2 else 20.0))
        d = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], 1)
    elif layout == "random":
        d = np.random.default_rng(seed).normal(size=(n, 3))
    elif layout == "upper":
        rng = np.random.default_rng(seed)
        z = rng.uniform(math.sin(math.radians(UPPER_MIN_ELEVATION)), 1.0, n)  # area-uniform
        az = rng.uniform(0, 2 * math.pi, n)
        r = np.sqrt(1 - z * z)
        d = np.stack([r * np.cos(az), r * np.sin(az), z], 1)
    else:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def make_cameras(
    n_views: int,
    res: int,
    layout: str = "fibonacci",
    radius: float = 2.0,
    fov_deg: float | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cameras on a sphere of ``radius`` around the origin, all looking at it.

    With ``fov_deg=None`` the field of view is chosen so that a ball of radius 0.55 (a
    normalised object: bounding-box diagonal 1, centred) fills the image with a small margin.

    Returns K (I,3,3), R (I,3,3), t (I,3), float64.
    """
    if not (math.isfinite(radius) and 0.6 < radius <= MAX_RADIUS):
        raise ValueError(f"radius must be in (0.6, {MAX_RADIUS:g}] scene units (the "
                         f"normalised object has radius ~0.5), got {radius}")
    if fov_deg is not None and not (math.isfinite(fov_deg) and 0 < fov_deg < 180):
        raise ValueError(f"fov_deg must be in (0, 180) degrees, got {fov_deg}")
    if fov_deg is None:
        fov_deg = 2 * math.degrees(math.asin(min(0.58 / radius, 0.99)))
    dirs = view_directions(n_views, layout, seed)
    K = np.repeat(intrinsics(res, fov_deg)[None], n_views, 0)
    Rs, ts = zip(*(look_at(radius * d) for d in dirs))
    return K, np.stack(Rs), np.stack(ts)


def frusta_segments(K: np.ndarray, R: np.ndarray, t: np.ndarray, H: int, W: int,
                    depth: float = 0.3) -> np.ndarray:
    """Line segments (I*8, 2, 3) of a pyramid per camera (OpenCV convention)."""
    segs = []
    corners_px = np.array([[-0.5, -0.5, 1], [W - 0.5, -0.5, 1], [W - 0.5, H - 0.5, 1],
                           [-0.5, H - 0.5, 1]], float)
    for k, r, tt in zip(K, R, t):
        c = -r.T @ tt
        rays = (np.linalg.inv(k) @ corners_px.T).T * depth  # camera frame, z = depth
        pts = (r.T @ (rays - tt).T).T  # world
        for i in range(4):
            segs.append((c, pts[i]))
            segs.append((pts[i], pts[(i + 1) % 4]))
    return np.asarray(segs, np.float32)
