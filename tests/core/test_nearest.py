"""core.drwr.nearest: the bucket-grid search gives the dense argmin's index for every query, on
spread, clustered and far-away points, queries on a line or all at one spot, with non-finite
points and rows without finite points."""

from __future__ import annotations

import pytest
import torch

from core.drwr.nearest import nearest_index, nearest_index_naive


def _case(kind: str, I=4, P=60, J=300, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = torch.rand(I, P, 2, generator=g, dtype=torch.float64) * 64
    if kind == "spread":
        p = torch.rand(I, J, 2, generator=g, dtype=torch.float64) * 64
    elif kind == "clump":  # a dense blob in one corner: most queries far from every point
        p = 10 + torch.randn(I, J, 2, generator=g, dtype=torch.float64) * 2
    elif kind == "outliers":  # rows of very different extents, some points far off
        p = torch.rand(I, J, 2, generator=g, dtype=torch.float64) * 64
        p[0] = p[0] * 0.05 + 30
        p[1, ::7] += 1e5
        p[2, ::5] = -1e6
    elif kind == "line":  # queries on a horizontal line: a grid box of zero height
        q[..., 1] = 17.0
        p = torch.rand(I, J, 2, generator=g, dtype=torch.float64) * 64
    elif kind == "spot":  # every query at one place, points all around and far
        q[:] = 31.5
        p = (torch.rand(I, J, 2, generator=g, dtype=torch.float64) - 0.5) * 500
    else:
        raise ValueError(kind)
    return q.to(dtype), p.to(dtype)


@pytest.mark.parametrize("kind", ["spread", "clump", "outliers", "line", "spot"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_matches_dense_argmin(kind, dtype):
    q, p = _case(kind, dtype=dtype)
    got = nearest_index(q, p)
    ref = nearest_index_naive(q.double(), p.double())
    assert got.shape == (4, 60) and got.dtype == torch.long
    assert torch.equal(got, ref)


def test_large_batch_matches_dense_argmin():
    """The training batch's shape (16 x 5 rows, 128 samples, 2048 points), points spread like
    a cloud over its silhouette."""
    g = torch.Generator().manual_seed(3)
    q = 16 + torch.rand(80, 128, 2, generator=g) * 32
    p = 32 + torch.randn(80, 2048, 2, generator=g) * 9
    got = nearest_index(q, p)
    ref = nearest_index_naive(q.double(), p.double())
    assert (got == ref).float().mean() > 0.999  # float32 ties aside
    dist = lambda i: (q.double() - torch.gather(p.double(), 1, i[..., None].expand(-1, -1, 2))).norm(dim=-1)  # noqa
    torch.testing.assert_close(dist(got), dist(ref), rtol=0, atol=1e-9)


def test_nonfinite_points_and_empty_rows():
    q, p = _case("spread", I=3, P=20, J=50)
    p[0, :25] = float("nan")
    p[1, 10] = float("inf")
    p[2] = float("nan")  # no finite point at all
    got = nearest_index(q, p)
    ref = nearest_index_naive(q, p)
    assert torch.equal(got[:2], ref[:2])
    assert (got[0] >= 25).all() and (got[1] != 10).all() and (got[2] == 0).all()


def test_ties_give_an_equally_near_point():
    """Duplicated points: the index may differ from the dense argmin's, the distance may not."""
    q, p = _case("spread", I=2, P=30, J=40)
    p = torch.cat([p, p], 1)
    got = nearest_index(q, p)
    dist = lambda i: (q - torch.gather(p, 1, i[..., None].expand(-1, -1, 2))).norm(dim=-1)  # noqa
    torch.testing.assert_close(dist(got), dist(nearest_index_naive(q, p)), rtol=0, atol=0)


def test_bad_shapes():
    with pytest.raises(ValueError):
        nearest_index(torch.zeros(2, 3, 2), torch.zeros(3, 4, 2))
    with pytest.raises(ValueError):
        nearest_index(torch.zeros(2, 3, 3), torch.zeros(2, 4, 2))
    with pytest.raises(ValueError):
        nearest_index(torch.zeros(2, 3, 2), torch.zeros(2, 0, 2))
