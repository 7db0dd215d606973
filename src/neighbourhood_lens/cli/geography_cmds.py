"""``nlens inequality``, ``pockets``, ``next-door`` and ``periphery``: where deprivation sits."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from neighbourhood_lens._isin import isin

from ..errors import DataError
from ._common import DbOption, FormatOption, OutputFormat, console, emit, err_console, handle_errors, is_stdout, wrote

IndexOption = Annotated[str, typer.Option(help="Index edition: imd2019 (LSOA 2011), imd2025 (LSOA 2021), imd2015.")]
DomainOption = Annotated[str, typer.Option(help="Domain whose score to use: imd, income, employment, ...")]
OutOption = Annotated[Path | None, typer.Option(help="Write the table: .csv, .parquet, .xlsx, or - (stdout).")]
MapOption = Annotated[Path | None, typer.Option("--map", help="Draw a static choropleth: FILE.png or FILE.svg.")]
LadOption = Annotated[str | None, typer.Option(
    help="Only this LAD: code or name, any case, 2019 or 2024 (`nlens search`); deciles stay national.")]
LevelOption = Annotated[str, typer.Option(help="Neighbourhoods: lsoa or ward.")]

_BASE_IDS = {
    2011: ["lookup_lsoa11_ward17", "lookup_lsoa11_lad19", "lookup_lad19_region19", "population2019_lsoa11"],
    2021: ["lookup_lsoa21_ward24_lad24", "lookup_lad24_region24", "census2021_population_lsoa21"],
}


@contextmanager
def _reported_warnings() -> Iterator[None]:
    """Show library warnings (e.g. split wards, unmatched codes) on stderr as ``warning:`` lines, and
    expected coverage differences (:class:`~neighbourhood_lens.errors.CoverageNote`) as ``note:``."""
    from ..errors import CoverageNote

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        label = "note" if issubclass(w.category, CoverageNote) else "warning"
        err_console.print(Text.assemble((f"{label}:", "yellow"), " ", str(w.message)), highlight=False)


def _index_ids(index: str, *, boundaries: bool = False) -> list[str]:
    from neighbourhood_lens.deprivation.inequality import INDICES

    table, vintage = INDICES[index]
    extra = [f"boundaries_lsoa{str(vintage)[2:]}"] if boundaries else []
    return [table, *_BASE_IDS[vintage], *extra]


_EDITION = {"imd2019": "IoD2019", "imd2025": "IoD2025", "imd2015": "IoD2015", "imd2004": "IoD2004 (ODPM)"}


def _unit(index: str, level: str) -> str:
    """The mapped unit with its boundary vintage, e.g. ``LSOAs (2011 boundaries)``."""
    from neighbourhood_lens.deprivation.inequality import INDICES

    vintage = INDICES[index][1]
    names = {"lsoa": ("LSOAs", vintage), "ward": ("wards", 2017 if vintage == 2011 else 2024),
             "lad": ("local authorities", 2019 if vintage == 2011 else 2024)}
    kind, year = names.get(level, (level, vintage))
    return f"{kind} ({year} boundaries)"


def _source_note(index: str) -> str:
    edition = _EDITION.get(index, index)
    return f"Source: MHCLG {edition}; ONS boundaries, OGL v3; contains OS data © Crown copyright"


def _write(con: Any, frame: Any, out: Path | None, *, ids: list[str], command: str, params: dict[str, Any]) -> None:
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    if out is None:
        return
    if not is_stdout(out) and out.suffix.lower() not in (".csv", ".parquet", ".xlsx"):
        raise DataError(f"--out {out}: use .csv, .parquet, .xlsx or - for this table (maps go to --map FILE.png|.svg)")
    write_table(frame, out, provenance=provenance_record(con, ids, command=command, parameters=params))
    wrote(len(frame), out)


def _map_done(con: Any, path: Path, *, ids: list[str], command: str, params: dict[str, Any]) -> None:
    """The provenance sidecar of a map, and the note that it was written."""
    from neighbourhood_lens.outputs.tables import provenance_record, write_sidecar

    write_sidecar(path, provenance_record(con, ids, command=command, parameters=params))
    console.print(Text(f"Map written to {path}"))


def _resolve_lad(con: Any, lad: str | None, index: str) -> str | None:
    """``--lad`` as the LAD name of the index's vintage (2019 for IMD 2019/2015, 2024 for IMD 2025)."""
    if lad is None:
        return None
    from neighbourhood_lens.deprivation.inequality import INDICES
    from neighbourhood_lens.geo.places import resolve_lad

    return resolve_lad(con, lad, vintage=2019 if INDICES[index][1] == 2011 else 2024).code


def _check_map(path: Path | None) -> None:
    from neighbourhood_lens.geo.maps import MAP_SUFFIXES

    if path is not None and path.suffix.lower() not in MAP_SUFFIXES:
        raise DataError(f"--map {path}: unknown suffix {path.suffix!r}; use .png or .svg")


def _area_geometry(con: Any, index: str, level: str, codes: Any) -> Any:
    from neighbourhood_lens.deprivation.inequality import INDICES
    from neighbourhood_lens.geo.boundaries import area_boundaries

    vintage = INDICES[index][1]
    if level == "lsoa":
        return _lsoa_polygons(con, vintage, codes)
    return area_boundaries(con, "ward17" if vintage == 2011 else "ward24", codes=codes)


def _lsoa_polygons(con: Any, vintage: int, codes: Any) -> Any:
    """LSOA polygons of ``codes`` as ``code, geometry``; codes without a boundary are an error."""
    from neighbourhood_lens.geo.boundaries import lsoa_boundaries

    from ..errors import JoinError, examples

    g = lsoa_boundaries(con, vintage)
    g = g.rename(columns={g.columns[0]: "code"})
    wanted = set(codes)
    missing = wanted - set(g["code"])
    if missing:
        raise JoinError(f"{len(missing)} LSOA(s) have no boundary in boundaries_lsoa{str(vintage)[2:]}: "
                        f"{examples(sorted(missing))}")
    return g[isin(g["code"], wanted)].reset_index(drop=True)


def _plural(level: str) -> str:
    return "LSOAs" if level == "lsoa" else "wards"


def _lad_level(index: str) -> str:
    from neighbourhood_lens.deprivation.inequality import INDICES

    return "lad19" if INDICES[index][1] == 2011 else "lad24"


@handle_errors
def inequality(
    index: IndexOption = "imd2019",
    domain: DomainOption = "imd",
    levels: Annotated[str, typer.Option(help="Comma-separated levels, finest to coarsest.")] = "ward17,lad19,region19",
    on_split: Annotated[str, typer.Option(help="A level not nesting in the next: warn (split it) or error.")] = "warn",
    map_level: Annotated[str | None, typer.Option(help="Level to map (default: the second-coarsest level).")] = None,
    out: OutOption = None,
    map_path: MapOption = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Theil T and L of LSOA scores decomposed between and within wards, LADs and regions."""
    from neighbourhood_lens.deprivation import inequality as iq

    from ..warehouse import connect

    _check_map(map_path)
    names = [s.strip() for s in levels.split(",") if s.strip()]
    con = connect(db)
    with _reported_warnings():
        table = iq.decompose_index(con, index=index, domain=domain, levels=names, on_split=on_split)
    scores = iq.lsoa_scores(con, index=index, domain=domain)
    g = iq.gini(scores["score"], scores["population"])
    emit(table, title=f"Inequality of {index} {domain} scores across LSOAs (population weighted)",
         formats={c: ".4f" for c in ("total", "between", "within", "between_share")})
    nested = iq.nested_contributions(table)
    emit(nested, title="Nested components", formats={"value": ".4f", "share": ".1%"})
    coarse = table[table["level"] == names[-1]].set_index("measure")
    console.print(f"Within {names[-1]}: [bold]{coarse.loc['theil_t', 'within'] / coarse.loc['theil_t', 'total']:.1%}"
                  f"[/] of Theil T, [bold]{coarse.loc['theil_l', 'within'] / coarse.loc['theil_l', 'total']:.1%}[/] "
                  f"of Theil L. Population-weighted Gini: [bold]{g:.4f}[/]")
    params = {"index": index, "domain": domain, "levels": names, "on_split": on_split}
    _write(con, table, out, ids=_index_ids(index), command="inequality", params=params)
    if map_path is not None:
        from neighbourhood_lens.geo.boundaries import area_boundaries
        from neighbourhood_lens.geo.geography import level as get_level
        from neighbourhood_lens.geo.maps import choropleth

        lv = get_level(map_level or (names[-2] if len(names) > 1 else names[0]))
        iq.check_levels(index, [lv.name])
        groups = iq.theil_by_group(scores, value="score", weight="population", by=lv.code)
        gdf = area_boundaries(con, lv.name).merge(groups.rename(columns={lv.code: "code"}), on="code")
        choropleth(gdf, "theil_t", title=f"Inequality within each {lv.kind.upper() if lv.kind == 'lad' else lv.kind}: "
                   f"Theil T of {index} {domain} scores of its LSOAs", legend_title="Theil T (within area)",
                   source_note=_source_note(index), path=map_path, cmap="magma_r",
                   edition=_EDITION.get(index, index), unit=f"{lv.kind}s ({lv.name})",
                   labels=_place_labels(con, lv.name, gdf))
        _map_done(con, map_path, ids=_index_ids(index, boundaries=True), command="inequality", params=params)


@handle_errors
def pockets(
    index: IndexOption = "imd2019",
    domain: DomainOption = "imd",
    level: LevelOption = "lsoa",
    lad: LadOption = None,
    max_decile: Annotated[int, typer.Option(help="Deprived = national decile <= this (1 = most deprived).")] = 3,
    affluent_decile: Annotated[int, typer.Option(help="Affluent neighbour = decile >= this.")] = 8,
    lad_share: Annotated[float, typer.Option(help="Affluent LAD = average-score rank in the least deprived "
                                                   "share of LADs (0-1).")] = 0.5,
    top: Annotated[int, typer.Option(help="Rows to print (0 = all).")] = 15,
    out: OutOption = None,
    map_path: MapOption = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Hidden pockets: deprived neighbourhoods inside affluent LADs or beside affluent neighbours."""
    from neighbourhood_lens.deprivation import pockets as pk

    from ..warehouse import connect

    _check_map(map_path)
    con = connect(db)
    lad = _resolve_lad(con, lad, index)
    areas, links = pk.area_scores(con, index=index, domain=domain, level=level)
    found = pk.hidden_pockets(areas, links, max_decile=max_decile, affluent_decile=affluent_decile,
                              lad_affluent_share=lad_share)
    found = pk.filter_lad(found, lad)
    where = f" in {found['lad_name'].iloc[0] if len(found) else lad}" if lad else ""
    console.print(f"[bold]{len(found):,}[/] hidden pocket {_plural(level)}{where} (decile <= {max_decile}; "
                  f"affluent LAD or neighbour in decile >= {affluent_decile}), home to "
                  f"[bold]{found['population'].sum():,.0f}[/] people.")
    show = ["name", "ward_name", "lad_name", "score", "decile", "lad_rank", "affluent_neighbour_wards",
            "neighbour_decile", "gap"]
    emit(found[["code", *show]], title="Largest gaps", formats={"score": ".1f", "gap": ".1f", "lad_rank": ".0f"},
         limit=top, out=out, hint="--out FILE or --top 0")
    params = {"index": index, "domain": domain, "level": level, "lad": lad, "max_decile": max_decile,
              "affluent_decile": affluent_decile, "lad_share": lad_share}
    _write(con, found, out, ids=_index_ids(index, boundaries=True), command="pockets", params=params)
    if map_path is not None:
        import numpy as np

        from neighbourhood_lens.geo.maps import choropleth

        shown = pk.filter_lad(areas, lad)
        cat = np.where(isin(shown["code"], found["code"]), "hidden pocket",
                       np.where(shown["decile"] <= max_decile, f"deprived (decile <= {max_decile})",
                                np.where(shown["decile"] >= affluent_decile, f"affluent (decile >= {affluent_decile})",
                                         "other")))
        import pandas as pd

        order = ["hidden pocket", f"deprived (decile <= {max_decile})", "other",
                 f"affluent (decile >= {affluent_decile})"]
        shown = shown.assign(category=pd.Categorical(cat, categories=order, ordered=True))
        gdf = _area_geometry(con, index, level, shown["code"]).merge(shown, on="code")
        choropleth(gdf, "category", categorical=True,
                   title=f"Hidden pockets{where}: {_plural(level)} in {index} deciles 1-{max_decile} beside affluence",
                   legend_title=_plural(level),
                   colours={order[0]: "#b2182b", order[1]: "#ef8a62", order[2]: "#e0e0e0", order[3]: "#4393c3"},
                   source_note=_source_note(index), path=map_path,
                   edition=_EDITION.get(index, index), unit=_unit(index, level),
                   labels=_place_labels(con, "ward17" if _lad_level(index) == "lad19" else "ward24", gdf))
        _map_done(con, map_path, ids=_index_ids(index, boundaries=True), command="pockets", params=params)


@handle_errors
def next_door(
    index: IndexOption = "imd2019",
    domain: DomainOption = "imd",
    level: LevelOption = "lsoa",
    lad: LadOption = None,
    deprived_decile: Annotated[int, typer.Option(help="Deprived = national decile <= this.")] = 2,
    min_gap: Annotated[int, typer.Option(help="'Much less deprived' = at least this many deciles higher.")] = 5,
    top: Annotated[int, typer.Option(help="Rows to print (0 = all).")] = 15,
    out: OutOption = None,
    pairs_out: Annotated[Path | None, typer.Option(help="Write every adjacent pair: .csv, .parquet or .xlsx.")] = None,
    map_path: MapOption = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Next-door gaps: adjacent neighbourhoods far apart in deprivation; per-LAD share of people affected."""
    from neighbourhood_lens.deprivation import pockets as pk

    from ..warehouse import connect

    _check_map(map_path)
    con = connect(db)
    lad = _resolve_lad(con, lad, index)
    areas, links = pk.area_scores(con, index=index, domain=domain, level=level)
    pairs = pk.filter_lad(pk.next_door_pairs(areas, links), lad)
    by_lad = pk.filter_lad(pk.next_door_by_lad(areas, links, deprived_decile=deprived_decile,
                                               min_decile_gap=min_gap), lad)
    islands = len(set(areas["code"]) - set(links["a"]) - set(links["b"]))
    nearest = int((links["kind"] == "nearest").sum()) if "kind" in links else 0
    console.print(f"{len(links):,} adjacent {level} pairs ({nearest} island links by nearest distance; "
                  f"{islands} {_plural(level)} without any neighbour).")
    emit(pairs[["name", "ward_name", "decile", "neighbour_name", "neighbour_ward_name", "neighbour_decile",
                "decile_gap", "score_gap"]], title="Largest next-door gaps", formats={"score_gap": ".1f"},
         limit=top, out=pairs_out, hint="--pairs-out FILE")
    emit(by_lad, title=f"People in decile 1-{deprived_decile} {_plural(level)} next to one "
                       f">= {min_gap} deciles less deprived",
         formats={"population": ",.0f", "deprived_population": ",.0f", "gap_population": ",.0f",
                  "gap_share": ".1%", "gap_share_of_deprived": ".1%", "areas_with_gap": ".0f"},
         limit=top, out=out, hint="--out FILE or --top 0")
    params = {"index": index, "domain": domain, "level": level, "lad": lad, "deprived_decile": deprived_decile,
              "min_gap": min_gap}
    ids = [*_index_ids(index, boundaries=True)]
    _write(con, by_lad, out, ids=ids, command="next-door", params=params)
    _write(con, pairs, pairs_out, ids=ids, command="next-door", params=params)
    if map_path is not None:
        from neighbourhood_lens.geo.boundaries import area_boundaries
        from neighbourhood_lens.geo.maps import choropleth

        if lad is None:
            gdf = area_boundaries(con, _lad_level(index)).merge(by_lad.rename(columns={"lad_code": "code"}), on="code")
            gdf["gap_pct"] = gdf["gap_share"] * 100
            choropleth(gdf, "gap_pct", title=f"Residents of decile 1-{deprived_decile} {_plural(level)} next to one "
                       f">= {min_gap} deciles less deprived ({index})", legend_title="% of all residents",
                       source_note=_source_note(index), path=map_path, cmap="Reds",
                       edition=_EDITION.get(index, index), unit=_unit(index, "lad"),
                       labels=_place_labels(con, _lad_level(index), gdf))
        else:
            import pandas as pd

            shown = pk.filter_lad(areas, lad)
            shown["decile"] = pd.Categorical(shown["decile"], categories=list(range(1, 11)), ordered=True)
            gdf = _area_geometry(con, index, level, shown["code"]).merge(shown, on="code")
            choropleth(gdf, "decile", categorical=True, cmap="RdYlBu", legend_title="IMD decile (1 = most deprived)",
                       title=f"{index} deciles in {shown['lad_name'].iloc[0]}: next-door gaps",
                       source_note=_source_note(index), path=map_path,
                       edition=_EDITION.get(index, index), unit=_unit(index, level),
                       labels=_place_labels(con, "ward17" if _lad_level(index) == "lad19" else "ward24", gdf))
        _map_done(con, map_path, ids=ids, command="next-door", params=params)


@handle_errors
def periphery(
    editions: Annotated[str, typer.Option(help="Comma-separated editions: imd2004, imd2019, imd2025.")]
    = "imd2004,imd2019,imd2025",
    bands: Annotated[str, typer.Option(help="Distance band edges in km from the LAD centre, e.g. 2,5.")] = "2,5",
    n_densest: Annotated[int, typer.Option(help="Densest LSOAs averaged to place each centre.")] = 5,
    radius_km: Annotated[float, typer.Option(help="Only LSOAs this close to the density peak form the centre.")] = 3.0,
    lad: LadOption = None,
    map_edition: Annotated[str | None, typer.Option(help="Edition to map (default: the last).")] = None,
    out: OutOption = None,
    map_path: MapOption = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Centre vs periphery: where the most deprived decile lives, and how that moved since 2004."""
    from neighbourhood_lens.deprivation import periphery as pp

    from ..warehouse import connect

    _check_map(map_path)
    eds = [e.strip() for e in editions.split(",") if e.strip()]
    try:
        edges = [float(b) for b in bands.split(",") if b.strip()]
    except ValueError:
        raise DataError(f"--bands must be comma-separated numbers of km, e.g. 2,5; got {bands!r}") from None
    con = connect(db)
    if lad is not None:
        from neighbourhood_lens.geo.places import resolve_lad

        lad = resolve_lad(con, lad, vintage=2019).code
    with _reported_warnings():
        table, frames = pp.decentralisation(con, editions=eds, bands_km=edges, n_densest=n_densest,
                                            radius_km=radius_km, lad=lad)
    summary = table.groupby(["edition", "band"], observed=True, as_index=False)[
        ["deprived_share", "population_share", "lsoa_share"]].sum()
    emit(summary, title="Where the most deprived decile lives, by distance from the LAD centre",
         formats={c: ".1%" for c in ("deprived_share", "population_share", "lsoa_share")})
    rural = table.groupby(["edition", "ruc_broad"], as_index=False)[["deprived_share", "population_share"]].sum()
    emit(rural, title="Urban and rural", formats={"deprived_share": ".1%", "population_share": ".1%"})
    ids = ["ruc2011_lsoa11", "ruc2021_lsoa21", "lookup_lsoa01_lsoa11", "lookup_lsoa11_lsoa21_lad22",
           "boundaries_lsoa11", "boundaries_lsoa21", *[pp.EDITIONS[e][0] for e in eds], *_BASE_IDS[2011],
           *_BASE_IDS[2021]]
    params = {"editions": eds, "bands_km": edges, "n_densest": n_densest, "radius_km": radius_km, "lad": lad}
    _write(con, table, out, ids=ids, command="periphery", params=params)
    if map_path is not None:
        import pandas as pd

        from neighbourhood_lens.geo.maps import choropleth

        ed = map_edition or eds[-1]
        if ed not in frames:
            raise DataError(f"--map-edition {ed!r} is not among --editions ({', '.join(eds)})")
        frame = frames[ed]
        cats = list(frame["band"].cat.categories)
        band = frame["band"].astype(str).where(frame["deprived"], "not in decile 1")
        frame = frame.assign(where=pd.Categorical(band, categories=[*cats, "not in decile 1"], ordered=True))
        gdf = _lsoa_polygons(con, pp.EDITIONS[ed][1], frame["code"]).merge(frame[["code", "where"]], on="code")
        palette = dict(zip(cats, ["#99000d", "#fd8d3c", "#2171b5", "#6a51a3", "#41ab5d"], strict=False))
        palette["not in decile 1"] = "#eeeeee"
        where = f" in {frame['lad_name'].iloc[0]}" if lad and "lad_name" in frame else " in England"
        choropleth(gdf, "where", categorical=True, colours=palette, legend_title="Decile-1 LSOAs by distance",
                   title=f"Most deprived 10% of LSOAs ({ed}){where}, by distance from their LAD centre",
                   source_note=_source_note(ed), path=map_path,
                   edition=_EDITION.get(ed, ed), unit=f"LSOAs ({pp.EDITIONS[ed][1]} boundaries)",
                   labels=_place_labels(con, "ward17" if lad else "lad19", gdf))
        _map_done(con, map_path, ids=ids, command="periphery", params=params)


def _place_labels(con: Any, level: str, shown: Any) -> Any:
    """Names and polygons of the ``level`` areas (wards, LADs) under the mapped areas, for map labels."""
    from neighbourhood_lens.geo.maps import place_labels

    return place_labels(con, level, shown)


COMMANDS: dict[str, Callable[..., None]] = {
    "inequality": inequality, "pockets": pockets, "next-door": next_door, "periphery": periphery,
}
