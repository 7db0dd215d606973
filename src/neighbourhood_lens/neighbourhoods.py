"""Custom neighbourhoods: LSOAs grouped into contiguous areas of about 10,000 people or fewer.

The problem
-----------
Given the English LSOAs :math:`i` of one vintage with population :math:`w_i`, standardised
variables :math:`x_i \\in \\mathbb{R}^k` (by default the seven IMD domains), LAD :math:`g(i)`
and the contiguity graph :math:`G` (queen contiguity, plus the ``nearest`` links that join
islands and detached parts to the rest of their LAD, see :mod:`.adjacency`), find a
partition of the LSOAs into neighbourhoods :math:`R_1, \\dots, R_p` that solves

.. math::

    \\min \\sum_{r=1}^{p} \\sum_{i \\in R_r} w_i \\lVert x_i - \\bar x_r \\rVert^2,
    \\qquad \\bar x_r = \\frac{\\sum_{i \\in R_r} w_i x_i}{\\sum_{i \\in R_r} w_i}

subject to

* every LSOA in exactly one :math:`R_r`;
* :math:`R_r` induces a connected subgraph of :math:`G` (contiguity);
* :math:`g(i) = g(j)` for all :math:`i, j \\in R_r` (LAD nesting);
* :math:`\\sum_{i \\in R_r} w_i \\le U` unless :math:`|R_r| = 1` (a single LSOA above
  :math:`U` stands alone);
* :math:`\\sum_{i \\in R_r} w_i \\ge L` where the LAD allows (soft: reported, not enforced);
* :math:`p` as small as the upper bound allows (regions are only split while too large), so
  that neighbourhoods are "around 10,000 people or fewer" rather than as small as :math:`L`.

The solution is **heuristic** (the exact problem is NP-hard): SKATER's minimum spanning
tree of dissimilarities, cut top-down by the largest fall in the objective, then small
regions merged (:func:`neighbourhood_lens._regionalise.regionalise`). It is deterministic:
the same inputs and seed give the same neighbourhoods.

Variables
---------
``2021``: the IoD2025 domain scores (income, employment, education, health, crime, housing,
environment), each standardised to mean 0 and standard deviation 1 over England.
``2011``: the mirror's IoD2019 file has scores for three domains only, so the default uses
the seven domain **ranks** turned into normal scores, :math:`z = \\Phi^{-1}((N - r + 0.5)/N)`
(rank 1 = most deprived, so higher :math:`z` = more deprived). ``variables=`` chooses other
columns of the vintage's IMD table: ``*_score`` columns are standardised, ``*_rank``
columns normal-scored.

References
----------
Assunção, R. M., Neves, M. C., Câmara, G. and da Costa Freitas, C. (2006). Efficient
regionalization techniques for socio-economic geographical units using minimum spanning
trees. *International Journal of Geographical Information Science* 20(7), 797-811.
Duque, J. C., Anselin, L. and Rey, S. J. (2012). The max-p-regions problem. *Journal of
Regional Science* 52(3), 397-419 (the reference method, PySAL ``spopt.region.MaxPHeuristic``).
Local Trust (2024), *A neighbourhood lens*: a neighbourhood is "an area of around 10,000
people or fewer".
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._neighbourhood_measures import (
    homogeneity_report,
    left_behind_for_neighbourhoods,
    neighbourhood_summary,
    pocket_preservation,
    within_variance_share,
)
from .errors import DataError, JoinError, WarehouseError, examples

if TYPE_CHECKING:
    import duckdb
    import geopandas as gpd

__all__ = [
    "DEFAULT_VARIABLES",
    "SEVERITY_ERROR",
    "standardise",
    "lsoa_inputs",
    "assign_neighbourhoods",
    "build_neighbourhoods",
    "check_neighbourhoods",
    "store_neighbourhoods",
    "load_neighbourhoods",
    "neighbourhood_sets",
    "neighbourhood_boundaries",
    "neighbourhood_summary",
    "within_variance_share",
    "pocket_preservation",
    "homogeneity_report",
    "left_behind_for_neighbourhoods",
]

DOMAINS = ("income", "employment", "education", "health", "crime", "housing", "environment")
#: Default variables per LSOA vintage (see the module docstring).
DEFAULT_VARIABLES: dict[int, tuple[str, ...]] = {
    2011: tuple(f"{d}_rank" for d in DOMAINS),
    2021: tuple(f"{d}_score" for d in DOMAINS),
}
IMD_TABLE = {2011: "imd2019_lsoa11", 2021: "imd2025_lsoa21"}
SEVERITY_ERROR = "error"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def _cols(vintage: int) -> tuple[str, str, str, str]:
    """(LSOA code, LAD code, ward code, ward name) columns of a vintage's hierarchy."""
    if vintage == 2011:
        return "lsoa11_code", "lad19_code", "ward17_code", "ward17_name"
    if vintage == 2021:
        return "lsoa21_code", "lad24_code", "ward24_code", "ward24_name"
    raise DataError(f"unknown LSOA vintage {vintage!r}; valid vintages: 2011, 2021")


def standardise(frame: pd.DataFrame, columns: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Standardise variables: ``*_rank`` to normal scores, anything else to z-scores.

    Ranks (1 = most deprived) of :math:`N` areas become :math:`\\Phi^{-1}((N - r + 0.5)/N)`,
    so higher = more deprived, as for scores. Missing values stay missing.

    >>> standardise(pd.DataFrame({"s": [1.0, 2.0, 3.0], "x_rank": [1, 2, 3]}), ["s", "x_rank"]).round(3)
           s  x_rank
    0 -1.225   0.967
    1  0.000   0.000
    2  1.225  -0.967
    """
    from scipy.special import ndtri

    out = pd.DataFrame(index=frame.index)
    for col in columns:
        v = frame[col].to_numpy(dtype=float)
        if col.endswith("_rank"):
            n = np.count_nonzero(~np.isnan(v))
            out[col] = ndtri((n - v + 0.5) / n)
        else:
            sd = np.nanstd(v)
            out[col] = (v - np.nanmean(v)) / (sd if sd > 0 else 1.0)
    return out


def lsoa_inputs(
    con: duckdb.DuckDBPyConnection,
    *,
    vintage: int,
    variables: list[str] | tuple[str, ...] | None = None,
    lads: list[str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The LSOAs to regionalise with their LAD, ward, population and standardised variables.

    Returns ``(frame, warnings)``. Standardisation is national (before any ``lads`` subset).
    Missing variable values are set to the national mean (0) and counted in the warnings;
    a missing population is an error.
    """
    from .geography import hierarchy
    from .warehouse import require_tables

    key, lad, ward, ward_name = _cols(vintage)
    table = IMD_TABLE[vintage]
    require_tables(con, [table])
    variables = list(variables or DEFAULT_VARIABLES[vintage])
    have = set(con.execute(f"SELECT * FROM {table} LIMIT 0").df().columns)
    unknown = [v for v in variables if v not in have or v == key]
    if unknown:
        usable = sorted(c for c in have if c.endswith(("_score", "_rank")))
        raise DataError(f"variables {examples(unknown)} are not columns of {table}; choose from {', '.join(usable)}")
    h = hierarchy(con, vintage)
    imd = con.execute(f"SELECT {key}, {', '.join(variables)} FROM {table}").df()
    z = pd.concat([imd[[key]], standardise(imd, variables)], axis=1)
    frame = h[[key, lad, ward, ward_name, "population"]].merge(z, on=key, how="left", validate="one_to_one")
    warnings: list[str] = []
    if lads is not None:
        if not lads:
            raise DataError(f"--lads: no local authority given; list {lad} codes (e.g. E08000021) "
                            "or omit it for England")
        unknown_lads = sorted(set(lads) - set(frame[lad]))
        if unknown_lads:
            raise JoinError(f"--lads: {len(unknown_lads)} code(s) are not {lad} codes: {examples(unknown_lads)}")
        frame = frame[frame[lad].isin(lads)].reset_index(drop=True)
    bad_pop = frame["population"].isna() | (frame["population"] < 0)
    if bad_pop.any():
        raise DataError(
            f"{int(bad_pop.sum())} LSOA(s) have no (or a negative) population: "
            f"{examples(frame.loc[bad_pop, key])}. Pass a complete population to rebuild the hierarchy."
        )
    missing = frame[variables].isna().any(axis=1)
    if missing.any():
        warnings.append(
            f"{int(missing.sum())} LSOA(s) lack a value of {', '.join(variables)} in {table}; "
            f"set to the national mean: {examples(frame.loc[missing, key])}"
        )
        frame[variables] = frame[variables].fillna(0.0)
    return frame, warnings


def assign_neighbourhoods(
    lsoas: pd.DataFrame,
    links: pd.DataFrame,
    *,
    key: str,
    lad: str,
    variables: list[str],
    max_population: float = 10_000,
    min_population: float = 3_000,
    seed: int = 0,
) -> tuple[np.ndarray, list[str]]:
    """Regionalise ``lsoas`` (one row per LSOA) over ``links`` (``a, b`` codes).

    Returns ``(labels, warnings)``: an integer neighbourhood label per row of ``lsoas``.
    Links to codes outside ``lsoas`` are ignored; LSOAs without any link inside their LAD
    (in a LAD of several LSOAs) each stand alone and are counted in the warnings.

    >>> f = pd.DataFrame({"c": list("ABCD"), "l": ["L"] * 4, "x": [0.0, 0.1, 5.0, 5.1],
    ...                   "population": [3000.0] * 4})
    >>> links = pd.DataFrame({"a": ["A", "B", "C"], "b": ["B", "C", "D"]})
    >>> assign_neighbourhoods(f, links, key="c", lad="l", variables=["x"],
    ...                       max_population=7000, min_population=3000)[0].tolist()
    [0, 0, 1, 1]
    """
    from ._regionalise import regionalise

    if min_population > max_population:
        raise DataError(
            f"--min-population ({min_population:,.0f}) is above --max-population ({max_population:,.0f}); "
            "lower the minimum or raise the maximum."
        )
    if max_population <= 0:
        raise DataError(f"--max-population must be positive; got {max_population}")
    index = pd.Index(lsoas[key])
    if index.has_duplicates:
        dups = index[index.duplicated()]
        raise DataError(f"{len(dups)} duplicate LSOA code(s): {examples(dups)}; give each LSOA one row")
    a, b = index.get_indexer(links["a"]), index.get_indexer(links["b"])
    ok = (a >= 0) & (b >= 0)
    groups = pd.factorize(lsoas[lad])[0]
    a, b = a[ok], b[ok]
    same = groups[a] == groups[b]
    degree = np.bincount(np.concatenate([a[same], b[same]]), minlength=len(index))
    lad_size = np.bincount(groups)[groups]
    lonely = (degree == 0) & (lad_size > 1)
    warnings: list[str] = []
    if lonely.any():
        warnings.append(
            f"{int(lonely.sum())} LSOA(s) have no neighbour in their LAD (no boundary or no contiguity link); "
            f"each is a neighbourhood of its own: {examples(index[lonely])}"
        )
    labels = regionalise(
        lsoas[variables].to_numpy(dtype=float), lsoas["population"].to_numpy(dtype=float), a, b, groups,
        max_population=max_population, min_population=min_population, seed=seed,
    )
    return labels, warnings


def _codes_and_names(frame: pd.DataFrame, labels: np.ndarray, *, key: str, lad: str,
                     ward_name: str) -> pd.DataFrame:
    """Deterministic codes ``N<LAD>_<seq>`` and names from the ward holding most people."""
    f = frame[[key, lad, ward_name, "population"]].assign(_label=labels)
    first = f.groupby("_label", as_index=False).agg(_first=(key, "min"), _lad=(lad, "first"))
    first = first.sort_values(["_lad", "_first"])
    first["_seq"] = first.groupby("_lad").cumcount() + 1
    first["neighbourhood_code"] = "N" + first["_lad"] + "_" + first["_seq"].astype(str).str.zfill(3)
    by_ward = f.groupby(["_label", ward_name], as_index=False)["population"].sum()
    by_ward = by_ward.sort_values(["_label", "population", ward_name], ascending=[True, False, True])
    lead = by_ward.drop_duplicates("_label").set_index("_label")[ward_name]
    first["neighbourhood_name"] = first["_label"].map(lead).fillna("Unnamed")
    dup = first.groupby(["_lad", "neighbourhood_name"]).cumcount()
    first["neighbourhood_name"] = first["neighbourhood_name"].where(
        dup == 0, first["neighbourhood_name"] + " (" + (dup + 1).astype(str) + ")"
    )
    out = f.merge(first[["_label", "neighbourhood_code", "neighbourhood_name"]], on="_label", how="left")
    return out[[key, "neighbourhood_code", "neighbourhood_name", lad, "population"]]


def build_neighbourhoods(
    con: duckdb.DuckDBPyConnection,
    *,
    vintage: int = 2021,
    max_population: float = 10_000,
    min_population: float = 3_000,
    variables: list[str] | tuple[str, ...] | None = None,
    seed: int = 0,
    lads: list[str] | None = None,
    links: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Build neighbourhoods for England (or the LADs in ``lads``); see the module docstring.

    Returns one row per LSOA: ``lsoa11_code`` or ``lsoa21_code``, ``neighbourhood_code``
    (``N`` + LAD code + ``_`` + 3-digit sequence in order of each neighbourhood's first LSOA
    code), ``neighbourhood_name`` (the ward with most of its people; ``(2)``, ``(3)`` ... when
    a LAD has several), the LAD code (``lad19_code`` / ``lad24_code``) and ``population``.
    Warnings (counted) are in ``frame.attrs['warnings']``. ``links`` overrides the warehouse's
    cached adjacency (``a, b`` LSOA codes).
    """
    from .adjacency import load_adjacency

    key, lad, _, ward_name = _cols(vintage)
    if min_population > max_population:
        raise DataError(
            f"--min-population ({min_population:,.0f}) is above --max-population ({max_population:,.0f}); "
            "lower the minimum or raise the maximum."
        )
    frame, warnings = lsoa_inputs(con, vintage=vintage, variables=variables, lads=lads)
    variables = list(variables or DEFAULT_VARIABLES[vintage])
    if links is None:
        links = load_adjacency(con, vintage)
    labels, more = assign_neighbourhoods(
        frame, links, key=key, lad=lad, variables=variables, max_population=max_population,
        min_population=min_population, seed=seed,
    )
    out = _codes_and_names(frame, labels, key=key, lad=lad, ward_name=ward_name)
    out.attrs["warnings"] = warnings + more
    out.attrs["parameters"] = {
        "vintage": vintage, "max_population": max_population, "min_population": min_population,
        "variables": variables, "seed": seed, "lads": lads,
    }
    return out


def check_neighbourhoods(
    assignment: pd.DataFrame,
    links: pd.DataFrame,
    *,
    key: str,
    lad: str,
    max_population: float,
    min_population: float,
    expected: pd.Series | None = None,
) -> pd.DataFrame:
    """Every broken constraint of an LSOA -> neighbourhood assignment, one row per finding.

    ``assignment`` has ``key``, ``neighbourhood_code``, ``lad`` and ``population``; ``links``
    the contiguity links ``a, b`` (queen and nearest). ``expected`` lists the LSOA codes that
    must each appear exactly once (default: those in ``assignment``).

    Returns columns ``check, severity, neighbourhood_code, detail``. Checks (severity
    ``error``): ``missing``, ``unexpected`` (not in ``expected``), ``unassigned`` (no
    neighbourhood code; left out of the other checks), ``duplicate``, ``over_max`` (population above the maximum with
    more than one LSOA), ``several_lads``, ``not_contiguous`` (more than one connected piece
    over links inside the neighbourhood). ``under_min`` has severity ``warning``: the
    minimum holds only where the LAD allows.

    >>> f = pd.DataFrame({"c": list("ABC"), "neighbourhood_code": ["n1", "n1", "n2"],
    ...                   "l": ["L", "L", "L"], "population": [6000.0, 5000.0, 2000.0]})
    >>> check_neighbourhoods(f, pd.DataFrame({"a": ["B"], "b": ["C"]}), key="c", lad="l",
    ...                      max_population=10000, min_population=3000)[["check", "neighbourhood_code"]]
                check neighbourhood_code
    0        over_max                 n1
    1  not_contiguous                 n1
    2       under_min                 n2
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows: list[pd.DataFrame] = []

    def add(check: str, severity: str, codes: pd.Series, detail: pd.Series) -> None:
        if len(codes):
            rows.append(pd.DataFrame({"check": check, "severity": severity,
                                      "neighbourhood_code": codes.to_numpy(), "detail": detail.to_numpy()}))

    blank = assignment["neighbourhood_code"].isna() | (assignment["neighbourhood_code"].astype(str) == "")
    add("unassigned", SEVERITY_ERROR, pd.Series([None] * int(blank.sum()), dtype=object),
        assignment.loc[blank, key].astype(str) + " has no neighbourhood code")
    if expected is not None:
        extra = ~assignment[key].isin(set(expected)) & ~assignment[key].duplicated()
        add("unexpected", SEVERITY_ERROR, assignment.loc[extra, "neighbourhood_code"],
            assignment.loc[extra, key].astype(str) + " is not an LSOA of the vintage")
    listed = set(assignment[key])  # an unassigned LSOA is reported once, as unassigned, not also as missing
    assignment = assignment[~blank]
    dup = assignment[assignment[key].duplicated(keep=False)]
    add("duplicate", SEVERITY_ERROR, dup["neighbourhood_code"], dup[key] + " assigned more than once")
    if expected is not None:
        absent = pd.Series(sorted(set(expected) - listed), dtype=object)
        add("missing", SEVERITY_ERROR, pd.Series([None] * len(absent), dtype=object), absent + " not assigned")
    per = assignment.groupby("neighbourhood_code").agg(
        population=("population", "sum"), n_lsoas=(key, "size"), n_lads=(lad, "nunique"))
    over = per[(per["population"] > max_population) & (per["n_lsoas"] > 1)]
    add("over_max", SEVERITY_ERROR, over.index.to_series(),
        over["population"].map(lambda p: f"population {p:,.0f} > {max_population:,.0f}"))
    multi = per[per["n_lads"] > 1]
    add("several_lads", SEVERITY_ERROR, multi.index.to_series(), multi["n_lads"].astype(str) + " LADs")
    one = assignment.drop_duplicates(key)
    index = pd.Index(one[key])
    code = pd.factorize(one["neighbourhood_code"])
    a, b = index.get_indexer(links["a"]), index.get_indexer(links["b"])
    ok = (a >= 0) & (b >= 0)
    a, b = a[ok], b[ok]
    inner = code[0][a] == code[0][b]
    graph = coo_matrix((np.ones(int(inner.sum())), (a[inner], b[inner])), shape=(len(index), len(index)))
    comp = connected_components(graph, directed=False)[1]
    pieces = pd.Series(comp).groupby(code[0]).nunique()
    broken = pieces[pieces > 1]
    add("not_contiguous", SEVERITY_ERROR, pd.Series(code[1][broken.index.to_numpy()]),
        broken.astype(str).reset_index(drop=True) + " pieces")
    under = per[per["population"] < min_population]
    add("under_min", "warning", under.index.to_series(),
        under["population"].map(lambda p: f"population {p:,.0f} < {min_population:,.0f}"))
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("check", "severity", "neighbourhood_code", "detail")})
    return pd.concat(rows, ignore_index=True)


def _table(name: str) -> str:
    if not _NAME.match(name):
        raise DataError(
            f"neighbourhood set name {name!r} is not allowed: use lower-case letters, digits and _ "
            "(start with a letter, at most 48 characters), e.g. lsoa21_max10000"
        )
    return f"neighbourhoods_{name}"


def store_neighbourhoods(
    con: duckdb.DuckDBPyConnection, name: str, assignment: pd.DataFrame, *, vintage: int,
    parameters: dict[str, object] | None = None,
) -> str:
    """Save an assignment as table ``neighbourhoods_<name>`` and register it.

    The table has the LSOA code, ``neighbourhood_code``, ``neighbourhood_name`` and LAD code
    columns; ``neighbourhood_sets(name, vintage, created_at, parameters_json, tool_version,
    n_neighbourhoods)`` gets one row (replaced if the name exists). Needs a read-write
    connection. Returns the table name.
    """
    from . import __version__

    key, lad, _, _ = _cols(vintage)
    table = _table(name)
    cols = [key, "neighbourhood_code", "neighbourhood_name", lad]
    con = con.cursor()  # a fresh cursor: earlier fetchone() calls may leave results pending (DuckDB 2)
    con.register("_nb", assignment[cols])
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _nb ORDER BY {key}").fetchall()
    con.unregister("_nb")
    con.execute(
        "CREATE TABLE IF NOT EXISTS neighbourhood_sets (name VARCHAR PRIMARY KEY, vintage INTEGER, "
        "created_at TIMESTAMP, parameters_json VARCHAR, tool_version VARCHAR, n_neighbourhoods INTEGER)"
    ).fetchall()
    con.execute("DELETE FROM neighbourhood_sets WHERE name = ?", [name]).fetchall()
    con.execute(
        "INSERT INTO neighbourhood_sets VALUES (?, ?, ?, ?, ?, ?)",
        [name, vintage, datetime.now(UTC).replace(tzinfo=None), json.dumps(parameters or {}, default=str),
         __version__, int(assignment["neighbourhood_code"].nunique())],
    ).fetchall()
    return table


def neighbourhood_sets(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The registry of stored neighbourhood sets (empty if none)."""
    from .warehouse import has_table

    if not has_table(con, "neighbourhood_sets"):
        return pd.DataFrame(columns=["name", "vintage", "created_at", "parameters_json", "tool_version",
                                     "n_neighbourhoods"])
    return con.execute("SELECT * FROM neighbourhood_sets ORDER BY name").df()


def load_neighbourhoods(con: duckdb.DuckDBPyConnection, name: str) -> tuple[pd.DataFrame, int]:
    """A stored set: ``(assignment, vintage)``; the assignment as written by :func:`store_neighbourhoods`."""
    table = _table(name)
    sets = neighbourhood_sets(con)
    row = sets[sets["name"] == name]
    if row.empty:
        known = ", ".join(sets["name"]) or "none yet"
        raise WarehouseError(
            f"no neighbourhood set {name!r} in the warehouse (stored: {known}). "
            f"Build it: `nlens neighbourhoods build --name {name} ...`"
        )
    return con.execute(f"SELECT * FROM {table}").df(), int(row["vintage"].iloc[0])


def neighbourhood_boundaries(
    con: duckdb.DuckDBPyConnection, assignment: pd.DataFrame, *, vintage: int
) -> gpd.GeoDataFrame:
    """Neighbourhood polygons dissolved from their LSOAs: ``neighbourhood_code, geometry`` (EPSG:4326)."""
    from .boundaries import lsoa_boundaries

    key = _cols(vintage)[0]
    gdf = lsoa_boundaries(con, vintage).merge(assignment[[key, "neighbourhood_code"]], on=key, how="inner")
    missing = sorted(set(assignment[key]) - set(gdf[key]))
    if missing:
        raise JoinError(f"{len(missing)} LSOA(s) have no boundary: {examples(missing)}")
    return gdf[["neighbourhood_code", "geometry"]].dissolve(by="neighbourhood_code", as_index=False)
