"""Write result tables by file suffix, each with a provenance sidecar.

Every output records what it was made from: ``FILE.provenance.json`` beside it lists the
command, its parameters, the tool version, and each source dataset's file, SHA-256 and load
time (from the warehouse's ``provenance`` table). Parquet outputs also carry the same JSON
in their schema metadata under ``neighbourhood_lens``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import __version__
from .errors import DataError

if TYPE_CHECKING:
    import duckdb
    import geopandas as gpd

__all__ = ["TABLE_SUFFIXES", "provenance_record", "write_table"]

TABLE_SUFFIXES = (".csv", ".parquet", ".geojson", ".gpkg")


def provenance_record(
    con: duckdb.DuckDBPyConnection | None,
    dataset_ids: Iterable[str],
    *,
    command: str,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON-ready record of the sources and settings behind an output."""
    ids = list(dict.fromkeys(dataset_ids))
    sources: list[dict[str, Any]] = []
    if con is not None and ids:
        rows = con.execute(
            "SELECT dataset_id, title, publisher, licence, source, sha256, rows_loaded, "
            "CAST(loaded_at AS VARCHAR) AS loaded_at, tool_version FROM provenance "
            f"WHERE dataset_id IN ({', '.join('?' * len(ids))}) ORDER BY dataset_id",
            ids,
        ).df()
        sources = rows.to_dict(orient="records")
    return {
        "tool": "neighbourhood-lens",
        "tool_version": __version__,
        "command": command,
        "parameters": dict(parameters or {}),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": sources,
    }


def write_table(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    provenance: Mapping[str, Any],
    geometry: gpd.GeoDataFrame | None = None,
    key: str = "code",
) -> Path:
    """Write ``frame`` to ``path`` (``.csv``, ``.parquet``, ``.geojson`` or ``.gpkg``).

    Spatial formats need ``geometry``: a GeoDataFrame with ``key`` and ``geometry`` columns;
    every row of ``frame`` must have a geometry.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(
            f"cannot write {path}: unknown suffix {suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps(provenance, indent=2, default=str)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"neighbourhood_lens": meta.encode()}
        )
        pq.write_table(table, path)
    else:
        import geopandas as gpd

        if geometry is None:
            raise DataError(f"cannot write {path}: this output has no geometry; use .csv or .parquet")
        geo = geometry[[key, "geometry"]].drop_duplicates(key)
        merged = frame.merge(geo, on=key, how="left", validate="many_to_one")
        missing = merged["geometry"].isna()
        if missing.any():
            raise DataError(
                f"{int(missing.sum())} row(s) have no boundary; e.g. {merged.loc[missing, key].head(5).tolist()}"
            )
        gdf = gpd.GeoDataFrame(merged, geometry="geometry", crs=geometry.crs)
        for col in gdf.columns:
            if str(gdf[col].dtype) in ("Int64", "boolean"):
                has_na = bool(gdf[col].isna().any())
                kind = "bool" if str(gdf[col].dtype) == "boolean" else "int64"
                gdf[col] = gdf[col].astype(object if has_na else kind)
        if path.exists():
            path.unlink()
        gdf.to_file(path, driver="GeoJSON" if suffix == ".geojson" else "GPKG")
    Path(str(path) + ".provenance.json").write_text(meta + "\n")
    return path
