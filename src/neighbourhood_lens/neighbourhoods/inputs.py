"""The LSOA inputs of custom neighbourhoods: default variables, standardisation, LSOA frame.

Re-exported by :mod:`neighbourhood_lens.neighbourhoods.build`, whose docstring describes the
variables (section *Variables*).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens._isin import isin
from neighbourhood_lens.errors import DataError, JoinError, examples
from neighbourhood_lens.geo.geography import hierarchy_columns as _cols

if TYPE_CHECKING:
    import duckdb

__all__ = ["DEFAULT_VARIABLES", "standardise", "lsoa_inputs"]

DOMAINS = ("income", "employment", "education", "health", "crime", "housing", "environment")
#: Default variables per LSOA vintage (see :mod:`neighbourhood_lens.neighbourhoods.build`, *Variables*).
DEFAULT_VARIABLES: dict[int, tuple[str, ...]] = {
    2011: tuple(f"{d}_rank" for d in DOMAINS),
    2021: tuple(f"{d}_score" for d in DOMAINS),
}
IMD_TABLE = {2011: "imd2019_lsoa11", 2021: "imd2025_lsoa21"}


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
    from neighbourhood_lens.geo.geography import hierarchy
    from neighbourhood_lens.warehouse import require_tables

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
        frame = frame[isin(frame[lad], lads)].reset_index(drop=True)
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
