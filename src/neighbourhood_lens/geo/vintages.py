"""Carry LSOA-level values across boundary vintages (2001 -> 2011 -> 2021, and back).

The ONS best-fit lookups (``lookup_lsoa01_lsoa11``, ``lookup_lsoa11_lsoa21_lad22``) pair each
old LSOA with each new LSOA it overlaps and give a change code:

``U`` unchanged
    one old LSOA = one new LSOA: the value is copied.
``S`` split
    one old LSOA became several new ones: each new LSOA **inherits the parent's value**.
``M`` merged
    several old LSOAs became one new one: the new LSOA takes the **population-weighted mean**
    of the old LSOAs' values.
``X`` irregular
    boundaries were redrawn so that old and new LSOAs overlap many-to-many. Without
    output-area detail we use **best-fit weights**: each old LSOA's population is shared
    equally among the new LSOAs it overlaps, and each new LSOA takes the weighted mean of the
    old values. A ``weight`` column in the lookup (e.g. overlapping population from output
    areas) replaces these default weights.

All four rules are one formula. With :math:`k_s` the number of target LSOAs that source
:math:`s` maps to and :math:`P_s` its population,

.. math::

    v_t = \\frac{\\sum_{s \\to t} w_{st} v_s}{\\sum_{s \\to t} w_{st}}, \\qquad
    w_{st} = P_s / k_s

which gives the parent value for U and S (one source), the population-weighted mean for M
(:math:`k_s = 1`) and the apportioned mean for X. The same formula converts in the other
direction (2021 -> 2011) with the lookup's columns swapped: a 2011 LSOA split in 2021 gets
the population-weighted mean of its 2021 parts.

Notes
-----
No 2001 LSOA populations are in the warehouse, so 2001-based conversions weight sources
equally (``population=None``); LSOAs were designed with similar populations (about 1,500), and
only the 293 English 2001 LSOAs in merges and 151 in irregular changes are affected. A missing
source value (NaN) is left out of that column's mean, numerator and denominator alike (a target
with no source value stays NaN). ``frame.attrs['unmatched']`` reports what did not carry over:
targets built from only some of their lookup sources (``targets_partial``), lookup targets with
no source in ``frame`` (``targets_missing``, absent from the output) and, per column, targets
with at least one missing source value (``values_missing``). Converting
ranks this way yields a value on the rank scale, not a rank: re-rank the converted values if a
rank is needed.

References
----------
Office for National Statistics (2012, 2022), *Lower Layer Super Output Area (2001) to Lower
Layer Super Output Area (2011) Lookup in England and Wales*; *LSOA (2011) to LSOA (2021) to
Local Authority District (2022) Lookup for England and Wales*, field ``CHGIND``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, JoinError, examples
from neighbourhood_lens.warehouse import require_tables

if TYPE_CHECKING:
    import duckdb

__all__ = ["CHANGE_CODES", "convert", "lookup"]

#: ONS change codes in the LSOA lookups.
CHANGE_CODES = {"U": "unchanged", "S": "split", "M": "merged", "X": "irregular"}

_LOOKUPS = {
    (2001, 2011): ("lookup_lsoa01_lsoa11", "lsoa01_code", "lsoa11_code"),
    (2011, 2021): ("lookup_lsoa11_lsoa21_lad22", "lsoa11_code", "lsoa21_code"),
}


def lookup(con: duckdb.DuckDBPyConnection, *, source: int, target: int) -> pd.DataFrame:
    """The English rows of the ONS lookup from vintage ``source`` to ``target`` (2001, 2011, 2021).

    Columns: ``source_code, target_code, change_code`` (the change code always describes the
    2001 -> 2011 or 2011 -> 2021 direction).
    """
    key = (min(source, target), max(source, target))
    if key not in _LOOKUPS:
        valid = ", ".join(f"{a}->{b}, {b}->{a}" for a, b in _LOOKUPS)
        raise DataError(f"no LSOA lookup from {source} to {target}; valid conversions: {valid}")
    table, old, new = _LOOKUPS[key]
    require_tables(con, [table])
    src, dst = (old, new) if source < target else (new, old)
    return con.execute(
        f"SELECT DISTINCT {src} AS source_code, {dst} AS target_code, change_code FROM {table} "
        f"WHERE {old} LIKE 'E%' AND {new} LIKE 'E%' "
        # a fixed order (DISTINCT's own varies with DuckDB's threads): the sums of a conversion then add up
        # in the same order, and round the same, on every run
        "ORDER BY source_code, target_code, change_code"
    ).df()


def convert(
    frame: pd.DataFrame,
    *,
    lookup: pd.DataFrame,
    values: str | list[str],
    code: str = "code",
    population: pd.Series | None = None,
) -> pd.DataFrame:
    """Convert LSOA values in ``frame`` to the target vintage of ``lookup`` (see module docstring).

    ``frame`` has the source LSOA code in column ``code`` and the ``values`` columns.
    ``lookup`` has ``source_code, target_code, change_code`` and optionally ``weight``.
    ``population`` (indexed by source code) weights merges and irregular changes; ``None``
    weights sources equally. Every source LSOA of ``frame`` must be in the lookup.

    Returns one row per target LSOA: ``code``, the converted ``values``, ``n_sources`` and
    ``change_code`` (the codes of the pairs it came from, e.g. ``"M"``; ``"U"`` unchanged).

    >>> lk = pd.DataFrame({"source_code": ["a", "b", "b", "d", "e"],
    ...                    "target_code": ["A", "B1", "B2", "C", "C"],
    ...                    "change_code": ["U", "S", "S", "M", "M"]})
    >>> f = pd.DataFrame({"code": ["a", "b", "d", "e"], "x": [1.0, 2.0, 10.0, 20.0]})
    >>> convert(f, lookup=lk, values="x", population=pd.Series({"a": 1, "b": 1, "d": 1, "e": 3}))
      code     x  n_sources change_code
    0    A   1.0          1           U
    1   B1   2.0          1           S
    2   B2   2.0          1           S
    3    C  17.5          2           M
    """
    cols = [values] if isinstance(values, str) else list(values)
    need = {"source_code", "target_code", "change_code"}
    if missing := need - set(lookup.columns):
        raise DataError(f"convert: lookup lacks column(s) {sorted(missing)}")
    if missing := {code, *cols} - set(frame.columns):
        raise DataError(f"convert: frame lacks column(s) {sorted(missing)}")
    dup = frame[code].duplicated()
    if dup.any():
        raise DataError(f"convert: {int(dup.sum())} duplicate source code(s): {examples(frame.loc[dup, code])}")
    bad = ~isin(lookup["change_code"], list(CHANGE_CODES))
    if bad.any():
        raise DataError(
            f"convert: unknown change code(s) {examples(lookup.loc[bad, 'change_code'].unique())}; "
            f"valid: {', '.join(f'{k} ({v})' for k, v in CHANGE_CODES.items())}"
        )
    # Codes are numbered once (targets in sorted order) and the pairs handled as numbers; the sums are
    # pandas' group sums in the lookup's row order, as a merge of the lookup with the frame would give.
    sources = pd.Index(frame[code])
    lk_source = lookup["source_code"]
    if lookup["target_code"].isna().any() or lk_source.isna().any():
        raise DataError("convert: the lookup has rows without a source or target code")
    unmatched = ~isin(frame[code], lk_source)
    if unmatched.any():
        raise JoinError(
            f"convert: {int(unmatched.sum())} source LSOA(s) are not in the lookup: "
            f"{examples(frame.loc[unmatched, code])}"
        )
    at = sources.get_indexer(lk_source)
    take = np.flatnonzero(at >= 0)  # the lookup rows of the frame's sources, in the lookup's order
    pos = at[take]
    target_all, targets = pd.factorize(lookup["target_code"], sort=True)
    target = target_all[take]
    if "weight" in lookup.columns:
        w = lookup["weight"].to_numpy(dtype=float)[take]
    else:
        k = np.bincount(pos, minlength=len(sources))[pos].astype(float)  # targets of each source
        if population is None:
            p = np.ones(len(pos))
        else:
            where = population.index.get_indexer(sources)
            known = np.where(where >= 0, population.to_numpy(dtype=float)[where], np.nan)
            p = known[pos]
            if np.isnan(p).any():
                miss = pd.unique(sources.to_numpy(dtype=object)[pos[np.isnan(p)]])
                raise JoinError(f"convert: no population for {len(miss)} source LSOA(s): {examples(miss)}")
        w = p / k
    if np.isnan(w).any() or (w < 0).any():
        bad_w = pd.unique(sources.to_numpy(dtype=object)[pos[np.isnan(w) | (w < 0)]])
        raise DataError(f"convert: {len(bad_w)} source LSOA(s) have a missing or negative weight: {examples(bad_w)}")
    work = pd.DataFrame({"code": target, "n_sources": 1})
    for c in cols:
        v = frame[c].to_numpy(dtype=float)[pos]
        have = ~np.isnan(v)
        # a missing source value is left out of that column's mean (numerator AND denominator)
        work[c] = np.where(have, v * w, 0.0)
        work[f"_w_{c}"] = np.where(have, w, 0.0)
        work[f"_n_{c}"] = have.astype(int)
    sums = work.groupby("code", sort=True).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        for c in cols:
            sums[c] = np.where(sums[f"_n_{c}"] > 0, sums[c] / sums[f"_w_{c}"], np.nan)
    present = sums.index.to_numpy()
    # each target's change codes: the distinct codes of its pairs, in alphabetical order ("MS", "U", ...)
    change = lookup["change_code"].to_numpy(dtype=object)[take]
    changes = np.full(len(targets), "", dtype=object)
    for letter in sorted(CHANGE_CODES):
        has = np.zeros(len(targets), dtype=bool)
        has[target[change == letter]] = True
        changes[has] = changes[has] + letter
    out = sums[cols + ["n_sources"]].reset_index(drop=True)
    out.insert(0, "code", pd.Series(np.asarray(targets, dtype=object)[present]))  # text, as pandas infers it
    out["n_sources"] = out["n_sources"].astype(int)
    out["change_code"] = pd.Series(changes[present])
    # report what did not carry over: lookup sources absent from ``frame`` leave targets partial or absent
    source_all = pd.factorize(lk_source)[0].astype(np.int64)
    distinct = np.unique(target_all.astype(np.int64) * (int(source_all.max(initial=0)) + 1) + source_all)
    expected = np.bincount(distinct // (int(source_all.max(initial=0)) + 1), minlength=len(targets))
    partial = out["n_sources"].to_numpy() < expected[present]
    out.attrs["unmatched"] = {
        "targets_partial": int(partial.sum()),
        "targets_missing": int(len(targets) - len(present)),
        "values_missing": {c: int((sums[f"_n_{c}"] < sums["n_sources"]).sum()) for c in cols},
    }
    return out
