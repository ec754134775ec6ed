"""Real spherical-harmonic shape codes (the idea of mesh2sh): fit, save, decode.

A genus-0 mesh mapped onto the unit sphere (:mod:`core.surface.spherical`) gives x, y, z (and
colour, when present) as functions on the sphere; they are fitted by real spherical harmonics
up to degree L by weighted least squares on the mapped vertices (weights: each vertex's area
*on the sphere*, so the fit approximates the L2 projection whatever the map's area distortion;
a tiny Tikhonov term ``REG * (l (l + 1))^2`` keeps the highest degrees quiet where vertices are
sparse). Decoding evaluates the series at the vertices of an icosphere.

Basis: orthonormal real harmonics without the Condon-Shortley phase, ``Y_lm = N_lm P_l^|m|(cos
theta) * {sqrt2 cos(m phi), 1, sqrt2 sin(|m| phi)}`` for m > 0, = 0, < 0, index
``l^2 + l + m``; the normalised associated Legendre functions come from the standard stable
three-term recurrence (tested against scipy.special.sph_harm_y).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "REG",
    "ShapeCode",
    "decode",
    "fit_code",
    "icosphere",
    "load_code",
    "real_sh",
    "save_code",
    "truncate",
]

REG = 1e-9
_FORMAT = "drwr-sh-code/1"


@dataclass
class ShapeCode:
    """coeffs ((degree + 1)^2, C) float64 for the channels (``x, y, z`` then ``r, g, b`` when
    coloured); ``degree`` L."""

    coeffs: np.ndarray
    degree: int
    channels: tuple[str, ...] = ("x", "y", "z")

    @property
    def has_color(self) -> bool:
        return len(self.channels) == 6


def _angles(directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(directions, np.float64)
    if d.ndim != 2 or d.shape[1] != 3:
        raise ValueError(f"directions must be (N, 3), got {d.shape}")
    d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-300)
    return np.clip(d[:, 2], -1.0, 1.0), np.arctan2(d[:, 1], d[:, 0])


def real_sh(directions: np.ndarray, degree: int) -> np.ndarray:
    """((N, (degree + 1)^2) real orthonormal harmonics at unit directions (N, 3) (see the
    module docstring for the convention and index)."""
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    x, phi = _angles(directions)
    s = np.sqrt(np.maximum(0.0, 1.0 - x * x))
    n, L = len(x), degree
    out = np.empty((n, (L + 1) ** 2))
    cos_m = [np.ones(n)] + [np.cos(m * phi) for m in range(1, L + 1)]
    sin_m = [np.zeros(n)] + [np.sin(m * phi) for m in range(1, L + 1)]
    pmm = np.full(n, np.sqrt(1.0 / (4 * np.pi)))
    for m in range(L + 1):
        if m > 0:
            pmm = np.sqrt((2 * m + 1) / (2.0 * m)) * s * pmm
        p_prev, p = np.zeros(n), pmm
        for ell in range(m, L + 1):
            if ell == m + 1:
                p_prev, p = p, np.sqrt(2 * m + 3.0) * x * pmm
            elif ell > m + 1:
                a = np.sqrt((4.0 * ell * ell - 1) / (ell * ell - m * m))
                b = np.sqrt(((ell - 1.0) ** 2 - m * m) / (4.0 * (ell - 1) ** 2 - 1))
                p_prev, p = p, a * (x * p - b * p_prev)
            base = ell * ell + ell
            if m == 0:
                out[:, base] = p
            else:
                out[:, base + m] = np.sqrt(2.0) * p * cos_m[m]
                out[:, base - m] = np.sqrt(2.0) * p * sin_m[m]
    return out


def _degrees(degree: int) -> np.ndarray:
    """(K,) degree l of each coefficient index."""
    return np.repeat(np.arange(degree + 1), 2 * np.arange(degree + 1) + 1)


def fit_code(sphere: np.ndarray, values: np.ndarray, degree: int, weights: np.ndarray,
             channels: tuple[str, ...] = ("x", "y", "z"), reg: float = REG) -> ShapeCode:
    """Weighted least-squares SH fit of values (N, C) at unit directions sphere (N, 3) with
    weights (N,) (see the module docstring). Raises ValueError when there are fewer points
    than coefficients."""
    v = np.asarray(values, np.float64)
    k = (degree + 1) ** 2
    if len(v) < k:
        raise ValueError(f"degree {degree} needs at least {k} vertices, the mesh has {len(v)}; "
                         "lower the degree or remesh finer")
    Y = real_sh(sphere, degree)
    w = np.asarray(weights, np.float64)
    w = w / w.sum() * 4 * np.pi
    A = Y.T @ (Y * w[:, None])
    ll = _degrees(degree).astype(np.float64)
    A[np.diag_indices(k)] += reg * (ll * (ll + 1)) ** 2
    coeffs = np.linalg.solve(A, Y.T @ (v * w[:, None]))
    return ShapeCode(coeffs=coeffs, degree=degree, channels=tuple(channels))


def truncate(code: ShapeCode, degree: int) -> ShapeCode:
    """The code's first degrees (an orthonormal series truncates cleanly); ``degree`` >= 0,
    above the code's degree it keeps them all."""
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    d = min(int(degree), code.degree)
    return ShapeCode(code.coeffs[: (d + 1) ** 2].copy(), d, code.channels)


def icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere: vertices (V, 3) and outward faces (F, 3), 20 * 4^s faces."""
    import trimesh

    if not 0 <= subdivisions <= 8:
        raise ValueError(f"subdivisions must be in 0..8, got {subdivisions}")
    s = trimesh.creation.icosphere(subdivisions=subdivisions)
    return np.asarray(s.vertices, np.float64), np.asarray(s.faces, np.int64)


def decode(code: ShapeCode, subdivisions: int = 4, degree: int | None = None,
           basis: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Decode to (vertices (V, 3), faces (F, 3), colours (V, 3) in [0, 1] or None) on an
    icosphere; ``degree`` truncates; ``basis`` (V, >= K) reuses a precomputed real_sh."""
    c = code if degree is None else truncate(code, degree)
    dirs, faces = icosphere(subdivisions)
    k = (c.degree + 1) ** 2
    Y = basis[:, :k] if basis is not None else real_sh(dirs, c.degree)
    vals = Y @ c.coeffs
    col = np.clip(vals[:, 3:6], 0, 1) if c.has_color else None
    return vals[:, :3], faces, col


def save_code(path: str | Path, code: ShapeCode, info: dict | None = None) -> Path:
    """Write the code as a small compressed .npz (float32 coefficients)."""
    p = Path(path)
    if p.suffix.lower() != ".npz":
        raise ValueError(f"{p}: a shape code is saved as .npz")
    p.parent.mkdir(parents=True, exist_ok=True)
    extra = {f"info_{k}": np.asarray(v) for k, v in (info or {}).items()}
    with open(p, "wb") as fh:
        np.savez_compressed(fh, format=np.asarray(_FORMAT), degree=np.asarray(code.degree),
                            coeffs=code.coeffs.astype(np.float32),
                            channels=np.asarray(",".join(code.channels)), **extra)
    return p


def load_code(path: str | Path) -> ShapeCode:
    """Read a code written by :func:`save_code`; ValueError naming the file when it is not one."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    try:
        with np.load(p, allow_pickle=False) as z:
            fmt = str(z["format"])
            degree, raw = z["degree"], z["coeffs"]
            channels = tuple(str(z["channels"]).split(","))
    except (KeyError, OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{p}: not a shape code .npz ({exc.__class__.__name__})") from None
    if fmt != _FORMAT:
        raise ValueError(f"{p}: not a shape code (format {fmt[:40]!r})")
    if degree.shape != () or degree.dtype.kind not in "iu" or not 0 <= int(degree) <= 1000:
        raise ValueError(f"{p}: degree must be one integer in 0..1000 (got {degree.dtype} "
                         f"of shape {degree.shape})")
    if raw.dtype.kind not in "fiu":
        raise ValueError(f"{p}: coefficients must be real numbers, got dtype {raw.dtype}")
    deg, coeffs = int(degree), np.asarray(raw, np.float64)
    if coeffs.shape != ((deg + 1) ** 2, len(channels)) or len(channels) not in (3, 6):
        raise ValueError(f"{p}: coefficients {coeffs.shape} do not match degree {deg}")
    if not np.all(np.isfinite(coeffs)):
        raise ValueError(f"{p}: {int(np.sum(~np.isfinite(coeffs)))} coefficients are not "
                         "finite (NaN or infinity)")
    return ShapeCode(coeffs=coeffs, degree=deg, channels=channels)
