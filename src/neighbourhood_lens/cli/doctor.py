"""``nlens doctor``: versions, data locations and checksums, for bug reports."""

from __future__ import annotations

from ._common import DbOption, console


def doctor(db: DbOption = None) -> None:
    """Print versions of Python and key libraries, data locations, and the warehouse's sources."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__
    from ..download import default_cache_dir
    from ..warehouse import connect, has_table, resolve_db_path

    console.print(f"neighbourhood-lens {__version__} on Python {platform.python_version()} ({platform.platform()})")
    for pkg in ("duckdb", "pandas", "pyarrow", "geopandas", "shapely", "libpysal", "fastapi"):
        try:
            console.print(f"  {pkg:<10} {version(pkg)}")
        except PackageNotFoundError:
            console.print(f"  {pkg:<10} not installed")
    path = resolve_db_path(db)
    console.print(f"warehouse: {path} ({'present' if path.exists() else 'missing'})")
    console.print(f"download cache: {default_cache_dir()}")
    if path.exists():
        con = connect(path)
        if has_table(con, "provenance"):
            for ds, sha, src in con.execute("SELECT dataset_id, sha256, source FROM provenance ORDER BY 1").fetchall():
                console.print(f"  {ds:<42} {sha[:16]}  {src}", highlight=False)
