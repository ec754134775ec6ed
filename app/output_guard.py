"""Outputs never clobber inputs: one check that every command and the window run on their
parsed flags before any work.

Each path argument of a parser is tagged where it is declared: ``reads(action, what)`` for an
input (scene, dataset, run folder, mesh, cloud, code) and ``writes(action)`` for an output
(a file, or a folder the command fills). :func:`check_args` then refuses, naming both paths,

- an output that is an input, or lies inside an input folder (``--json ds/dataset.json``),
- an output folder the command fills with its own files (``replaces=True``: make-scene,
  convert) that holds an input (``make-scene s1/chair.obj s1``),
- two outputs that are the same file (``--out o.ply --mesh-out o.ply``).

An input file named ``scene.json`` or ``dataset.json`` stands for its folder (the command
reads the whole folder). Inputs that do not exist (a bundled shape's name) are skipped.
Every output must then be writable where it points (checked by making and removing a
temporary file), so a bad path fails before the work, not after it.
:func:`untagged_paths` lists the string flags that carry no tag, so a test can require every
new path flag to say what it is.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["OutputClash", "reads", "writes", "value", "check_args", "check_clash",
           "check_place", "tagged", "untagged_paths", "ROLE"]

#: attribute set on an argparse Action: "input", "output" or "value"
ROLE = "drwr_role"
_FOLDER_FILES = ("scene.json", "dataset.json")


class OutputClash(ValueError):
    """An output path that would overwrite (or write inside) an input."""


def reads(action: argparse.Action, what: str) -> argparse.Action:
    """Tag ``action`` as an input path; ``what`` names it in messages ("scene", "dataset")."""
    setattr(action, ROLE, "input")
    action.drwr_what = what  # type: ignore[attr-defined]
    return action


def writes(action: argparse.Action, replaces: bool = False, folder: bool = False
           ) -> argparse.Action:
    """Tag ``action`` as an output path: a file, or (``folder``) a folder the command fills
    (made by the command, not by the check); ``replaces``: a folder the command fills with its
    own files, which must not hold an input either."""
    setattr(action, ROLE, "output")
    action.drwr_replaces = replaces  # type: ignore[attr-defined]
    action.drwr_folder = folder or replaces  # type: ignore[attr-defined]
    return action


def value(action: argparse.Action) -> argparse.Action:
    """Tag a string flag that is not a path (a list of views, a split name)."""
    setattr(action, ROLE, "value")
    return action


def _flag(action: argparse.Action) -> str:
    return action.option_strings[-1] if action.option_strings else action.dest.upper()


def _values(action: argparse.Action, args: argparse.Namespace) -> Iterator[str]:
    v = getattr(args, action.dest, None)
    if v is None:
        return
    for item in (v if isinstance(v, (list, tuple)) else [v]):
        if isinstance(item, (str, os.PathLike)) and str(item):
            yield str(item)


def _real(path: str) -> Path:
    return Path(os.path.realpath(os.path.expanduser(path)))


def _input_root(path: str) -> Path:
    p = _real(path)
    return p.parent if p.name in _FOLDER_FILES and p.is_file() else p


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(child: Path, folder: Path) -> bool:
    return child != folder and folder in child.parents


def check_clash(outputs: list[tuple[str, str, bool]], inputs: list[tuple[str, str]],
                reader: str = "this command") -> None:
    """Raise OutputClash (one line naming both paths) when an output clobbers an input or
    another output. ``outputs``: (flag, path, replaces); ``inputs``: (what, path);
    ``reader`` names who reads the inputs in the message."""
    ins = [(what, path, _input_root(path)) for what, path in inputs if os.path.lexists(path)]
    seen: list[tuple[str, str, Path]] = []
    for flag, out, replaces in outputs:
        o = _real(out)
        for what, path, i in ins:
            if _same(o, i):
                raise OutputClash(f"{out}: {flag} is the {what} {path} that {reader} reads; "
                                  "choose another path")
            if _inside(o, i):
                raise OutputClash(f"{out}: {flag} lies inside the {what} {path} that {reader} "
                                  "reads; choose a path outside it")
            if replaces and _inside(i, o):
                raise OutputClash(f"{out}: {flag} holds the {what} {path} that {reader} "
                                  "reads; choose another folder")
        for other_flag, other, p in seen:
            if _same(o, p):
                raise OutputClash(f"{out}: {flag} and {other_flag} name the same file; give "
                                  "each its own path")
        seen.append((flag, out, o))


def tagged(parser: argparse.ArgumentParser, role: str) -> list[argparse.Action]:
    """The actions of ``parser`` tagged ``role``."""
    return [a for a in parser._actions if getattr(a, ROLE, None) == role]


def check_place(flag: str, path: str, folder: bool) -> None:
    """OutputClash unless ``path`` can be written: a file's folder is made if missing and
    must take a new file; a folder output is not made here, its nearest existing parent
    must take new entries."""
    from core.io.atomic import check_writable

    p = Path(path).absolute()
    if folder and p.exists() and not p.is_dir():
        raise OutputClash(f"{path}: {flag} names a file, not a folder")
    parent = p if folder else p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputClash(f"{path}: {flag} cannot be written there: {parent} is a file, not "
                          "a folder")
    try:
        if not folder:
            check_writable(path)
            return
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=".drwr-check.")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise OutputClash(f"{path}: {flag} cannot be written there ({why})") from None


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace,
               reader: str = "this command") -> None:
    """Check the tagged paths of ``args`` (parsed by ``parser``): no output clobbers an input
    or another output (:func:`check_clash`), then every output can be written there."""
    outs = [(a, v) for a in tagged(parser, "output") for v in _values(a, args)]
    outputs = [(_flag(a), v, bool(getattr(a, "drwr_replaces", False))) for a, v in outs]
    inputs = [(str(getattr(a, "drwr_what")), v)
              for a in tagged(parser, "input") for v in _values(a, args)]
    check_clash(outputs, inputs, reader)
    for a, v in outs:
        check_place(_flag(a), v, bool(getattr(a, "drwr_folder", False)))


def untagged_paths(parser: argparse.ArgumentParser) -> list[str]:
    """Flags of ``parser`` that take a free string (no type, no choices) and carry no tag."""
    out = []
    for a in parser._actions:
        if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) or a.nargs == 0:
            continue
        if a.choices is not None or a.type not in (None, str) or hasattr(a, ROLE):
            continue
        out.append(_flag(a))
    return out
