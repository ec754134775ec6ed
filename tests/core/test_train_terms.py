"""core.train.terms: the DRWR terms batched over (objects x views) equal core.drwr.losses
.drwr_terms run object by object (values and gradients)."""

from __future__ import annotations

import pytest
import torch

from core.drwr.losses import drwr_terms
from core.drwr.silhouette import SilhouetteMaps
from core.geometry.cameras import project
from core.io.mesh_scene import make_scene
from core.train.terms import batched_terms, project_objects, project_rows
from core.evalsets import named_mesh


@pytest.fixture(scope="module")
def scenes():
    return [make_scene(named_mesh(s), views=3, res=24, layout="random", gt_points=0, seed=k)
            for k, s in enumerate(("chair", "table"))]


def _t(a):
    return torch.as_tensor(a, dtype=torch.float64)


def test_project_rows_matches_project():
    g = torch.Generator().manual_seed(0)
    sc = make_scene("blob", views=4, res=16, gt_points=0)
    pts = torch.rand(4, 7, 3, generator=g, dtype=torch.float64) - 0.5
    uv, z = project_rows(pts, _t(sc.K), _t(sc.R), _t(sc.t))
    for i in range(4):
        uvi, zi = project(pts[i], _t(sc.K[i:i + 1]), _t(sc.R[i:i + 1]), _t(sc.t[i:i + 1]))
        torch.testing.assert_close(uv[i], uvi[0])
        torch.testing.assert_close(z[i], zi[0])


@pytest.mark.parametrize("method", ["naive", "chunked"])
def test_batched_terms_equal_per_object_terms(scenes, method):
    """Two objects with different clouds, 3 views each: every term and the gradient of
    λ·sil + β·rep w.r.t. both clouds match the per-object reference."""
    g = torch.Generator().manual_seed(3)
    pts = ((torch.rand(2, 40, 3, generator=g, dtype=torch.float64) - 0.5) * 0.9)
    maps = [SilhouetteMaps(s.masks, 3) for s in scenes]
    sigma = 1.3

    def stack(key):
        return torch.stack([getattr(m, key).double() for m in maps])

    p1 = pts.clone().requires_grad_(True)
    out = batched_terms(p1, torch.stack([_t(s.K) for s in scenes]),
                        torch.stack([_t(s.R) for s in scenes]),
                        torch.stack([_t(s.t) for s in scenes]), stack("sd"), stack("mask"),
                        stack("bias"), sigma, method=method)
    (3.0 * out["sil"].sum() + 0.7 * out["rep"].sum()).backward()
    ref_grads = []
    for b, (s, m) in enumerate(zip(scenes, maps)):
        pb = pts[b].clone().requires_grad_(True)
        m.sd, m.mask, m.bias = m.sd.double(), m.mask.double(), m.bias.double()
        ref = drwr_terms(pb, _t(s.K), _t(s.R), _t(s.t), m, None, sigma)
        for k in ("uv", "depth", "sil", "rep", "w"):
            torch.testing.assert_close(out[k][b], ref[k], rtol=1e-9, atol=1e-9)
        (3.0 * ref["sil"].sum() + 0.7 * ref["rep"].sum()).backward()
        ref_grads.append(pb.grad)
    assert (out["sil"] > 0).any() and (out["rep"] > 0).any(), "need both terms active"
    torch.testing.assert_close(p1.grad, torch.stack(ref_grads), rtol=1e-8, atol=1e-10)


def test_coverage_distance_matches_dense_min():
    """Values and gradient of the nearest-point distance against the dense (I, P, J) min."""
    from core.train.terms import coverage_distance

    g = torch.Generator().manual_seed(5)
    fg = torch.rand(3, 20, 2, generator=g, dtype=torch.float64) * 16
    uv = (torch.rand(3, 30, 2, generator=g, dtype=torch.float64) * 16).requires_grad_(True)
    d = coverage_distance(fg, uv)
    (d * torch.arange(20, dtype=torch.float64)).sum().backward()
    uv2 = uv.detach().clone().requires_grad_(True)
    ref = ((fg[:, :, None] - uv2[:, None]) ** 2).sum(-1).min(-1).values.add(1e-8).sqrt()
    (ref * torch.arange(20, dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(d, ref)
    torch.testing.assert_close(uv.grad, uv2.grad)
    assert ((uv.grad.abs().sum(-1) > 0).sum(1) <= 20).all()  # only nearest points pulled


def test_batched_terms_coverage_rows(scenes):
    g = torch.Generator().manual_seed(4)
    pts = (torch.rand(2, 25, 3, generator=g, dtype=torch.float64) - 0.5) * 0.5
    maps = [SilhouetteMaps(s.masks, 3) for s in scenes]
    fg = torch.rand(2, 3, 7, 2, generator=g, dtype=torch.float64) * 24
    stack = lambda key: torch.stack([getattr(m, key).double() for m in maps])
    out = batched_terms(pts, torch.stack([_t(s.K) for s in scenes]),
                        torch.stack([_t(s.R) for s in scenes]),
                        torch.stack([_t(s.t) for s in scenes]), stack("sd"), stack("mask"),
                        stack("bias"), 1.0, fg=fg)
    uv = out["uv"]  # (2, 3, 25, 2)
    ref = ((fg[:, :, :, None] - uv[:, :, None]) ** 2).sum(-1).min(-1).values.add(1e-8).sqrt()
    torch.testing.assert_close(out["cover"], ref)


def test_batched_cubic_repulsion_equals_per_object_and_exact(scenes):
    """The training default (cubic particle mesh, one grid per row): the batch gives each
    object's rows the same values and gradients as drwr_terms with the same kernel object by
    object (each row's grid is its own, so the batch's larger grids change nothing), and both
    are close to the exact kernel."""
    g = torch.Generator().manual_seed(7)
    pts = ((torch.rand(2, 300, 3, generator=g, dtype=torch.float64) - 0.5) * 0.6)
    maps = [SilhouetteMaps(s.masks, 3) for s in scenes]
    for m in maps:
        m.sd, m.mask, m.bias = m.sd.double(), m.mask.double(), m.bias.double()
    stack = lambda key: torch.stack([getattr(m, key) for m in maps])  # noqa: E731
    p1 = pts.clone().requires_grad_(True)
    out = batched_terms(p1, torch.stack([_t(s.K) for s in scenes]),
                        torch.stack([_t(s.R) for s in scenes]),
                        torch.stack([_t(s.t) for s in scenes]), stack("sd"), stack("mask"),
                        stack("bias"), 1.3)
    out["rep"].sum().backward()
    assert (out["rep"] > 0).sum() > 100
    for b, (s, m) in enumerate(zip(scenes, maps)):
        grads = []
        for method in ("cubic", "exact"):
            pb = pts[b].clone().requires_grad_(True)
            ref = drwr_terms(pb, _t(s.K), _t(s.R), _t(s.t), m, None, 1.3, method=method)
            ref["rep"].sum().backward()
            grads.append(pb.grad)
            if method == "cubic":
                torch.testing.assert_close(out["rep"][b], ref["rep"], rtol=1e-9, atol=1e-12)
                torch.testing.assert_close(p1.grad[b], pb.grad, rtol=1e-8, atol=1e-10)
            else:  # the kernel's error: values to 1.2e-2, gradients to 5e-2 of the largest
                scale = ref["rep"].abs().max()
                assert (out["rep"][b] - ref["rep"]).abs().max() <= 1.2e-2 * scale
        gscale = grads[1].abs().max()
        assert (grads[0] - grads[1]).abs().max() <= 5e-2 * gscale


def test_project_objects_matches_project():
    g = torch.Generator().manual_seed(1)
    scs = [make_scene("blob", views=3, res=16, gt_points=0, seed=k) for k in range(2)]
    pts = torch.rand(2, 9, 3, generator=g, dtype=torch.float64) - 0.5
    K, R, t = (torch.stack([_t(getattr(s, a)) for s in scs]) for a in ("K", "R", "t"))
    uv, z = project_objects(pts, K, R, t)
    assert uv.shape == (2, 3, 9, 2) and z.shape == (2, 3, 9)
    for b in range(2):
        uvb, zb = project(pts[b], K[b], R[b], t[b])
        torch.testing.assert_close(uv[b], uvb, rtol=1e-12, atol=1e-10)
        torch.testing.assert_close(z[b], zb, rtol=1e-12, atol=1e-12)
