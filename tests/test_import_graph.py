"""No import circles: between any two modules of core/, app/ and widgets/ (imports inside
functions count too), nor between core's sub-packages. import-linter's layers contract
(pyproject.toml) fixes the direction between core's parts; this walk also sees the modules
inside one part."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPS = ("core", "app", "widgets")


def _modules() -> dict[str, Path]:
    mods = {}
    for top in TOPS:
        for path in (ROOT / top).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return mods


def graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (anywhere in the file; a package's
    ``__init__`` is not an edge, as importing a name from a package reaches its module)."""
    mods = _modules()
    out: dict[str, set[str]] = {}
    for m, path in mods.items():
        pkg = m if path.name == "__init__.py" else m.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            for n in names:
                while n and n not in mods:
                    n = n.rsplit(".", 1)[0] if "." in n else ""
                if n and n != m and mods[n].name != "__init__.py":
                    deps.add(n)
        out[m] = deps
    return out


def circles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in g:
        if root in index:
            continue
        work = [(root, iter(sorted(g.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_no_module_circles() -> None:
    g = graph()
    assert len(g) > 100  # the walk found the project
    assert circles(g) == []


def test_no_circles_between_cores_parts() -> None:
    parts: dict[str, set[str]] = {}
    for m, deps in graph().items():
        if m.startswith("core.") and m.count(".") >= 2:
            src = ".".join(m.split(".")[:2])
            parts.setdefault(src, set()).update(
                ".".join(d.split(".")[:2]) for d in deps
                if d.startswith("core.") and d.count(".") >= 1 and not d.startswith(src + "."))
    parts = {k: {d for d in v if d != k} for k, v in parts.items()}
    assert circles(parts) == []


def test_the_walk_finds_a_circle_and_imports_inside_functions() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    g = graph()
    # app.follow imports core.train.predict inside a function only
    assert "core.train.predict" in g["app.follow"]
