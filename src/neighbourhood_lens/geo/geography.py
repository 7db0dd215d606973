"""Geography: the LSOA hierarchies, default populations, and population-weighted aggregation.

Two hierarchies are built from the ONS lookups (see :mod:`.build`):

* **2011-based**: LSOA 2011 -> MSOA 2011, ward 2017 (best fit) -> LAD 2019 -> region;
  population = ONS mid-2019 small-area estimates (``population2019_lsoa11``).
* **2021-based**: LSOA 2021 -> ward 2024 -> LAD 2024 -> region;
  population = Census 2021 usual residents (``census2021_population_lsoa21``).

These defaults follow the IoD editions they are used with (IoD2019 is on LSOA 2011, IoD2025
on LSOA 2021). Every function that aggregates takes ``population=`` to override them.

Aggregating an LSOA score to a larger area is the population-weighted mean
(:func:`weighted_mean`), the convention MHCLG uses for the "average score" summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.data.levels import GSS_CODE, LEVELS, Level, level
from neighbourhood_lens.errors import DataError, JoinError, VintageError, examples
from neighbourhood_lens.warehouse import require_tables

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "GSS_CODE",
    "Level",
    "LEVELS",
    "level",
    "hierarchy",
    "hierarchy_columns",
    "weighted_mean",
    "equal_count_decile",
    "share_rank",
    "check_lsoa_codes",
]


def hierarchy_columns(vintage: int) -> tuple[str, str, str, str]:
    """(LSOA code, LAD code, ward code, ward name) columns of a vintage's hierarchy."""
    if vintage == 2011:
        return "lsoa11_code", "lad19_code", "ward17_code", "ward17_name"
    if vintage == 2021:
        return "lsoa21_code", "lad24_code", "ward24_code", "ward24_name"
    raise DataError(f"unknown LSOA vintage {vintage!r}; valid vintages: 2011, 2021")


def hierarchy(
    con: duckdb.DuckDBPyConnection,
    vintage: int,
    *,
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The English LSOA hierarchy of a vintage (2011 or 2021), one row per LSOA.

    Columns for 2011: ``lsoa11_code, lsoa11_name, msoa11_code, msoa11_name, ward17_code,
    ward17_name, lad19_code, lad19_name, region19_code, region19_name, population``; for
    2021 the ``lsoa21``, ``ward24``, ``lad24`` and ``region24`` equivalents.

    ``population`` overrides the default population: a frame with the LSOA code column and
    ``population``; every LSOA of the hierarchy must be in it. Errors name ``population.attrs["source"]``
    (the file it was read from) when set.
    """
    if vintage not in (2011, 2021):
        raise DataError(f"unknown LSOA vintage {vintage!r}; valid vintages: 2011, 2021")
    table = f"hierarchy_lsoa{str(vintage)[2:]}"
    require_tables(con, [table])
    frame = con.sql(f"SELECT * FROM {table}").to_arrow_table().to_pandas()  # Arrow: far faster than .df() for text
    if population is not None:
        key = f"lsoa{str(vintage)[2:]}_code"
        where = population.attrs.get("source") or "population override"
        if key not in population or "population" not in population:
            raise DataError(
                f"{where}: a population override needs columns {key!r} and 'population'; "
                f"got {list(population.columns)}"
            )
        pop = population.set_index(key)["population"]
        missing = frame.loc[~isin(frame[key], pop.index), key]
        if len(missing):
            raise JoinError(
                f"{where}: the population override lacks {len(missing)} LSOA(s) of the {vintage} "
                f"hierarchy: {examples(missing)}"
            )
        frame["population"] = frame[key].map(pop).to_numpy(dtype=float)
    return frame


def weighted_mean(
    frame: pd.DataFrame, *, value: str | list[str], weight: str, by: str | list[str]
) -> pd.DataFrame:
    """Population-weighted mean of ``value`` within groups ``by``.

    .. math:: \\bar{x}_g = \\frac{\\sum_{i \\in g} w_i x_i}{\\sum_{i \\in g} w_i}

    Returns one row per group with the weighted means, the summed weight (named as
    ``weight``) and ``n_lsoas``. Rows with a missing value or weight are an error, since
    dropping them would bias the mean silently.

    >>> f = pd.DataFrame({"g": ["a", "a", "b"], "x": [10.0, 20.0, 5.0], "w": [1.0, 3.0, 2.0]})
    >>> weighted_mean(f, value="x", weight="w", by="g")
       g     x    w  n_lsoas
    0  a  17.5  4.0        2
    1  b   5.0  2.0        1
    """
    values = [value] if isinstance(value, str) else list(value)
    keys = [by] if isinstance(by, str) else list(by)
    bad = frame[values + [weight]].isna().any(axis=1)
    if bad.any():
        raise DataError(
            f"weighted_mean: {int(bad.sum())} row(s) have a missing {', '.join(values)} or "
            f"{weight}; first rows: {examples(frame.index[bad])}"
        )
    w = frame[weight].to_numpy(dtype=float)
    work = frame[keys].copy()
    for v in values:
        work[v] = frame[v].to_numpy(dtype=float) * w
    work[weight] = w
    work["n_lsoas"] = 1
    out = work.groupby(keys, sort=True, as_index=False).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        for v in values:
            out[v] = out[v] / out[weight]
    return out


def equal_count_decile(rank: pd.Series | np.ndarray, n: int) -> np.ndarray | pd.arrays.IntegerArray:
    """Decile of a national rank (rank 1 = most deprived or highest need) among ``n`` areas.

    Equal-count deciles as MHCLG defines them for the IoD: decile 1 holds ranks 1 to N/10.

    .. math:: d = \\lceil 10 r / N \\rceil

    Missing ranks (an area the index does not cover) stay missing: the result is then a
    nullable ``Int64`` array instead of a NumPy integer array. :math:`10 r` is divided by
    :math:`N` and rounded up in place in one new array (the ranks given are never changed).

    >>> equal_count_decile(np.array([1, 3284, 3285, 32844]), 32844).tolist()
    [1, 1, 2, 10]
    >>> equal_count_decile(np.array([1.0, np.nan]), 10).tolist()
    [1, <NA>]
    """
    r = np.asarray(rank, dtype=float)
    missing = np.isnan(r)
    any_missing = bool(missing.any())
    known = r[~missing] if any_missing else r
    if known.size and (known.min() < 1 or known.max() > n):
        raise DataError(f"ranks must lie in 1..{n}; got {known.min()}..{known.max()}")
    d = np.multiply(r, 10)
    np.divide(d, n, out=d)
    np.ceil(d, out=d)
    if any_missing:  # a rank in 1..N gives a decile, so d is missing exactly where r is
        return pd.array(d, dtype="Int64")
    return d.astype(int)


def share_rank(rank: pd.Series | np.ndarray, n: int, share: float) -> np.ndarray:
    """Whether each rank lies in the top ``share`` of ``n`` areas (``rank <= share * n``).

    For ``share = 0.1`` this is exactly decile 1 of :func:`equal_count_decile`.

    >>> share_rank(np.array([1, 742, 743]), 7427, 0.1).tolist()
    [True, True, False]
    """
    if not 0 < share <= 1:
        raise DataError(f"share must be in (0, 1]; got {share}")
    return np.asarray(rank, dtype=float) <= share * n


def check_lsoa_codes(
    con: duckdb.DuckDBPyConnection, codes: pd.Series, *, vintage: int, what: str
) -> None:
    """Raise if ``codes`` are not LSOA codes of ``vintage``.

    Codes of the other LSOA vintage raise :class:`VintageError`; unknown codes raise
    :class:`JoinError`. ``what`` names the input in the message.
    """
    own = hierarchy(con, vintage)[f"lsoa{str(vintage)[2:]}_code"]
    unknown = pd.Index(codes.dropna().unique()).difference(pd.Index(own))
    if unknown.empty:
        return
    other = 2021 if vintage == 2011 else 2011
    other_codes = pd.Index(hierarchy(con, other)[f"lsoa{str(other)[2:]}_code"])
    wrong = unknown.intersection(other_codes)
    if len(wrong):
        raise VintageError(
            f"{what}: {len(wrong)} code(s) are LSOA {other} codes, not LSOA {vintage}: "
            f"{examples(sorted(wrong))}. Convert them with `lookup_lsoa11_lsoa21_lad22` first."
        )
    raise JoinError(
        f"{what}: {len(unknown)} code(s) are not English LSOA {vintage} codes: "
        f"{examples(sorted(unknown))}"
    )
