"""Need: indicators scored on the programme's unit, ranked among its areas, and combined.

Each indicator is put on the unit as a **population-weighted score** and ranked among the
units that have it (rank 1 = most need; ties share the lowest rank). Published ranks are used
where the unit is the indicator's own geography, so the programme reproduces the official
lists exactly:

=========  =====================================  =========================================
indicator  unit = its own geography               any other unit
=========  =====================================  =========================================
imd2019    lsoa11: published rank (32,844);        LSOA 2011 scores (converted to LSOA 2021
           ward17: as ``nlens left-behind``, the    for 2021-based units) aggregated to the unit
           population-weighted ward score ranked
           among the 7,427 wards
imd2025    lsoa21: published rank (33,755)         LSOA 2021 scores (converted to 2011 if needed)
cni2019    ward17: published rank among the 7,433  each LSOA 2011 takes its ward's published
           wards OCSI ranked                       score, then aggregated (CNI 2019 is ward-level)
cni2023    lsoa21: published rank                  LSOA 2021 scores aggregated
index:N    the stored index's own rank when it is  its LSOA scores aggregated (a stored index on
           on the programme's unit                 lsoa11 or lsoa21)
=========  =====================================  =========================================

The rank ratio of an area is rank / N (N = areas ranked). The combined ratio is

.. math::

    \\bar r_u = \\frac{\\sum_i w_i \\, r_{iu} / N_i}{\\sum_i w_i}, \\qquad
    \\text{need weight}_u = 1 - \\bar r_u

with equal weights for ``rank_mean`` and the spec's weights for ``weighted``. For
``all_top_share`` an area meets the need rule when :math:`r_{iu} \\le s N_i` for every
indicator (the left-behind rule of OCSI for Local Trust, 2019); its need weight is that of
``rank_mean``. Areas without every indicator have no need weight and are not eligible.

References
----------
OCSI for Local Trust (2019), *Left behind? Understanding communities on the edge*.
MHCLG (2019), *The English Indices of Deprivation 2019: Technical report*, section 3.5 (ranks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.geo.geography import share_rank
from neighbourhood_lens.geo.units import Unit, aggregate_to_unit, resolve_unit, unit_lsoas

from ..errors import DataError, examples
from ..warehouse import require_tables, scalar
from .spec import Need

if TYPE_CHECKING:
    import duckdb

__all__ = ["indicator_scores", "combine_need", "need_table", "INDICATOR_SOURCES"]

#: Dataset ids behind each built-in indicator (for provenance).
INDICATOR_SOURCES = {
    "imd2019": ["imd2019_lsoa11", "population2019_lsoa11", "lookup_lsoa11_ward17"],
    "imd2025": ["imd2025_lsoa21", "census2021_population_lsoa21"],
    "cni2019": ["cni2019_ward17", "lookup_lsoa11_ward17"],
    "cni2023": ["cni2023_lsoa21"],
}
_NATIVE_VINTAGE = {"imd2019": 2011, "imd2025": 2021, "cni2019": 2011, "cni2023": 2021}


def _ranked(codes: pd.Series, score: pd.Series, rank: pd.Series | None = None, n: int | None = None) -> pd.DataFrame:
    out = pd.DataFrame({"code": codes.to_numpy(), "score": score.to_numpy(dtype=float)})
    if rank is None:
        rank = out["score"].rank(ascending=False, method="min")
    out["rank"] = np.asarray(rank, dtype=float)
    out.attrs["n"] = int(n if n is not None else out["rank"].notna().sum())
    return out


def _lsoa_scores(con: duckdb.DuckDBPyConnection, name: str) -> tuple[pd.DataFrame, int]:
    """LSOA scores of a built-in indicator in its own vintage: ``lsoa_code, score``."""
    if name == "imd2019":
        require_tables(con, ["imd2019_lsoa11"])
        return con.execute("SELECT lsoa11_code AS lsoa_code, imd_score AS score FROM imd2019_lsoa11").df(), 2011
    if name == "imd2025":
        require_tables(con, ["imd2025_lsoa21"])
        return con.execute("SELECT lsoa21_code AS lsoa_code, imd_score AS score FROM imd2025_lsoa21").df(), 2021
    if name == "cni2023":
        require_tables(con, ["cni2023_lsoa21"])
        return con.execute("SELECT lsoa21_code AS lsoa_code, cni_score AS score FROM cni2023_lsoa21").df(), 2021
    require_tables(con, ["cni2019_ward17", "hierarchy_lsoa11"])
    return con.execute(
        "SELECT h.lsoa11_code AS lsoa_code, c.cni_score AS score FROM hierarchy_lsoa11 h "
        "LEFT JOIN cni2019_ward17 c USING (ward17_code)").df(), 2011


def _to_vintage(con: duckdb.DuckDBPyConnection, lsoa: pd.DataFrame, source: int, target: int) -> pd.DataFrame:
    """Carry LSOA ``score`` from one vintage to another with :func:`.vintages.convert`."""
    if source == target:
        return lsoa
    from neighbourhood_lens.geo.geography import hierarchy
    from neighbourhood_lens.geo.vintages import convert, lookup

    lk = lookup(con, source=source, target=target)
    pop = hierarchy(con, source).set_index(f"lsoa{str(source)[2:]}_code")["population"]
    frame = lsoa[isin(lsoa["lsoa_code"], lk["source_code"])]
    out = convert(frame, lookup=lk, values="score", code="lsoa_code", population=pop)
    return out.rename(columns={"code": "lsoa_code"})[["lsoa_code", "score"]]


def _aggregate(con: duckdb.DuckDBPyConnection, u: Unit, lsoa: pd.DataFrame, vintage: int, what: str) -> pd.DataFrame:
    lsoa = _to_vintage(con, lsoa, vintage, u.lsoa_vintage)
    known = set(unit_lsoas(con, u)[u.lsoa_code])
    values = lsoa[isin(lsoa["lsoa_code"], known)].rename(columns={"lsoa_code": u.lsoa_code})
    agg = aggregate_to_unit(con, u, values, columns=["score"], what=what)
    return _ranked(agg["code"], agg["score"])


def _stored_index(con: duckdb.DuckDBPyConnection, u: Unit, name: str) -> pd.DataFrame:
    from ..store import load_result

    frame, meta = load_result(con, kind="index", name=name)
    missing = {"code", "score", "rank"} - set(frame.columns)
    if missing:
        raise DataError(f"stored index {name!r} lacks column(s) {sorted(missing)}; a stored index has code, score, "
                        "rank, decile (score higher = more need, rank 1 = most need)")
    stored_unit = str(meta["unit"])
    if stored_unit == u.name:
        return _ranked(frame["code"], frame["score"], frame["rank"], n=int(frame["rank"].notna().sum()))
    if stored_unit in ("lsoa11", "lsoa21"):
        return _aggregate(con, u, frame[["code", "score"]].rename(columns={"code": "lsoa_code"}),
                          2011 if stored_unit == "lsoa11" else 2021, f"stored index {name!r}")
    raise DataError(f"stored index {name!r} is on unit {stored_unit!r}; a programme on unit {u.name!r} needs an "
                    f"index on {u.name!r} or on an LSOA level (lsoa11, lsoa21): rebuild it with that unit")


def indicator_scores(
    con: duckdb.DuckDBPyConnection, unit: Unit | str, name: str, *, cache: dict[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """One indicator on ``unit``: ``code, score, rank`` (rank 1 = most need) with ``attrs['n']``
    the number of areas ranked. See the module docstring for the sources of each indicator."""
    from neighbourhood_lens.deprivation.left_behind import left_behind_scores

    u = resolve_unit(con, unit) if isinstance(unit, str) else unit
    cache = {} if cache is None else cache
    if name.startswith("index:"):
        return _stored_index(con, u, name.removeprefix("index:"))
    if name not in _NATIVE_VINTAGE:
        raise DataError(f"unknown indicator {name!r}; allowed: {', '.join(_NATIVE_VINTAGE)} or index:NAME")
    if (u.name, name) in (("ward17", "imd2019"), ("ward17", "cni2019"), ("lsoa21", "imd2025"),
                          ("lsoa21", "cni2023")):
        vintage = 2019 if u.name == "ward17" else 2023
        key = f"left_behind_{vintage}"
        if key not in cache:
            cache[key] = left_behind_scores(con, vintage=vintage)
        lb = cache[key]
        if name.startswith("imd"):
            return _ranked(lb["code"], lb["imd_score"], lb["imd_rank"], n=len(lb))
        table = "cni2019_ward17" if vintage == 2019 else "cni2023_lsoa21"
        n_cni = int(scalar(con, f"SELECT max(cni_rank) FROM {table}"))
        return _ranked(lb["code"], lb["cni_score"], lb["cni_rank"].astype(float), n=n_cni)
    if (u.name, name) == ("lsoa11", "imd2019"):
        f = con.execute("SELECT lsoa11_code AS code, imd_score, imd_rank FROM imd2019_lsoa11").df()
        return _ranked(f["code"], f["imd_score"], f["imd_rank"], n=len(f))
    lsoa, vintage = _lsoa_scores(con, name)
    return _aggregate(con, u, lsoa, vintage, name)


def combine_need(scores: dict[str, pd.DataFrame], need: Need) -> pd.DataFrame:
    """Combine indicator frames (:func:`indicator_scores`, keyed by indicator) by the ``need`` rule.

    Returns one row per code: ``<ind>_score, <ind>_rank`` per indicator, ``rank_ratio``
    (combined; lower = more need), ``need_weight`` (1 - rank_ratio), ``need_rank`` (1 = most
    need, ties share the lowest rank), ``meets_need`` and ``complete`` (has every indicator).

    >>> a = pd.DataFrame({"code": ["x", "y", "z"], "score": [3.0, 2.0, 1.0], "rank": [1.0, 2.0, 3.0]})
    >>> b = pd.DataFrame({"code": ["x", "y", "z"], "score": [1.0, 3.0, 2.0], "rank": [3.0, 1.0, 2.0]})
    >>> a.attrs["n"] = b.attrs["n"] = 3
    >>> need = Need(indicators=["imd2019", "cni2019"], combine="all_top_share", share=2 / 3)
    >>> out = combine_need({"imd2019": a, "cni2019": b}, need)
    >>> out[["code", "rank_ratio", "need_rank", "meets_need"]]
      code  rank_ratio  need_rank  meets_need
    0    x    0.666667          2       False
    1    y    0.500000          1        True
    2    z    0.833333          3       False
    """
    names = list(need.indicators)
    weights = np.asarray(need.weights if need.combine == "weighted" else [1.0] * len(names), dtype=float)
    out: pd.DataFrame | None = None
    for name in names:
        f = scores[name]
        part = f[["code", "score", "rank"]].rename(columns={"score": f"{name}_score", "rank": f"{name}_rank"})
        out = part if out is None else out.merge(part, on="code", how="outer", validate="one_to_one")
    assert out is not None
    ranks = np.column_stack([out[f"{n}_rank"].to_numpy(dtype=float) for n in names])
    ns = np.array([scores[n].attrs["n"] for n in names], dtype=float)
    ratios = ranks / ns
    complete = ~np.isnan(ratios).any(axis=1)
    combined = (np.nan_to_num(ratios) * weights).sum(axis=1) / weights.sum()
    out["rank_ratio"] = np.where(complete, combined, np.nan)
    out["need_weight"] = 1.0 - out["rank_ratio"]
    out["need_rank"] = out["rank_ratio"].rank(method="min").astype("Int64")
    out["complete"] = complete
    if need.combine == "all_top_share":
        top = np.column_stack([share_rank(np.nan_to_num(ranks[:, i], nan=np.inf), int(ns[i]), float(need.share))
                               for i in range(len(names))])
        out["meets_need"] = complete & top.all(axis=1)
    else:
        out["meets_need"] = complete
    return out.sort_values("code").reset_index(drop=True)


def need_table(
    con: duckdb.DuckDBPyConnection, unit: Unit | str, need: Need
) -> pd.DataFrame:
    """:func:`combine_need` over every area of ``unit``, with ``attrs['missing']`` the count and
    examples of areas lacking an indicator (they are not eligible) and ``attrs['n']`` the
    number ranked per indicator."""
    from neighbourhood_lens.geo.units import unit_areas

    u = resolve_unit(con, unit) if isinstance(unit, str) else unit
    cache: dict[str, pd.DataFrame] = {}
    scores = {n: indicator_scores(con, u, n, cache=cache) for n in need.indicators}
    areas = unit_areas(con, u)[["code"]]
    for n, f in scores.items():
        scores[n] = f2 = areas.merge(f, on="code", how="left")
        f2.attrs["n"] = f.attrs["n"]
    out = combine_need(scores, need)
    missing = out.loc[~out["complete"], "code"]
    out.attrs["missing"] = {"count": int(len(missing)), "examples": examples(missing.tolist())}
    out.attrs["n"] = {n: f.attrs["n"] for n, f in scores.items()}
    return out
