"""docs/python-api.md: its Python example runs as written (in a temporary folder) and does
what the text says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1, "docs/python-api.md should hold one Python example"
    return blocks[0]


def test_python_api_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(_example(), str(DOC), "exec"), ns)  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    assert "8 views of (64, 64) pixels" in out and "CD x100" in out
    assert ns["fitter"].done and ns["fitter"].iteration == 50
    assert set(ns["losses"]) == {"total", "silhouette", "repulsion", "surface", "spread"}
    m = ns["m"]
    assert 0 < m["cd"] < 5 and m["inside_fraction"] > 0.9
    from core.io.points import read_points

    back = read_points(tmp_path / "api_demo" / "chair.ply")
    assert back.shape == (1000, 3) and np.allclose(back, ns["points"], atol=1e-6)
