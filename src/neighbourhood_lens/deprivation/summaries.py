"""Official summary measures of the English Indices of Deprivation for any grouping of LSOAs.

MHCLG publishes six summary measures for local authority districts (IoD2019 File 10,
IoD2025 File 10). This module computes them, exactly as defined, for any grouping of LSOAs:
wards, MSOAs, districts, regions, a user CSV, or a stored custom neighbourhood.

All measures are computed from the **national** LSOA ranks of the edition (rank 1 = most
deprived LSOA in England, N = 32,844 LSOAs for IoD2019, 33,755 for IoD2025); nothing is
re-ranked inside the subset passed in. Every measure is then ranked among the areas passed in,
rank 1 = most deprived (highest value), ties sharing the lowest rank ("1224" ranking).

Notes
-----
Official wording (IoD2019 Technical Report, Appendix N / Research Report, Appendix A; the
same definitions are used for IoD2025):

* **Average rank**: "Population weighted average of the combined ranks for the LSOAs in a
  larger area ... For the purpose of calculating the score for the larger area, LSOAs are
  ranked such that the most deprived LSOA is given the rank of 32,844." So the published
  average rank runs the *other way* from LSOA ranks: higher = more deprived.
* **Average score**: "Population weighted average of the combined scores for the LSOAs in a
  larger area." Higher = more deprived.
* **Proportion of LSOAs in most deprived 10 per cent nationally**: share of the area's LSOAs
  with national decile 1 (``rank <= N/10``). Unweighted by population.
* **Extent**: "Proportion of a larger area's population living in the most deprived LSOAs in
  the country ... The population living in the most deprived 10 per cent of LSOAs in England
  receive a 'weight' of 1.0; the population living in the most deprived 11 to 30 per cent of
  LSOAs receive a sliding weight, ranging from 0.95 for those in the eleventh percentile, to
  0.05 for those in the thirtieth percentile", decreasing by (0.95 - 0.05)/19 per percentile.
* **Local concentration**: "Population weighted average of the ranks of a larger area's most
  deprived LSOAs that contain exactly 10% of the larger area's population", LSOAs ranked so
  that the most deprived is given rank N (higher = more deprived).
* **Income scale / Employment scale**: "the number of people who are income deprived /
  employment deprived": the sums of the domain numerators (IoD2019 File 8).

Numerical choices: the national percentile of an LSOA is :math:`\\lceil 100 r / N \\rceil`
(the percentile analogue of the published equal-count deciles, :math:`\\lceil 10 r / N
\\rceil`), computed in integers. "Exactly 10%" in local concentration is met by counting only
the part of the LSOA that straddles the 10% threshold that is needed to reach it. Ranks of
measures: ties share the lowest rank; areas with no value (no score) get no rank.

Population denominators: MHCLG weights by the IoD's own denominator ("Total population:
mid-2015 (excluding prisoners)" for IoD2019; the IoD2025 File 7 denominator for IoD2025). The
mirror lacks those columns, so by default we weight by ONS mid-2019 estimates (IoD2019) and
Census 2021 usual residents (IoD2025); pass ``population=`` to use the official ones. Rank- and
count-based measures that do not use population (proportion in decile 1) are exact regardless.
The average score of a domain is weighted by that domain's denominator (Research Report,
Appendix A): for the Employment domain that is the working-age population, which we take as
ONS mid-2019 ages 18-64 for IoD2019 (an approximation: the official denominator is ages 18-59
for women and 18-64 for men, excluding prisoners, and the mirror has no sex split; no age detail
for 2021 LSOAs, so IoD2025 uses the total). Income and employment scores are detected from their
values as rates (0-1) or percentages (0-100; the mirror's IoD2019 file) and percentages are
converted to the published rate. File 8 suppresses numerators under 10; those LSOAs add
``min(9, rate x population)`` to the scale.

References
----------
Ministry of Housing, Communities and Local Government (2019), *The English Indices of
Deprivation 2019: Technical Report*, Appendix N "Summary measures for larger areas"; *Research
Report*, Appendix A. MHCLG (2025), *The English Indices of Deprivation 2025: Technical Report*,
section on local authority summaries; File 10 "Local Authority District Summaries".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, JoinError, VintageError, examples
from neighbourhood_lens.geo.geography import LEVELS, hierarchy
from neighbourhood_lens.warehouse import has_table, require_tables

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "DOMAINS",
    "EDITIONS",
    "MEASURES",
    "Edition",
    "edition",
    "check_domain",
    "extent_weight",
    "summary_measures",
    "grouping",
    "lsoa_frame",
    "summarise",
    "summarise_all",
]

#: The IMD and its seven domains, as named in the warehouse.
DOMAINS = ("imd", "income", "employment", "education", "health", "crime", "housing", "environment")

#: Summary measures, each with a ``rank_of_<measure>`` column (1 = most deprived).
MEASURES = (
    "average_score", "average_rank", "proportion_most_deprived_10pct", "extent", "local_concentration", "scale",
)


@dataclass(frozen=True)
class Edition:
    """An IoD edition the summaries can be computed for."""

    id: str
    table: str
    lsoa_vintage: int
    n_lsoas: int
    population_source: str

    @property
    def lsoa_code(self) -> str:
        return f"lsoa{str(self.lsoa_vintage)[2:]}_code"


EDITIONS: dict[str, Edition] = {
    "imd2019": Edition("imd2019", "imd2019_lsoa11", 2011, 32844,
                       "ONS mid-2019 LSOA estimates (official: IoD mid-2015 excluding prisoners)"),
    "imd2025": Edition("imd2025", "imd2025_lsoa21", 2021, 33755,
                       "Census 2021 usual residents (official: the IoD2025 File 7 denominator)"),
}


def edition(index: str | Edition, con: duckdb.DuckDBPyConnection | None = None) -> Edition:
    """Look up an edition, with an error listing the valid ones.

    With a warehouse, ``index`` may also name an index stored on LSOAs (``nlens index build
    --store NAME``, unit ``lsoa11`` or ``lsoa21``): its ``score`` and ``rank`` are summarised as
    the domain ``imd`` (rank 1 = most need among all the vintage's LSOAs).
    """
    if isinstance(index, Edition):
        return index
    try:
        return EDITIONS[index]
    except KeyError:
        pass
    if con is not None and has_table(con, "stored_results"):
        sql = "SELECT unit, n_rows FROM stored_results WHERE kind = 'index' AND name = ?"
        row = con.execute(sql, [index]).fetchall()
        if row and row[0][0] in ("lsoa11", "lsoa21"):
            vintage = 2011 if row[0][0] == "lsoa11" else 2021
            return Edition(index, f"index_{index}", vintage, int(row[0][1]),
                           EDITIONS["imd2019" if vintage == 2011 else "imd2025"].population_source)
    raise DataError(f"unknown index {index!r}; valid indexes: {', '.join(EDITIONS)}, or an index stored on "
                    "LSOAs with `nlens index build --store NAME`") from None


def check_domain(domain: str) -> str:
    """Return ``domain`` if valid, else raise listing :data:`DOMAINS`."""
    if domain not in DOMAINS:
        raise DataError(f"unknown domain {domain!r}; valid domains: {', '.join(DOMAINS)}")
    return domain


def extent_weight(rank: pd.Series | np.ndarray, n: int) -> np.ndarray:
    """Extent weight of each LSOA from its national rank (rank 1 = most deprived of ``n``).

    With national percentile :math:`p = \\lceil 100 r / N \\rceil` (1 = most deprived):

    .. math::

        w(p) = \\begin{cases} 1 & p \\le 10 \\\\
               0.95 - \\frac{0.95 - 0.05}{19} (p - 11) & 11 \\le p \\le 30 \\\\
               0 & p > 30 \\end{cases}

    >>> extent_weight(np.array([1, 10, 11, 30, 31]), 100).round(4).tolist()
    [1.0, 1.0, 0.95, 0.05, 0.0]
    """
    r = np.asarray(rank, dtype=np.int64)
    pct = -((-100 * r) // n)  # ceil(100 r / n) in integers
    taper = 0.95 - (0.95 - 0.05) / 19 * (pct - 11)
    return np.where(pct <= 10, 1.0, np.where(pct <= 30, taper, 0.0))


def _rank_desc(values: pd.Series) -> pd.Series:
    """Rank 1 = highest value; ties share the lowest rank; missing values get no rank."""
    return values.rank(ascending=False, method="min").astype("Int64")


def summary_measures(lsoas: pd.DataFrame, *, n_national: int, key: str = "code") -> pd.DataFrame:
    """The MHCLG summary measures for each group ``key`` of LSOA rows.

    ``lsoas`` has one row per (LSOA, group): ``key``, ``rank`` (the **national** rank, 1 = most
    deprived of ``n_national``), ``population``; optionally ``score`` (higher = more deprived),
    ``score_population`` (the domain's own denominator for the average score, e.g. working age),
    ``deprived`` (indicator numerator: people income- or employment-deprived) and ``name``.
    Returns one row per group: ``key, [name,] n_lsoas, population,`` every measure of
    :data:`MEASURES` and its ``rank_of_*`` (1 = most deprived among the groups). Measures are
    defined in the module docstring:

    .. math::

        \\text{average rank} = \\frac{\\sum_i P_i (N + 1 - r_i)}{\\sum_i P_i}, \\quad
        \\text{extent} = \\frac{\\sum_i P_i w(p_i)}{\\sum_i P_i}, \\quad
        \\text{local concentration} = \\frac{\\sum_i q_i (N + 1 - r_i)}{0.1 \\sum_i P_i}

    where LSOAs are taken most deprived first and :math:`q_i = \\min(P_i, \\max(0, 0.1 P -
    C_{i-1}))` is the part of LSOA *i* within the first 10% of the area's population
    (:math:`C_{i-1}` = population of the more deprived LSOAs of the area).

    >>> f = pd.DataFrame({"code": ["A", "A", "B"], "rank": [1, 9, 5], "population": [100, 300, 50]})
    >>> summary_measures(f, n_national=10)[["code", "average_rank", "proportion_most_deprived_10pct",
    ...                                      "local_concentration"]]
      code  average_rank  proportion_most_deprived_10pct  local_concentration
    0    A           4.0                             0.5                 10.0
    1    B           6.0                             0.0                  6.0
    """
    need = {key, "rank", "population"}
    if missing := need - set(lsoas.columns):
        raise DataError(f"summary_measures: input lacks column(s) {sorted(missing)}; it needs {sorted(need)}")
    rank = lsoas["rank"].to_numpy(dtype=float)
    pop = lsoas["population"].to_numpy(dtype=float)
    bad = np.isnan(rank) | (rank < 1) | (rank > n_national) | (rank != np.floor(rank))
    if bad.any():
        raise DataError(
            f"summary_measures: {int(bad.sum())} row(s) have no valid national rank in 1..{n_national} "
            f"(e.g. {examples(lsoas.loc[bad, 'rank'])}); pass the edition's national LSOA ranks"
        )
    if np.isnan(pop).any() or (pop < 0).any():
        raise DataError("summary_measures: population must be present and non-negative for every LSOA row")
    r = rank.astype(np.int64)
    keys = lsoas[key].to_numpy(dtype=object)
    gid, uniq = pd.factorize(keys, sort=True)
    k = len(uniq)

    def total(x: np.ndarray) -> np.ndarray:
        return np.bincount(gid, weights=x, minlength=k)

    rev = (n_national + 1 - r).astype(float)
    n = np.bincount(gid, minlength=k)
    people = total(pop)
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(people > 0, people, np.nan)
        out = pd.DataFrame({key: uniq, "n_lsoas": n, "population": people})
        out["average_score"] = np.nan
        if "score" in lsoas and lsoas["score"].notna().all():
            spop = lsoas["score_population"].to_numpy(dtype=float) if "score_population" in lsoas else pop
            sp = total(spop)
            out["average_score"] = total(spop * lsoas["score"].to_numpy(dtype=float)) / np.where(sp > 0, sp, np.nan)
        out["average_rank"] = total(pop * rev) / safe
        out["proportion_most_deprived_10pct"] = total((10 * r <= n_national).astype(float)) / n
        out["extent"] = total(pop * extent_weight(r, n_national)) / safe
        # local concentration: the most deprived LSOAs holding exactly 10% of the area's population
        srt = np.lexsort((r, gid))
        g_s, p_s = gid[srt], pop[srt]
        cum = np.cumsum(p_s)
        start = np.concatenate(([0], np.flatnonzero(np.diff(g_s)) + 1))
        offset = np.repeat(cum[start] - p_s[start], np.diff(np.append(start, len(g_s))))
        before = cum - offset - p_s
        share = np.clip(0.1 * people[g_s] - before, 0.0, p_s)
        out["local_concentration"] = np.bincount(g_s, weights=share * rev[srt], minlength=k) / (0.1 * safe)
        has_scale = "deprived" in lsoas and lsoas["deprived"].notna().all()
        out["scale"] = total(lsoas["deprived"].to_numpy(dtype=float)) if has_scale else np.nan
    for m in MEASURES:
        out[f"rank_of_{m}"] = _rank_desc(out[m])
    if "name" in lsoas:
        names = pd.Series(lsoas["name"].to_numpy(dtype=object), index=keys)
        names = names[~names.index.duplicated()]
        out.insert(1, "name", names.reindex(uniq).to_numpy())
    return out


# ---------------------------------------------------------------------------- groupings

_LSOA_COLUMNS = ("lsoa11_code", "lsoa21_code", "lsoa_code")
_GROUP_COLUMNS = ("neighbourhood_code", "group_code", "code", "group")
_NAME_COLUMNS = ("neighbourhood_name", "group_name", "name")


def _valid_levels(ed: Edition) -> list[str]:
    return [n for n, lv in LEVELS.items() if lv.lsoa_vintage == ed.lsoa_vintage]


def _stored_groupings(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'neighbourhoods\\_%' ESCAPE '\\'"
    ).fetchall()
    return sorted(r[0].removeprefix("neighbourhoods_") for r in rows)


def _user_grouping(con: duckdb.DuckDBPyConnection, ed: Edition, frame: pd.DataFrame, *, what: str) -> pd.DataFrame:
    """Normalise a user mapping LSOA -> group to ``lsoa_code, code, name`` and check its codes."""
    lsoa_col = next((c for c in _LSOA_COLUMNS if c in frame), None)
    code_col = next((c for c in _GROUP_COLUMNS if c in frame), None)
    if lsoa_col is None or code_col is None:
        raise DataError(
            f"{what}: a grouping needs an LSOA column ({' or '.join(_LSOA_COLUMNS)}) and a group column "
            f"({' or '.join(_GROUP_COLUMNS)}); got {list(frame.columns)}"
        )
    other = 2021 if ed.lsoa_vintage == 2011 else 2011
    if lsoa_col == f"lsoa{str(other)[2:]}_code":
        right = "imd2025" if other == 2021 else "imd2019"
        raise VintageError(
            f"{what}: column {lsoa_col!r} holds LSOA {other} codes but {ed.id} is on LSOA {ed.lsoa_vintage}; "
            f"use --index {right}, or convert the grouping with neighbourhood_lens.geo.vintages"
        )
    name_col = next((c for c in _NAME_COLUMNS if c in frame and c != code_col), None)
    out = pd.DataFrame({
        "lsoa_code": frame[lsoa_col].astype("string").str.strip(),
        "code": frame[code_col].astype("string").str.strip(),
    })
    out["name"] = frame[name_col].astype("string") if name_col else out["code"]
    blank = out["lsoa_code"].isna() | out["code"].isna() | (out["code"] == "") | (out["lsoa_code"] == "")
    if blank.any():
        raise DataError(
            f"{what}: {int(blank.sum())} row(s) lack an LSOA or group code (rows {examples(out.index[blank])}); "
            "fill or delete them"
        )
    dup = out.duplicated(["lsoa_code", "code"])
    if dup.any():
        raise DataError(
            f"{what}: {int(dup.sum())} duplicate LSOA-group row(s), e.g. {examples(out.loc[dup, 'lsoa_code'])}; "
            "list each LSOA once per group"
        )
    own = set(con.execute(f"SELECT {ed.lsoa_code} FROM hierarchy_lsoa{str(ed.lsoa_vintage)[2:]}").df().iloc[:, 0])
    oth = set(con.execute(f"SELECT lsoa{str(other)[2:]}_code FROM hierarchy_lsoa{str(other)[2:]}").df().iloc[:, 0])
    codes = pd.Index(out["lsoa_code"].unique())
    foreign = codes[~isin(codes, own) & isin(codes, oth)]
    unknown = codes[~isin(codes, own) & ~isin(codes, oth)]
    if len(foreign):
        mixed = len(codes) - len(foreign) - len(unknown)
        detail = (f"it mixes vintages: {mixed} code(s) are LSOA {ed.lsoa_vintage} but " if mixed else "")
        raise VintageError(
            f"{what}: {detail}{len(foreign)} code(s) exist only as LSOA {other} codes: {examples(sorted(foreign))}. "
            f"{ed.id} uses LSOA {ed.lsoa_vintage}; convert them first (neighbourhood_lens.geo.vintages) or use the "
            "other index"
        )
    if len(unknown):
        raise JoinError(
            f"{what}: {len(unknown)} code(s) are not English LSOA {ed.lsoa_vintage} codes: {examples(sorted(unknown))}"
        )
    return out


def grouping(
    con: duckdb.DuckDBPyConnection, *, index: str | Edition, by: str | Path | pd.DataFrame
) -> pd.DataFrame:
    """Resolve ``by`` to a mapping ``lsoa_code, code, name`` on the LSOA vintage of ``index``.

    ``by`` is a level name (``ward17``, ``lad19``, ``msoa11``, ``region19``, ``lsoa11`` for IoD2019;
    ``ward24``, ``lad24``, ``region24``, ``lsoa21`` for IoD2025), a CSV file or DataFrame mapping LSOAs to
    groups (columns ``lsoa11_code``/``lsoa21_code`` and ``neighbourhood_code``/``group_code``/``code``,
    optional name), or the name of a stored grouping (warehouse table ``neighbourhoods_<name>``).
    """
    ed = edition(index, con)
    if isinstance(by, pd.DataFrame):
        return _user_grouping(con, ed, by, what="grouping")
    text = str(by)
    if text in LEVELS:
        lv = LEVELS[text]
        if lv.lsoa_vintage != ed.lsoa_vintage:
            raise VintageError(
                f"--by {text} is built on LSOA {lv.lsoa_vintage} but {ed.id} is on LSOA {ed.lsoa_vintage}; "
                f"valid levels for {ed.id}: {', '.join(_valid_levels(ed))}"
            )
        require_tables(con, [lv.table])
        return con.execute(
            f"SELECT {ed.lsoa_code} AS lsoa_code, {lv.code} AS code, {lv.label} AS name FROM {lv.table}"
        ).df()
    if text.lower().endswith(".csv") or Path(text).is_file():
        path = Path(text)
        if not path.is_file():
            raise DataError(f"grouping file {path} does not exist")
        return _user_grouping(con, ed, pd.read_csv(path, dtype=str), what=str(path))
    table = f"neighbourhoods_{text}"
    if has_table(con, table):
        return _user_grouping(con, ed, con.execute(f'SELECT * FROM "{table}"').df(), what=f"table {table}")
    stored = _stored_groupings(con)
    raise DataError(
        f"unknown grouping {text!r}; valid for {ed.id}: levels {', '.join(_valid_levels(ed))}; a CSV file "
        f"(LSOA code -> group code); or a stored grouping ({', '.join(stored) if stored else 'none stored yet'})"
    )


# ---------------------------------------------------------------------------- warehouse

def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return set(con.execute(f"DESCRIBE {table}").df()["column_name"])


def _edition_lsoas(
    con: duckdb.DuckDBPyConnection, ed: Edition, population: pd.DataFrame | None
) -> tuple[pd.DataFrame, set[str]]:
    """Every LSOA of ``ed`` with all domain ranks and scores, numerators and population (one query)."""
    require_tables(con, [ed.table])
    if ed.id not in EDITIONS:  # a stored index: its score and rank stand in for the IMD
        select = ["t.code AS lsoa_code", "CAST(t.rank AS DOUBLE) AS imd_rank", "CAST(t.score AS DOUBLE) AS imd_score"]
        select += [f"CAST(NULL AS DOUBLE) AS {d}_{m}" for d in DOMAINS[1:] for m in ("rank", "score")]
        wide = con.execute(f'SELECT {", ".join(select)} FROM "{ed.table}" t').df()
        base = hierarchy(con, ed.lsoa_vintage, population=population)[[ed.lsoa_code, "population"]]
        wide = wide.merge(base.rename(columns={ed.lsoa_code: "lsoa_code"}), on="lsoa_code", how="inner",
                          validate="one_to_one")
        wide.attrs["notes"] = [f"imd: domain 'imd' is the stored index {ed.id!r} (its score and rank)"]
        return wide, {"imd"}
    cols = _columns(con, ed.table)
    select = [f"t.{ed.lsoa_code} AS lsoa_code"]
    for d in DOMAINS:
        select.append(f"t.{d}_rank")
        select.append(f"CAST(t.{d}_score AS DOUBLE) AS {d}_score" if f"{d}_score" in cols
                      else f"CAST(NULL AS DOUBLE) AS {d}_score")
    join = ""
    if ed.id == "imd2019" and has_table(con, "imd2019_lsoa11_indicators"):
        select += ["i.income_domain_numerator AS income_deprived",
                   "i.employment_domain_numerator AS employment_deprived"]
        join = "LEFT JOIN imd2019_lsoa11_indicators i ON i.lsoa11_code = t.lsoa11_code"
    wide = con.execute(f"SELECT {', '.join(select)} FROM {ed.table} t {join}").df()
    base = hierarchy(con, ed.lsoa_vintage, population=population)[[ed.lsoa_code, "population"]]
    wide = wide.merge(base.rename(columns={ed.lsoa_code: "lsoa_code"}), on="lsoa_code", how="inner",
                      validate="one_to_one")
    official = population is None and "denominator_total" in cols
    if official:  # File 7's own denominators, as MHCLG's File 10 uses them
        dens = ["denominator_total"] + (["denominator_working_age"] if "denominator_working_age" in cols else [])
        den = con.execute(f"SELECT {ed.lsoa_code} AS lsoa_code, {', '.join(dens)} FROM {ed.table}").df()
        wide = wide.drop(columns="population").merge(den, on="lsoa_code", how="left", validate="one_to_one")
        wide = wide.rename(columns={"denominator_total": "population", "denominator_working_age": "working_age"})
        wide.attrs["denominators"] = True
    elif ed.lsoa_vintage == 2011 and population is None and has_table(con, "population2019_lsoa11"):
        ages = " + ".join(f"age_{a}" for a in range(18, 65))
        working = con.execute(f"SELECT lsoa11_code AS lsoa_code, {ages} AS working_age FROM population2019_lsoa11").df()
        wide = wide.merge(working, on="lsoa_code", how="left", validate="one_to_one")
    scored = {d for d in DOMAINS if wide[f"{d}_score"].notna().any()}
    for d in ("income", "employment"):
        if d in scored:
            wide[f"{d}_score"], converted = _as_rate(wide[f"{d}_score"], what=f"{ed.table}.{d}_score")
            if converted:
                wide.attrs.setdefault("notes", []).append(
                    f"{d} scores are stored as percentages in this warehouse; converted to the published rate (0-1)")
    return wide, scored


def _as_rate(score: pd.Series, *, what: str) -> tuple[pd.Series, bool]:
    """Income/employment domain scores as the published rate (0-1), detecting a 0-100 percentage scale.

    The scale is read from the values, not assumed per edition: a rate never exceeds 1, so any
    value above 1 (and none above 100) means percentages. Values below 0 or above 100 raise.

    >>> _as_rate(pd.Series([0.5, 12.5, 60.9]), what="x")[0].tolist(), _as_rate(pd.Series([0.1, 0.998]), what="x")[1]
    ([0.005, 0.125, 0.609], False)
    """
    lo, hi = score.min(), score.max()
    if lo < 0 or hi > 100:
        raise DataError(f"{what}: values run from {lo} to {hi}; a domain rate must be 0-1 (or a percentage 0-100). "
                        "Check the normaliser for this file")
    return (score / 100, True) if hi > 1 else (score, False)


def _uncovered(wide: pd.DataFrame, groups: pd.DataFrame) -> int:
    """How many LSOAs of the edition are in no group."""
    return len(set(wide["lsoa_code"].tolist()) - set(groups["lsoa_code"].tolist()))


def _domain_rows(
    wide: pd.DataFrame,
    scored: set[str],
    groups: pd.DataFrame,
    *,
    ed: Edition,
    domain: str,
    user_population: bool,
    uncovered: int,
    positions: np.ndarray | None = None,
) -> pd.DataFrame:
    notes: list[str] = []
    lsoas = pd.DataFrame({"lsoa_code": wide["lsoa_code"], "rank": wide[f"{domain}_rank"],
                          "score": wide[f"{domain}_score"], "population": wide["population"]})
    official = bool(wide.attrs.get("denominators"))
    if domain == "employment" and "working_age" in wide and domain in scored and official:
        lsoas["score_population"] = wide["working_age"].to_numpy(dtype=float)
        notes.append("employment average score weighted by the official working-age denominator (File 7)")
    elif domain == "employment" and "working_age" in wide and domain in scored:
        lsoas["score_population"] = wide["working_age"].to_numpy(dtype=float)
        notes.append("employment average score weighted by the population aged 18-64 (mid-2019), approximating the "
                     "domain's working-age denominator (18-59/64, Research Report Appendix A); other measures use "
                     "total population")
    if domain not in scored:
        notes.append(f"{ed.id} has no {domain} scores in this warehouse: average score is not available "
                     "(rank-based measures are exact)")
    lsoas["deprived"] = np.nan
    if domain in ("income", "employment"):
        if f"{domain}_deprived" in wide:
            deprived = wide[f"{domain}_deprived"]
            suppressed = deprived.isna()
            # File 8 leaves numerators under 10 blank: estimate them from the rate, capped at 9
            guess = (lsoas["score"] * lsoas["population"]).round().clip(0, 9)
            lsoas["deprived"] = deprived.where(~suppressed, guess)
            notes.append(f"{domain} scale = sum of the IoD2019 File 8 {domain} domain numerators; "
                         f"{int(suppressed.sum())} LSOA(s) with a suppressed (<10) numerator counted as "
                         "min(9, rate x population)")
        elif domain == "income" and domain in scored:
            lsoas["deprived"] = lsoas["score"] * lsoas["population"]
            notes.append(f"income scale is an ESTIMATE (income score x population): the {ed.id} numerators "
                         "are not in this warehouse")
        else:
            notes.append(f"{domain} scale is not available for {ed.id}: no numerators in this warehouse "
                         "(employment needs the working-age denominator)")
    pos = pd.Index(wide["lsoa_code"].to_numpy(dtype=object)).get_indexer(groups["lsoa_code"].to_numpy(dtype=object)) \
        if positions is None else positions
    take = lsoas.drop(columns="lsoa_code").iloc[np.where(pos < 0, 0, pos)].reset_index(drop=True)
    take.loc[pos < 0, "rank"] = np.nan
    rows = pd.concat([groups.reset_index(drop=True), take], axis=1)
    missing = rows["rank"].isna()
    if missing.any():
        raise JoinError(
            f"{int(missing.sum())} LSOA(s) of the grouping have no {ed.id} {domain} rank: "
            f"{examples(rows.loc[missing, 'lsoa_code'])}"
        )
    if uncovered:
        notes.append(f"{uncovered:,} of {len(lsoas):,} English LSOAs are in no group of this grouping")
    notes.extend(n for n in wide.attrs.get("notes", []) if n.startswith(domain))
    notes.append("population weights: " + ("user supplied" if user_population else
                                           f"the official {ed.id} File 7 population denominators" if official
                                           else ed.population_source))
    rows.attrs["notes"] = notes
    return rows


def lsoa_frame(
    con: duckdb.DuckDBPyConnection,
    *,
    index: str | Edition,
    by: str | Path | pd.DataFrame,
    domain: str = "imd",
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """LSOA rows ready for :func:`summary_measures`: ``code, name, lsoa_code, rank, score, deprived, population``.

    ``score`` is missing (NaN) where the edition's file has no score for ``domain``; ``deprived``
    is the indicator numerator (IoD2019 income/employment), an estimate (IoD2025 income: score x
    population) or missing. ``frame.attrs['notes']`` says which.
    """
    ed = edition(index, con)
    check_domain(domain)
    wide, scored = _edition_lsoas(con, ed, population)
    groups = grouping(con, index=ed, by=by)
    return _domain_rows(wide, scored, groups, ed=ed, domain=domain, user_population=population is not None,
                        uncovered=_uncovered(wide, groups))


def summarise(
    source: duckdb.DuckDBPyConnection | pd.DataFrame,
    *,
    index: str | Edition,
    by: str | Path | pd.DataFrame | None = None,
    domain: str = "imd",
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Summary measures of ``domain`` of ``index`` for every group of ``by`` (see module docstring).

    ``source`` is a warehouse connection, or a DataFrame already in the shape of
    :func:`lsoa_frame` (then ``by`` and ``population`` are ignored). Columns: ``code, name,
    n_lsoas, population, average_score, average_rank, proportion_most_deprived_10pct, extent,
    local_concentration, scale`` and ``rank_of_*`` for each (1 = most deprived), plus ``index``
    and ``domain``. ``frame.attrs['notes']`` and ``['coverage']`` report caveats and how many
    LSOAs and people the summaries rest on.
    """
    ed = edition(index, None if isinstance(source, pd.DataFrame) else source)
    check_domain(domain)
    if isinstance(source, pd.DataFrame):
        rows = source
    else:
        if by is None:
            raise DataError("summarise: pass by= (a level, a CSV grouping or a stored grouping name)")
        rows = lsoa_frame(source, index=ed, by=by, domain=domain, population=population)
    out = summary_measures(rows, n_national=ed.n_lsoas)
    out.insert(2, "index", ed.id)
    out.insert(3, "domain", domain)
    out.attrs["notes"] = list(rows.attrs.get("notes", []))
    out.attrs["coverage"] = {
        "groups": len(out), "lsoas": int(rows["lsoa_code"].nunique()) if "lsoa_code" in rows else len(rows),
        "population": float(rows.drop_duplicates("lsoa_code")["population"].sum()) if "lsoa_code" in rows
        else float(rows["population"].sum()),
    }
    return out


def summarise_all(
    con: duckdb.DuckDBPyConnection,
    *,
    index: str | Edition,
    by: str | Path | pd.DataFrame,
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`summarise` for the IMD and every domain, stacked (one row per group and domain).

    Reads the edition once; the eight domains are then summarised from memory.
    """
    ed = edition(index, con)
    wide, scored = _edition_lsoas(con, ed, population)
    groups = grouping(con, index=ed, by=by).astype(object)
    frames = []
    uncovered = _uncovered(wide, groups)
    pos = pd.Index(wide["lsoa_code"].to_numpy(dtype=object)).get_indexer(groups["lsoa_code"].to_numpy(dtype=object))
    for d in DOMAINS if ed.id in EDITIONS else ("imd",):
        rows = _domain_rows(wide, scored, groups, ed=ed, domain=d, user_population=population is not None,
                            uncovered=uncovered, positions=pos)
        frames.append(summarise(rows, index=ed, domain=d))
    out = pd.concat(frames, ignore_index=True)
    out.attrs["notes"] = list(dict.fromkeys(n for f in frames for n in f.attrs["notes"]))
    out.attrs["coverage"] = frames[0].attrs["coverage"]
    return out
