"""``nlens serve`` (the web app) and ``nlens report`` (a self-contained LAD report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import DbOption, console, handle_errors


@handle_errors
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Interface to bind; localhost by default.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    basemap_url: Annotated[str | None, typer.Option(
        envvar="NLENS_BASEMAP_URL", help="Optional XYZ tile URL template drawn under the map (none by default).",
    )] = None,
    max_upload_mb: Annotated[float, typer.Option(min=0.1, help="Upload size limit for grants files, MB.")] = 10.0,
) -> None:
    """Start the web app (map, profiles, left-behind list, funding upload, JSON API under /api)."""
    import uvicorn

    from ..warehouse import resolve_db_path
    from ..web.app import create_app

    app = create_app(resolve_db_path(db), max_upload_bytes=int(max_upload_mb * 1e6), basemap_url=basemap_url)
    console.print(f"Serving on http://{host}:{port}/ (API docs at /api/docs). Ctrl-C stops.")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@handle_errors
def report(
    lad: Annotated[str, typer.Option(help="Local authority (LAD 2024) code, e.g. E08000021.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    db: DbOption = None,
) -> None:
    """Write a single self-contained HTML report on one local authority."""
    from ..report import write_lad_report
    from ..warehouse import connect

    path = write_lad_report(connect(db), lad, out)
    console.print(f"Wrote {path} ({path.stat().st_size / 1e3:,.0f} kB)")
