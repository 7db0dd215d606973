"""``nlens programme``: design a programme from a TOML spec, and compare designs."""

from __future__ import annotations

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
    handle_errors,
    note,
    wrote,
)

app = typer.Typer(help="Programme design: choose neighbourhoods and share a budget under explicit rules.",
                  no_args_is_help=True)

_SHORT = {"design": "design", "method": "method", "areas": "areas", "people": "people", "money": "money £",
          "money_share_decile1": "£→D1", "money_share_left_behind": "£→LB", "left_behind_covered_share": "LB cov",
          "decile1_residents_covered_share": "D1 cov", "concentration_index": "CI"}
_PCT = {"£→D1": ".1%", "£→LB": ".1%", "LB cov": ".1%", "D1 cov": ".1%", "CI": "+.3f", "people": ",.0f",
        "money £": ",.0f", "areas": ",d"}


def _print_design(d) -> None:  # noqa: ANN001
    s = d.summary
    money = f"£{s['money']:,.0f}" + (f" of £{s['budget']:,.0f}" if s.get("budget") else " (no \\[budget])")
    console.print(f"[bold]{escape(d.spec.name)}[/] ({s['unit']}, {s['method']}): [bold]{s['areas']:,}[/] areas of "
                  f"{s['eligible']:,} eligible, [bold]{s['people']:,.0f}[/] people, [bold]{money}[/]; "
                  f"people × need {s['people_x_need']:,.0f}.")
    for text in d.notes:
        note(text, label="Note")
    if s["method"] == "optimal":
        console.print(
            f"Optimal (HiGHS): objective [bold]{s['objective']:,.0f}[/], bound {s['bound']:,.0f}, gap "
            f"{s['mip_gap']:.4%}, {s['solve_seconds']:.2f} s, {s['n_binaries']:,} binaries. Greedy on the same rules: "
            f"{s['greedy_objective']:,.0f} ({s['greedy_areas']:,} areas) → optimal is "
            f"[bold]{s['improvement']:+,.0f}[/] people × need ({s['improvement_share']:+.2%}).")
    if data_format():  # stdout carries one table: the chosen areas (the rest go to stderr)
        emit(d.selection, title="Chosen areas")
    emit(d.eligibility, title="Eligibility (areas removed by each rule)",
         formats={"removes_alone": ",d", "first_reason": ",d"})
    if s["money"]:
        emit(d.deciles, title=f"Reach by {s['reach_index']} decile (1 = most deprived)",
             formats={"population": ",.0f", "amount": ",.0f", "share_of_amount": ".1%"})
        console.print(f"Money reaching decile-1 LSOAs: [bold]{s['money_share_decile1']:.1%}[/]; the "
                      f"{s['left_behind_label']}: [bold]{s['money_share_left_behind']:.1%}[/]; concentration index "
                      f"{s['concentration_index']:+.3f}.")
    from ..programmes import missed_areas

    emit(missed_areas(d, limit=10), title="Highest-need areas not chosen",
         formats={"population": ",.0f", "need_weight": ".4f"})
    console.print(f"Covered: {s['left_behind_covered']:,} of the {s['left_behind_label']} "
                  f"([bold]{s['left_behind_covered_share']:.1%}[/]); decile-1 residents covered "
                  f"[bold]{s['decile1_residents_covered_share']:.1%}[/].")


@app.command()
@handle_errors
def design(
    spec: Annotated[Path, typer.Argument(help="Programme spec (TOML); see docs/programmes.md.")],
    out: Annotated[Path | None, typer.Option(
        help="Chosen areas: .csv, .parquet, .xlsx, .geojson, .gpkg, or - (stdout).")] = None,
    map: Annotated[Path | None, typer.Option("--map", help="Map of the chosen areas: .png or .svg.")] = None,
    report: Annotated[Path | None, typer.Option(help="Self-contained HTML report.")] = None,
    index: Annotated[str | None, typer.Option(help="Reach index: imd2019 or imd2025 (default: the unit's).")] = None,
    store: Annotated[str | None, typer.Option(help="Also keep the design in the warehouse under this name.")] = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Choose neighbourhoods and share a budget by the rules in SPEC; print who is chosen and where the money goes."""
    from neighbourhood_lens.outputs.tables import provenance_record, write_sidecar, write_table

    from ..programmes import design as run
    from ..programmes import design_sources, load_spec, store_design
    from ..programmes.report import design_map, write_design_report
    from ..store import result_table
    from ..warehouse import connect

    check_suffix(out, (".csv", ".parquet", ".geojson", ".gpkg"))
    check_suffix(map, (".png", ".svg"), option="--map")
    check_suffix(report, (".html", ".htm"), option="--report")
    if store is not None:
        result_table("programme", store)
    parsed = load_spec(spec)
    con = connect(db, read_only=store is None)
    with console.status("Designing the programme…"):
        d = run(con, parsed, index=index)
    _print_design(d)
    prov = provenance_record(con, design_sources(parsed), command="programme design",
                             parameters={"spec": str(spec), **parsed.model_dump(mode="json"),
                                         "summary": {k: v for k, v in d.summary.items()
                                                     if isinstance(v, int | float | str)}})
    if out is not None:
        geometry = None
        if out.suffix.lower() in (".geojson", ".gpkg"):
            from neighbourhood_lens.geo.boundaries import area_boundaries

            geometry = area_boundaries(con, d.summary["unit"], codes=d.selection["code"])
        write_table(d.selection, out, provenance=prov, geometry=geometry)
        wrote(len(d.selection), out)
    if map is not None:
        design_map(con, d, map)
        write_sidecar(map, prov)
        console.print(f"Wrote map {map}", highlight=False)
    if report is not None:
        png = map if map is not None and map.suffix.lower() == ".png" else None
        write_design_report(d, report, map_png=png)
        write_sidecar(report, prov)
        console.print(f"Wrote report {report}", highlight=False)
    if store is not None:
        table = store_design(con, d, name=store)
        console.print(f"Stored as {table}")


@app.command()
@handle_errors
def compare(
    specs: Annotated[list[Path], typer.Argument(help="Programme specs (TOML) to put side by side.")],
    out: Annotated[Path | None, typer.Option(help="Comparison table: .csv, .parquet, .xlsx, or - (stdout).")] = None,
    chart: Annotated[Path | None, typer.Option(help="Bar chart of the shares of money: .png or .svg.")] = None,
    index: Annotated[str | None, typer.Option(help="Reach index: imd2019 or imd2025.")] = None,
    baseline_total: Annotated[float | None, typer.Option(
        help="Budget of the LA-level baseline (default: the largest budget among the specs).")] = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Compare designs on the funding-reach measures, with the built-in LA-level baseline."""
    from neighbourhood_lens.outputs.tables import provenance_record, write_sidecar, write_table

    from ..programmes import compare_table, design, design_sources, load_spec
    from ..programmes.report import compare_chart
    from ..warehouse import connect

    check_suffix(out, (".csv", ".parquet"))
    check_suffix(chart, (".png", ".svg"), option="--chart")
    parsed = [load_spec(s) for s in specs]
    con = connect(db)
    from neighbourhood_lens.geo.units import resolve_unit

    from ..programmes.compare import reach_context

    vintages = {resolve_unit(con, p.unit).lsoa_vintage for p in parsed}
    index = index or ("imd2025" if vintages == {2021} else "imd2019")
    ctx = reach_context(con, index)
    designs = []
    for p in parsed:
        with console.status(f"Designing {p.name}…"):
            designs.append(design(con, p, index=index, context=ctx))
    table, _ = compare_table(con, designs, labels=[s.stem for s in specs], index=index, baseline_total=baseline_total,
                             context=ctx)
    title = f"Designs compared ({table.attrs['index']}; LB = the {table.attrs['left_behind_label']})"
    if data_format():  # every measure, under its own name
        emit(table, title=title)
    else:
        emit(table[list(_SHORT)].rename(columns=_SHORT), title=title, formats=_PCT)
    console.print("£→D1 / £→LB: share of the money reaching IMD decile-1 LSOAs / the left-behind areas; LB cov: "
                  "share of them covered; D1 cov: share of decile-1 residents covered; CI: concentration index. "
                  "Designs without a \\[budget] get the same total per head among their chosen areas.",
                  highlight=False)
    ids = list(dict.fromkeys(i for p in parsed for i in design_sources(p)))
    prov = provenance_record(con, ids, command="programme compare",
                             parameters={"specs": [str(s) for s in specs], "index": table.attrs["index"],
                                         "baseline_total": baseline_total})
    if out is not None:
        write_table(table, out, provenance=prov, key="design")
        wrote(len(table), out)
    if chart is not None:
        compare_chart(table, chart)
        write_sidecar(chart, prov)
        console.print(f"Wrote chart {chart}", highlight=False)
