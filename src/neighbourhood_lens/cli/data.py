"""``nlens data``: fetch official files, build the warehouse, show what is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import DbOption, console, handle_errors, progress_bar, render_table

app = typer.Typer(help="Fetch official data, build the warehouse, and inspect it.", no_args_is_help=True)


def _parse_files(items: list[str] | None) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for item in items or []:
        if "=" not in item:
            raise typer.BadParameter(f"{item!r} is not ID=PATH (e.g. cni2019_ward17=cni.csv)")
        k, v = item.split("=", 1)
        out[k.strip()] = Path(v).expanduser()
    return out


@app.command()
@handle_errors
def fetch(
    datasets: Annotated[list[str] | None, typer.Argument(help="Dataset ids (default: all).")] = None,
    cache: Annotated[Path | None, typer.Option(envvar="NLENS_CACHE", help="Download cache directory.")] = None,
    url: Annotated[list[str] | None, typer.Option(help="Override a URL: ID=URL (repeatable).")] = None,
    force: Annotated[bool, typer.Option(help="Download again even if cached.")] = False,
) -> None:
    """Download the official files (gov.uk, ONS) into the cache and verify them."""
    from ..download import default_cache_dir
    from ..download import fetch as do_fetch

    cache_dir = cache or default_cache_dir()
    urls = {k: str(v) for k, v in _parse_files(url).items()}
    with progress_bar("Fetching") as update:
        results = do_fetch(datasets, cache_dir=cache_dir, urls=urls, force=force, progress=update)
    import pandas as pd

    frame = pd.DataFrame([{"dataset": r.dataset_id, "status": r.status, "detail": r.detail} for r in results])
    console.print(render_table(frame, title=f"Download cache: {cache_dir}"))
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


@app.command()
@handle_errors
def build(
    db: DbOption = None,
    mirror: Annotated[
        Path | None,
        typer.Option(envvar="NLENS_MIRROR", help="Offline mirror directory laid out like ../shared/data."),
    ] = None,
    cache: Annotated[Path | None, typer.Option(envvar="NLENS_CACHE", help="Download cache directory.")] = None,
    file: Annotated[
        list[str] | None,
        typer.Option("--file", help="Use this file for a dataset: ID=PATH (repeatable; e.g. your CNI copy)."),
    ] = None,
    only: Annotated[str | None, typer.Option(help="Comma-separated dataset ids to build.")] = None,
) -> None:
    """Build the DuckDB warehouse from a mirror, the download cache, or named files."""
    from ..build import build_warehouse
    from ..download import default_cache_dir
    from ..warehouse import resolve_db_path

    path = resolve_db_path(db)
    with progress_bar("Loading") as update:
        report = build_warehouse(
            path, mirror=mirror, cache_dir=cache or default_cache_dir(), files=_parse_files(file),
            only=[s.strip() for s in only.split(",")] if only else None, progress=update,
        )
    console.print(f"[green]Built[/] {path} with {len(report.loaded)} datasets in {report.seconds:.1f} s")
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)


@app.command()
@handle_errors
def status(db: DbOption = None) -> None:
    """Show what is loaded, from where, with checksums and row counts, and every join's result."""
    from ..warehouse import connect, join_report
    from ..warehouse import status as get_status

    con = connect(db)
    frame = get_status(con)
    frame["sha256"] = frame["sha256"].str[:12]
    frame["loaded_at"] = frame["loaded_at"].astype(str).str[:19]
    console.print(render_table(frame[["dataset_id", "rows_loaded", "source", "sha256", "loaded_at"]],
                               title="Datasets in the warehouse", formats={"rows_loaded": ",d"}))
    joins = join_report(con)
    bad = joins[joins["unmatched"] > 0]
    console.print(f"{len(joins)} joins checked; {len(bad)} with unmatched codes:")
    if len(bad):
        console.print(render_table(bad[["step", "left_rows", "unmatched", "unmatched_examples"]],
                                   formats={"left_rows": ",d", "unmatched": ",d"}))


@app.command()
@handle_errors
def adjacency(
    db: DbOption = None,
    vintage: Annotated[list[int] | None, typer.Option(help="LSOA vintage(s): 2011, 2021 (default both).")] = None,
    rebuild: Annotated[bool, typer.Option(help="Recompute even if cached.")] = False,
) -> None:
    """Compute LSOA queen adjacency (with island links) once and cache it in the warehouse."""
    from ..adjacency import ensure_adjacency
    from ..warehouse import resolve_db_path

    for v in vintage or [2011, 2021]:
        if v not in (2011, 2021):
            raise typer.BadParameter(f"vintage must be 2011 or 2021, not {v}")
        n = ensure_adjacency(resolve_db_path(db), v, rebuild=rebuild)
        console.print(f"adjacency_lsoa{str(v)[2:]}: {n:,} links")


@app.command()
def sources() -> None:
    """List the source registry: every dataset, its publisher, licence and official URL."""
    from ..sources import registry_frame

    frame = registry_frame()[["id", "publisher", "licence", "vintage", "url"]]
    console.print(render_table(frame, title="Source registry"))
