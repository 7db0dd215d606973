"""``nlens funding``: the funding reach audit and its synthetic sample file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ._common import DbOption, FormatOption, OutputFormat, check_suffix, console, emit, handle_errors, wrote

app = typer.Typer(help="Funding reach: where did the money go, and did it reach the places that need it?",
                  no_args_is_help=True)

_DATASETS = {
    "imd2019": ["imd2019_lsoa11", "population2019_lsoa11", "lookup_lsoa11_ward17", "lookup_lsoa11_msoa11",
                "lookup_lsoa11_lad19", "lookup_lad19_region19", "lookup_lsoa11_lsoa21_lad22", "cni2019_ward17"],
    "imd2025": ["imd2025_lsoa21", "census2021_population_lsoa21", "lookup_lsoa21_ward24_lad24",
                "lookup_lad24_region24", "lookup_lsoa11_lsoa21_lad22", "cni2023_lsoa21"],
}


@app.command()
@handle_errors
def reach(
    file: Annotated[Path, typer.Argument(help="Grants: 360Giving CSV/XLSX/JSON, or an allocation table (CSV/XLSX).")],
    index: Annotated[str, typer.Option(help="imd2019 (LSOA 2011) or imd2025 (LSOA 2021).")] = "imd2019",
    out: Annotated[Path | None, typer.Option(help="Reach table by decile: .csv, .parquet, .xlsx or -.")] = None,
    report: Annotated[Path | None, typer.Option(help="Self-contained HTML report.")] = None,
    unlocated: Annotated[Path | None, typer.Option(help="Write the unlocated grants here (.csv, .xlsx ...).")] = None,
    rejected: Annotated[Path | None, typer.Option(help="Write the rejected rows here (.csv, .xlsx ...).")] = None,
    postcodes: Annotated[Path | None, typer.Option(help="ONS Postcode Directory CSV to locate postcodes.")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding if not UTF-8 (e.g. cp1252).")] = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Locate grants on neighbourhoods and measure how much reached the most deprived ones."""
    import pandas as pd

    from neighbourhood_lens.funding import reach as funding
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    from ..warehouse import connect

    for path, option in ((out, "--out"), (unlocated, "--unlocated"), (rejected, "--rejected")):
        check_suffix(path, (".csv", ".parquet"), option=option)
    con = connect(db)
    result = funding.reach(con, file, index=index, postcodes=postcodes, encoding=encoding)
    s = result.summary
    if s.get("synthetic"):
        console.print("[bold yellow]SYNTHETIC DATA[/]: identifiers 360G-SYNTHETIC-*; not real grants.")
    mark = "[green]✔[/]" if s["balanced"] else "[red]✘ MISMATCH[/]"
    console.print(
        f"Rows in [bold]{s['rows_in']:,}[/] = located [bold]{s['located']:,}[/] (£{s['located_amount_gbp']:,.2f}) "
        f"+ unlocated [bold]{s['unlocated']:,}[/] (£{s['unlocated_amount_gbp']:,.2f}) "
        f"+ rejected [bold]{s['rejected']:,}[/] (£{s['rejected_amount_gbp']:,.2f} where readable) {mark}"
    )
    console.print(f"Code types corrected from the prefix: {s['type_overrides']:,}; located via the LSOA "
                  f"2011↔2021 lookup: {s['converted']:,}; by postcode: {s['by_postcode']:,}.")
    emit(result.deciles, title=f"Reach by {index} decile (1 = most deprived)",
         formats={"population": ",.0f", "amount": ",.2f", "amount_gbp": ",.2f", "share_of_amount": ".1%"})
    console.print(f"Most deprived 10%: [bold]{s['share_most_deprived_10']:.1%}[/] of the located amount; 30%: "
                  f"[bold]{s['share_most_deprived_30']:.1%}[/]; concentration index "
                  f"[bold]{s['concentration_index']:+.3f}[/] (negative = towards more deprived areas).")
    emit(result.by_left_behind_group, title="By group", formats={"population": ",.0f", "share_of_amount": ".1%"})
    rejected_rows = _amount_gbp(pd.DataFrame(result.rejected))
    for what, frame in (("Unlocated", result.unlocated), ("Rejected", rejected_rows)):
        if len(frame):
            emit(funding.reason_summary(frame, amount="amount_gbp"), title=f"{what}, by reason",
                 formats={"amount_gbp": ",.2f"})
    flagged = result.need[result.need["flag"] != ""] if len(result.need) else result.need
    if len(flagged):
        emit(flagged[["code", "name", "gbp_per_head", "imd_average_score", "robust_z", "flag"]],
             title="Local authorities far from the allocation-need line")
    prov = provenance_record(con, _DATASETS[index], command="funding reach",
                             parameters={"file": str(file), "index": index, "postcodes": str(postcodes or "")})
    if out is not None:
        write_table(result.deciles, out, provenance=prov)
        wrote(len(result.deciles), out)
    for path, frame in ((unlocated, pd.DataFrame(result.unlocated)), (rejected, rejected_rows)):
        if path is not None:
            write_table(frame, path, provenance=prov)
            wrote(len(frame), path)
    if report is not None:
        from neighbourhood_lens.funding.report import render_reach_html
        from neighbourhood_lens.outputs.tables import write_sidecar

        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(render_reach_html(result), encoding="utf-8")
        write_sidecar(report, prov)
        console.print(Text(f"Wrote {report}"))


def _amount_gbp(rejected: pd.DataFrame) -> pd.DataFrame:  # noqa: F821
    """Rejected rows in the outputs' vocabulary: ``amount_gbp`` (number, blank if unreadable) and
    ``amount_as_given`` (the text in the file), as in the unlocated file and ``docs/outputs.md``."""
    import pandas as pd

    if "amount" not in rejected:
        return rejected
    text = rejected["amount"].astype("string")
    gbp = pd.to_numeric(text.str.replace(r"[£,\s]", "", regex=True), errors="coerce")
    at = list(rejected.columns).index("amount")
    out = rejected.drop(columns="amount")
    out.insert(at, "amount_gbp", gbp)
    out.insert(at + 1, "amount_as_given", text)
    return out


@app.command()
@handle_errors
def sample(
    out: Annotated[Path, typer.Argument(help="Where to write the SYNTHETIC 360Giving file (.csv, .xlsx or .json).")],
    n: Annotated[int, typer.Option(help="Number of grants.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    db: DbOption = None,
) -> None:
    """Write a clearly labelled SYNTHETIC 360Giving grants file (real area codes, some bad rows)."""
    from neighbourhood_lens.funding import reach as funding
    from neighbourhood_lens.outputs.tables import provenance_record, write_sidecar

    from ..warehouse import connect

    con = connect(db)
    frame = funding.synthetic_grants(con, n, seed=seed)
    funding.write_grants(frame, out)
    write_sidecar(out, provenance_record(con, [], command="funding sample",
                                         parameters={"n": n, "seed": seed, "synthetic": True}))
    console.print(Text(f"Wrote {len(frame):,} SYNTHETIC grants to {out}"))
