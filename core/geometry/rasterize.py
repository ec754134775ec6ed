"""Exact binary silhouettes of a triangle mesh (vectorised NumPy, no OpenGL).

Pixel (r, c) is foreground iff its centre (u = c, v = r; the centre of pixel (0, 0) is at
u = v = 0, see core.geometry.cameras) lies inside, or on an edge of, at least one projected triangle.
Since every vertex must lie in front of the camera, this equals "the ray through the pixel
centre hits the mesh in front of the camera".
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from core.geometry.cameras import project_np

__all__ = ["render_silhouettes", "project_vertices", "covered_pixels"]

_CHUNK = 1 << 21  # grid cells (triangle x pixel) evaluated per batch
_MIN_AREA = 1e-12  # |2 * area| in pixels^2 below which a projected triangle is ignored


def _check_cameras(K: np.ndarray, R: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    K, R, t = (np.asarray(a, np.float64) for a in (K, R, t))
    if K.ndim != 3 or K.shape[1:] != (3, 3):
        raise ValueError(f"K must be (I, 3, 3), got {K.shape}")
    n = K.shape[0]
    if R.shape != (n, 3, 3):
        raise ValueError(f"R must be ({n}, 3, 3) like K, got {R.shape}")
    if t.shape != (n, 3):
        raise ValueError(f"t must be ({n}, 3) like K, got {t.shape}")
    return K, R, t


def project_vertices(
    vertices: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates uv (I, V, 2) and depths z (I, V) of vertices (V, 3), float64
    (core.geometry.cameras.project_np), for vertices that are all in front of every camera.

    Raises ValueError naming the first view in which a vertex lies behind (or on) the camera
    plane (z <= 0).
    """
    v = np.asarray(vertices, np.float64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices must be (V, 3), got {v.shape}")
    K, R, t = _check_cameras(K, R, t)
    uv, z = project_np(v, K, R, t)
    bad = (z <= 0).any(1)
    if bad.any():
        i = int(np.argmax(bad))
        k = int(np.argmax(z[i] <= 0))
        raise ValueError(
            f"view {i}: vertex {k} at {v[k].tolist()} is behind the camera "
            f"(depth {z[i, k]:.4g} <= 0)"
        )
    return uv, z


def _pow2(n: np.ndarray) -> np.ndarray:
    """Smallest power of two >= n (n >= 1), elementwise."""
    return (1 << np.ceil(np.log2(np.maximum(n, 1))).astype(np.int64)).astype(np.int64)


def covered_pixels(
    uv: np.ndarray, faces: np.ndarray, H: int, W: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The pixel centres each projected triangle covers, in batches.

    uv: (I, V, 2) projected vertices; faces: (F, 3) int64. Yields ``(tri, pix, bary)`` per batch:
    tri (n,) index into the I·F triangles (view = tri // F, face = tri % F), pix (n,) flat index
    into (I, H, W), bary (n, 3) the corners' barycentric weights at the pixel centre. Pixel
    (r, c) samples its centre (u = c, v = r), edges inclusive; triangles of (near) zero area are
    skipped. Triangles are bucketed by the power-of-two size of their pixel bounding box and
    tested with edge functions in batches of at most ``_CHUNK`` (triangle × pixel) cells.
    """
    n_views, n_faces = uv.shape[0], len(faces)
    if n_faces == 0:
        return
    tri = uv[:, faces].reshape(-1, 3, 2)  # (I*F, 3, 2)
    view = np.repeat(np.arange(n_views), n_faces)
    lo, hi = tri.min(1), tri.max(1)  # (T, 2) in (u, v)
    c0 = np.clip(np.ceil(lo[:, 0]), 0, W).astype(np.int64)
    c1 = np.clip(np.floor(hi[:, 0]), -1, W - 1).astype(np.int64)
    r0 = np.clip(np.ceil(lo[:, 1]), 0, H).astype(np.int64)
    r1 = np.clip(np.floor(hi[:, 1]), -1, H - 1).astype(np.int64)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    area2 = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    idx = np.nonzero((c1 >= c0) & (r1 >= r0) & (np.abs(area2) > _MIN_AREA))[0]
    if len(idx) == 0:
        return
    gw, gh = _pow2(c1[idx] - c0[idx] + 1), _pow2(r1[idx] - r0[idx] + 1)
    key = gw * (4 * max(H, W)) + gh
    order = np.argsort(key, kind="stable")
    idx, key, gw, gh = idx[order], key[order], gw[order], gh[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(idx)]
    for s, e in zip(starts, ends):
        w_, h_ = int(gw[s]), int(gh[s])
        step = max(1, _CHUNK // (w_ * h_))
        dc = np.arange(w_)[None, None, :]
        dr = np.arange(h_)[None, :, None]
        for q in range(s, e, step):
            ti = idx[q : min(q + step, e)]
            cols = c0[ti, None, None] + dc  # (n, 1, w)
            rows = r0[ti, None, None] + dr  # (n, h, 1)
            inside = (cols <= c1[ti, None, None]) & (rows <= r1[ti, None, None])
            px, py = cols.astype(np.float64), rows.astype(np.float64)
            sg = np.sign(area2[ti])[:, None, None]
            lam = []  # edge function opposite each corner = its barycentric weight * area2
            for p0, p1 in ((b, c), (c, a), (a, b)):
                ax, ay = p0[ti, 0, None, None], p0[ti, 1, None, None]
                ex, ey = p1[ti, 0, None, None] - ax, p1[ti, 1, None, None] - ay
                ef = ex * (py - ay) - ey * (px - ax)
                inside &= sg * ef >= 0
                lam.append(ef)
            n_i, r_i, c_i = np.nonzero(inside)
            tt = ti[n_i]
            pix = view[tt] * (H * W) + (r0[tt] + r_i) * W + (c0[tt] + c_i)
            bary = np.stack([x[n_i, r_i, c_i] for x in lam], 1) / area2[tt, None]
            yield tt, pix, bary


def render_silhouettes(
    vertices: np.ndarray,
    faces: np.ndarray,
    K: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
    H: int,
    W: int,
) -> np.ndarray:
    """Exact silhouettes (I, H, W) bool of the mesh (vertices (V,3), faces (F,3)) in I views.

    K, R: (I, 3, 3); t: (I, 3) (world -> camera ``x_cam = R x + t``). Triangles are bucketed by
    the size of their pixel bounding box and tested with edge functions at the pixel centres
    inside the box (inclusive of edges). Zero-area projected triangles are ignored.

    Raises ValueError when shapes are wrong, a face index is out of range, or a vertex is
    behind a camera (the message names the view).
    """
    if H < 1 or W < 1:
        raise ValueError(f"H and W must be positive, got H={H}, W={W}")
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces must be (F, 3), got {f.shape}")
    if not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"faces must hold integer vertex indices, got dtype {f.dtype}")
    nv = len(np.asarray(vertices))
    if f.size and (f.min() < 0 or f.max() >= nv):
        raise ValueError(f"faces index vertices outside [0, {nv})")
    uv, _ = project_vertices(vertices, K, R, t)
    n_views = uv.shape[0]
    out = np.zeros(n_views * H * W, bool)
    for _, pix, _ in covered_pixels(uv, f.astype(np.int64), H, W):
        out[pix] = True
    return out.reshape(n_views, H, W)
