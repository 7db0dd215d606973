"""``nlens evaluate``: matched difference-in-differences, event study, halo and placebo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import (
    DbOption,
    FormatOption,
    OutputFormat,
    check_suffix,
    console,
    emit,
    handle_errors,
    note,
    progress_bar,
    wrote,
)


def _years(text: str | None, outcome: str | None = None) -> list[int] | None:
    """``--years``: a list (2010,2019,2025) or a range (2012-2022) of IMD editions or series years."""
    from ..errors import DataError

    if not text:
        return None
    try:
        if "-" in text and "," not in text:
            lo, hi = (int(x) for x in text.split("-"))
            from ..evaluation.outcome_panel import is_series

            if is_series(outcome):
                return list(range(lo, hi + 1))
            from ..evaluation.panel import IMD_EDITIONS

            return [y for y in IMD_EDITIONS if lo <= y <= hi]
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise DataError(f"--years {text!r}: give years like 2010,2019,2025 or a range like 2012-2022") from None


@handle_errors
def evaluate(
    treated: Annotated[Path, typer.Option(help="CSV with code, start (first treated year), one row per area.")],
    out: Annotated[Path, typer.Option(help="Effects table (.csv, .parquet, .xlsx, or - for stdout): effect, "
                                           "estimate, ci_low, ci_high, p_value, n_treated, n_comparators.")],
    panel: Annotated[Path | None, typer.Option(help="CSV with code, year, value at the treated areas' unit.")] = None,
    outcome: Annotated[str | None, typer.Option(
        help="Outcome instead of --panel: an annual series (fuel_poverty, insolvency, child_low_income, "
             "uc_households, household_deprivation) or an IMD domain, imd:DOMAIN (its score) or "
             "imd:DOMAIN:percentile, e.g. imd:income.")] = None,
    measure: Annotated[str | None, typer.Option(
        help="Measure of a series: fuel_poverty lihc (2011-2018) | lilee (2019-2022) | mixed (reads the 2019 "
             "break as a change); household_deprivation one_or_more (default) | two_or_more.")] = None,
    start: Annotated[int | None, typer.Option(
        help="Start year for every treated area when --treated has no start column.")] = None,
    years: Annotated[str | None, typer.Option(help="IMD editions (2010,2019,2025 or 2015-2025) or series years "
                                                   "(2012-2022).")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit of the codes (default: detected, 2011-based first).")] = None,
    halo: Annotated[bool, typer.Option("--halo", help="Also estimate the effect on untreated neighbours.")] = False,
    k: Annotated[int, typer.Option(help="Comparators per treated area (nearest, with replacement).")] = 5,
    caliper: Annotated[float, typer.Option(help="Largest matching distance, in pool standard deviations.")] = 0.5,
    min_pre: Annotated[int, typer.Option(help="Fewest pre-period years a treated area needs.")] = 2,
    match_on: Annotated[str | None, typer.Option(help="Extra covariates: population, region (exact).")] = None,
    placebo: Annotated[int, typer.Option(help="Placebo re-runs for the permutation p-value (0 = none).")] = 99,
    seed: Annotated[int, typer.Option(help="Random seed of the placebo draws.")] = 20240601,
    strict: Annotated[bool, typer.Option("--strict", help="Fail if any treated area cannot be used.")] = False,
    report: Annotated[Path | None, typer.Option(help="HTML report with charts, balance table and map.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Event-study chart (.png).")] = None,
    store: Annotated[str | None, typer.Option(
        help="Save treated/halo/comparator roles in the warehouse as evaluation NAME (for the web map).")] = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Did the treated areas change more than matched comparators? Matched DiD with an event study."""
    from neighbourhood_lens.outputs.tables import provenance_record, write_sidecar, write_table

    from ..evaluation import read_panel, read_treated
    from ..evaluation.outcome_panel import is_series, outcome_series
    from ..evaluation.panel import IMD_EDITIONS
    from ..evaluation.report import interpret, plot_event_study, write_report
    from ..evaluation.run import evaluate_in_warehouse
    from ..warehouse import connect

    check_suffix(out, (".csv", ".parquet"))
    check_suffix(report, (".html",), option="--report")
    check_suffix(plot, (".png",), option="--plot")
    t = read_treated(treated, start=start)
    p = read_panel(panel) if panel is not None else None
    con = connect(db, read_only=store is None)
    with progress_bar("Evaluating") as update:
        ev, unit_name, label = evaluate_in_warehouse(
            con, t, panel=p, outcome=outcome, years=_years(years, outcome), unit=unit, measure=measure,
            match_on=[s.strip() for s in match_on.split(",")] if match_on else (), halo=halo, k=k, caliper=caliper,
            min_pre=min_pre, n_placebo=placebo, seed=seed, strict=strict, progress=update)
    for text in ev.notes:
        note(text, label="Note")
    emit(ev.effects, title=f"Effects on {label} ({unit_name})",
         formats={"estimate": ".4g", "ci_low": ".4g", "ci_high": ".4g", "p_value": ".3g"})
    emit(ev.matching.balance, title="Balance (standardised mean differences)",
         formats={c: ".3g" for c in ev.matching.balance.columns if c != "feature"})
    series = outcome_series(outcome) if is_series(outcome) else None
    higher_worse = True if outcome and ":percentile" not in outcome and outcome.startswith("imd:") else None
    if series is not None:
        higher_worse = series.higher_is_worse
    console.print(interpret(ev.effects, outcome=label, higher_is_worse=higher_worse, relative=series is None),
                  highlight=False)
    ids = ([] if outcome is None else list(series.sources) if series is not None
           else [tbl for tbl, _ in IMD_EDITIONS.values()])
    prov = provenance_record(con, ids, command="evaluate", parameters=ev.parameters)
    write_table(ev.effects, out, provenance=prov)
    wrote(len(ev.effects), out, "effects")
    if plot is not None:
        plot_event_study(ev.effects, plot, ylabel=label)
        write_sidecar(plot, prov)
        console.print(f"Wrote {plot}", highlight=False)
    if report is not None:
        write_report(ev, report, title=f"Evaluation: {treated.name} on {label}", outcome=label, unit=unit_name,
                     con=con, higher_is_worse=higher_worse)
        write_sidecar(report, prov)
        console.print(f"Wrote {report}", highlight=False)
    if store is not None:
        from ..store import save_result

        table = save_result(con, ev.roles, kind="evaluation", name=store, unit=unit_name, value_column="role_code",
                            description=f"roles of evaluation {treated.name} on {label} "
                                        "(1 treated, 2 halo, 3 comparator)",
                            parameters=ev.parameters, sources=ids)
        console.print(f"Stored {len(ev.roles):,} areas as {table}", highlight=False)
