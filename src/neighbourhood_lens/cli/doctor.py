"""``nlens doctor``: versions, data locations and checksums, for bug reports."""

from __future__ import annotations

from rich.text import Text

from ._common import DbOption, console, handle_errors


def _why(db: object) -> str:
    import os

    from ..warehouse import LOCAL_NAME

    if db is not None:
        return "--db or NLENS_DB" if os.environ.get("NLENS_DB") else "--db"
    return f"./{LOCAL_NAME} in the current directory (no --db or NLENS_DB)"


@handle_errors
def doctor(db: DbOption = None) -> None:
    """Print versions of Python and key libraries, data locations, and the warehouse's sources."""
    import os
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from neighbourhood_lens import __version__
    from neighbourhood_lens.data.download import default_cache_dir, read_manifest

    from ..errors import NeighbourhoodLensError
    from ..warehouse import connect, has_table, resolve_db_path

    console.print(f"neighbourhood-lens {__version__} on Python {platform.python_version()} ({platform.platform()})")
    for pkg in ("duckdb", "pandas", "pyarrow", "geopandas", "shapely", "libpysal", "fastapi", "requests",
                "python-calamine"):
        try:
            console.print(f"  {pkg:<16} {version(pkg)}")
        except PackageNotFoundError:
            console.print(f"  {pkg:<16} not installed")
    path = resolve_db_path(db)
    console.print(f"warehouse: {path} ({'present' if path.exists() else 'missing'}; chosen by {_why(db)})",
                  highlight=False)
    cache = default_cache_dir()
    manifest = read_manifest(cache) if cache.exists() else {}
    console.print(f"download cache: {cache} ({len(manifest)} dataset(s) fetched)", highlight=False)
    console.print(f"sources file: {os.environ.get('NLENS_SOURCES') or 'none (registry addresses)'}", highlight=False)
    if path.exists():
        try:
            con = connect(path)
        except NeighbourhoodLensError as exc:
            console.print(Text(f"  cannot open it: {exc}"), highlight=False)
            return
        if has_table(con, "provenance"):
            for ds, sha, src in con.execute("SELECT dataset_id, sha256, source FROM provenance ORDER BY 1").fetchall():
                console.print(f"  {ds:<42} {(sha or '')[:16]:<16}  {src}", highlight=False)
