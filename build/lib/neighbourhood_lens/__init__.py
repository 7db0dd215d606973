"""neighbourhood-lens: targeting, auditing and evaluating policy at neighbourhood scale.

The package is deliberately light to import; heavy dependencies (GeoPandas, matplotlib,
FastAPI) are imported inside the functions that use them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("neighbourhood-lens")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
