"""``nlens neighbourhoods``: build, list, show and map custom neighbourhoods."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from neighbourhood_lens._isin import isin

from ._common import DbOption, FormatOption, OutputFormat, console, emit, err_console, handle_errors, wrote

app = typer.Typer(help="Custom neighbourhoods of about 10,000 people or fewer.", no_args_is_help=True)

SOURCE_NOTE = {
    2011: "Source: MHCLG IoD2019; ONS boundaries, OGL v3; contains OS data © Crown copyright",
    2021: "Source: MHCLG IoD2025; ONS boundaries, OGL v3; contains OS data © Crown copyright",
}


def _lad_codes(con, text: str | None, vintage: int, *, option: str) -> list[str] | None:  # noqa: ANN001
    """Comma-separated LAD codes or names as LAD codes of the vintage's LADs (2019 or 2024)."""
    if not text:
        return None
    from neighbourhood_lens.geo.places import resolve_lad

    year = 2019 if vintage == 2011 else 2024
    return [resolve_lad(con, t.strip(), vintage=year, option=option).code for t in text.split(",") if t.strip()]


def _dataset_ids(vintage: int) -> list[str]:
    if vintage == 2011:
        return ["imd2019_lsoa11", "population2019_lsoa11", "lookup_lsoa11_ward17", "lookup_lsoa11_lad19",
                "boundaries_lsoa11"]
    return ["imd2025_lsoa21", "census2021_population_lsoa21", "lookup_lsoa21_ward24_lad24", "boundaries_lsoa21"]


@app.command()
@handle_errors
def build(
    vintage: Annotated[int, typer.Option(help="LSOA vintage: 2011 (IoD2019) or 2021 (IoD2025).")] = 2021,
    max_population: Annotated[float, typer.Option(help="Most people in a neighbourhood.")] = 10_000,
    min_population: Annotated[float, typer.Option(help="Fewest people, where the LAD allows.")] = 3_000,
    variables: Annotated[str | None, typer.Option(
        help="Comma-separated columns of the IMD table (default: the 7 domains).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for breaking exact ties.")] = 0,
    lads: Annotated[str | None, typer.Option(
        help="Comma-separated LAD codes or names (default: all of England).")] = None,
    name: Annotated[str | None, typer.Option(
        help="Store under this name (default lsoaYY_maxN).")] = None,
    out: Annotated[Path | None, typer.Option(
        help=".geojson or .gpkg: one row per neighbourhood with its polygon; .csv, .parquet or .xlsx: "
             "LSOA -> neighbourhood (as --assignment-out).")] = None,
    summary_out: Annotated[Path | None, typer.Option(
        help="Write one row per neighbourhood (scores, deciles): .csv, .parquet, .xlsx, .geojson or .gpkg.")] = None,
    assignment_out: Annotated[Path | None, typer.Option(
        help="Write one row per LSOA (LSOA -> neighbourhood): .csv, .parquet, .xlsx, .geojson or .gpkg.")] = None,
    map_lad: Annotated[str | None, typer.Option("--map-lad", help="LAD code or name to map (with --map).")] = None,
    map_file: Annotated[Path | None, typer.Option("--map", help="PNG/SVG map of --map-lad's neighbourhoods.")] = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Build contiguous neighbourhoods inside each LAD, store them in the warehouse, report quality."""
    from neighbourhood_lens.geo.adjacency import ensure_adjacency, load_adjacency
    from neighbourhood_lens.neighbourhoods import build as nb
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    from ..errors import DataError
    from ..warehouse import connect

    nb.check_population_bounds(max_population=max_population, min_population=min_population)
    name = name or f"lsoa{str(vintage)[2:]}_max{int(max_population)}"
    nb._table(name)
    if vintage not in (2011, 2021):
        raise DataError(f"unknown vintage {vintage!r}; valid vintages: 2011, 2021")
    ensure_adjacency(db, vintage)
    con = connect(db, read_only=False)
    t0 = time.perf_counter()
    frame = nb.build_neighbourhoods(
        con, vintage=vintage, max_population=max_population, min_population=min_population,
        variables=[v.strip() for v in variables.split(",")] if variables else None, seed=seed,
        lads=_lad_codes(con, lads, vintage, option="--lads"),
    )
    seconds = time.perf_counter() - t0
    for w in frame.attrs["warnings"]:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False)
    key, lad = frame.columns[0], frame.columns[3]
    checks = nb.check_neighbourhoods(frame, load_adjacency(con, vintage), key=key, lad=lad,
                                     max_population=max_population, min_population=min_population)
    errors = checks[checks["severity"] == nb.SEVERITY_ERROR]
    params = frame.attrs["parameters"]
    nb.store_neighbourhoods(con, name, frame, vintage=vintage, parameters=params)
    pops = frame.groupby("neighbourhood_code")["population"].sum()
    console.print(
        f"[green]Built[/] {len(pops):,} neighbourhoods from {len(frame):,} LSOAs in {seconds:.1f} s; stored as "
        f"[bold]{name}[/]. Population median {pops.median():,.0f}, max {pops.max():,.0f}; "
        f"{len(errors)} constraint violation(s); {int((checks['check'] == 'under_min').sum())} below the minimum "
        "(LAD too small or no merge within the maximum)."
    )
    report = nb.homogeneity_report(con, frame, vintage=vintage, variables=params["variables"])
    title = "Neighbourhoods vs wards (within-variance share: lower = more homogeneous)"
    emit(report, title=title, formats={"areas": ",d", "median_population": ",.0f", "max_population": ",.0f",
                                       "within_share_imd": ".3f", "within_share_variables": ".3f",
                                       "pocket_preservation": ".3f"})
    prov = provenance_record(con, _dataset_ids(vintage), command="neighbourhoods build",
                             parameters={**params, "name": name})
    geo = (".geojson", ".gpkg")
    assignments = [p for p in (assignment_out, out) if p is not None and not (p is out and p.suffix.lower() in geo)]
    summaries = [p for p in (summary_out, out) if p is not None and (p is summary_out or p.suffix.lower() in geo)]
    for path in assignments:
        geometry = None
        if path.suffix.lower() in geo:
            from neighbourhood_lens.geo.boundaries import lsoa_boundaries

            geometry = lsoa_boundaries(con, vintage)
        write_table(frame, path, provenance=prov, geometry=geometry, key=key)
        wrote(len(frame), path, "LSOAs")
    if summaries:
        summary = nb.neighbourhood_summary(con, frame, vintage=vintage)
        shapes = None
        for path in summaries:
            if path.suffix.lower() in geo and shapes is None:
                shapes = nb.neighbourhood_boundaries(con, frame, vintage=vintage).rename(
                    columns={"neighbourhood_code": "code"})
            write_table(summary, path, provenance=prov, geometry=shapes if path.suffix.lower() in geo else None,
                        key="code")
            wrote(len(summary), path, "neighbourhoods")
    if map_file is not None:
        lad_code = _lad_codes(con, map_lad, vintage, option="--map-lad")[0] if map_lad else str(frame[lad].iloc[0])
        _draw(con, frame, vintage=vintage, lad=lad_code, path=map_file, name=name, prov=prov)
    if len(errors):
        emit(errors, title="Violations", limit=20)
        raise typer.Exit(1)


@app.command("list")
@handle_errors
def list_sets(fmt: FormatOption = OutputFormat.auto, db: DbOption = None) -> None:
    """List the neighbourhood sets stored in the warehouse."""
    from neighbourhood_lens.neighbourhoods.build import neighbourhood_sets

    from ..warehouse import connect

    sets = neighbourhood_sets(connect(db))
    sets["created_at"] = sets["created_at"].astype(str).str[:19]
    emit(sets[["name", "vintage", "n_neighbourhoods", "created_at", "tool_version"]], title="Neighbourhood sets",
         formats={"n_neighbourhoods": ",d", "vintage": "d"})


@app.command()
@handle_errors
def show(
    name: Annotated[str, typer.Argument(help="Stored set name.")],
    lad: Annotated[str | None, typer.Option(help="Only this LAD (code or name).")] = None,
    top: Annotated[int, typer.Option(help="Rows to show on screen (0 = all).")] = 50,
    out: Annotated[Path | None, typer.Option(
        help="Write the summary: .csv, .parquet, .xlsx, .geojson, .gpkg, or - for stdout.")] = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """One row per neighbourhood of a stored set: population, IMD and CNI among neighbourhoods."""
    from neighbourhood_lens.neighbourhoods import build as nb
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    from ..warehouse import connect

    con = connect(db)
    assignment, vintage = nb.load_neighbourhoods(con, name)
    summary = nb.neighbourhood_summary(con, assignment, vintage=vintage)
    if lad:
        summary = summary[summary["lad_code"] == _lad_codes(con, lad, vintage, option="--lad")[0]]
    emit(summary[["code", "name", "lad_name", "population", "n_lsoas", "imd_score", "imd_decile", "cni_decile"]],
         title=f"{name}: {len(summary):,} neighbourhoods", formats={"population": ",.0f", "n_lsoas": ".0f"},
         limit=top, out=out, hint="--out FILE or --top 0")
    if out is not None:
        prov = provenance_record(con, _dataset_ids(vintage), command="neighbourhoods show",
                                 parameters={"name": name, "lad": lad})
        geometry = None
        if out.suffix.lower() in (".geojson", ".gpkg"):
            sub = assignment[isin(assignment["neighbourhood_code"], summary["code"])]
            geometry = nb.neighbourhood_boundaries(con, sub, vintage=vintage).rename(
                columns={"neighbourhood_code": "code"})
        write_table(summary, out, provenance=prov, geometry=geometry)
        wrote(len(summary), out)


@app.command("map")
@handle_errors
def map_set(
    name: Annotated[str, typer.Argument(help="Stored set name.")],
    lad: Annotated[str, typer.Option(help="LAD code or name to map, e.g. E08000021 or 'Newcastle upon Tyne'.")],
    out: Annotated[Path, typer.Option(help="PNG or SVG file.")],
    db: DbOption = None,
) -> None:
    """Map one LAD's neighbourhoods coloured by IMD decile among neighbourhoods."""
    from neighbourhood_lens.neighbourhoods import build as nb
    from neighbourhood_lens.outputs.tables import provenance_record

    from ..warehouse import connect

    con = connect(db)
    assignment, vintage = nb.load_neighbourhoods(con, name)
    prov = provenance_record(con, _dataset_ids(vintage), command="neighbourhoods map", parameters={"name": name,
                                                                                                  "lad": lad})
    _draw(con, assignment, vintage=vintage, lad=_lad_codes(con, lad, vintage, option="--lad")[0], path=out,
          name=name, prov=prov)


def _draw(con, assignment, *, vintage: int, lad: str, path: Path, name: str, prov: dict) -> None:  # noqa: ANN001
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neighbourhood_lens.neighbourhoods import build as nb

    from ..errors import DataError

    summary = nb.neighbourhood_summary(con, assignment, vintage=vintage)
    summary = summary[summary["lad_code"] == lad]
    if summary.empty:
        raise DataError(f"--lad {lad!r}: no neighbourhood of set {name!r} lies in that LAD")
    sub = assignment[isin(assignment["neighbourhood_code"], summary["code"])]
    shapes = nb.neighbourhood_boundaries(con, sub, vintage=vintage).to_crs(27700)
    shapes = shapes.merge(summary, left_on="neighbourhood_code", right_on="code")
    shapes["imd_decile"] = shapes["imd_decile"].astype(int)
    fig, ax = plt.subplots(figsize=(9, 9))
    cmap = plt.get_cmap("RdYlBu", 10)
    shapes.plot(ax=ax, column="imd_decile", cmap=cmap, vmin=0.5, vmax=10.5, edgecolor="black", linewidth=0.5)
    for _, row in shapes.iterrows():
        p = row.geometry.representative_point()
        ax.annotate(row["name"], (p.x, p.y), fontsize=5, ha="center")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0.5, 10.5))
    bar = fig.colorbar(sm, ax=ax, ticks=range(1, 11), shrink=0.6)
    bar.set_label("IMD decile among England's neighbourhoods (1 = most deprived)")
    idx = "IMD 2019" if vintage == 2011 else "IMD 2025"
    from neighbourhood_lens.geo.maps import scale_bar_km

    xmin, ymin, xmax, _ = shapes.total_bounds
    km = scale_bar_km(xmax - xmin)
    ax.plot([xmin, xmin + km * 1000], [ymin, ymin], color="#222222", linewidth=2.5, solid_capstyle="butt")
    ax.annotate(f"{km:g} km", (xmin + km * 500, ymin), xytext=(0, 4), textcoords="offset points", ha="center",
                fontsize=8)
    ax.set_title(f"{summary['lad_name'].iloc[0]}: {len(summary)} neighbourhoods ({name}), coloured by {idx} decile\n"
                 f"IoD{idx[-4:]}, neighbourhoods of LSOAs ({vintage} boundaries)", loc="left")
    ax.set_axis_off()
    fig.text(0.01, 0.01, SOURCE_NOTE[vintage], fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    from neighbourhood_lens.outputs.tables import write_sidecar

    write_sidecar(path, prov)
    console.print(f"Wrote map of {len(summary)} neighbourhoods to {path}")
