"""``nlens data``: fetch official files, build the warehouse, show what is loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ._common import (
    DbOption,
    FormatOption,
    OutputFormat,
    check_suffix,
    console,
    data_format,
    emit,
    err_console,
    handle_errors,
    is_stdout,
    note,
    progress_bar,
    wrote,
)

app = typer.Typer(help="Fetch official data, build the warehouse, and inspect it.", no_args_is_help=True)


def _parse_files(items: list[str] | None) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for item in items or []:
        if "=" not in item:
            raise typer.BadParameter(f"{item!r} is not ID=PATH (e.g. cni2019_ward17=cni.csv)")
        k, v = item.split("=", 1)
        out[k.strip()] = Path(v).expanduser()
    return out


SourcesOption = Annotated[
    Path | None,
    typer.Option("--sources", envvar="NLENS_SOURCES",
                 help="Your sources file (TOML: dataset id -> url, optional sha256/format) replacing addresses."),
]


@app.command()
@handle_errors
def fetch(
    datasets: Annotated[list[str] | None, typer.Argument(help="Dataset ids (default: all).")] = None,
    cache: Annotated[Path | None, typer.Option(envvar="NLENS_CACHE", help="Download cache directory.")] = None,
    sources: SourcesOption = None,
    url: Annotated[list[str] | None, typer.Option(help="Override one address: ID=URL (repeatable).")] = None,
    force: Annotated[bool, typer.Option(help="Download again even if cached.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a server before giving up.")] = 60.0,
    fmt: FormatOption = OutputFormat.auto,
) -> None:
    """Download the official files (gov.uk, ONS, Nomis, Defra) into the cache and verify them.

    Each dataset is fetched from its registry address (falling back to the listed alternatives),
    read in the publisher's layout and checked. OCSI's CNI is never downloaded unless you give
    its address yourself (--url or --sources).
    """
    import pandas as pd

    from neighbourhood_lens.data.download import default_cache_dir, load_sources_file
    from neighbourhood_lens.data.download import fetch as do_fetch

    cache_dir = cache or default_cache_dir()
    urls = {k: str(v) for k, v in _parse_files(url).items()}
    with _fetch_progress() as (update, transfer):
        results = do_fetch(datasets, cache_dir=cache_dir, sources=load_sources_file(sources), urls=urls,
                           force=force, progress=update, transfer=transfer, timeout=timeout)
    frame = pd.DataFrame([{"status": r.status, "dataset": r.dataset_id, "address": r.url or "",
                           "detail": r.detail} for r in results])
    order = {"downloaded": 0, "cached": 1, "failed": 2, "manual": 3}
    frame = frame.sort_values("status", key=lambda s: s.map(order), kind="stable")
    emit(frame, title=f"Download cache: {cache_dir}")
    counts = frame["status"].value_counts()
    console.print(f"Fetched {counts.get('downloaded', 0)}, cached {counts.get('cached', 0)}, failed "
                  f"{counts.get('failed', 0)}, no direct address {counts.get('manual', 0)}.", highlight=False)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


@contextmanager
def _fetch_progress() -> Iterator[tuple[Callable[[str, int, int], None], Callable[[str, int, int | None, str], None]]]:
    """Rich progress: an overall bar (datasets) and one bar per file (bytes, or rows for ArcGIS
    layers); a file's bar stays when it completes, so the screen shows what was transferred."""
    from rich.filesize import decimal
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description:<42}"), BarColumn(), TextColumn("{task.fields[amount]:>22}"),
                   TimeElapsedColumn(), console=err_console, transient=False)
    tasks: dict[str, object] = {}

    def update(label: str, n: int, total: int) -> None:
        if "all" not in tasks:
            bar.start()
            tasks["all"] = bar.add_task("[bold]All datasets", total=total, amount="")
        bar.update(tasks["all"], completed=n - 1, amount=f"{n - 1}/{total} datasets")  # type: ignore[arg-type]

    def transfer(ds_id: str, done: int, total: int | None, unit: str) -> None:
        amount = (f"{decimal(done)}" + (f"/{decimal(total)}" if total else "") if unit == "bytes"
                  else f"{done:,}" + (f"/{total:,}" if total else "") + " rows")
        if ds_id not in tasks:
            tasks[ds_id] = bar.add_task(f"  {ds_id}", total=total, amount=amount)
        bar.update(tasks[ds_id], completed=done, total=total, amount=amount)  # type: ignore[arg-type]

    try:
        yield update, transfer
    except BaseException:
        if "all" in tasks:  # a bar that never started leaves nothing behind
            bar.live.transient = True
            bar.stop()
        raise
    if "all" in tasks:
        total = bar.tasks[0].total or 0
        bar.update(tasks["all"], completed=total, amount=f"{int(total)}/{int(total)} datasets")  # type: ignore[arg-type]
        bar.stop()


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
        typer.Option("--file", help="Use this file for a dataset: ID=PATH (repeatable; e.g. your CNI copy). "
                                    "Into an existing warehouse: replaces just that dataset."),
    ] = None,
    only: Annotated[str | None, typer.Option(help="Comma-separated dataset ids to load; the rest are kept.")] = None,
    sources: SourcesOption = None,
    offline: Annotated[bool, typer.Option(help="Never download; say which files are missing.")] = False,
) -> None:
    """Build the DuckDB warehouse: from a mirror, or (without --mirror) fetching what is missing.

    A rebuild keeps your neighbourhood sets, stored results and caches, and says when the new
    data invalidates them.
    """
    from neighbourhood_lens.data.build import build_warehouse
    from neighbourhood_lens.data.download import default_cache_dir, load_sources_file

    from ..warehouse import resolve_db_path

    path = resolve_db_path(db)
    with progress_bar("Loading") as update:
        report = build_warehouse(
            path, mirror=mirror, cache_dir=cache or default_cache_dir(), files=_parse_files(file),
            only=[s.strip() for s in only.split(",")] if only else None, progress=update,
            fetch_missing=mirror is None and not offline, sources=load_sources_file(sources),
        )
    parts = [f"{len(report.loaded)} loaded"]
    if report.kept:
        parts.append(f"{len(report.kept)} kept from the previous warehouse")
    if report.fetched:
        parts.append(f"{len(report.fetched)} downloaded")
    n = len(report.loaded) + len(report.kept)
    console.print(f"[green]Built[/] {escape(str(path))} with {n} datasets in {report.seconds:.1f} s "
                  f"({', '.join(parts)})", highlight=False)
    if report.user_tables:
        console.print(f"Kept your tables: {', '.join(report.user_tables)}", highlight=False)
    for line in report.info:
        note(line)
    for w in report.warnings:
        note(w, label="warning")


@app.command()
@handle_errors
def status(db: DbOption = None, fmt: FormatOption = OutputFormat.auto) -> None:
    """Show what is loaded, from where, with checksums and row counts, and every join's result.

    On screen the SHA-256 shows its first 12 hex digits (enough to tell files apart); ``--format
    csv|tsv|json`` gives every column in full.
    """
    from ..warehouse import connect, join_report
    from ..warehouse import status as get_status

    con = connect(db)
    frame = get_status(con)
    if data_format():
        emit(frame)
    else:
        shown = frame[["dataset_id", "rows_loaded", "source", "sha256", "loaded_at"]].copy()
        shown["sha256"] = shown["sha256"].str[:12]
        shown["loaded_at"] = shown["loaded_at"].astype(str).str[:19]
        emit(shown.rename(columns={"sha256": "sha256_first_12"}), title="Datasets in the warehouse",
             formats={"rows_loaded": ",d"})
    joins = join_report(con)
    bad = joins[joins["unmatched"] > 0]
    console.print(f"{len(joins)} joins checked; {len(bad)} with unmatched codes" + (":" if len(bad) else "."),
                  highlight=False)
    if data_format():
        emit(joins)
    elif len(bad):
        emit(bad[["step", "left_rows", "unmatched", "unmatched_examples"]],
             formats={"left_rows": ",d", "unmatched": ",d"})


@app.command()
@handle_errors
def adjacency(
    db: DbOption = None,
    vintage: Annotated[list[int] | None, typer.Option(help="LSOA vintage(s): 2011, 2021 (default both).")] = None,
    rebuild: Annotated[bool, typer.Option(help="Recompute even if cached.")] = False,
) -> None:
    """Compute LSOA queen adjacency (with island links) once and cache it in the warehouse."""
    from neighbourhood_lens.geo.adjacency import ensure_adjacency

    from ..warehouse import resolve_db_path

    for v in vintage or [2011, 2021]:
        if v not in (2011, 2021):
            raise typer.BadParameter(f"vintage must be 2011 or 2021, not {v}")
        n = ensure_adjacency(resolve_db_path(db), v, rebuild=rebuild)
        console.print(f"adjacency_lsoa{str(v)[2:]}: {n:,} links")


@app.command()
@handle_errors
def sources(
    out: Annotated[Path | None, typer.Option(help="Write the registry: .toml (a sources file you can edit and "
                                                    "pass back with --sources), .csv, or - (stdout).")] = None,
    fmt: FormatOption = OutputFormat.auto,
) -> None:
    """List the source registry: every dataset, its publisher, licence and direct address (or why none).

    The screen shows each dataset's publisher, whole URL and licence; ``--format csv|tsv|json``
    and ``--out`` give the full registry (title, publisher, licence, URL, fallbacks, landing page, ...).
    """
    from neighbourhood_lens.data.download import write_sources_file
    from neighbourhood_lens.data.sources import registry_frame

    check_suffix(out, (".toml", ".csv"))
    full = registry_frame()
    if data_format():
        emit(full)
    else:
        frame = full[["id", "publisher"]].copy()
        frame["url"] = [u if d else "(no direct address)"
                        for u, d in zip(full["url"], full["direct_download"], strict=True)]
        frame["licence"] = full["licence"]
        emit(frame, title="Source registry")
    open_ = full[full["open_data"]]
    direct = int(open_["direct_download"].sum())
    console.print(f"Open datasets with a direct address: [bold]{direct}[/] of {len(open_)}; "
                  f"with a fallback address: {int((open_['fallbacks'] != '').sum())}.", highlight=False)
    for row in full[~full["direct_download"]].itertuples():
        console.print(f"No direct address: [bold]{row.id}[/]: {row.no_url_reason or row.url}", highlight=False)
    if out is not None and is_stdout(out):
        from neighbourhood_lens.outputs.tables import provenance_record, write_table

        write_table(full, out, provenance=provenance_record(None, [], command="data sources"), key="id")
        wrote(len(full), out)
    elif out is not None:
        write_sources_file(out)
        console.print(f"Wrote {out}", highlight=False)
        if out.suffix.lower() == ".toml":
            csv = out.with_suffix(".csv")
            write_sources_file(csv)
            console.print(f"Wrote {csv}", highlight=False)
