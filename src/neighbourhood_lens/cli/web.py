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
    lad: Annotated[str, typer.Option(help="Local authority: code or name, any case (2019 codes and names are "
                                         "carried to 2024), e.g. E08000021 or 'Newcastle upon Tyne'.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    db: DbOption = None,
) -> None:
    """Write a single self-contained HTML report on one local authority."""
    from neighbourhood_lens.geo.places import resolve_lad
    from neighbourhood_lens.outputs.profile_outcomes import profile_sources
    from neighbourhood_lens.outputs.report import write_lad_report
    from neighbourhood_lens.outputs.tables import provenance_record, write_sidecar

    from ..warehouse import connect

    con = connect(db)
    place = resolve_lad(con, lad, vintage=2024)
    path = write_lad_report(con, place.code, out)
    ids = ["imd2025_lsoa21", "cni2023_lsoa21", "census2021_population_lsoa21", "lookup_lsoa21_ward24_lad24",
           "lookup_lad24_region24", "imd2019_lsoa11", "cni2019_ward17", "population2019_lsoa11",
           "lookup_lsoa11_ward17", "boundaries_lsoa21", *profile_sources()]
    write_sidecar(path, provenance_record(con, ids, command="report", parameters={"lad": place.code}))
    console.print(f"Wrote the report on {place.name} ({place.code}) to {path} ({path.stat().st_size / 1e3:,.0f} kB)",
                  highlight=False)
