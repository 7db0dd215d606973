"""Read a Nomis API table (``/api/v01/dataset/<id>.data.csv?...``), page by page, one row per area.

Anonymous Nomis API calls return at most 25,000 rows (official-sources.md, note N6), so a query
is read with ``RecordOffset``/``RecordLimit`` until ``RECORD_COUNT`` (the total Nomis reports on
every row) is reached; a total that differs is an error naming the query. The long answer (one
row per area and category, ``GEOGRAPHY_CODE``, ``<DIMENSION>_NAME``, ``OBS_VALUE``) is pivoted to
one row per area: ``geography code``, ``geography`` and one column per category label, the layout
of Nomis's bulk files, which the normalisers read.

References
----------
Nomis, *API help: data downloads* (``RecordOffset``, ``RecordLimit``, ``RECORD_COUNT``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from neighbourhood_lens.errors import DataError, SourceUnavailableError, examples

__all__ = ["read_nomis", "PAGE"]

PAGE = 25_000


def read_nomis(url: str, *, session: Any, timeout: float, progress: Callable[[int, int | None], None] | None = None,
               page: int = PAGE) -> pa.Table:
    """Every row of the Nomis query ``url``, pivoted to one row per geography."""
    import pandas as pd
    import requests

    from neighbourhood_lens.data.http import connection_reason

    frames, offset, total = [], 0, None
    while total is None or offset < total:
        try:
            resp = session.get(url, params={"RecordOffset": offset, "RecordLimit": page}, timeout=timeout)
        except requests.RequestException as exc:
            raise SourceUnavailableError(connection_reason(url, exc)) from None
        if resp.status_code != 200:
            raise SourceUnavailableError(f"{url}: HTTP {resp.status_code} {resp.reason} (RecordOffset {offset})")
        try:
            chunk = pd.read_csv(io.BytesIO(resp.content), dtype={"GEOGRAPHY_CODE": "string"})
        except (ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"{url}: not a readable Nomis CSV at RecordOffset {offset} ({exc})") from None
        need = {"GEOGRAPHY_CODE", "GEOGRAPHY_NAME", "OBS_VALUE", "RECORD_COUNT"}
        if not need <= set(chunk.columns):
            raise DataError(f"{url}: the Nomis answer lacks {', '.join(sorted(need - set(chunk.columns)))} "
                            f"(columns {examples(list(chunk.columns))})")
        if chunk.empty:
            break
        total = int(chunk["RECORD_COUNT"].iloc[0])
        frames.append(chunk)
        offset += len(chunk)
        if progress:
            progress(offset, total)
    if total is None or offset != total:
        raise DataError(f"{url}: read {offset:,} rows but Nomis reports {total or 0:,}; try again")
    long = pd.concat(frames, ignore_index=True)
    dims = [c for c in long.columns if c.endswith("_NAME") and c not in
            ("DATE_NAME", "GEOGRAPHY_NAME", "MEASURES_NAME", "OBS_STATUS_NAME", "OBS_CONF_NAME", "RURAL_URBAN_NAME")]
    if len(dims) != 1:
        raise DataError(f"{url}: expected one category dimension, found {examples(dims) or 'none'}")
    wide = long.pivot_table(index=["GEOGRAPHY_CODE", "GEOGRAPHY_NAME"], columns=dims[0], values="OBS_VALUE",
                            aggfunc="first", sort=False)
    if wide.isna().any().any():
        gaps = wide.index[wide.isna().any(axis=1)].get_level_values(0).tolist()
        raise DataError(f"{url}: {len(gaps)} area(s) lack some categories, e.g. {examples(gaps)}")
    categories = list(dict.fromkeys(long[dims[0]]))
    wide = wide[categories].astype("int64").reset_index()
    wide = wide.rename(columns={"GEOGRAPHY_CODE": "geography code", "GEOGRAPHY_NAME": "geography"})
    wide.columns.name = None
    return pa.Table.from_pandas(wide, preserve_index=False)
