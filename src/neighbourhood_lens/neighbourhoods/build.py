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
regions merged (:func:`neighbourhood_lens.neighbourhoods.regionalise.regionalise`). It is deterministic:
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

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, JoinError, examples
from neighbourhood_lens.geo.neighbourhood_sets import _table as _table  # used by the CLI
from neighbourhood_lens.geo.neighbourhood_sets import load_neighbourhoods, neighbourhood_sets, store_neighbourhoods
from neighbourhood_lens.neighbourhoods.inputs import DEFAULT_VARIABLES, _cols, lsoa_inputs, standardise
from neighbourhood_lens.neighbourhoods.inputs import DOMAINS as DOMAINS
from neighbourhood_lens.neighbourhoods.inputs import IMD_TABLE as IMD_TABLE
from neighbourhood_lens.neighbourhoods.measures import (
    homogeneity_report,
    left_behind_for_neighbourhoods,
    neighbourhood_summary,
    pocket_preservation,
    within_variance_share,
)

if TYPE_CHECKING:
    import duckdb
    import geopandas as gpd

__all__ = [
    "DEFAULT_VARIABLES",
    "SEVERITY_ERROR",
    "standardise",
    "lsoa_inputs",
    "check_population_bounds",
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

SEVERITY_ERROR = "error"


def check_population_bounds(*, max_population: float, min_population: float) -> None:
    """Refuse sizes no neighbourhood can have: a maximum that is not positive, a negative minimum,
    or a minimum above the maximum; the message names the option and the number given.

    >>> check_population_bounds(max_population=-5, min_population=3000)
    Traceback (most recent call last):
    ...
    neighbourhood_lens.errors.DataError: --max-population must be a positive number of people; got -5
    """
    if not max_population > 0:
        raise DataError(f"--max-population must be a positive number of people; got {max_population:g}")
    if not min_population >= 0:
        raise DataError(f"--min-population must be zero or more people; got {min_population:g}")
    if min_population > max_population:
        raise DataError(
            f"--min-population ({min_population:,.0f}) is above --max-population ({max_population:,.0f}); "
            "lower the minimum or raise the maximum."
        )


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
    from neighbourhood_lens.neighbourhoods.regionalise import regionalise

    check_population_bounds(max_population=max_population, min_population=min_population)
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
    from neighbourhood_lens.geo.adjacency import load_adjacency

    key, lad, _, ward_name = _cols(vintage)
    check_population_bounds(max_population=max_population, min_population=min_population)
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
        extra = ~isin(assignment[key], set(expected)) & ~assignment[key].duplicated()
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


def neighbourhood_boundaries(
    con: duckdb.DuckDBPyConnection, assignment: pd.DataFrame, *, vintage: int
) -> gpd.GeoDataFrame:
    """Neighbourhood polygons dissolved from their LSOAs: ``neighbourhood_code, geometry`` (EPSG:4326)."""
    from neighbourhood_lens.geo.boundaries import lsoa_boundaries

    key = _cols(vintage)[0]
    gdf = lsoa_boundaries(con, vintage).merge(assignment[[key, "neighbourhood_code"]], on=key, how="inner")
    missing = sorted(set(assignment[key]) - set(gdf[key]))
    if missing:
        raise JoinError(f"{len(missing)} LSOA(s) have no boundary: {examples(missing)}")
    return gdf[["neighbourhood_code", "geometry"]].dissolve(by="neighbourhood_code", as_index=False)
