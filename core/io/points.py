"""Point-cloud files: write PLY (binary little-endian or ASCII) and OBJ, read PLY/OBJ/XYZ.

points: (N, 3) float; colors: optional (N, 3) uint8 (or floats in [0, 1]).
Reading a mesh file (faces present) returns its vertices.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

__all__ = ["write_ply", "write_obj", "write_points", "read_points", "POINT_FORMATS"]

POINT_FORMATS = (".ply", ".obj", ".xyz")


def _check(points: np.ndarray, colors: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    pts = np.asarray(points, np.float32)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points must be (N, 3), got {pts.shape}")
    if colors is None:
        return pts, None
    col = np.asarray(colors)
    if col.shape != pts.shape:
        raise ValueError(f"colors must be (N, 3) like points, got {col.shape}")
    if col.dtype != np.uint8:
        col = np.clip(np.round(col.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    return pts, col


def write_ply(
    path: str | Path, points: np.ndarray, colors: np.ndarray | None = None, binary: bool = True
) -> Path:
    """Write a PLY point cloud (float x, y, z; optional uchar red, green, blue)."""
    pts, col = _check(points, colors)
    path = Path(path)
    fmt = "binary_little_endian" if binary else "ascii"
    header = ["ply", f"format {fmt} 1.0", "comment DRWR Studio", f"element vertex {len(pts)}",
              "property float x", "property float y", "property float z"]
    if col is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header.append("end_header")
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        if binary:
            if col is None:
                f.write(pts.astype("<f4").tobytes())
            else:
                rec = np.empty(len(pts), dtype=[("p", "<f4", 3), ("c", "u1", 3)])
                rec["p"], rec["c"] = pts, col
                f.write(rec.tobytes())
        else:
            if col is None:
                np.savetxt(f, pts, fmt="%.7g")
            else:
                for p, c in zip(pts, col):
                    f.write(f"{p[0]:.7g} {p[1]:.7g} {p[2]:.7g} {c[0]} {c[1]} {c[2]}\n".encode())
    return path


def write_obj(path: str | Path, points: np.ndarray, colors: np.ndarray | None = None) -> Path:
    """Write an OBJ of vertices only (``v x y z [r g b]`` with colours in [0, 1])."""
    pts, col = _check(points, colors)
    path = Path(path)
    with open(path, "w") as f:
        f.write("# DRWR Studio point cloud\n")
        if col is None:
            np.savetxt(f, pts, fmt="v %.7g %.7g %.7g")
        else:
            data = np.hstack([pts, col / 255.0])
            np.savetxt(f, data, fmt="v %.7g %.7g %.7g %.4f %.4f %.4f")
    return path


def write_points(path: str | Path, points: np.ndarray, colors: np.ndarray | None = None) -> Path:
    """Write by extension: .ply (binary), .obj or .xyz."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".ply":
        return write_ply(path, points, colors)
    if ext == ".obj":
        return write_obj(path, points, colors)
    if ext == ".xyz":
        pts, _ = _check(points, None)
        np.savetxt(path, pts, fmt="%.7g")
        return path
    raise ValueError(f"{path}: unknown point format {ext!r} (use .ply, .obj or .xyz)")


def read_points(path: str | Path) -> np.ndarray:
    """Read (N, 3) float64 points from PLY (points or mesh vertices), OBJ (v lines) or XYZ.

    Raises ValueError naming the file when it is missing, unreadable or has no x, y, z.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        pts = _read_points(path)
    except ValueError as exc:
        msg = str(exc)
        raise ValueError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
    except (IndexError, KeyError, UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"{path}: malformed file ({exc.__class__.__name__}: {exc})") from None
    if not np.all(np.isfinite(pts)):
        raise ValueError(f"{path}: contains non-finite coordinates")
    return pts


def _read_points(path: Path) -> np.ndarray:
    ext = path.suffix.lower()
    if ext == ".xyz" or ext == ".txt":
        try:
            with warnings.catch_warnings():  # an empty file: (0, 3) here, no stderr warning
                warnings.simplefilter("ignore", UserWarning)
                arr = np.loadtxt(path, ndmin=2)
        except ValueError as exc:
            raise ValueError(f"{path}: not an XYZ text file ({exc})") from None
        if arr.size == 0:
            return np.zeros((0, 3))
        if arr.shape[1] < 3:
            raise ValueError(f"{path}: needs at least 3 columns x y z")
        return arr[:, :3].astype(np.float64)
    if ext == ".obj":
        rows = []
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("v "):
                    vals = line.split()[1:4]
                    if len(vals) < 3:
                        raise ValueError(f"vertex line with fewer than 3 coordinates: {line!r}")
                    rows.append([float(x) for x in vals])
        if not rows:
            raise ValueError(f"{path}: no vertices ('v x y z' lines)")
        return np.asarray(rows, np.float64)
    if ext == ".ply":
        return _read_ply(path)
    import trimesh  # other mesh formats: vertices

    try:
        obj = trimesh.load(path, force="mesh")
    except Exception as exc:  # trimesh raises many kinds
        raise ValueError(f"{path}: cannot read ({exc})") from None
    return np.asarray(obj.vertices, np.float64)


_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2",
              "int16": "i2", "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4",
              "uint": "u4", "uint32": "u4", "float": "f4", "float32": "f4", "double": "f8",
              "float64": "f8"}


_PLY_FORMATS = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}


def _ply_header(f, path: Path) -> tuple[str, list[tuple[str, int, list[list[str]]]]]:
    """(format, elements [(name, count, properties)]) of a PLY header; ``f`` is left at the
    body. Raises ValueError for a header without 'format' or with malformed lines."""
    if f.readline().strip() != b"ply":
        raise ValueError(f"{path}: not a PLY file")
    fmt, elements = None, []
    while True:
        line = f.readline()
        if not line:
            raise ValueError(f"{path}: PLY header has no end_header")
        tok = line.decode("ascii", "replace").split()
        if not tok:
            continue
        if tok[0] == "format":
            if len(tok) < 2 or tok[1] not in _PLY_FORMATS:
                raise ValueError(f"{path}: unknown PLY format {' '.join(tok[1:2])!r} (ascii, "
                                 "binary_little_endian or binary_big_endian)")
            fmt = tok[1]
        elif tok[0] == "element":
            if len(tok) < 3 or not tok[2].isdigit():
                raise ValueError(f"{path}: PLY element line needs a name and a count: "
                                 f"{line.decode('ascii', 'replace').strip()!r}")
            elements.append((tok[1], int(tok[2]), []))
        elif tok[0] == "property" and elements:
            elements[-1][2].append(tok[1:])
        elif tok[0] == "end_header":
            break
    if fmt is None:
        raise ValueError(f"{path}: PLY header has no 'format' line (ascii or binary)")
    return fmt, elements


def _ply_dtype(props: list[list[str]], endian: str, path: Path) -> np.dtype:
    unknown = [p[0] for p in props if p[0] not in _PLY_TYPES]
    if unknown:
        raise ValueError(f"{path}: unknown PLY property type {unknown[0]!r}")
    return np.dtype([(p[-1], endian + _PLY_TYPES[p[0]]) for p in props])


def _skip_binary(f, n: int, props: list[list[str]], endian: str, path: Path) -> None:
    """Move ``f`` past ``n`` binary records of ``props`` (list properties included)."""
    if not any(p[0] == "list" for p in props):
        f.seek(n * _ply_dtype(props, endian, path).itemsize, 1)
        return
    for _ in range(n):
        for p in props:
            if p[0] != "list":
                f.seek(_ply_dtype([p], endian, path).itemsize, 1)
                continue
            if p[1] not in _PLY_TYPES or p[2] not in _PLY_TYPES:
                raise ValueError(f"{path}: unknown PLY list type {p[1]!r} / {p[2]!r}")
            ct = np.dtype(endian + _PLY_TYPES[p[1]])
            raw = f.read(ct.itemsize)
            if len(raw) < ct.itemsize:
                raise ValueError(f"{path}: truncated PLY body")
            f.seek(int(np.frombuffer(raw, ct)[0]) * np.dtype(_PLY_TYPES[p[2]]).itemsize, 1)


def _read_ply(path: Path) -> np.ndarray:
    """Vertices (N, 3) of a PLY file; other elements (faces, edges) may come before them.

    The vertex count is checked against the file's size before anything is allocated (a
    header claiming more vertices than the file can hold is refused)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        fmt, elements = _ply_header(f, path)
        names_all = [e[0] for e in elements]
        if "vertex" not in names_all:
            raise ValueError(f"{path}: PLY has no vertex element")
        n, props = elements[names_all.index("vertex")][1:]
        names = [p[-1] for p in props]
        if not {"x", "y", "z"} <= set(names):
            raise ValueError(f"{path}: PLY vertex element lacks x, y, z properties")
        if any(p[0] == "list" for p in props):
            raise ValueError(f"{path}: list properties in the vertex element are not supported")
        before = elements[:names_all.index("vertex")]
        if fmt == "ascii":
            if 2 * len(names) * n > size - f.tell():  # a row holds >= 2 bytes per value
                raise ValueError(f"{path}: PLY header claims {n} vertices, more than the "
                                 f"{size} bytes of the file can hold")
            for _, m, _ in before:
                for _ in range(m):
                    f.readline()
            rows = [f.readline().split() for _ in range(n)]
            try:
                arr = np.asarray(rows, np.float64).reshape(n, len(names))
            except ValueError:
                raise ValueError(f"{path}: truncated or malformed ASCII PLY body") from None
            return arr[:, [names.index(k) for k in "xyz"]]
        endian = _PLY_FORMATS[fmt]
        dt = _ply_dtype(props, endian, path)
        for _, m, p in before:
            _skip_binary(f, m, p, endian, path)
        if dt.itemsize * n > size - f.tell():
            raise ValueError(f"{path}: PLY header claims {n} vertices ({dt.itemsize * n} "
                             f"bytes), more than the file holds (truncated PLY body)")
        rec = np.frombuffer(f.read(dt.itemsize * n), dt, count=n)
        return np.stack([rec["x"], rec["y"], rec["z"]], 1).astype(np.float64)
