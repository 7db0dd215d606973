"""``nlens funding fetch``: a funder's grants from 360Giving, ready for ``nlens funding reach``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import FormatOption, OutputFormat, check_suffix, console, err_console, handle_errors, is_stdout, note


@handle_errors
def fetch(
    funder: Annotated[str, typer.Option("--funder", help="The funder's 360Giving organisation id "
                                                         "(e.g. GB-CHC-1036733).")],
    out: Annotated[Path, typer.Option(help="Where to write the grants: .csv, .xlsx or .json (360Giving standard), "
                                           "or - (stdout: CSV, or as --format says).")],
    date_from: Annotated[str | None, typer.Option("--from", help="First award date to keep (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last award date to keep (YYYY-MM-DD).")] = None,
    route: Annotated[str, typer.Option(help="api (the public 360Giving API) or registry (publisher files "
                                            "listed in the 360Giving Data Registry).")] = "api",
    api: Annotated[str | None, typer.Option(envvar="NLENS_360G_API", help="360Giving API base URL.")] = None,
    registry: Annotated[str | None, typer.Option(envvar="NLENS_360G_REGISTRY",
                                                 help="360Giving registry data.json URL.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server.")] = 60.0,
    fmt: FormatOption = OutputFormat.auto,
) -> None:
    """Pull a funder's grants from 360Giving (public, no key) flattened to the 360Giving standard."""
    from rich.progress import BarColumn, Progress, TextColumn

    from neighbourhood_lens.funding.fetch import fetch_grants, write_fetch

    check_suffix(out, (".csv", ".xlsx", ".json"))
    with Progress(TextColumn("[bold]Fetching grants"), BarColumn(), TextColumn("{task.completed} grants"),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("grants", total=None)
        result = fetch_grants(funder, route=route, date_from=date_from, date_to=date_to, api=api, registry=registry,
                              timeout=timeout, progress=lambda n, total: bar.update(task, completed=n, total=total))
    if is_stdout(out):
        from neighbourhood_lens.outputs.tables import write_table

        write_table(result.grants, out, provenance={}, key="Identifier")
    else:
        write_fetch(result, out, funder=funder, date_from=date_from, date_to=date_to)
    left = []
    if result.outside_dates:
        left.append(f"{result.outside_dates:,} outside the dates")
    if result.undated:
        left.append(f"{result.undated:,} without an award date")
    if result.other_funders:
        left.append(f"{result.other_funders:,} from other funders in shared files")
    console.print(f"Read [bold]{result.read:,}[/] grants from {len(result.urls)} request(s) ({result.source}); "
                  f"wrote [bold]{len(result.grants):,}[/] to {'stdout' if is_stdout(out) else out}"
                  + (f"; left out {', '.join(left)}" if left else ""), highlight=False)
    if len(result.grants):
        total = float(result.grants["Amount Awarded"].apply(_num).sum())
        console.print(f"Total awarded £{total:,.2f}" + ("" if is_stdout(out) else f"; next: nlens funding reach {out}"),
                      highlight=False)
    for text in result.notes:
        note(text)


def _num(v: str) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0
