"""Z-buffered rasterisation and Lambertian shading of triangle meshes (vectorised NumPy).

Same pixel rule as :func:`core.geometry.rasterize.render_silhouettes`: pixel (r, c) samples
its centre (u = c, v = r), inclusive of triangle edges, so the covered pixels of
:func:`rasterize_depth` are exactly that silhouette. Depth is the camera-space z of the
nearest triangle under the pixel centre (1/z interpolated linearly in the image, which is
exact for a pinhole camera).

Shapes: I views, V vertices, F faces; K, R (I,3,3), t (I,3) world -> camera (OpenCV).
"""

from __future__ import annotations

import numpy as np

from core.geometry.rasterize import covered_pixels, project_vertices

__all__ = ["rasterize_depth", "shade_mesh", "face_normals", "DEFAULT_LIGHT"]

#: light direction in camera coordinates (towards the light): up-left, from the camera side
DEFAULT_LIGHT = (-0.45, -0.6, -0.66)


def rasterize_depth(vertices: np.ndarray, faces: np.ndarray, K: np.ndarray, R: np.ndarray,
                    t: np.ndarray, H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """Nearest face and its depth at every pixel centre in I views.

    vertices (V,3), faces (F,3) int. Returns face (I,H,W) int64 (-1: background) and depth
    (I,H,W) float64 (inf: background). Triangles are bucketed by the size of their pixel
    bounding box and evaluated in batches (edge functions at the pixel centres); the z-buffer
    keeps, per pixel, the candidate of smallest depth (ties: lowest face index).

    Raises ValueError when a vertex is behind a camera (the message names the view).
    """
    f = np.asarray(faces, np.int64)
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces must be (F, 3), got {f.shape}")
    uv, z = project_vertices(vertices, K, R, t)
    n_views = uv.shape[0]
    face = np.full(n_views * H * W, -1, np.int64)
    depth = np.full(n_views * H * W, np.inf)
    if f.size == 0:
        return face.reshape(n_views, H, W), depth.reshape(n_views, H, W)
    nf = len(f)
    iz = (1.0 / z)[:, f].reshape(-1, 3)  # (I*F, 3) inverse depths of the corners
    pix_l, dep_l, tri_l = [], [], []
    for tt, pix, bary in covered_pixels(uv, f, H, W):
        pix_l.append(pix)
        dep_l.append(1.0 / (bary * iz[tt]).sum(1))  # 1/z is linear in the image
        tri_l.append(tt % nf)
    if not pix_l:
        return face.reshape(n_views, H, W), depth.reshape(n_views, H, W)
    pix, dep, fid = np.concatenate(pix_l), np.concatenate(dep_l), np.concatenate(tri_l)
    order = np.lexsort((fid, dep, pix))  # by pixel, then depth, then face index
    pix, dep, fid = pix[order], dep[order], fid[order]
    first = np.r_[True, pix[1:] != pix[:-1]]
    face[pix[first]] = fid[first]
    depth[pix[first]] = dep[first]
    return face.reshape(n_views, H, W), depth.reshape(n_views, H, W)


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit normals (F, 3) of the triangles (right-hand rule; zero for degenerate ones)."""
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(norm > 0, n / np.maximum(norm, 1e-300), 0.0)


def shade_mesh(vertices: np.ndarray, faces: np.ndarray, face_colors: np.ndarray,
               K: np.ndarray, R: np.ndarray, t: np.ndarray, H: int, W: int,
               light: tuple[float, float, float] = DEFAULT_LIGHT, ambient: float = 0.35,
               background: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Flat-shaded Lambertian RGB images of the mesh on a plain background.

    face_colors (F, 3) albedo in [0, 1]. ``light`` is a direction in camera coordinates (fixed
    relative to the camera, so every view is lit alike); two-sided lighting (a normal facing
    away from the camera is flipped). Colour = albedo * (ambient + (1 - ambient) * max(0, n.l)).

    Returns images (I, H, W, 3) uint8 and coverage (I, H, W) bool (= the exact silhouette).
    """
    fc = np.asarray(face_colors, np.float64)
    if fc.shape != (len(faces), 3):
        raise ValueError(f"face_colors must be ({len(faces)}, 3), got {fc.shape}")
    face, _ = rasterize_depth(vertices, faces, K, R, t, H, W)
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    R, t = np.asarray(R, np.float64), np.asarray(t, np.float64)
    n_cam = np.einsum("iab,fb->ifa", R, face_normals(v, f))  # (I, F, 3)
    centre = np.einsum("iab,fb->ifa", R, v[f].mean(1)) + t[:, None, :]
    n_cam = np.where((np.sum(n_cam * centre, -1) > 0)[..., None], -n_cam, n_cam)
    L = np.asarray(light, np.float64)
    L = L / np.linalg.norm(L)
    lum = ambient + (1.0 - ambient) * np.clip(n_cam @ L, 0.0, None)  # (I, F)
    cover = face >= 0
    out = np.full(face.shape + (3,), float(background))
    vi = np.broadcast_to(np.arange(face.shape[0])[:, None, None], face.shape)
    fi = face[cover]
    out[cover] = fc[fi] * lum[vi[cover], fi][:, None]
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8), cover
