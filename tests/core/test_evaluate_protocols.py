"""`evaluate --protocol`: DPC's mean over each object's input views and DRWR's best view,
against per-view references computed one by one."""

from __future__ import annotations

import numpy as np
import pytest

from app.cli import run_cli
from core.formats.datasets import read_dataset
from core.metrics import chamfer, fscore
from core.train.baselines import SilhouetteRetrieval
from core.train.scoring import score_split
from core.train.synth import make_dataset

N = 150


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    root = make_dataset(tmp_path_factory.mktemp("p") / "tiny", per_category=5,
                        categories=("chair", "airplane"), views=3, res=20, n_points=400,
                        progress=False, workers=1)
    return read_dataset(root)


def shifted(scene, view):
    """A fake network whose prediction from view v is the ground truth moved by 0.05·v."""
    return scene.gt_points + np.array([0.05 * view, 0.0, 0.0])


def _per_view(scene, view):
    pred = shifted(scene, view)
    return {**chamfer(pred, scene.gt_points), "fscore": fscore(pred, scene.gt_points, 0.01)}


def test_dpc_averages_over_views_drwr_keeps_the_best(ds):
    dpc = score_split(ds, "test", shifted, protocol="dpc", n_points=N)
    drwr = score_split(ds, "test", shifted, protocol="drwr", n_points=N)
    one = score_split(ds, "test", shifted, protocol="view", view=2, n_points=N)
    retrieval = SilhouetteRetrieval(n_points=N).fit(ds)
    for a, b, c in zip(dpc["objects"], drwr["objects"], one["objects"]):
        s = ds.scene(a["id"])
        ref = [_per_view(s, v) for v in range(s.n_views)]
        for key in ("cd", "cd_pred_gt", "cd_gt_pred", "fscore"):
            assert a["network"][key] == pytest.approx(np.mean([r[key] for r in ref]), abs=1e-9)
            assert c["network"][key] == pytest.approx(ref[2][key], abs=1e-9)
        assert b["network"]["view"] == 0 and b["network"]["cd"] == pytest.approx(0.0, abs=1e-9)
        rcd = [chamfer(retrieval.predict(s.masks[v])[1], s.gt_points)["cd"]
               for v in range(s.n_views)]
        assert a["retrieval"]["cd"] == pytest.approx(np.mean(rcd), abs=1e-9)
        assert b["retrieval"]["cd"] == pytest.approx(min(rcd), abs=1e-9)
        assert b["retrieval"]["view"] == int(np.argmin(rcd))
        assert a["medoid"] == b["medoid"] == c["medoid"]  # one cloud whatever the view
    assert dpc["protocol"] == "dpc" and drwr["overall"]["network"]["cd"] < 1e-9
    assert dpc["overall"]["network"]["cd"] > one["overall"]["network"]["cd"] / 2 > 0
    with pytest.raises(ValueError, match="unknown protocol 'best'"):
        score_split(ds, "test", shifted, protocol="best")


def test_cli_protocol_line(ds, capsys):
    assert run_cli(["evaluate", "--baselines-only", str(ds.root), "--protocol", "drwr",
                    "--points", str(N), "--quiet", "--no-objects"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("protocol drwr: every view of an object in turn as the input, its "
                          "numbers those of its best view (lowest CD)")
    assert "retrieval CD" in out
