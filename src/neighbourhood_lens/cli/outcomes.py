"""``nlens outcomes``: the outcome catalogue, and left-behind areas against equally deprived places."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import DbOption, FormatOption, OutputFormat, check_suffix, console, emit, handle_errors, note, wrote

app = typer.Typer(help="Outcomes (health, crime, education, work, fuel poverty, debt) by group of areas.",
                  no_args_is_help=True)

_SCREEN = ["outcome", "year", "group", "n_areas", "value", "ci_low", "ci_high", "gap_vs_other_deprived",
           "gap_vs_england", "ratio_vs_england"]


@app.command("list")
@handle_errors
def list_outcomes(
    fmt: FormatOption = OutputFormat.auto,
    out: Annotated[Path | None, typer.Option(help="Write the catalogue: .csv, .parquet, .xlsx or -.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Show every column (caveats, weights, sources).")] = False,
) -> None:
    """The outcomes held: id, what is counted, unit, direction, years, geography, source and caveats."""
    from neighbourhood_lens.outcomes.catalogue import KNOWN_GAPS, catalogue
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    check_suffix(out, (".csv", ".parquet"))
    cat = catalogue()
    if full:
        shown = cat
    else:
        shown = cat[["id", "unit", "years", "geography"]].assign(
            higher=cat["higher_is_worse"].map({True: "worse", False: "better"}), label=cat["label"])
    emit(shown, title=f"{len(cat)} outcomes (nlens outcomes list --full for caveats and sources)")
    if not full:
        note("not in the data: " + "; ".join(KNOWN_GAPS), label="known gaps")
    if out is not None:
        write_table(cat, out, provenance=provenance_record(None, [], command="outcomes list"))
        wrote(len(cat), out)


@app.command()
@handle_errors
def compare(
    vintage: Annotated[int, typer.Option(
        help="2019: the 225 left-behind wards (2017) and LSOA 2011 data; 2023: left-behind LSOAs 2021.")] = 2019,
    outcome: Annotated[str, typer.Option(
        help="Comma-separated outcome ids (nlens outcomes list), or all.")] = "all",
    year: Annotated[int | None, typer.Option(
        help="One year for every outcome (default: each outcome's latest year up to the vintage).")] = None,
    groups: Annotated[list[str] | None, typer.Option(
        "--groups", help="A group: left_behind, other_deprived, england, a file of area codes, programme:NAME or "
                         "neighbourhoods:NAME; repeat for several (other_deprived and england are always added).")
    ] = None,
    by: Annotated[str | None, typer.Option(help="'region': every group split by region.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the table: .csv, .parquet, .xlsx or -.")] = None,
    chart: Annotated[Path | None, typer.Option(help="Draw a dot plot with CIs: .png, .svg or .pdf.")] = None,
    draws: Annotated[int, typer.Option(help="Bootstrap draws (areas resampled).")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap.")] = 1,
    top: Annotated[int, typer.Option(help="Rows to show on screen (0 = all).")] = 0,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Outcomes of left-behind areas against other equally deprived areas and England, with 95% CIs."""
    from neighbourhood_lens.errors import DataError
    from neighbourhood_lens.outcomes.chart import dot_plot
    from neighbourhood_lens.outcomes.compare import compare_outcomes, count_verdicts, verdict_lines
    from neighbourhood_lens.outputs.tables import provenance_record, write_sidecar, write_table

    from ..warehouse import connect

    check_suffix(out, (".csv", ".parquet"))
    check_suffix(chart, (".png", ".svg", ".pdf"), option="--chart")
    if by not in (None, "region"):
        raise DataError(f"--by {by!r}: the only split is 'region'")
    con = connect(db)
    with console.status("Comparing outcomes (area bootstrap)..."):
        table = compare_outcomes(con, vintage=vintage, outcomes=outcome, year=year, groups=groups,
                                 by_region=by == "region", draws=draws, seed=seed)
    for name, desc in table.attrs["groups"].items():
        console.print(f"[bold]{name}[/]: {desc}", highlight=False)
    cols = _SCREEN[:3] + (["region"] if by else []) + _SCREEN[3:]
    emit(table[cols], title=f"Outcomes, {vintage} vintage (shares 0-1; 95% CI from {draws:,} area-bootstrap draws)",
         formats={"value": ".4g", "ci_low": ".4g", "ci_high": ".4g", "gap_vs_other_deprived": "+.3g",
                  "gap_vs_england": "+.3g", "ratio_vs_england": ".2f"}, limit=top or None, out=out)
    focus = "left_behind" if "left_behind" in set(table["group"]) else next(
        g for g in table["group"].unique() if g not in ("other_deprived", "england"))
    if not by:
        counts = count_verdicts(table, group=focus)
        console.print(
            f"[bold]{focus}[/]: worse than equally deprived places on {counts['worse_vs_other_deprived']} of "
            f"{counts['outcomes']} outcomes, better on {counts['better_vs_other_deprived']}, no clear difference "
            f"on {counts['unclear_vs_other_deprived']}; worse than England on {counts['worse_vs_england']}.",
            highlight=False)
        if not _data_only():
            for line in verdict_lines(table, group=focus):
                console.print(f"  {line}", highlight=False)
    for w in table.attrs["warnings"]:
        note(w, label="coverage")
    prov = provenance_record(con, table.attrs["datasets"], command="outcomes compare", parameters={
        "vintage": vintage, "outcome": outcome, "year": year, "groups": groups, "by": by, "draws": draws,
        "seed": seed, "groups_described": table.attrs["groups"], "notes": table.attrs["notes"]})
    if out is not None:
        write_table(table, out, provenance=prov)
        wrote(len(table), out)
    if chart is not None:
        dot_plot(table, chart, title=f"Outcomes of left-behind areas, {vintage} vintage: gap from England")
        write_sidecar(chart, prov)
        console.print(f"Wrote chart to {chart}", highlight=False)


def _data_only() -> bool:
    from ._common import data_format

    return data_format()
