"""No output clobbers an input: every output flag of every command (and of the window) is
walked against every input flag, straight from the argparse parsers, so a new flag is covered
as soon as it is declared. The check runs before any work, so the inputs here are plain
folders and files; what is asserted is the exit status, the one line naming both paths, and
that the inputs are left byte for byte as they were.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import main as main_module
from app import gui_main
from app.cli import build_parser, command_parsers
from app.output_guard import tagged, untagged_paths

COMMANDS = command_parsers(build_parser())


def _main(capsys, *args: object) -> tuple[int, str]:
    capsys.readouterr()
    rc = main_module.main([str(a) for a in args])
    return rc, capsys.readouterr().err


def _one_line(rc: int, err: str, *words: object) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1, f"exit {rc}:\n{err}"
    assert lines[0].startswith("error: "), lines[0]
    for w in words:
        assert str(w) in lines[0], f"{w!r} not in {lines[0]!r}"
    return lines[0]


def _flag(a: argparse.Action) -> str:
    return a.option_strings[-1] if a.option_strings else a.dest.upper()


def _argv(name: str, parser: argparse.ArgumentParser, given: dict[str, str],
          spare: Path) -> list[str]:
    """A command line of ``name`` with the ``given`` dest -> value, every other positional and
    required flag filled with a path under ``spare`` (which clashes with nothing)."""
    argv = [name]
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        value = given.get(a.dest, str(spare / a.dest))
        if not a.option_strings:
            argv.append(value)
        elif a.dest in given or a.required:
            argv += [a.option_strings[-1], value]
    return argv


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(root.rglob("*"))}


def _pairs() -> list[tuple[str, str, str]]:
    return [(name, o.dest, i.dest) for name, p in COMMANDS.items()
            for o in tagged(p, "output") for i in tagged(p, "input")]


def test_every_path_flag_says_what_it_is():
    """Every free-string flag of every command and of the window is tagged as an input, an
    output or a plain value, so the guard knows every path the command touches."""
    untagged = {name: untagged_paths(p) for name, p in COMMANDS.items()}
    untagged["(window)"] = untagged_paths(gui_main.build_parser())
    assert not {k: v for k, v in untagged.items() if v}, untagged
    commands_with_outputs = {name for name, _, _ in _pairs()}
    assert commands_with_outputs == set(COMMANDS) - {"make-dataset"}  # it reads no path


@pytest.mark.parametrize("name,out_dest,in_dest", _pairs(), ids="-".join)
@pytest.mark.parametrize("how", ["same", "inside"])
def test_output_never_clobbers_an_input(capsys, tmp_path, name, out_dest, in_dest, how):
    parser = COMMANDS[name]
    out_flag = _flag(next(a for a in parser._actions if a.dest == out_dest))
    inputs = tmp_path / "inputs"
    folder = inputs / "given"
    folder.mkdir(parents=True)
    (folder / "scene.json").write_text('{"keep": true}')
    target = folder if how == "same" else folder / "sub" / "out.ply"
    before = _snapshot(inputs)
    argv = _argv(name, parser, {in_dest: str(folder), out_dest: str(target)}, tmp_path / "x")
    rc, err = _main(capsys, *argv)
    line = _one_line(rc, err, target, out_flag, "that this command reads")
    assert line.count(str(folder)) >= 2  # the output, then the input
    assert _snapshot(inputs) == before  # nothing written, no folder made inside the input


@pytest.mark.parametrize("name,out_dest,in_dest", _pairs(), ids="-".join)
def test_output_is_an_input_file(capsys, tmp_path, name, out_dest, in_dest):
    parser = COMMANDS[name]
    src = tmp_path / "input.ply"
    src.write_bytes(b"ply\nuser data\n")
    argv = _argv(name, parser, {in_dest: str(src), out_dest: str(src)}, tmp_path / "x")
    rc, err = _main(capsys, *argv)
    _one_line(rc, err, src, "is the", "that this command reads")
    assert src.read_bytes() == b"ply\nuser data\n"


def test_an_input_file_named_scene_json_stands_for_its_folder(capsys, tmp_path):
    s1 = tmp_path / "s1"
    s1.mkdir()
    (s1 / "scene.json").write_text("{}")
    rc, err = _main(capsys, "predict", tmp_path / "run", s1 / "scene.json", "--out",
                    s1 / "gt_points.ply")
    _one_line(rc, err, s1 / "gt_points.ply", "lies inside")


def test_a_folder_the_command_fills_may_not_hold_an_input(capsys, tmp_path):
    out = tmp_path / "s1"
    out.mkdir()
    (out / "chair.obj").write_text("v 0 0 0\n")
    for cmd in (["make-scene", out / "chair.obj", out, "--overwrite"],
                ["convert", out / "chair.obj", out, "--overwrite"]):
        rc, err = _main(capsys, *cmd)
        _one_line(rc, err, out, out / "chair.obj", "holds")
    assert (out / "chair.obj").read_text() == "v 0 0 0\n"


def test_two_outputs_naming_one_file_are_refused(capsys, tmp_path):
    s1 = tmp_path / "s1"
    s1.mkdir()
    o = tmp_path / "o.ply"
    rc, err = _main(capsys, "fit", s1, "--out", o, "--mesh-out", o)
    _one_line(rc, err, o, "--out", "--mesh-out", "same file")


def test_issue_probes_are_refused(capsys, tmp_path):
    """The five reported commands, on folders shaped like a scene, a dataset and a run."""
    s1, ds, run1 = tmp_path / "s1", tmp_path / "ds", tmp_path / "run1"
    for f in (s1 / "scene.json", s1 / "gt_points.ply", ds / "dataset.json",
              ds / "chair_0003" / "scene.json", ds / "chair_0003" / "gt_points.ply",
              run1 / "config.json", tmp_path / "c.ply"):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"original {f.name}")
    before = _snapshot(tmp_path)
    probes = [
        (["fit", s1, "--out", tmp_path / "o.ply", "--metrics-json", s1 / "scene.json"], s1),
        (["evaluate", run1, ds, "--json", ds / "dataset.json"], ds),
        (["predict", run1, ds / "chair_0003", "--out", ds / "chair_0003" / "gt_points.ply"],
         ds / "chair_0003"),
        (["mesh", tmp_path / "c.ply", "--out", tmp_path / "c.ply"], tmp_path / "c.ply"),
    ]
    for argv, source in probes:
        rc, err = _main(capsys, *argv)
        _one_line(rc, err, source, "that this command reads")
    args = gui_main.build_parser().parse_args(["--scene", str(s1), "--exit-after", "1",
                                               "--export", str(s1 / "gt_points.ply")])
    problem = gui_main._check_args(args)
    assert str(s1 / "gt_points.ply") in problem and "inside the scene" in problem
    assert _snapshot(tmp_path) == before


def _gui_pairs() -> list[tuple[str, str]]:
    p = gui_main.build_parser()
    return [(_flag(o), _flag(i)) for o in tagged(p, "output") for i in tagged(p, "input")
            if _flag(o) != "--run-dir" or _flag(i) == "--dataset"]  # --run-dir needs --dataset


@pytest.mark.parametrize("out_flag,in_flag", _gui_pairs(), ids="-".join)
def test_window_outputs_never_clobber_its_inputs(tmp_path, out_flag, in_flag):
    folder = tmp_path / "given"
    folder.mkdir()
    target = folder / "out.ply"
    argv = ["--exit-after", "1", in_flag, str(folder), out_flag, str(target)]
    problem = gui_main._check_args(gui_main.build_parser().parse_args(argv))
    assert str(target) in problem and out_flag in problem and str(folder) in problem
    assert list(folder.iterdir()) == []


def test_an_unwritable_output_fails_before_the_work(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    s1 = tmp_path / "s1"
    s1.mkdir()
    for argv, out in ((["hull", s1, "--out", blocker / "x.ply"], blocker / "x.ply"),
                      (["make-scene", "chair", blocker / "scene"], blocker / "scene"),
                      (["train", s1, "--out", blocker / "run"], blocker / "run")):
        rc, err = _main(capsys, *argv)
        _one_line(rc, err, out, "cannot be written there")
    if Path("/proc/self").is_dir():  # Linux: a folder nothing can be made in
        rc, err = _main(capsys, "evaluate", "--baselines-only", s1, "--json", "/proc/x.json")
        line = _one_line(rc, err, "/proc/x.json", "--json", "cannot be written there")
        assert "Errno" not in line
