"""core.train: data caching, the network, a tiny training that lowers the loss, exact resume,
checkpoints loadable with weights_only, live parameters, snapshots, the predictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.drwr.silhouette import boundary_bias, signed_distance
from core.formats.datasets import read_dataset
from core.job import Job
from core.train.config import TrainConfig
from core.train.data import SilhouetteViews, ViewCache, input_tensor, shift_scale
from core.train.model import PointNet2D
from core.train.predict import load_run
from core.train.trainer import Trainer
from tests.train_fixtures import make_tiny_dataset

TINY = dict(points=64, input_size=32, width=4, hidden=32, batch_size=3, views_per_object=2,
            workers=0, val_every=5, warmup=2)


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    root = make_tiny_dataset(tmp_path_factory.mktemp("ds") / "tiny", per_category=3, views=3,
                             res=24, gt_points=300)
    return read_dataset(root)


def test_view_cache_holds_the_maps_of_every_view(ds):
    ids = ds.ids("train")
    c = ViewCache(ds, ids, 32, R=2)
    sc = ds.scene(ids[1])
    np.testing.assert_array_equal(c.sd[c.rows(1)], signed_distance(sc.masks))
    np.testing.assert_allclose(c.bias[c.rows(1)], boundary_bias(sc.masks, 2))
    c.set_R(4)
    np.testing.assert_allclose(c.bias[c.rows(1)], boundary_bias(sc.masks, 4))
    assert c.inputs.shape == (3 * len(ids), 3, 32, 32) and c.has_images


def test_items_are_deterministic_per_key(ds):
    c = ViewCache(ds, ds.ids("train"), 32, R=2)
    data = SilhouetteViews(c, views=5, train=True, jitter=0.3)
    a, b = data[(1, [0, 0, 0, 7])], data[(1, [0, 0, 0, 7])]
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    assert a["sd"].shape == (5, 24, 24) and a["K"].shape == (5, 3, 3)
    other = [data[(1, [0, 0, 0, s])]["input"] for s in range(8)]
    assert any(not torch.equal(other[0], o) for o in other), "views/jitter never vary"


def _naive_shift_scale(x, shift, scale):
    """Per-pixel bilinear reference of shift_scale: output (i, j) samples the input at
    ((i, j) - centre - shift) / scale + centre, pixels outside the image = its corner."""
    C, H, W = x.shape
    ci, cj = (H - 1) / 2, (W - 1) / 2
    out = np.zeros(x.shape, np.float32)
    for ch in range(C):
        def px(a, b):
            return x[ch, a, b] if 0 <= a < H and 0 <= b < W else x[ch, 0, 0]
        for i in range(H):
            for j in range(W):
                y = (i - ci - shift[0]) / scale + ci
                u = (j - cj - shift[1]) / scale + cj
                y0, u0 = int(np.floor(y)), int(np.floor(u))
                fy, fu = y - y0, u - u0
                out[ch, i, j] = ((1 - fy) * (1 - fu) * px(y0, u0) + (1 - fy) * fu * px(y0, u0 + 1)
                                 + fy * (1 - fu) * px(y0 + 1, u0) + fy * fu * px(y0 + 1, u0 + 1))
    return out


def test_shift_scale_matches_a_per_pixel_reference():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (3, 12, 12)).astype(np.float32)
    x[:, 0, 0] = [0.9, 0.8, 0.7]  # the background colour brought in from outside
    for shift, scale in [((0.0, 0.0), 1.0), ((2.0, -3.0), 1.0), ((1.3, 0.4), 0.85),
                         ((-0.7, 2.2), 1.2)]:
        np.testing.assert_allclose(shift_scale(x, np.array(shift), scale),
                                   _naive_shift_scale(x, shift, scale), atol=1e-5)
    moved = shift_scale(x, np.array([0.0, 3.0]), 1.0)  # three columns right
    np.testing.assert_allclose(moved[:, :, 3:], x[:, :, :-3], atol=1e-6)
    np.testing.assert_allclose(moved[:, :, :3], np.broadcast_to(x[:, :1, :1], (3, 12, 3)))


def _centre_of_object(x: torch.Tensor) -> np.ndarray:
    """(row, column) centre of the pixels that differ from the corner (background) colour."""
    fg = (x - x[:, :1, :1]).abs().sum(0).numpy() > 0.1
    return np.argwhere(fg).mean(0)


def test_shift_moves_the_training_input_only(ds):
    c = ViewCache(ds, ds.ids("train"), 32, R=2)
    still = SilhouetteViews(c, views=2, train=True)
    moving = SilhouetteViews(c, views=2, train=True, shift=0.15)
    centres = []
    for key in range(6):
        a, b = still[(1, key)], moving[(1, key)]
        src = np.random.default_rng(key).integers(int(c.n_views[1]))  # the item's input view
        stored = torch.from_numpy(c.inputs[c.rows(1)][src].astype(np.float32) / 255)
        torch.testing.assert_close(a["input"], stored)  # shift 0: the stored view
        assert b["input"].shape == (3, 32, 32) and b["input"].dtype == torch.float32
        assert 0.0 <= b["input"].min() and b["input"].max() <= 1.0
        for k in ("K", "R", "t", "sd", "mask", "bias"):  # the supervision is untouched
            torch.testing.assert_close(a[k], b[k])
        centres.append(_centre_of_object(b["input"]) - _centre_of_object(stored))
    moves = np.linalg.norm(centres, axis=1)
    assert moves.max() > 1.0 and len({round(m, 3) for m in moves}) > 1, moves
    assert moves.max() < 0.15 * 32 * 1.5 + 2  # within the drawn range
    val = SilhouetteViews(c, views=2, train=False, jitter=0.3, shift=0.3)
    for key in range(3):  # validation items never move
        torch.testing.assert_close(val[(1, key)]["input"],
                                   torch.from_numpy(c.inputs[c.rows(1)][0] / np.float32(255)))


def test_trainer_shifts_its_training_items_only(ds, tmp_path):
    tr = Trainer(ds, TrainConfig(iterations=2, shift=0.1, dropout=0.2, **TINY), run_dir=tmp_path)
    assert tr.train_set.shift == 0.1
    assert tr.net.dropout == 0.2


def test_input_tensor_composites_rgba_on_white(ds):
    sc = ds.scene(ds.ids("train")[0])
    img = np.zeros((24, 24, 4), np.uint8)
    img[..., 0] = 200
    img[:12, :, 3] = 255  # top half opaque red-ish, bottom transparent
    sc.images = [img] * sc.n_views
    x = input_tensor(sc, 0, (24, 24))
    assert x.shape == (3, 24, 24)
    torch.testing.assert_close(x[:, 0, 0], torch.tensor([200 / 255, 0.0, 0.0]))
    torch.testing.assert_close(x[:, -1, 0], torch.ones(3))
    sc.images = None
    m = input_tensor(sc, 0, (24, 24))
    torch.testing.assert_close(m[0], torch.from_numpy(sc.masks[0]).float())


def test_model_output_is_bounded():
    m = PointNet2D(50, 32, 4, 16)
    y = m(torch.rand(2, 3, 32, 32) * 10)
    assert y.shape == (2, 50, 3) and y.abs().max() < 0.5
    with pytest.raises(ValueError, match="multiple of 16"):
        PointNet2D(50, 40)


def test_dropout_drops_decoder_units_in_training_only():
    x = torch.rand(2, 3, 32, 32)
    torch.manual_seed(0)
    plain = PointNet2D(50, 32, 4, 16, seed=1)
    torch.manual_seed(0)
    dropped = PointNet2D(50, 32, 4, 16, seed=1, dropout=0.5)
    assert plain.state_dict().keys() == dropped.state_dict().keys()  # checkpoints interchange
    plain.train()
    dropped.train()
    assert torch.equal(plain(x), plain(x))
    a, b = dropped(x), dropped(x)
    assert not torch.equal(a, b) and not torch.allclose(a, plain(x))
    dropped.eval()
    torch.testing.assert_close(dropped(x), plain(x))  # eval mode drops nothing
    assert torch.equal(dropped(x), dropped(x))


def test_tiny_training_lowers_the_loss(ds, tmp_path):
    tr = Trainer(ds, TrainConfig(iterations=60, lr=3e-3, seed=1, **TINY), run_dir=tmp_path)
    assert isinstance(tr, Job)
    losses = [tr.step()["total"] for _ in range(60)]
    assert tr.done
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:5]), (losses[:5], losses[-10:])
    assert (tmp_path / "checkpoints" / "latest.pt").is_file()
    assert (tmp_path / "training.png").is_file()
    recs = [r for r in (tmp_path / "metrics.jsonl").read_text().splitlines() if "val_cd" in r]
    assert len(recs) == 60 // 5


def test_resume_continues_exactly(ds, tmp_path):
    cfg = TrainConfig(iterations=12, seed=2, jitter=0.3, **TINY)
    full = Trainer(ds, cfg)
    ref = [full.step()["total"] for _ in range(9)]
    first = Trainer(ds, cfg, run_dir=tmp_path)
    for _ in range(7):
        first.step()
    path = first.save(tmp_path / "checkpoints" / "mid.pt")
    ck = torch.load(path, weights_only=True)
    assert ck["iteration"] == 7 and ck["config"]["points"] == 64
    second = Trainer(ds, cfg, run_dir=tmp_path)
    second.load_state(path)
    assert [second.step()["total"] for _ in range(2)] == ref[7:9]
    bad = Trainer(ds, cfg.replace(points=32))
    with pytest.raises(ValueError, match="points=64"):
        bad.load_state(path)


def test_live_params_snapshot_and_predictor(ds, tmp_path):
    tr = Trainer(ds, TrainConfig(iterations=6, **TINY), run_dir=tmp_path)
    tr.step()
    assert tr.set_params(R=3, beta=0.5, sigma=2.0, sil_weight=2.0) == set()
    assert tr.train_cache.R_bias == 3
    tr.step()
    with pytest.raises(ValueError, match="not live"):
        tr.set_params(points=10)
    snap = tr.snapshot()
    sc = tr.display_scene
    assert snap.points.shape == (64, 3) and snap.uv.shape == (sc.n_views, 64, 2)
    assert tr.field_images().shape == (sc.n_views, 24, 24)
    while not tr.done:
        tr.step()
    pred = load_run(tmp_path, "latest", "cpu")
    x = torch.stack([pred.input_for(sc, 0)])
    np.testing.assert_allclose(pred.predict(x)[0].numpy(), tr.predict_inputs(x)[0], atol=1e-6)
    np.testing.assert_allclose(pred.predict_scene(sc, 0, refine=0), snap_points(tr), atol=1e-6)
    assert pred.refine_steps == 20  # by default a scene's prediction is refined on its view
    assert np.abs(pred.predict_scene(sc, 0) - snap_points(tr)).max() > 1e-5
    sc.images = None
    with pytest.raises(ValueError, match="trained on images"):
        pred.predict_scene(sc, 0)


def snap_points(tr):
    return tr.snapshot().points


def test_silhouette_cover_tells_spread_from_collapse():
    from core.io.mesh_scene import make_scene
    from core.metrics import silhouette_cover

    sc = make_scene("chair", views=3, res=24, gt_points=3000, seed=0)
    args = (sc.K, sc.R, sc.t, sc.masks)
    cover, inside = silhouette_cover(sc.gt_points, *args)
    assert cover > 0.9 and inside > 0.85  # thin legs at 24² lose some nearest pixels
    cover, inside = silhouette_cover(np.repeat(sc.gt_points[:1], 500, 0), *args)
    assert cover < 0.02
    cover, inside = silhouette_cover(sc.gt_points + 2.0, *args)
    assert inside < 0.05


def test_mask_only_dataset_trains_on_masks(tmp_path):
    root = make_tiny_dataset(tmp_path / "masks", per_category=3, views=2, res=16, images=False,
                             gt_points=200, categories=("chair", "table"))
    tr = Trainer(read_dataset(root), TrainConfig(iterations=3, **{**TINY, "input_size": 16}))
    assert tr.input_kind == "mask"
    while not tr.done:
        assert np.isfinite(tr.step()["total"])
    x = tr.train_set[(0, [0])]["input"]
    assert set(torch.unique(x).tolist()) <= {0.0, 1.0}  # no jitter on masks


def test_load_checkpoint_reads_one_file_as_load_run_reads_a_folder(ds, tmp_path):
    from core.train.checkpoint import read_checkpoint, write_checkpoint
    from core.train.predict import load_checkpoint

    tr = Trainer(ds, TrainConfig(iterations=3, **TINY), run_dir=tmp_path / "run")
    for _ in range(3):
        tr.step()
    path = tr.save(tmp_path / "saved.pt")
    pred = load_checkpoint(path, "cpu")
    sc = tr.display_scene
    assert pred.iteration == 3 and pred.path == path
    np.testing.assert_allclose(pred.predict_scene(sc, 0, refine=0), snap_points(tr), atol=1e-6)
    ck = read_checkpoint(path)
    del ck["config"]
    write_checkpoint(tmp_path / "damaged.pt", {k: v for k, v in ck.items()
                                               if k not in ("format", "version")})
    with pytest.raises(ValueError, match="damaged.pt: a damaged checkpoint"):
        load_checkpoint(tmp_path / "damaged.pt", "cpu")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt", "cpu")
