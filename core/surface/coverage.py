"""Make a closed mesh cover every mask pixel without leaving the masks.

Even the visual hull's own surface misses a few mask pixels: where a structure is one or two
pixels wide, the cones of the other views (rasterised at pixel centres) disagree by a fraction
of a pixel, so no 3-D point projects inside every mask on some foreground rays (stool at 20
views, 128²: the level-0 hull covers 93.8 % of the worst mask). The cloud's field may carve
a little more. For every foreground pixel whose centre the mesh does not cover, this module
walks the ray through that centre across the grid and picks the point where a blob is safe
(carving field >= ``SAFE`` px, i.e. inside every mask with margin) and closest to the surface
(smallest combined field), else the point deepest in the hull; a small octahedron centred
there — its circumradius ``BLOB_PX`` pixels in the view that sees it largest, scaled down with
the field where the field is low, so it reaches no background pixel centre in any view — is
added by a boolean union (manifold3d, whose output is a closed manifold by construction),
joined to the surface by the convex hull with a point just inside the nearest vertex when
that vertex is within ``_BRIDGE`` voxels (so it does not float as a separate part; where two
bridges touch they can leave a tiny handle). Two rounds; pixels that still fail are reported
(``uncovered``), not forced. The "safe" rule rests on the bilinear carving field being about
2-Lipschitz across a mask edge, not on an exact test: measured, at most 0.12 % of a view's
rendered pixels land outside its mask on the held-out scenes (docs/surfaces.md).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.geometry.cameras import camera_centers
from core.geometry.rasterize import render_silhouettes
from core.io.scene import Scene

__all__ = ["BLOB_PX", "SAFE", "cover_masks"]

SAFE = 0.2  # px: carving field above which a blob of BLOB_PX stays inside every mask
BLOB_PX = 0.4  # px: circumradius of a blob, in the view where it projects largest
_BRIDGE = 2.0  # voxels: a blob farther than this from the surface stays a separate part
_OCTA_V = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
                   np.float64)
_OCTA_F = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4],
                    [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]], np.int64)


def _rays(scene: Scene, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Origins (M, 3) and unit directions (M, 3) of the rays through pixel centres
    ``missing`` (M, 3) int rows (view, row, col)."""
    i, r, c = missing.T
    K, R = scene.K[i], scene.R[i]
    y = (r - K[:, 1, 2]) / K[:, 1, 1]
    x = (c - K[:, 0, 2] - K[:, 0, 1] * y) / K[:, 0, 0]
    d_cam = np.stack([x, y, np.ones_like(x)], 1)
    d = np.einsum("mba,mb->ma", R, d_cam)  # R^T d_cam
    return camera_centers(scene.R, scene.t)[i], d / np.linalg.norm(d, axis=1, keepdims=True)


def _blob_centres(scene: Scene, missing: np.ndarray, vol: np.ndarray, field: np.ndarray,
                  lo: np.ndarray, spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres (M, 3) and carving-field values (M,) chosen on each missing pixel's ray."""
    o, d = _rays(scene, missing)
    hi = lo + spacing * (np.array(vol.shape) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - o) / d, (hi - o) / d
    t_near = np.nanmax(np.minimum(t1, t2), 1)
    t_far = np.nanmin(np.maximum(t1, t2), 1)
    step = 0.5 * float(spacing.min())
    n = int(np.ceil(np.max(t_far - t_near) / step)) + 1 if len(o) else 1
    s = np.linspace(0, 1, n)
    t = t_near[:, None] + (t_far - t_near)[:, None] * s[None]  # (M, n)
    pts = o[:, None, :] + t[..., None] * d[:, None, :]  # (M, n, 3)
    idx = ((pts.reshape(-1, 3) - lo) / spacing).T
    v = ndimage.map_coordinates(vol, idx, order=1, mode="nearest").reshape(t.shape)
    f = ndimage.map_coordinates(field, idx, order=1, mode="nearest").reshape(t.shape)
    safe = v >= SAFE
    best = np.where(safe.any(1), np.argmin(np.where(safe, f, np.inf), 1), np.argmax(v, 1))
    rows = np.arange(len(o))
    return pts[rows, best], v[rows, best]


def _anchors(verts: np.ndarray, tris: np.ndarray, centres: np.ndarray, voxel: float
             ) -> np.ndarray:
    """(M, 0|1, 3) per blob centre: a point just inside the mesh at its nearest vertex when
    that vertex is within ``_BRIDGE`` voxels (the blob's convex hull with it bridges the gap,
    so the blob joins the surface instead of floating), else nothing."""
    from scipy.spatial import cKDTree

    d, j = cKDTree(verts).query(centres, k=1)
    tri = verts[tris]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # area-weighted face normals
    vn = np.zeros_like(verts)
    for k in range(3):
        np.add.at(vn, tris[:, k], fn)
    vn /= np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)
    inner = verts[j] - 0.25 * voxel * vn[j]
    return [inner[m : m + 1] if d[m] < _BRIDGE * voxel else np.zeros((0, 3))
            for m in range(len(centres))]


def cover_masks(vertices: np.ndarray, faces: np.ndarray, scene: Scene, vol: np.ndarray,
                field: np.ndarray, lo: np.ndarray, spacing: np.ndarray, rounds: int = 2
                ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Union of the closed mesh (vertices (V, 3), faces (F, 3)) with blobs on uncovered mask
    pixels (see the module docstring).

    vol: the hull's carving field (pixels, positive inside) and field: the combined field the
    mesh was extracted from (world units, positive outside), both on the grid with voxel
    (0, 0, 0) at ``lo`` and step ``spacing`` (3,). Returns vertices, faces and counts
    ``{"blobs": added, "uncovered": mask pixels still not covered}``.
    """
    import manifold3d as mf

    H, W = scene.resolution
    C = camera_centers(scene.R, scene.t)
    f_px = 0.5 * (scene.K[:, 0, 0] + scene.K[:, 1, 1])
    verts, tris = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    added = 0
    missing = np.zeros((0, 3), np.int64)
    for _ in range(rounds):
        sil = render_silhouettes(verts, tris, scene.K, scene.R, scene.t, H, W)
        missing = np.argwhere(scene.masks & ~sil)
        if len(missing) == 0:
            break
        centres, v = _blob_centres(scene, missing, vol, field, lo, spacing)
        ok = v > -0.9  # a blob must reach no background pixel centre (field <= -1)
        centres, v = centres[ok], v[ok]
        if len(centres) == 0:
            break
        depth = np.linalg.norm(C[None] - centres[:, None], axis=2)  # (M, I)
        world_px = (depth / f_px[None]).min(1)  # world size of a pixel where it is largest
        scale = np.clip((1.0 + np.minimum(v, SAFE)) / (1.0 + SAFE), 0.05, 1.0)
        radius = BLOB_PX * world_px * scale
        base = mf.Manifold(mf.Mesh64(np.ascontiguousarray(verts),
                                     np.ascontiguousarray(tris, np.uint64)))
        anchors = _anchors(verts, tris, centres, float(spacing.min()))
        blobs = [mf.Manifold.hull_points(np.vstack([_OCTA_V * r + c, a]))
                 for c, r, a in zip(centres, radius, anchors)]
        out = mf.Manifold.batch_boolean([base, *blobs], mf.OpType.Add).to_mesh64()
        verts = np.asarray(out.vert_properties, np.float64)[:, :3]
        tris = np.asarray(out.tri_verts, np.int64)
        added += len(blobs)
    else:
        sil = render_silhouettes(verts, tris, scene.K, scene.R, scene.t, H, W)
        missing = np.argwhere(scene.masks & ~sil)
    return verts, tris, {"blobs": added, "uncovered": len(missing)}
