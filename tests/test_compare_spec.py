"""Compare mode's SPEC: field=value overrides of the current fit settings (no Qt)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.compare_spec import SpecError, compare_config, describe, parse_spec
from core.fit.config import PRESETS, FitConfig, apply_preset
from core.params import JobConfig, param
from core.train.config import TrainConfig


@pytest.fixture
def base() -> FitConfig:
    return apply_preset("default", points=2000)


def test_overrides_are_read_with_the_fields_types(base: FitConfig) -> None:
    cfg = compare_config("beta=3,sigma=2", base)
    assert (cfg.beta, cfg.sigma) == (3.0, 2.0) and isinstance(cfg.beta, float)
    assert cfg.points == 2000 and cfg.init == base.init and cfg.preset == "default"
    cfg = compare_config(" points=500 , iterations=40, init=box, R=3, views-per-step=2 ", base)
    assert (cfg.points, cfg.iterations, cfg.init, cfg.R, cfg.views_per_step) == \
        (500, 40, "box", 3, 2)
    assert isinstance(cfg.points, int)
    assert compare_config("lr=0.01", base).lr == 0.01  # the CLI flag name
    assert base.beta == 0.0  # the current settings are not changed


def test_preset_swaps_the_preset_under_the_changed_settings(base: FitConfig) -> None:
    paper = compare_config("preset=drwr-paper", base)
    assert paper == apply_preset("drwr-paper", points=2000)
    for k, v in PRESETS["drwr-paper"].items():
        assert getattr(paper, k) == v
    # a setting changed from the current preset is kept; a later field wins over the preset
    cfg = compare_config("preset=drwr-paper,beta=1", base.replace(points=700, sigma=2.5))
    assert (cfg.preset, cfg.init, cfg.points, cfg.sigma, cfg.beta) == \
        ("drwr-paper", "box", 700, 2.5, 1.0)
    back = compare_config("preset=default", apply_preset("drwr-paper", points=64))
    assert back == apply_preset("default", points=64)


@pytest.mark.parametrize("spec, words", [
    ("", "at least one field=value"),
    (" , ", "at least one field=value"),
    ("foo=1", "unknown field 'foo'"),
    ("beta", "'beta' is not field=value"),
    ("=3", "is not field=value"),
    ("beta=", "beta needs a value"),
    ("beta=x", "beta must be a number, got 'x'"),
    ("beta=nan", "beta must be a finite number"),
    ("beta=30", "beta must be in [0.0, 20.0], got 30.0"),
    ("points=2.5", "points must be an integer, got '2.5'"),
    ("points=8", "points must be in [16,"),
    ("init=blob", "init must be one of"),
    ("beta=1,beta=2", "beta is given twice"),
    ("beta=1,preset=nope", "unknown preset 'nope'"),
])
def test_bad_specs_say_what_is_wrong_in_one_line(base: FitConfig, spec: str,
                                                 words: str) -> None:
    with pytest.raises(SpecError) as err:
        compare_config(spec, base)
    msg = str(err.value)
    assert words in msg and "\n" not in msg


@dataclass
class _Toy(JobConfig):
    flag: bool = param(False, "a switch")
    preset: str = param("a", "a name", choices=("a", "b"))


def test_unknown_field_lists_the_fields_and_other_configs_work() -> None:
    with pytest.raises(SpecError, match="fields: points, iterations"):
        parse_spec("bogus=1", FitConfig)
    cfg = compare_config("batch_size=4,sigma=2", TrainConfig())
    assert (cfg.batch_size, cfg.sigma) == (4, 2.0) and type(cfg) is TrainConfig
    paper = compare_config("preset=drwr-paper,batch_size=2", TrainConfig())
    assert paper.preset == "drwr-paper" and paper.batch_size == 2
    assert paper.loss_size == TrainConfig.from_preset("drwr-paper").loss_size
    for word, want in (("on", True), ("true", True), ("0", False), ("off", False)):
        assert compare_config(f"flag={word}", _Toy()).flag is want
    with pytest.raises(SpecError, match="flag must be true or false, got 'maybe'"):
        compare_config("flag=maybe", _Toy())
    with pytest.raises(SpecError, match="preset= applies to settings with presets"):
        compare_config("preset=b", _Toy())
    assert describe("beta=3,sigma=2") == "beta=3, sigma=2"


def test_window_flags_refuse_a_bad_spec_before_any_window(capsys: pytest.CaptureFixture,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from app.gui_main import run_gui

    monkeypatch.delenv("DISPLAY", raising=False)  # no window may open: Qt would abort
    assert run_gui(["--demo", "--compare", "bogus=1", "--exit-after", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--compare bogus=1: unknown field 'bogus'" in err and "\n" not in err
    assert run_gui(["--demo", "--compare", "beta=99", "--exit-after", "1"]) == 2
    assert "beta must be in [0.0, 20.0], got 99.0" in capsys.readouterr().err
    assert run_gui(["--demo", "--points", "3", "--compare", "beta=1"]) == 2
    assert "points must be in [16, 200000], got 3" in capsys.readouterr().err
    assert run_gui(["--demo", "--export-compare", "b.ply", "--exit-after", "1"]) == 2
    assert "--export-compare goes with --compare" in capsys.readouterr().err
    assert run_gui(["--compare", "beta=1", "--exit-after", "1"]) == 2
    assert "--compare goes with --scene or --demo" in capsys.readouterr().err
    assert run_gui(["--demo", "--compare", "beta=1", "--export-compare", "b.ply"]) == 2
    assert "give --exit-after too" in capsys.readouterr().err
