"""``nlens left-behind``: the doubly disadvantaged neighbourhoods."""

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
    handle_errors,
    wrote,
)


@handle_errors
def left_behind(
    vintage: Annotated[int, typer.Option(help="2019: wards (IMD 2019 x CNI 2019); 2023: LSOA 2021 (IMD 2025 x CNI 2023).")] = 2019,  # noqa: E501
    imd_share: Annotated[float, typer.Option(help="Most deprived share on the IMD (0-1).")] = 0.1,
    cni_share: Annotated[float, typer.Option(help="Highest-need share on the CNI (0-1).")] = 0.1,
    out: Annotated[Path | None, typer.Option(
        help="Write the list: .csv, .parquet, .xlsx, .geojson, .gpkg, or - (stdout).")] = None,
    neighbourhoods: Annotated[str | None, typer.Option(
        help="Use a stored custom neighbourhood set (nlens neighbourhoods build) instead of wards/LSOAs.")] = None,
    top: Annotated[int, typer.Option(help="Rows of the list to show on screen (0 = all).")] = 15,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
    sensitivity: Annotated[bool, typer.Option(
        "--sensitivity", help="Stability of the 2019 list when the domain weights are jittered.")] = False,
    draws: Annotated[int, typer.Option(min=1, help="With --sensitivity: Monte Carlo draws (at least 1).")] = 1000,
    weight_jitter: Annotated[float, typer.Option(help="With --sensitivity: weights x Uniform(1-J, 1+J).")] = 0.2,
    seed: Annotated[int, typer.Option(help="With --sensitivity: random seed.")] = 1,
    cni: Annotated[str, typer.Option(help="With --sensitivity: 'jitter' (rebuild CNI from its domains) or "
                                          "'published' (keep the published CNI rank).")] = "jitter",
) -> None:
    """Find the left-behind neighbourhoods: most deprived on the IMD and highest need on the CNI."""
    if sensitivity:
        from .index import left_behind_sensitivity

        left_behind_sensitivity(draws=draws, weight_jitter=weight_jitter, seed=seed, cni=cni, imd_share=imd_share,
                                cni_share=cni_share, out=out, db=db, vintage=vintage, neighbourhoods=neighbourhoods,
                                fmt=fmt)
        return
    from neighbourhood_lens.deprivation import left_behind as lb
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    from ..warehouse import connect

    check_suffix(out, (".csv", ".parquet", ".xlsx", ".geojson", ".gpkg"))
    con = connect(db)
    if neighbourhoods is not None:
        _for_neighbourhoods(con, neighbourhoods, imd_share=imd_share, cni_share=cni_share, out=out, top=top)
        return
    frame = lb.left_behind(con, vintage=vintage, imd_share=imd_share, cni_share=cni_share)
    unit = "wards (2017)" if vintage == 2019 else "LSOAs (2021)"
    console.print(
        f"[bold]{len(frame):,}[/] left-behind {unit} (IMD top {imd_share:.0%} x CNI top "
        f"{cni_share:.0%}), home to [bold]{frame['population'].sum():,.0f}[/] people."
    )
    _show_tables(frame, top=top, out=out)
    if out is not None:
        ids = (["imd2019_lsoa11", "cni2019_ward17", "lookup_lsoa11_ward17", "lookup_lsoa11_lad19",
                "lookup_lad19_region19", "population2019_lsoa11"] if vintage == 2019 else
               ["imd2025_lsoa21", "cni2023_lsoa21", "lookup_lsoa21_ward24_lad24",
                "lookup_lad24_region24", "census2021_population_lsoa21"])
        prov = provenance_record(con, ids, command="left-behind",
                                 parameters={"vintage": vintage, "imd_share": imd_share, "cni_share": cni_share})
        geometry = None
        if out.suffix.lower() in (".geojson", ".gpkg"):
            from neighbourhood_lens.geo.boundaries import area_boundaries

            geometry = area_boundaries(con, "ward17" if vintage == 2019 else "lsoa21", codes=frame["code"])
        write_table(frame, out, provenance=prov, geometry=geometry)
        wrote(len(frame), out)


def _show_tables(frame, *, top: int, out: Path | None) -> None:  # noqa: ANN001
    """The regions then the list on screen; with --format csv|tsv|json the list is the one table on stdout."""
    from neighbourhood_lens.deprivation import left_behind as lb

    if data_format():
        _show_list(frame, top=top, out=out)
    emit(lb.summary_by_region(frame), title="By region", formats={"areas": ",d", "population": ",.0f"})
    if not data_format():
        _show_list(frame, top=top, out=out)


def _show_list(frame, *, top: int, out: Path | None) -> None:  # noqa: ANN001
    cols = [c for c in ("code", "name", "lad_name", "population", "imd_rank", "cni_rank") if c in frame.columns]
    shown = frame.sort_values("imd_rank")[cols] if "imd_rank" in frame.columns else frame[cols]
    emit(shown, title="Left behind, most deprived first (IMD rank 1 = most deprived)", limit=top, out=out,
         formats={"population": ",.0f", "imd_rank": ",.0f", "cni_rank": ",.0f"})


def _for_neighbourhoods(con, name: str, *, imd_share: float, cni_share: float, out: Path | None,  # noqa: ANN001
                        top: int) -> None:  # noqa: ANN001
    from neighbourhood_lens.neighbourhoods.build import (
        left_behind_for_neighbourhoods,
        load_neighbourhoods,
        neighbourhood_boundaries,
    )
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    scores = left_behind_for_neighbourhoods(con, name, imd_share=imd_share, cni_share=cni_share)
    frame = scores[scores["left_behind"]].reset_index(drop=True)
    console.print(
        f"[bold]{len(frame):,}[/] left-behind neighbourhoods of set {name} (IMD top {imd_share:.0%} x CNI top "
        f"{cni_share:.0%} among {len(scores):,} neighbourhoods), home to "
        f"[bold]{frame['population'].sum():,.0f}[/] people."
    )
    _show_tables(frame, top=top, out=out)
    if out is not None:
        assignment, vintage = load_neighbourhoods(con, name)
        ids = (["imd2019_lsoa11", "cni2019_ward17", "lookup_lsoa11_ward17", "population2019_lsoa11"]
               if vintage == 2011 else ["imd2025_lsoa21", "cni2023_lsoa21", "census2021_population_lsoa21"])
        prov = provenance_record(con, ids, command="left-behind",
                                 parameters={"neighbourhoods": name, "imd_share": imd_share, "cni_share": cni_share})
        geometry = None
        if out.suffix.lower() in (".geojson", ".gpkg"):
            sub = assignment[isin(assignment["neighbourhood_code"], frame["code"])]
            geometry = neighbourhood_boundaries(con, sub, vintage=vintage)
            geometry = geometry.rename(columns={"neighbourhood_code": "code"})
        write_table(frame, out, provenance=prov, geometry=geometry)
        wrote(len(frame), out)
