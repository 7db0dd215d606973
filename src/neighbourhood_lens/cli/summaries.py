"""``nlens summarise``, ``trajectory``, ``movers``, ``entrenched``: official summaries and change over time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neighbourhood_lens._isin import isin

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
    wrote,
)

_SUMMARY_SOURCES = {
    "imd2019": ["imd2019_lsoa11", "imd2019_lsoa11_indicators", "population2019_lsoa11", "lookup_lsoa11_ward17",
                "lookup_lsoa11_msoa11", "lookup_lsoa11_lad19", "lookup_lad19_region19"],
    "imd2025": ["imd2025_lsoa21", "census2021_population_lsoa21", "lookup_lsoa21_ward24_lad24",
                "lookup_lad24_region24"],
}
_TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")
_OUT_HELP = "Write the table: .csv, .parquet, .xlsx, or - (stdout; --format json for JSON)."
_TRAJECTORY_SOURCES = ["imd2004_lsoa01", "imd2007_lsoa01", "imd2010_lsoa01", "imd2015_lsoa11", "imd2019_lsoa11",
                       "imd2025_lsoa21", "lookup_lsoa01_lsoa11", "lookup_lsoa11_lsoa21_lad22",
                       "population2019_lsoa11", "census2021_population_lsoa21"]


def _read_population(path: Path | None):  # noqa: ANN202
    if path is None:
        return None
    import pandas as pd

    frame = pd.read_csv(path, dtype={"lsoa11_code": str, "lsoa21_code": str})
    frame.attrs["source"] = f"--population {path}"
    return frame


@handle_errors
def summarise(
    index: Annotated[str, typer.Option(help="imd2019 (LSOA 2011), imd2025 (LSOA 2021), or an index stored on "
                                            "LSOAs with `nlens index build --store NAME`.")] = "imd2019",
    by: Annotated[str, typer.Option(help="ward17, msoa11, lad19, region19, ward24, lad24 or region24; a CSV "
                                         "(lsoa11_code or lsoa21_code, neighbourhood_code, optional "
                                         "neighbourhood_name); or a stored grouping name.")] = "lad19",
    domain: Annotated[str, typer.Option(help="imd, income, employment, education, health, crime, housing, "
                                             "environment, or 'all'.")] = "imd",
    population: Annotated[Path | None, typer.Option(help="CSV of LSOA code + population to weight by "
                                                         "(e.g. the official IoD denominator).")] = None,
    out: Annotated[Path | None, typer.Option(help=_OUT_HELP)] = None,
    top: Annotated[int, typer.Option(help="Rows to show on screen (0 = all).")] = 10,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """MHCLG's summary measures (average score/rank, % in most deprived 10%, extent, local concentration, scale)."""
    from neighbourhood_lens.deprivation import summaries as sm
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    from ..warehouse import connect

    check_suffix(out, _TABLE_SUFFIXES)
    con = connect(db)
    pop = _read_population(population)
    if domain == "all":
        frame = sm.summarise_all(con, index=index, by=by, population=pop)
    else:
        frame = sm.summarise(con, index=index, by=by, domain=domain, population=pop)
    cov = frame.attrs["coverage"]
    console.print(f"[bold]{cov['groups']:,}[/] areas from [bold]{cov['lsoas']:,}[/] LSOAs, "
                  f"[bold]{cov['population']:,.0f}[/] people ({index}, by {by}).")
    for note in frame.attrs.get("notes", []):
        err_console.print(f"[yellow]note:[/] {note}", highlight=False)
    show = frame[frame["domain"] == frame["domain"].iloc[0]].sort_values("rank_of_average_rank")
    cols = ["code", "name", "population", "average_score", "rank_of_average_score", "average_rank",
            "rank_of_average_rank", "proportion_most_deprived_10pct", "extent", "local_concentration"]
    emit(show[cols], title=f"Most deprived by average rank ({show['domain'].iloc[0]}; "
                           "average rank: higher = more deprived, rank_of_* 1 = most deprived)",
         formats={"population": ",.0f", "average_rank": ",.0f", "local_concentration": ",.0f",
                  "proportion_most_deprived_10pct": ".3f", "extent": ".3f", "average_score": ".3f"},
         limit=top, out=out)
    if out is not None:
        prov = provenance_record(con, _SUMMARY_SOURCES.get(index, []), command="summarise",
                                 parameters={"index": index, "by": by, "domain": domain,
                                             "population": str(population) if population else None,
                                             "notes": frame.attrs.get("notes", [])})
        write_table(frame, out, provenance=prov)
        wrote(len(frame), out)


@handle_errors
def trajectory(
    code: Annotated[str, typer.Argument(help="An LSOA, MSOA, ward, LAD or region: code or name (any case; "
                                             "`nlens search` finds them), or a neighbourhood code with --by.")],
    by: Annotated[str | None, typer.Option(help="Grouping the code belongs to (default: found from the code).")] = None,
    out: Annotated[Path | None, typer.Option(help=_OUT_HELP)] = None,
    chart: Annotated[Path | None, typer.Option(help="Draw a chart: .png or .svg.")] = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Relative deprivation of one area across IoD2004, 2007, 2010, 2015, 2019 and 2025 (ranks, not scores)."""
    from neighbourhood_lens.deprivation import trajectories as tr
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    from ..warehouse import connect

    check_suffix(out, _TABLE_SUFFIXES)
    con = connect(db)
    if by is None:
        from neighbourhood_lens.geo.places import resolve_place

        code = resolve_place(con, code, prefer="ask", option="CODE").code
    frame = tr.trajectory(con, code, by=by)
    emit(frame[["edition", "percentile", "area_rank", "n_areas", "area_decile", "n_lsoas"]],
         title=f"{frame['name'].iloc[0]} ({code}, {frame['level'].iloc[0]}): national percentile, 0 = most deprived",
         formats={"percentile": ".4f", "area_rank": ",.0f", "n_areas": ",.0f", "area_decile": ".0f"})
    prov = provenance_record(con, _TRAJECTORY_SOURCES, command="trajectory", parameters={"code": code, "by": by})
    if out is not None:
        write_table(frame, out, provenance=prov)
        wrote(len(frame), out)
    if chart is not None:
        from neighbourhood_lens.outputs.tables import write_sidecar

        tr.plot_trajectory(frame, chart)
        write_sidecar(chart, prov)
        console.print(f"Drew {chart}")


@handle_errors
def movers(
    start: Annotated[int, typer.Option("--from", help="First edition (2004, 2007, 2010, 2015, 2019, 2025).")] = 2004,
    end: Annotated[int, typer.Option("--to", help="Last edition.")] = 2025,
    by: Annotated[str, typer.Option(help="lsoa11, ward17, lad19, msoa11, ... or a grouping CSV/name.")] = "ward17",
    top: Annotated[int, typer.Option(help="How many improvers and how many decliners (shown and written).")] = 50,
    out: Annotated[Path | None, typer.Option(help=_OUT_HELP)] = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Largest relative improvements and declines in national IMD percentile between two editions."""
    from neighbourhood_lens.deprivation import trajectories as tr
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    from ..warehouse import connect

    check_suffix(out, _TABLE_SUFFIXES)
    con = connect(db)
    frame = tr.movers(tr.trajectories(con, by=by), start=start, end=end, top=top)
    skipped = frame.attrs["not_compared"]
    if skipped["count"]:
        err_console.print(f"[yellow]note:[/] {skipped['count']} area(s) lack a value in {start} or {end} and "
                      f"are not compared: {', '.join(skipped['examples'])}", highlight=False)
    fmt = {f"percentile_{start}": ".3f", f"percentile_{end}": ".3f", "change": "+.3f"}
    if data_format():  # one table on stdout: improvers and decliners, with their direction (as --out)
        emit(frame)
    for direction in () if data_format() else ("improved", "declined"):
        part = frame[frame["direction"] == direction].drop(columns="direction")
        label = "improvements" if direction == "improved" else "declines"
        emit(part, title=f"{len(part):,} largest relative {label} {start}->{end} ({by})", formats=fmt)
    if out is not None:
        prov = provenance_record(con, _TRAJECTORY_SOURCES, command="movers",
                                 parameters={"from": start, "to": end, "by": by, "top": top})
        write_table(frame, out, provenance=prov)
        wrote(len(frame), out)


@handle_errors
def entrenched(
    by: Annotated[str, typer.Option(help="lsoa11, ward17, lad19, ... or a grouping CSV/name.")] = "ward17",
    top: Annotated[int, typer.Option(help="Rows to show on screen (0 = all); --out writes all.")] = 15,
    out: Annotated[Path | None, typer.Option(help=_OUT_HELP)] = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Areas in the most deprived decile in all six editions, IoD2004 to IoD2025."""
    from neighbourhood_lens.deprivation import trajectories as tr
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    from ..warehouse import connect

    check_suffix(out, _TABLE_SUFFIXES)
    con = connect(db)
    every = tr.trajectories(con, by=by)
    frame = tr.entrenched(every)
    n_areas = every["code"].nunique()
    people = every[(every["edition"] == 2019) & isin(every["code"], frame["code"])]["population"].sum()
    console.print(f"[bold]{len(frame):,}[/] of {n_areas:,} areas ({by}) were in the most deprived decile in all six "
                  f"editions (2004-2025), home to [bold]{people:,.0f}[/] people (base-vintage population).")
    emit(frame, title="Most persistently deprived", formats={"mean_percentile": ".4f"}, limit=top, out=out,
         hint="--out FILE or --top 0")
    if out is not None:
        prov = provenance_record(con, _TRAJECTORY_SOURCES, command="entrenched", parameters={"by": by})
        write_table(frame, out, provenance=prov)
        wrote(len(frame), out)
