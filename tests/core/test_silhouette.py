"""Tests of core.drwr.silhouette: the smooth field, bilinear sampling convention, off-image fall-off
and the boundary bias, each against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from core.drwr.silhouette import (
    SilhouetteMaps,
    boundary_bias,
    outside_distance,
    sample_maps,
    signed_distance,
    smooth_field,
)


def _small_mask() -> np.ndarray:
    m = np.zeros((7, 10), bool)  # H != W: catches u/v swaps
    m[2:4, 3:5] = True
    m[5, 8] = True
    return m


# -- smooth_field ----------------------------------------------------------------------------
def test_smooth_field_against_brute_force_distance():
    m = _small_mask()
    H, W = m.shape
    D = max(H, W)
    f = smooth_field(m[None])[0]
    assert f.dtype == np.float32 and f.shape == (H, W)
    fg = np.argwhere(m)
    for r in range(H):
        for c in range(W):
            if m[r, c]:
                assert f[r, c] == 1.0
            else:
                d = np.sqrt(((fg - [r, c]) ** 2).sum(1)).min()
                assert f[r, c] == pytest.approx(1 - d / D, abs=1e-6)
    # the same thing with scipy's EDT written out
    assert f == pytest.approx(np.where(m, 1.0, 1 - ndimage.distance_transform_edt(~m) / D),
                              abs=1e-6)


def test_smooth_field_decreases_away_from_the_mask():
    m = np.zeros((1, 20, 20), bool)
    m[0, 8:12, 8:12] = True
    f = smooth_field(m)[0]
    row = f[10, 11:]  # from the last foreground pixel to the right edge
    assert row[0] == 1.0
    assert np.all(np.diff(row) < 0)
    assert f.min() >= 0.0 and f.max() == 1.0


def test_signed_distance_signs_and_empty_mask():
    m = _small_mask()[None]
    sd = signed_distance(m)
    # distances to the pixel edges: half a pixel at the pixel centres next to the boundary
    assert (sd[m] >= 0.5).all() and (sd[~m] <= -0.5).all()
    assert sd[m].min() == pytest.approx(0.5) and sd[~m].max() == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="mask 1"):
        signed_distance(np.stack([m[0], np.zeros_like(m[0])]))
    with pytest.raises(ValueError):
        signed_distance(m[0])


def _mask_stack() -> np.ndarray:
    """Blobs of every kind: small, touching each border and corner, holed, full, one pixel."""
    rng = np.random.default_rng(3)
    H, W = 23, 31
    yy, xx = np.mgrid[:H, :W]
    masks = []
    for cy, cx, ry, rx in ((11, 15, 4, 6), (0, 0, 6, 9), (22, 30, 5, 4), (11, 0, 20, 3),
                           (0, 15, 3, 40), (11, 15, 30, 40)):
        masks.append((yy - cy) ** 2 / ry**2 + (xx - cx) ** 2 / rx**2 < 1)
    masks[0] &= ~((yy == 11) & (xx == 15))  # a hole
    masks.append(rng.random((H, W)) < 0.05)  # scattered pixels across the whole image
    one = np.zeros((H, W), bool)
    one[5, 7] = True
    masks.append(one)
    return np.stack(masks)


def test_signed_distance_equals_whole_image_edts():
    masks = _mask_stack()
    ref = np.stack([np.where(m, ndimage.distance_transform_edt(m) - 0.5,
                             -(ndimage.distance_transform_edt(~m) - 0.5)) for m in masks])
    sd = signed_distance(masks)
    assert sd.dtype == np.float32
    np.testing.assert_array_equal(sd, ref.astype(np.float32))


# -- sample_maps -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def maps() -> torch.Tensor:
    return torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_pixel_centre_convention(maps):
    I, C, H, W = maps.shape
    rr, cc = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    uv = torch.tensor(np.stack([cc.ravel(), rr.ravel()], 1), dtype=torch.float64)
    uv = uv[None].expand(I, -1, -1)
    out = sample_maps(maps, uv)  # (I, C, H*W)
    assert out.shape == (I, C, H * W)
    assert torch.allclose(out, maps.reshape(I, C, H * W), atol=1e-12)
    # (I, H, W) maps give (I, J)
    out1 = sample_maps(maps[:, 1], uv)
    assert out1.shape == (I, H * W)
    assert torch.allclose(out1, maps[:, 1].reshape(I, -1), atol=1e-12)


def test_bilinear_at_sub_pixel_positions(maps):
    M = maps[0, 2]  # (H, W)
    cases = [(1.25, 2.5), (0.1, 0.9), (5.75, 3.3), (6.0, 0.4)]  # (u, v)
    uv = torch.tensor([cases, cases], dtype=torch.float64)
    out = sample_maps(maps, uv)[0, 2]
    for k, (u, v) in enumerate(cases):
        c, r = int(np.floor(u)), int(np.floor(v))
        a, b = u - c, v - r
        c1, r1 = min(c + 1, M.shape[1] - 1), min(r + 1, M.shape[0] - 1)
        want = ((1 - a) * (1 - b) * M[r, c] + a * (1 - b) * M[r, c1]
                + (1 - a) * b * M[r1, c] + a * b * M[r1, c1])
        assert out[k].item() == pytest.approx(want.item(), abs=1e-12)


def test_outside_zero_or_border(maps):
    M = maps[0, 0]
    H, W = M.shape
    uv = torch.tensor([[[-1.0, 2.0], [-0.5, 2.0], [W + 3.0, 1.0], [2.0, -7.0]]] * 2,
                      dtype=torch.float64)
    z = sample_maps(maps, uv, zero_outside=True)[0, 0]
    assert z[0].item() == pytest.approx(0.0, abs=1e-12)
    assert z[1].item() == pytest.approx(0.5 * M[2, 0].item(), abs=1e-12)
    assert z[2].item() == pytest.approx(0.0, abs=1e-12)
    assert z[3].item() == pytest.approx(0.0, abs=1e-12)
    b = sample_maps(maps, uv, zero_outside=False)[0, 0]
    assert b.tolist() == pytest.approx([M[2, 0].item(), M[2, 0].item(), M[1, W - 1].item(),
                                        M[0, 2].item()], abs=1e-12)


def test_sample_maps_rejects_mismatched_views(maps):
    with pytest.raises(ValueError):
        sample_maps(maps, torch.zeros(3, 4, 2, dtype=torch.float64))


# -- outside_distance off the image ---------------------------------------------------------
def test_outside_distance_zero_inside_and_growing_outside():
    m = np.zeros((1, 10, 16), bool)
    m[0, :, :10] = True  # a straight vertical boundary at the pixel edge u = 9.5
    sd = torch.from_numpy(signed_distance(m)).double()
    us = torch.tensor([0.0, 5.0, 9.0, 9.5, 9.75, 10.0, 12.0, 14.5, 16.0, 20.0],
                      dtype=torch.float64)
    uv = torch.stack([us, torch.full_like(us, 4.0)], -1)[None].requires_grad_(True)
    d = outside_distance(sd, uv)[0]
    assert d[:4].tolist() == [0.0] * 4  # inside up to the pixel edge
    assert (d[4:] > 0).all() and (torch.diff(d[4:]) > 0).all()
    # beyond the image it continues with slope 1 per pixel
    assert (d[9] - d[8]).item() == pytest.approx(4.0, abs=1e-9)
    # within half a pixel of the true distance to the edge
    true = (us[4:] - 9.5)
    assert ((d[4:] - true).abs() <= 0.5 + 1e-9).all()
    d.sum().backward()
    assert (uv.grad[0, 4:, 0] > 0).all()  # moving left (towards the silhouette) lowers it
    assert (uv.grad[0, :3] == 0).all()


# -- boundary_bias ---------------------------------------------------------------------------
def test_boundary_bias_deep_inside_and_on_a_straight_boundary():
    m = np.zeros((1, 32, 32), bool)
    m[0, 4:28, 4:16] = True  # straight vertical boundary between columns 15 and 16
    rings = 5
    d = boundary_bias(m, rings)[0]
    assert d.dtype == np.float32
    assert d[16, 9] == pytest.approx(1.0, abs=1e-6)   # >= rings pixels from any edge
    assert d[16, 27] == pytest.approx(0.0, abs=1e-6)  # far outside
    # last inside / first outside column: (r+1)/(2r+1) and r/(2r+1) averaged over r = 1..rings
    rs = np.arange(1, rings + 1)
    assert d[16, 15] == pytest.approx(np.mean((rs + 1) / (2 * rs + 1)), abs=1e-6)
    assert d[16, 16] == pytest.approx(np.mean(rs / (2 * rs + 1)), abs=1e-6)
    # on the boundary itself (between the two pixel centres) it is 0.5
    edge = sample_maps(torch.from_numpy(boundary_bias(m, rings)),
                       torch.tensor([[[15.5, 16.0]]]))
    assert edge.item() == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(ValueError):
        boundary_bias(m, 0)


@pytest.mark.parametrize("rings", [1, 2, 5, 12])
def test_boundary_bias_equals_the_mean_of_uniform_filters(rings):
    masks = _mask_stack()
    m = masks.astype(np.float32)
    ref = sum(ndimage.uniform_filter(m, size=(1, 2 * r + 1, 2 * r + 1), mode="constant")
              for r in range(1, rings + 1)) / rings
    d = boundary_bias(masks, rings)
    assert d.dtype == np.float32 and d.shape == masks.shape
    np.testing.assert_allclose(d, ref, rtol=0, atol=1e-6)
    assert (d[ref == 0] == 0).all()  # 0 beyond the rings, exactly
    assert (boundary_bias(np.zeros((1, 4, 5), bool), rings) == 0).all()


def test_silhouette_maps_set_R():
    m = np.zeros((2, 16, 16), bool)
    m[:, 4:12, 4:12] = True
    sm = SilhouetteMaps(m, 2)
    assert sm.size == (16, 16)
    assert sm.field_np.shape == sm.sd.shape == sm.mask.shape == sm.bias.shape == (2, 16, 16)
    b2 = sm.bias.clone()
    sm.set_R(4)
    assert sm.R == 4 and not torch.equal(sm.bias, b2)
    assert torch.allclose(sm.bias, torch.from_numpy(boundary_bias(m, 4)))
