"""Where a benchmark's numbers go: ``benchmarks/results_<name>.md``, written by the script.

Every benchmark writes its report to its own results file (benchmarks/README.md lists them), so
each number in the docs can be traced to a file and the command that wrote it. Scripts that
build a markdown report pass it to :func:`write_results`; scripts that print as they go run
their ``main`` through :func:`record`, which copies what they print into the file.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent


def results_path(name: str) -> Path:
    """benchmarks/results_<name>.md."""
    return HERE / f"results_{name}.md"


def header(script: str, argv: list[str] | None = None) -> str:
    """One markdown line: the command that made the results, the date and the machine."""
    args = " ".join(sys.argv[1:] if argv is None else argv)
    cmd = f"python benchmarks/{script}" + (f" {args}" if args else "")
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"Written by `{cmd}` on {when}; {platform.machine()}, {os.cpu_count()} logical "
            f"CPUs, python {platform.python_version()}.")


def write_results(path: str | Path, text: str, script: str) -> Path:
    """Write ``text`` (markdown) to ``path`` under a header naming the command; the path."""
    path = Path(path)
    path.write_text(header(script) + "\n\n" + text.rstrip("\n") + "\n")
    print(f"wrote {path}")
    return path


class _Tee(io.TextIOBase):
    def __init__(self, out) -> None:
        self.out, self.buf = out, io.StringIO()

    def write(self, s: str) -> int:
        self.buf.write(s)
        return self.out.write(s)

    def flush(self) -> None:
        self.out.flush()


def record(name: str, main: Callable[[], int], markdown: bool = False) -> int:
    """Run ``main`` with what it prints also written to results_<name>.md (in a code block
    unless ``markdown``). ``--results PATH`` (taken off the command line before ``main``
    parses it) writes elsewhere, ``--results -`` nowhere. A failed run writes nothing."""
    script = Path(sys.argv[0]).name
    path: str | Path = results_path(name)
    if "--results" in sys.argv:
        i = sys.argv.index("--results")
        if i + 1 >= len(sys.argv):
            print("error: --results needs a path (or -)", file=sys.stderr)
            return 2
        path = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    tee = _Tee(sys.stdout)
    real, sys.stdout = sys.stdout, tee
    try:
        rc = main() or 0
    finally:
        sys.stdout = real
    if rc == 0 and path != "-":
        body = tee.buf.getvalue().rstrip("\n")
        write_results(path, body if markdown else f"```\n{body}\n```", script)
    return rc
