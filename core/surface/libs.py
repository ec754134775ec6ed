"""Optional heavy libraries, imported on first use.

gpytoolbox 0.3.8 imports ``scipy.ndimage.filters`` and ``numpy.core`` at import time, which
raise DeprecationWarnings in current SciPy/NumPy; they are silenced here (only those, only
during the import) so that test runs with warnings as errors stay clean.
"""

from __future__ import annotations

import warnings
from types import ModuleType

__all__ = ["gpytoolbox"]


def gpytoolbox() -> ModuleType:
    """The gpytoolbox module (screened Poisson, winding numbers, point-to-mesh distances)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import gpytoolbox as gpy
    return gpy
