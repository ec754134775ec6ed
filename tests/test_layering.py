"""The three layers import in one direction: core has no Qt/VTK, widgets have no torch."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "core": {"PyQt5", "PyQt6", "PySide2", "PySide6", "pyvista", "pyvistaqt", "vtk", "vtkmodules",
             "pyqtgraph", "app", "widgets"},
    "widgets": {"torch", "core", "app"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    bad = {str(f.relative_to(ROOT)): sorted(_imports(f) & FORBIDDEN[package]) for f in files}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"forbidden imports: {bad}"


def test_every_subpackage_is_checked() -> None:
    """The walk is recursive: files in core's and widgets' subpackages are among those read."""
    core = {str(f.relative_to(ROOT / "core")) for f in (ROOT / "core").rglob("*.py")}
    assert {"hull/visual_hull.py", "formats/common.py", "drwr/silhouette.py"} <= core
    subdirs = [d for d in (ROOT / "core").iterdir() if d.is_dir() and any(d.rglob("*.py"))]
    assert all(any(f.parent == d for f in (ROOT / "core").rglob("*.py")) for d in subdirs)


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("import torch\nfrom PyQt5.QtCore import QObject\n")
    assert {"torch", "PyQt5"} <= _imports(f)
