"""Neighbourhood trajectories: relative deprivation across IoD2004, 2007, 2010, 2015, 2019 and 2025.

IMD **scores are not comparable between editions** (indicators, weights and data years change),
so a trajectory tracks **relative position**: the national rank percentile of each LSOA,

.. math:: q = r / N

where :math:`r` is the published IMD rank (1 = most deprived) among the :math:`N` LSOAs of the
edition (32,482 on LSOA 2001 for 2004-2010; 32,844 on LSOA 2011 for 2015-2019; 33,755 on LSOA
2021 for 2025). **Smaller = more deprived**: :math:`q \\le 0.1` is the most deprived decile.

Editions are put on one LSOA vintage (2011 by default, or 2021) with :mod:`.vintages`: 2001
ranks are carried to 2011 (splits inherit, merges and irregular changes average, equal
weights: there are no 2001 populations in the warehouse), and 2021 ranks back to 2011 (a
2011 LSOA split in 2021 takes the Census-2021-population-weighted mean of its parts). For a
2021 base, 2011 values are carried forward weighted by mid-2019 population.

An area's percentile is the population-weighted mean of its LSOAs' percentiles, with the
same (base-vintage) populations in every edition so that only the ranks move. Areas are then
ranked among all areas of the same level in each edition (``area_rank``, 1 = most deprived)
and given equal-count deciles (``area_decile``). For LSOAs in their own edition's vintage
this reproduces the published decile exactly; for converted LSOAs it is the decile of the
converted percentile among base-vintage LSOAs.

References
----------
MHCLG (2019), *English Indices of Deprivation 2019: Frequently Asked Questions*, Q "Can I
compare over time?": compare ranks and deciles between editions, not scores. ODPM (2004), DCLG
(2007, 2011), DCLG (2015), MHCLG (2019, 2025) English Indices of Deprivation, File 1/File 7.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, examples
from neighbourhood_lens.geo.geography import LEVELS
from neighbourhood_lens.geo.vintages import convert, lookup
from neighbourhood_lens.warehouse import require_tables

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "EDITIONS",
    "YEARS",
    "lsoa_percentiles",
    "area_percentiles",
    "base_vintage",
    "trajectories",
    "trajectory",
    "movers",
    "entrenched",
    "find_level",
    "plot_trajectory",
]


@dataclass(frozen=True)
class _Edition:
    year: int
    table: str
    lsoa_vintage: int


EDITIONS: dict[int, _Edition] = {
    y: _Edition(y, t, v)
    for y, t, v in (
        (2004, "imd2004_lsoa01", 2001), (2007, "imd2007_lsoa01", 2001), (2010, "imd2010_lsoa01", 2001),
        (2015, "imd2015_lsoa11", 2011), (2019, "imd2019_lsoa11", 2011), (2025, "imd2025_lsoa21", 2021),
    )
}
YEARS = tuple(EDITIONS)
_CODE = {2001: "lsoa01_code", 2011: "lsoa11_code", 2021: "lsoa21_code"}
_INDEX_OF_BASE = {2011: "imd2019", 2021: "imd2025"}


def _check_years(years: list[int] | tuple[int, ...]) -> None:
    bad = [y for y in years if y not in EDITIONS]
    if bad:
        raise DataError(f"unknown IoD edition(s) {examples(bad)}; valid editions: {', '.join(map(str, YEARS))}")


def _side_by_side(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Frames of ``code`` and percentile columns joined into one where they cover the same LSOAs
    (rows in code order); a frame on other LSOAs stays on its own."""
    out: list[pd.DataFrame] = []
    for f in frames:
        f = f.drop(columns="change_code").sort_values("code", ignore_index=True)
        same = next((i for i, g in enumerate(out) if np.array_equal(g["code"].to_numpy(), f["code"].to_numpy())), None)
        if same is None:
            out.append(f)
        else:
            out[same] = out[same].assign(**{c: f[c].to_numpy() for c in f.columns if c != "code"})
    return out


def lsoa_percentiles(con: duckdb.DuckDBPyConnection, *, vintage: int = 2011) -> pd.DataFrame:
    """National IMD rank percentile of every LSOA of ``vintage`` in every edition (long format).

    Columns: ``lsoa_code, edition, percentile`` (0-1, smaller = more deprived) and
    ``change_code`` (the ONS change codes of the last conversion step, ``""`` if native).
    """
    if vintage not in _INDEX_OF_BASE:
        raise DataError(f"unknown base vintage {vintage!r}; valid: 2011, 2021")
    require_tables(con, [*(e.table for e in EDITIONS.values()), "population2019_lsoa11",
                         "census2021_population_lsoa21"])
    pops = {
        2011: con.execute("SELECT lsoa11_code, population FROM population2019_lsoa11").df()
        .set_index("lsoa11_code")["population"],
        2021: con.execute("SELECT lsoa21_code, population FROM census2021_population_lsoa21").df()
        .set_index("lsoa21_code")["population"],
    }
    steps = {(2001, 2011): None, (2021, 2011): 2021, (2011, 2021): 2011}  # step -> population vintage
    # Each edition's percentiles as one column ("p2004" ...) of a frame of the LSOAs it was published on.
    # Editions on the same LSOAs are converted together, a column each: `convert` treats every column
    # alone, with the same pairs and weights and its sums in the same order, so the figures are those
    # of one conversion per edition (for 2021: three conversions instead of eight; the 2001-based
    # editions reach only 32,840 of the 32,844 LSOAs 2011, so they go on to 2021 apart from 2015 and 2019).
    groups: dict[int, list[pd.DataFrame]] = {2001: [], 2011: [], 2021: []}
    for ed in EDITIONS.values():
        groups[ed.lsoa_vintage].append(con.execute(
            f"SELECT {_CODE[ed.lsoa_vintage]} AS code, imd_rank / count(*) OVER () AS p{ed.year}, "
            f"'' AS change_code FROM {ed.table}").df())
    for at in ((2001, 2011) if vintage == 2021 else (2001, 2021)):
        nxt = 2011 if at in (2001, 2021) else 2021
        pop_v = steps[(at, nxt)]
        table = lookup(con, source=at, target=nxt) if groups[at] else None
        for frame in _side_by_side(groups.pop(at)):
            values = [c for c in frame.columns if c.startswith("p")]
            groups[nxt].append(convert(frame, lookup=table, values=values,
                                       population=None if pop_v is None else pops[pop_v]))
    columns = {c: f for f in groups[vintage] for c in f.columns if c.startswith("p")}
    frames = []
    for ed in EDITIONS.values():
        cur = columns[f"p{ed.year}"]
        cur = pd.DataFrame({"lsoa_code": cur["code"].to_numpy(), "edition": ed.year,
                            "percentile": cur[f"p{ed.year}"].to_numpy(), "change_code": cur["change_code"].to_numpy()})
        frames.append(cur)
    out = pd.concat(frames, ignore_index=True)
    out.attrs["vintage"] = vintage
    return out


def area_percentiles(
    lsoas: pd.DataFrame, groups: pd.DataFrame, population: pd.DataFrame
) -> pd.DataFrame:
    """Population-weighted mean percentile of each group in each edition, ranked among the groups.

    ``lsoas``: ``lsoa_code, edition, percentile``; ``groups``: ``lsoa_code, code, name``;
    ``population``: ``lsoa_code, population``. Returns ``code, name, edition, percentile,
    n_lsoas, population, area_rank`` (1 = most deprived) ``, n_areas, area_decile``. LSOAs with
    no value in an edition are left out of that edition (``n_lsoas`` shows the coverage).

    >>> l = pd.DataFrame({"lsoa_code": ["a", "b", "c"], "edition": 2019, "percentile": [0.05, 0.25, 0.5]})
    >>> g = pd.DataFrame({"lsoa_code": ["a", "b", "c"], "code": ["W1", "W1", "W2"], "name": ["x", "x", "y"]})
    >>> p = pd.DataFrame({"lsoa_code": ["a", "b", "c"], "population": [1000, 3000, 500]})
    >>> area_percentiles(l, g, p)[["code", "percentile", "area_rank", "area_decile"]]
      code  percentile  area_rank  area_decile
    0   W1         0.2          1            5
    1   W2         0.5          2           10
    """
    rows = groups.merge(lsoas, on="lsoa_code", how="inner").merge(population, on="lsoa_code", how="left")
    if rows["population"].isna().any():
        miss = rows.loc[rows["population"].isna(), "lsoa_code"].unique()
        raise DataError(f"no population for {len(miss)} LSOA(s): {examples(miss)}")
    rows = rows[rows["percentile"].notna()]
    w = rows["population"].to_numpy(dtype=float)
    work = pd.DataFrame({"code": rows["code"].to_numpy(), "edition": rows["edition"].to_numpy(),
                         "wq": w * rows["percentile"].to_numpy(dtype=float), "population": w, "n_lsoas": 1})
    out = work.groupby(["code", "edition"], sort=True).sum().reset_index()
    out["percentile"] = out["wq"] / out["population"]
    out = out.drop(columns="wq")
    out["area_rank"] = out.groupby("edition")["percentile"].rank(method="min").astype(int)
    out["n_areas"] = out.groupby("edition")["code"].transform("size")
    out["area_decile"] = np.ceil(10 * out["area_rank"] / out["n_areas"]).astype(int)
    names = groups[["code", "name"]].drop_duplicates("code")
    out = out.merge(names, on="code", how="left")
    return out[["code", "name", "edition", "percentile", "n_lsoas", "population", "area_rank", "n_areas",
                "area_decile"]]


def find_level(con: duckdb.DuckDBPyConnection, code: str) -> str:
    """The level (``lsoa11``, ``ward17``, ``lad24``...) of an area code; 2011-based levels first."""
    rows = con.execute("SELECT type, vintage FROM areas WHERE code = ?", [code]).fetchall()
    found = [f"{kind}{str(vintage)[2:]}" for kind, vintage in rows if f"{kind}{str(vintage)[2:]}" in LEVELS]
    if not found:
        raise DataError(
            f"area code {code!r} is not a known LSOA, MSOA, ward, LAD or region code; check the code, or pass "
            "--by NAME for a custom neighbourhood"
        )
    found.sort(key=lambda n: LEVELS[n].lsoa_vintage)
    return found[0]


def base_vintage(by: str | Path | pd.DataFrame, vintage: int | None = None) -> int:
    """The LSOA vintage a trajectory of ``by`` is computed on: ``vintage``, else the level's, else 2011."""
    if vintage is not None:
        return vintage
    return LEVELS[str(by)].lsoa_vintage if isinstance(by, str) and by in LEVELS else 2011


def trajectories(
    con: duckdb.DuckDBPyConnection, *, by: str | Path | pd.DataFrame, vintage: int | None = None,
    lsoas: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`area_percentiles` of every area of ``by`` (a level, CSV grouping or stored grouping).

    The base vintage is the level's LSOA vintage (:func:`base_vintage`: 2011 unless ``vintage``
    or the level says 2021). ``lsoas`` is :func:`lsoa_percentiles` of that vintage when the
    caller already holds it (it is the same for every level of a vintage, and most of the work);
    otherwise it is computed.
    """
    from neighbourhood_lens.deprivation.summaries import grouping

    vintage = base_vintage(by, vintage)
    if lsoas is not None and lsoas.attrs.get("vintage") != vintage:
        raise DataError(f"the LSOA percentiles given are of vintage {lsoas.attrs.get('vintage')!r}, not {vintage}: "
                        f"pass lsoa_percentiles(con, vintage={vintage})")
    groups = grouping(con, index=_INDEX_OF_BASE[vintage], by=by)
    code = _CODE[vintage]
    table = "population2019_lsoa11" if vintage == 2011 else "census2021_population_lsoa21"
    pop = con.execute(f"SELECT {code} AS lsoa_code, population FROM {table}").df()
    return area_percentiles(lsoa_percentiles(con, vintage=vintage) if lsoas is None else lsoas, groups, pop)


def trajectory(
    con: duckdb.DuckDBPyConnection, code: str, *, by: str | Path | pd.DataFrame | None = None
) -> pd.DataFrame:
    """One area's trajectory: a row per edition (see :func:`area_percentiles` for columns).

    ``by`` names the grouping the code belongs to; by default it is found from the code.
    """
    by = by if by is not None else find_level(con, code)
    every = trajectories(con, by=by)
    out = every[every["code"] == code].reset_index(drop=True)
    if out.empty:
        raise DataError(f"code {code!r} is not an area of grouping {by!r}; e.g. {examples(every['code'].unique())}")
    out.insert(0, "level", str(by) if not isinstance(by, pd.DataFrame) else "custom")
    return out


def movers(
    frame: pd.DataFrame, *, start: int = 2004, end: int = 2025, top: int = 50
) -> pd.DataFrame:
    """Largest relative improvements and declines between editions ``start`` and ``end``.

    ``frame`` is the output of :func:`trajectories`. ``change = percentile_end -
    percentile_start``: positive = moved towards the less deprived end (relative
    improvement), negative = relative decline. Returns the ``top`` improvers then the ``top``
    decliners, with ``direction`` and ``rank_change`` (1 = largest move in that direction).
    Areas without a value in both editions cannot be compared: their number and first codes
    are in ``result.attrs["not_compared"]`` (the CLI prints them), never dropped silently.

    >>> f = pd.DataFrame({"code": ["a", "a", "b", "b"], "name": ["A", "A", "B", "B"],
    ...                   "edition": [2004, 2025, 2004, 2025], "percentile": [0.1, 0.4, 0.5, 0.2],
    ...                   "area_decile": [1, 4, 5, 2]})
    >>> movers(f, top=1)[["code", "change", "direction"]]
      code  change direction
    0    a     0.3  improved
    1    b    -0.3  declined
    """
    _check_years([start, end])
    frame = frame.assign(name=frame["name"].fillna(frame["code"]))
    wide = frame[isin(frame["edition"], [start, end])].pivot_table(
        index=["code", "name"], columns="edition", values=["percentile", "area_decile"], aggfunc="first"
    )
    wide.columns = [f"{m}_{y}" for m, y in wide.columns]
    wide = wide.reset_index()
    incomplete = wide[[f"percentile_{start}", f"percentile_{end}"]].isna().any(axis=1)
    missing = sorted(set(frame["code"]) - set(wide.loc[~incomplete, "code"]))
    wide = wide[~incomplete]
    wide["change"] = (wide[f"percentile_{end}"] - wide[f"percentile_{start}"]).round(12)
    up = wide.nlargest(top, "change").assign(direction="improved")
    down = wide.nsmallest(top, "change").assign(direction="declined")
    up = up[up["change"] > 0]
    down = down[down["change"] < 0]
    up["rank_change"] = np.arange(1, len(up) + 1)
    down["rank_change"] = np.arange(1, len(down) + 1)
    cols = ["direction", "rank_change", "code", "name", f"percentile_{start}", f"percentile_{end}", "change",
            f"area_decile_{start}", f"area_decile_{end}"]
    out = pd.concat([up, down], ignore_index=True)
    for c in (f"area_decile_{start}", f"area_decile_{end}"):
        out[c] = out[c].astype(int)
    out = out[["code", "name", "change", "direction", *[c for c in cols if c not in ("code", "name", "change",
                                                                                         "direction")]]]
    out.attrs["not_compared"] = {"count": len(missing), "examples": missing[:5]}
    return out


def entrenched(frame: pd.DataFrame, *, years: tuple[int, ...] = YEARS) -> pd.DataFrame:
    """Areas in the most deprived decile (``area_decile == 1``) in **every** edition of ``years``.

    ``frame`` is the output of :func:`trajectories`. An area missing from an edition does not
    count as entrenched. Returns one row per entrenched area with its mean percentile.

    >>> f = pd.DataFrame({"code": ["a", "a", "b", "b"], "name": ["A", "A", "B", "B"],
    ...                   "edition": [2004, 2025, 2004, 2025], "percentile": [0.01, 0.02, 0.05, 0.3],
    ...                   "area_decile": [1, 1, 1, 3]})
    >>> entrenched(f, years=(2004, 2025))[["code", "editions_in_decile1"]]
      code  editions_in_decile1
    0    a                    2
    """
    _check_years(list(years))
    sub = frame[isin(frame["edition"], years)]
    stats = sub.assign(d1=sub["area_decile"] == 1).groupby(["code", "name"], sort=True, dropna=False).agg(
        editions_in_decile1=("d1", "sum"), editions=("edition", "nunique"), mean_percentile=("percentile", "mean")
    ).reset_index()
    keep = (stats["editions_in_decile1"] == len(years)) & (stats["editions"] == len(years))
    return stats[keep].sort_values("mean_percentile").reset_index(drop=True)


def plot_trajectory(frame: pd.DataFrame, path: str | Path, *, title: str | None = None) -> Path:
    """Line chart of one area's percentile by edition (PNG or SVG by suffix); decile 1 shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise DataError(f"chart {path}: use a .png or .svg file name")
    code, name = frame["code"].iloc[0], frame["name"].iloc[0]
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=150)
    ax.axhspan(0, 10, color="#d7301f", alpha=0.12, label="most deprived 10% of LSOAs (percentile < 10)")
    for d in range(1, 10):
        ax.axhline(10 * d, color="#cccccc", lw=0.6, zorder=0)
    ax.plot(frame["edition"], 100 * frame["percentile"], marker="o", color="#08519c", lw=2,
            label="population-weighted national percentile (decile among areas of the same level)")
    for x, y, dec in zip(frame["edition"], 100 * frame["percentile"], frame["area_decile"], strict=True):
        ax.annotate(f"{y:.1f} (decile {dec})", (x, y), textcoords="offset points", xytext=(0, 8), ha="center",
                    fontsize=8)
    ax.set_ylim(100, 0)
    ax.set_xlim(min(frame["edition"]) - 2, max(frame["edition"]) + 2)
    ax.set_xticks(list(frame["edition"]))
    ax.set_xlabel("English Indices of Deprivation edition")
    ax.set_ylabel("National IMD percentile (0 = most deprived)")
    ax.set_title(title or f"Relative deprivation of {name} ({code}), IoD2004-IoD2025")
    ax.legend(loc="lower left", fontsize=8, frameon=True)
    fig.text(0.01, 0.01, "Source: ODPM/DCLG/MHCLG English Indices of Deprivation 2004-2025; ONS LSOA lookups and "
             "population estimates, OGL v3.\nRanks, not scores, are compared between editions; all editions carried "
             "to LSOA 2011 (2021) boundaries.", fontsize=6.5, color="#555555")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
