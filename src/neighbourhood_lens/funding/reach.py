"""Funding reach: where did the money go, and did it reach the places that need it?

Grants (360Giving files or allocation tables, read by :func:`read_grants`) are located on
the LSOAs of the chosen index (:func:`locate_grants`) and summarised by national IMD decile,
region and left-behind group, with a concentration curve and index (:func:`reach`).

Location
    The beneficiary location code decides the geography by its prefix (E01 LSOA, E02 MSOA,
    E05 ward, E06/E07/E08/E09 local authority — UA, NMD, MD, LONB —, E12 region, E92 England,
    E61 the Greater London Authority, located as the London region). A ``Geographic Code Type``
    that disagrees with the prefix is overridden and counted. A code is looked up first in the
    index's own geography (``imd2019``: LSOA 2011, MSOA 2011, ward 2017, LAD 2019, region;
    ``imd2025``: LSOA 2021, ward 2024, LAD 2024, region) and otherwise in the other vintage's,
    then converted LSOA 2011 <-> 2021 with ONS's ``lookup_lsoa11_lsoa21_lad22`` (split pro
    rata to the target LSOAs' population). A grant without a code is located by its recipient
    postcode when an ONS Postcode Directory lookup is supplied.
Splitting
    An area larger than an LSOA is split over its LSOAs pro rata to population (mid-2019 for
    ``imd2019``, Census 2021 for ``imd2025``). Amounts are split in whole pence by the largest
    remainder method, so every area's amount is conserved to the penny; where two fractional
    parts tie, the LSOA with the lower code gets the penny.
Accounting
    Every row read ends in exactly one of *located*, *unlocated* (with a reason) or
    *rejected* (with a reason): ``rows_in = located + unlocated + rejected``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, JoinError, examples
from neighbourhood_lens.funding.grants import GrantsInput, read_grants, synthetic_grants, write_grants
from neighbourhood_lens.funding.locate import (
    INDEXES,
    Located,
    _strings,
    code_kind,
    locate_grants,
    read_postcode_lookup,
    split_pence,
)
from neighbourhood_lens.warehouse import has_table, require_tables

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "INDEXES", "GrantsInput", "Located", "ReachResult", "read_grants", "synthetic_grants", "write_grants",
    "code_kind",
    "read_postcode_lookup", "locate_grants", "index_areas", "split_pence", "reach_table", "concentration_index",
    "concentration_curve", "group_table", "allocation_vs_need", "reason_summary", "reach",
]

def index_areas(con: duckdb.DuckDBPyConnection, index: str = "imd2019") -> pd.DataFrame:
    """Every LSOA of ``index`` with its deprivation and groups.

    Columns: ``lsoa_code, lad_code, lad_name, region_code, region_name, population, imd_score,
    imd_rank, imd_decile`` (national, published; rank 1 = most deprived, decile 1 = most
    deprived 10%), ``group`` (``left-behind``; ``other deprived`` = other LSOAs in IMD deciles
    1-3; ``rest``) and ``lad24_code`` (for maps).
    """
    table, vintage, lb_vintage = INDEXES[index]
    yy = str(vintage)[2:]
    lad, region = ("lad19", "region19") if vintage == 2011 else ("lad24", "region24")
    require_tables(con, [table, f"hierarchy_lsoa{yy}"])
    areas = con.sql(
        f"SELECT h.lsoa{yy}_code AS lsoa_code, h.ward{'17' if vintage == 2011 else '24'}_code AS ward_code, "
        f"h.{lad}_code AS lad_code, h.{lad}_name AS lad_name, h.{region}_code AS region_code, "
        f"h.{region}_name AS region_name, h.population, i.imd_score, i.imd_rank, i.imd_decile "
        f"FROM hierarchy_lsoa{yy} h LEFT JOIN {table} i USING (lsoa{yy}_code) ORDER BY i.imd_rank"
    ).to_arrow_table().to_pandas()
    if areas["imd_rank"].isna().any():
        raise JoinError(f"{int(areas['imd_rank'].isna().sum())} LSOA(s) lack an {index} rank: "
                        f"{examples(areas.loc[areas['imd_rank'].isna(), 'lsoa_code'])}")
    areas["imd_decile"] = areas["imd_decile"].astype(int)
    group = np.where(areas["imd_decile"] <= 3, "other deprived", "rest").astype(object)
    if has_table(con, "cni2019_ward17" if lb_vintage == 2019 else "cni2023_lsoa21"):
        from neighbourhood_lens.deprivation.left_behind import left_behind

        lb = left_behind(con, vintage=lb_vintage)["code"]
        key = "ward_code" if lb_vintage == 2019 else "lsoa_code"
        group[isin(areas[key], lb).to_numpy()] = "left-behind"
    areas["group"] = group
    if vintage == 2021:
        areas["lad24_code"] = areas["lad_code"]
    else:
        lad24 = con.sql(
            "SELECT l.lsoa11_code AS lsoa_code, min(h.lad24_code) AS lad24_code FROM lookup_lsoa11_lsoa21_lad22 l "
            "JOIN hierarchy_lsoa21 h USING (lsoa21_code) GROUP BY 1").to_arrow_table().to_pandas()
        codes, keys = _strings(areas["lsoa_code"]), _strings(lad24["lsoa_code"])
        if pc.count_distinct(codes).as_py() < len(codes) or pc.count_distinct(keys).as_py() < len(keys):
            areas = areas.merge(lad24, on="lsoa_code", how="left", validate="one_to_one")  # pandas' MergeError
        else:  # the same left join, as an Arrow hash lookup
            at = pc.index_in(codes, value_set=keys)
            areas["lad24_code"] = pd.Series(_strings(lad24["lad24_code"]).take(at), dtype="str").to_numpy()
    return areas.drop(columns="ward_code")


def _index_areas_apart(con: duckdb.DuckDBPyConnection, index: str) -> pd.DataFrame:
    """:func:`index_areas` on a cursor of its own (so that it can run beside another query)."""
    cur = con.cursor()
    try:
        return index_areas(cur, index)
    finally:
        cur.close()


def group_table(frame: pd.DataFrame, *, by: str, total: float | None = None) -> pd.DataFrame:
    """``amount, population, amount_per_capita, share_of_amount`` per group of LSOAs.

    ``frame`` has ``by``, ``amount`` (GBP) and ``population``. Shares are of ``total``
    (default: the frame's amount), 0-1.

    >>> f = pd.DataFrame({"g": [1, 1, 2], "amount": [10.0, 30.0, 60.0], "population": [2, 2, 6]})
    >>> group_table(f, by="g")
       g  amount  population  amount_per_capita  share_of_amount
    0  1    40.0           4               10.0              0.4
    1  2    60.0           6               10.0              0.6
    """
    out = frame.groupby(by, as_index=False).agg(amount=("amount", "sum"), population=("population", "sum"))
    out["amount"] = out["amount"].round(2)  # whole pence: sums of penny amounts carry float noise
    total = out["amount"].sum() if total is None else total
    with np.errstate(invalid="ignore", divide="ignore"):
        out["amount_per_capita"] = out["amount"] / out["population"]
        out["share_of_amount"] = out["amount"] / total if total else np.nan
    return out


def reach_table(allocations: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Amount, population, amount per head and share of the located amount by national IMD decile.

    ``allocations``: ``lsoa_code, amount_gbp``; ``areas``: :func:`index_areas`. One row per
    decile 1 (most deprived) to 10; population is every LSOA's, funded or not.
    """
    merged = _merge(allocations, areas)
    out = group_table(merged, by="imd_decile").rename(columns={"imd_decile": "decile"})
    out = out.set_index("decile").reindex(range(1, 11), fill_value=0).reset_index()
    return out[["decile", "amount", "population", "amount_per_capita", "share_of_amount"]]


def _merge(allocations: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    at = pc.fill_null(pc.index_in(_strings(allocations["lsoa_code"]), value_set=_strings(areas["lsoa_code"])),
                      -1).to_numpy()  # an Arrow hash lookup
    unknown = at < 0
    if unknown.any():
        raise JoinError(f"{int(unknown.sum())} allocated LSOA(s) are not in the index: "
                        f"{examples(allocations.loc[unknown, 'lsoa_code'])}")
    amount = np.zeros(len(areas))
    np.add.at(amount, at, allocations["amount_gbp"].to_numpy(float))
    return areas.assign(amount=amount)


def concentration_index(amount: np.ndarray, population: np.ndarray, rank: np.ndarray) -> float:
    """Concentration index of ``amount`` over areas ranked by deprivation, population-weighted.

    .. math::

        C = \\frac{2}{\\mu} \\operatorname{cov}_w(y_i, R_i) = \\frac{2}{A}\\sum_i a_i R_i - 1,
        \\qquad R_i = \\frac{\\sum_{j<i} w_j + w_i / 2}{W}

    with :math:`y_i = a_i / w_i` the amount per head of area :math:`i`, :math:`w_i` its
    population, :math:`A = \\sum a_i`, :math:`W = \\sum w_i`, :math:`\\mu = A / W` and
    :math:`R_i` the fractional rank when areas are ordered **from most deprived** (``rank`` 1)
    to least deprived. The second form follows because the weighted mean of :math:`R` is 1/2.

    Sign: :math:`C < 0` means the money is concentrated in more deprived areas (the
    concentration curve lies above the diagonal); :math:`C > 0` in less deprived areas;
    0 = proportional to population. Bounds: -1 < C < 1. This is the convention of O'Donnell
    et al. with deprivation rank in place of the living-standards rank (poorest first).

    >>> concentration_index(np.array([2.0, 0.0]), np.array([1.0, 1.0]), np.array([1, 2]))
    -0.5
    >>> concentration_index(np.array([1.0, 3.0]), np.array([1.0, 3.0]), np.array([1, 2]))
    0.0

    References
    ----------
    Kakwani, N., Wagstaff, A. and van Doorslaer, E. (1997), "Socioeconomic inequalities in
    health: measurement, computation, and statistical inference", *Journal of Econometrics*
    77(1), 87-103. O'Donnell, O., van Doorslaer, E., Wagstaff, A. and Lindelow, M. (2008),
    *Analyzing Health Equity Using Household Survey Data*, World Bank, chapter 8, eq. 8.5.
    """
    order = np.argsort(np.asarray(rank, dtype=float), kind="stable")
    a = np.asarray(amount, dtype=float)[order]
    w = np.asarray(population, dtype=float)[order]
    total_a, total_w = a.sum(), w.sum()
    if total_a <= 0 or total_w <= 0:
        return float("nan")
    r = (np.cumsum(w) - w / 2) / total_w
    return float(round(2 * (a * r).sum() / total_a - 1, 12))


def concentration_curve(frame: pd.DataFrame, *, points: int = 101) -> pd.DataFrame:
    """The concentration curve: cumulative share of population (areas from most deprived)
    against cumulative share of the amount, at ``points`` evenly spaced population shares.

    ``frame``: ``amount, population, imd_rank``. Columns ``population_share``, ``amount_share``
    (0-1). Above the diagonal = more money than population share in the most deprived areas.
    """
    f = frame.sort_values("imd_rank")
    x = np.concatenate([[0.0], np.cumsum(f["population"].to_numpy(float))])
    y = np.concatenate([[0.0], np.cumsum(f["amount"].to_numpy(float))])
    p = np.linspace(0, 1, points)
    amount_share = np.interp(p, x / x[-1], y / y[-1]) if y[-1] > 0 else np.full(points, np.nan)
    return pd.DataFrame({"population_share": p, "amount_share": amount_share})


def allocation_vs_need(
    located: Located, areas: pd.DataFrame, *, threshold: float = 2.5, min_share: float = 0.9
) -> pd.DataFrame:
    """Per-head allocation of each local authority (or the GLA) against need: the "Thanet vs GLA" view.

    Need = the area's IMD average score, the population-weighted mean of its LSOAs' scores
    (MHCLG's "average score" summary; higher = more deprived). A population-weighted least
    squares line ``gbp_per_head ~ a + b * imd_average_score`` gives the expected allocation;
    each residual is standardised robustly, ``z = (r - median r) / (1.4826 MAD r)``, and
    ``|z| >= threshold`` is flagged ``above``/``below`` need. ``ratio_to_median`` compares
    the area's per-head amount with the median area's. Only codes of kind ``lad`` or ``gla``,
    and only for an allocation table by local authority: those codes must carry at least
    ``min_share`` of the located amount (a 360Giving file where a few grants name a local
    authority is not an allocation by authority). An empty frame otherwise, or if fewer than 3.

    Notes
    -----
    The robust z uses the median absolute deviation scaled by 1.4826 (consistent with the
    standard deviation under normality; Rousseeuw and Croux 1993, *JASA* 88, 1273-1283); the
    fit is weighted so that large authorities are not outweighed by small ones, while the
    flag treats each authority alike.
    """
    bc = located.by_code[isin(located.by_code["kind"], ["lad", "gla"])]
    total = located.by_code["amount_gbp"].sum()
    if total <= 0 or bc["amount_gbp"].sum() < min_share * total:
        bc = bc.iloc[:0]
    cols = ["code", "name", "amount_gbp", "population", "gbp_per_head", "imd_average_score", "expected_gbp_per_head",
            "robust_z", "flag", "ratio_to_median"]
    if len(bc) < 3:
        return pd.DataFrame(columns=cols)
    res = located.resolver[isin(located.resolver["code"], bc["code"])]
    res = res.merge(areas[["lsoa_code", "imd_score"]], on="lsoa_code", how="left")
    need = (res["weight"] * res["imd_score"]).groupby(res["code"]).sum() / res.groupby("code")["weight"].sum()
    out = bc[["code", "name", "amount_gbp", "population"]].copy()
    out.loc[bc["kind"].to_numpy() == "gla", "name"] = "Greater London Authority (as London)"
    out["gbp_per_head"] = out["amount_gbp"] / out["population"]
    out["imd_average_score"] = out["code"].map(need).to_numpy(float)
    x = np.column_stack([np.ones(len(out)), out["imd_average_score"].to_numpy(float)])
    sw = np.sqrt(out["population"].to_numpy(float))
    beta, *_ = np.linalg.lstsq(x * sw[:, None], out["gbp_per_head"].to_numpy(float) * sw, rcond=None)
    out["expected_gbp_per_head"] = x @ beta
    r = out["gbp_per_head"] - out["expected_gbp_per_head"]
    mad = 1.4826 * np.median(np.abs(r - np.median(r)))
    out["robust_z"] = (r - np.median(r)) / mad if mad > 0 else 0.0
    out["flag"] = np.where(out["robust_z"] >= threshold, "above", np.where(out["robust_z"] <= -threshold,
                                                                          "below", ""))
    out["ratio_to_median"] = out["gbp_per_head"] / out["gbp_per_head"].median()
    return out[cols].sort_values("robust_z").reset_index(drop=True)


def reason_summary(frame: pd.DataFrame, *, amount: str = "amount_gbp") -> pd.DataFrame:
    """Count and amount of unlocated or rejected rows per reason (first clause of the reason;
    the quoted value removed so like reasons group together)."""
    if frame.empty:
        return pd.DataFrame(columns=["reason", "rows", "amount_gbp", "first_rows"])
    key = (frame["reason"].str.split(";").str[0].str.replace(r"'[^']*'|\([^)]*\)", "", regex=True)
           .str.replace(r"\s+", " ", regex=True).str.replace(r" ([:;,])", r"\1", regex=True).str.strip(" :,"))
    amt = pd.to_numeric(frame[amount], errors="coerce") if amount in frame else pd.Series(np.nan, index=frame.index)
    g = pd.DataFrame({"reason": key, "amount_gbp": amt, "row": frame["row"]}).groupby("reason")
    out = g.agg(rows=("row", "size"), amount_gbp=("amount_gbp", "sum"),
                first_rows=("row", lambda s: ", ".join(map(str, s.head(5)))))
    return out.reset_index().sort_values("rows", ascending=False).reset_index(drop=True)


@dataclass
class ReachResult:
    """Everything :func:`reach` measured; see its docstring for the columns."""

    index: str
    deciles: pd.DataFrame
    summary: dict[str, Any]
    by_region: pd.DataFrame
    by_left_behind_group: pd.DataFrame
    curve: pd.DataFrame
    concentration_index: float
    need: pd.DataFrame
    by_lad: pd.DataFrame
    unlocated: pd.DataFrame
    rejected: pd.DataFrame
    lad_boundaries: pd.DataFrame | None = None


def _locate_source(
    con: duckdb.DuckDBPyConnection, source: str | Path | bytes | GrantsInput, *, index: str, filename: str | None,
    postcodes: str | Path | pd.DataFrame | None, encoding: str | None,
) -> tuple[Located, pd.DataFrame, list[str], dict[str, Any], dict[str, Any]]:
    """Read and locate the grants of :func:`reach`: the located grants, the rejected rows, the notes,
    the file's facts (source, form, rows in) and the counts; a 360Giving CSV on disk goes through
    DuckDB (:func:`.stream.locate_csv`), anything else through pandas."""
    streamed = None
    if isinstance(source, str | Path) and postcodes is None and encoding is None and filename is None:
        from neighbourhood_lens.funding.stream import locate_csv

        streamed = locate_csv(con, source, index=index)
    if streamed is not None:
        loc, rejected, facts = streamed.located, streamed.rejected, streamed.facts
        head = {"source": streamed.source, "form": "360giving", "rows_in": streamed.rows_in}
        notes = streamed.notes
    else:
        gi = source if isinstance(source, GrantsInput) else read_grants(source, filename=filename, encoding=encoding)
        loc = locate_grants(con, gi, index=index, postcodes=postcodes)
        rejected, notes = gi.rejected, list(gi.notes)
        head = {"source": gi.source, "form": gi.form, "rows_in": gi.rows_in}
        facts = {"located": len(loc.grants), "located_amount_gbp": round(float(loc.grants["amount_gbp"].sum()), 2),
                 "converted": int(loc.grants["route"].astype("string").str.contains("converted", na=False).sum()),
                 "by_postcode": int((loc.grants["via"] == "postcode").sum()),
                 "synthetic": bool(gi.grants["identifier"].str.startswith("360G-SYNTHETIC-").any()),
                 "pence_in": int(np.round(loc.grants["amount_gbp"].to_numpy(float) * 100).sum())}
    return loc, rejected, notes, head, facts


def reach(
    con: duckdb.DuckDBPyConnection,
    source: str | Path | bytes | GrantsInput,
    *,
    index: str = "imd2019",
    filename: str | None = None,
    postcodes: str | Path | pd.DataFrame | None = None,
    encoding: str | None = None,
) -> ReachResult:
    """Read, locate and summarise a grants file against ``index`` (``imd2019`` or ``imd2025``).

    ``deciles``: ``decile, amount, population, amount_per_capita, share_of_amount``
    (decile 1 = most deprived 10% of LSOAs nationally; shares of the located amount, 0-1).
    ``summary``: ``rows_in, located, unlocated, rejected`` counts and ``*_amount_gbp``,
    ``balanced`` (rows_in, counted when the file was read, = located + unlocated + rejected),
    ``amount_conserved`` (the located grants' pence = the pence allocated to LSOAs), ``share_most_deprived_10`` and
    ``_30``, ``concentration_index``, ``type_overrides``, ``converted`` and ``by_postcode``
    counts. ``by_region`` and ``by_left_behind_group`` as :func:`group_table`; ``curve`` from
    :func:`concentration_curve`; ``need`` from :func:`allocation_vs_need`; ``by_lad``: amount
    per LAD 2024 for the map.
    """
    if index not in INDEXES:
        raise DataError(f"unknown index {index!r}; valid: {', '.join(INDEXES)}")
    # The index's areas do not depend on the file: they are read on a cursor of their own while the
    # file is read and located (DuckDB and Arrow release the GIL), then joined to the allocations.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_index_areas_apart, con, index)
        loc, rejected, notes, head, facts = _locate_source(con, source, index=index, filename=filename,
                                                           postcodes=postcodes, encoding=encoding)
        areas = pending.result()
    merged = _merge(loc.allocations, areas)
    total = float(merged["amount"].sum())
    deciles = reach_table(loc.allocations, areas)
    groups = group_table(merged, by="group", total=total)
    groups = groups.set_index("group").reindex(["left-behind", "other deprived", "rest"]).dropna(how="all")
    ci = concentration_index(merged["amount"].to_numpy(), merged["population"].to_numpy(),
                             merged["imd_rank"].to_numpy())
    rejected_amt = pd.to_numeric(rejected["amount"].str.replace(r"[£,\s]", "", regex=True), errors="coerce")
    summary: dict[str, Any] = {
        **head, "index": index,
        "located": facts["located"], "located_amount_gbp": facts["located_amount_gbp"],
        "unlocated": len(loc.unlocated), "unlocated_amount_gbp": round(float(loc.unlocated["amount_gbp"].sum()), 2),
        "rejected": len(rejected), "rejected_amount_gbp": round(float(rejected_amt.fillna(0).sum()), 2),
        "allocated_amount_gbp": round(total, 2),
        "share_most_deprived_10": float(deciles["share_of_amount"].iloc[:1].sum()),
        "share_most_deprived_30": float(deciles["share_of_amount"].iloc[:3].sum()),
        "concentration_index": ci, "type_overrides": loc.type_overrides,
        "type_override_examples": loc.override_examples,
        "converted": facts["converted"], "by_postcode": facts["by_postcode"], "notes": notes,
    }
    summary = {k: summary[k] for k in ("source", "form", "index", *[k for k in summary if k not in
                                                                    ("source", "form", "index")])}
    summary["synthetic"] = facts["synthetic"]
    summary["balanced"] = summary["rows_in"] == summary["located"] + summary["unlocated"] + summary["rejected"]
    summary["amount_conserved"] = facts["pence_in"] == int(
        np.round(loc.allocations["amount_gbp"].to_numpy(float) * 100).sum())
    by_lad = group_table(merged, by="lad24_code", total=total)
    lad_bounds = None
    if has_table(con, "boundaries_lad24"):
        lad_bounds = con.sql("SELECT lad24_code, lad24_name, geometry FROM boundaries_lad24 "
                             "WHERE lad24_code LIKE 'E%'").to_arrow_table().to_pandas()
    return ReachResult(
        index=index, deciles=deciles, summary=summary, by_region=group_table(merged, by="region_name", total=total),
        by_left_behind_group=groups.reset_index(), curve=concentration_curve(merged), concentration_index=ci,
        need=allocation_vs_need(loc, areas), by_lad=by_lad, unlocated=loc.unlocated, rejected=rejected,
        lad_boundaries=lad_bounds,
    )
