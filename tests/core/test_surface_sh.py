"""Real spherical harmonics, shape codes, decode, save/load, amplitude images."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.special import sph_harm_y

from core.surface.encode import encode_mesh
from core.surface.metrics import surface_distance
from core.surface.sh import (
    ShapeCode,
    decode,
    fit_code,
    icosphere,
    load_code,
    real_sh,
    save_code,
    truncate,
)
from core.surface.sh_images import amplitude_grid, amplitude_image, write_images


def _bumpy(sub: int = 3) -> trimesh.Trimesh:
    s = trimesh.creation.icosphere(sub)
    d = s.vertices
    r = 1 + 0.25 * np.sin(3 * d[:, 0]) * np.cos(2 * d[:, 1]) + 0.15 * np.sin(4 * d[:, 2] + 1)
    return trimesh.Trimesh(0.5 * d * r[:, None], s.faces, process=False)


def test_real_sh_matches_scipy_and_is_orthonormal():
    d = np.random.default_rng(0).normal(size=(200, 3))
    L = 8
    Y = real_sh(d, L)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    th, ph = np.arccos(d[:, 2]), np.arctan2(d[:, 1], d[:, 0])
    for ell in range(L + 1):
        for m in range(-ell, ell + 1):
            c = sph_harm_y(ell, abs(m), th, ph)
            ref = c.real if m == 0 else np.sqrt(2) * (-1) ** m * (c.real if m > 0 else c.imag)
            np.testing.assert_allclose(Y[:, ell * ell + ell + m], ref, atol=1e-12)
    v, f = icosphere(5)  # quadrature by vertex areas
    w = trimesh.Trimesh(v, f, process=False).area_faces
    vw = np.zeros(len(v))
    for k in range(3):
        np.add.at(vw, f[:, k], w / 3)
    Yq = real_sh(v, 6)
    gram = Yq.T @ (Yq * vw[:, None])
    np.testing.assert_allclose(gram, np.eye(49), atol=3e-3)


def test_encode_decode_error_falls_as_the_degree_grows():
    m = _bumpy(3)
    errs = []
    for L in (2, 5, 10):
        enc = encode_mesh(m.vertices, m.faces, L)
        v, f, col = decode(enc.code, 4)
        assert col is None and len(f) == 20 * 4**4
        errs.append(surface_distance(v, f, m.vertices, m.faces, samples=5000)["sd"])
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.5 * errs[0]


def test_truncation_equals_a_lower_degree_decode_and_colour_is_fitted():
    m = _bumpy(2)
    col = 0.5 + 0.4 * np.tanh(m.vertices[:, [0, 1, 2]] * 2)
    enc = encode_mesh(m.vertices, m.faces, 6, colors=col)
    assert enc.code.channels == ("x", "y", "z", "r", "g", "b")
    v6, _, c6 = decode(enc.code, 3)
    assert c6 is not None and c6.min() >= 0 and c6.max() <= 1
    basis = real_sh(icosphere(3)[0], 6)
    v3a, _, _ = decode(enc.code, 3, degree=3)
    v3b, _, _ = decode(truncate(enc.code, 3), 3, basis=basis)
    np.testing.assert_allclose(v3a, v3b, atol=1e-12)
    assert not np.allclose(v3a, v6)


def test_fit_needs_enough_vertices():
    d, _ = icosphere(0)
    with pytest.raises(ValueError, match="needs at least 36 vertices"):
        fit_code(d, d, 5, np.ones(len(d)))


def test_save_load_roundtrip_and_bad_files(tmp_path):
    code = ShapeCode(np.random.default_rng(1).normal(size=(16, 3)), 3)
    p = save_code(tmp_path / "c.npz", code)
    back = load_code(p)
    assert back.degree == 3 and back.channels == ("x", "y", "z")
    np.testing.assert_allclose(back.coeffs, code.coeffs, rtol=1e-6)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.npz"):
        load_code(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz"):
        load_code(tmp_path / "other.npz")


def test_amplitude_images(tmp_path):
    code = ShapeCode(np.random.default_rng(2).normal(size=(36, 3)), 5)
    g = amplitude_grid(code)
    assert g.shape == (6, 11) and np.isnan(g[0, 0]) and np.isfinite(g[5, 0])
    assert np.isclose(g[1, 4], np.linalg.norm(code.coeffs[1]))  # l = 1, m = -1
    img = amplitude_image(g, cell=4)
    assert img.shape == (24, 44, 3) and img[0, 0].sum() == 0 and img[-1, 0].sum() > 0
    paths = write_images(code, tmp_path / "img")
    assert [p.name for p in paths] == ["geometry.png", "x.png", "y.png", "z.png"]


def test_an_open_mesh_is_judged_as_given_not_as_subdivided():
    """One triangle has 3 boundary edges; the message must not count those of the finer mesh
    the encoder would fit (it subdivides coarse meshes before mapping)."""
    from core.surface.spherical import TopologyError

    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float)
    with pytest.raises(TopologyError, match=r"open \(3 boundary edges\)"):
        encode_mesh(v, np.array([[0, 1, 2]]), degree=4, what="tri.obj")
