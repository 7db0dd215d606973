"""Write result tables by file suffix, each with a provenance sidecar.

Every output records what it was made from: ``FILE.provenance.json`` beside it lists the
command, its parameters, the tool version, and each source dataset's file, SHA-256 and load
time (from the warehouse's ``provenance`` table). Parquet outputs also carry the same JSON
in their schema metadata under ``neighbourhood_lens``; ``.xlsx`` workbooks carry it on a
second sheet, ``provenance``, after the table. Maps and HTML reports get the same sidecar
through :func:`write_sidecar`.

``path`` ``"-"`` writes CSV (or JSON with ``stdout_format="json"``) to stdout, for pipes;
there is no sidecar then. Count columns (``population``, ``n_*``, ``*_count``, ...) holding
whole numbers are written as integers. The column vocabulary is in ``docs/outputs.md``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from neighbourhood_lens import __version__
from neighbourhood_lens._spreadsheet import csv_quoting, mark_text_cells, neutralise_frame
from neighbourhood_lens.errors import DataError

if TYPE_CHECKING:
    import duckdb
    import geopandas as gpd

__all__ = ["TABLE_SUFFIXES", "integer_counts", "provenance_record", "sidecar_path", "write_sidecar", "write_table"]

TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx", ".geojson", ".gpkg")

#: What ``write_table(frame, "-")`` writes when not told (the CLI sets it from ``--format``).
STDOUT_FORMAT: ContextVar[str] = ContextVar("STDOUT_FORMAT", default="csv")

#: Column names that hold counts of people, areas or rows.
_COUNT_COLUMN = re.compile(
    r"^(population|.*_population|population_.*|n|n_.*|.*_count|count|areas|.*_areas|lsoas|.*_lsoas|rows_.*|grants)$"
)


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


def sidecar_path(path: str | Path) -> Path:
    """``FILE.provenance.json`` beside ``FILE``."""
    return Path(str(path) + ".provenance.json")


def write_sidecar(path: str | Path, provenance: Mapping[str, Any]) -> Path:
    """Write the provenance sidecar of an output already written to ``path`` (a map, an HTML report, ...).

    Adds the output's name and size to the record; returns the sidecar's path.
    """
    path = Path(path)
    record = {**provenance, "output": path.name}
    if path.exists():
        record["output_bytes"] = path.stat().st_size
    side = sidecar_path(path)
    side.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return side


def integer_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with float count columns that hold only whole numbers as integers (nullable if gaps).

    >>> f = pd.DataFrame({"population": [1500.0, 20.0], "n_lsoas": [3.0, None], "score": [1.0, 2.0]})
    >>> integer_counts(f).dtypes.astype(str).tolist()
    ['int64', 'Int64', 'float64']
    """
    out = frame
    for col in frame.columns:
        if not _COUNT_COLUMN.match(str(col)) or frame[col].dtype.kind != "f":
            continue
        vals = frame[col]
        present = vals.dropna()
        if not bool((present == present.round()).all()):
            continue
        if out is frame:
            out = frame.copy()
        out[col] = vals.astype("Int64") if vals.isna().any() else vals.astype("int64")
    return out


def _provenance_sheet(provenance: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The provenance record as a key/value table and a table of its sources."""
    items = [(k, v) for k, v in provenance.items() if k not in ("parameters", "sources")]
    items += [(f"parameters.{k}", v) for k, v in dict(provenance.get("parameters") or {}).items()]
    meta = pd.DataFrame({"field": [k for k, _ in items],
                         "value": [v if isinstance(v, str | int | float) or v is None else json.dumps(v, default=str)
                                   for _, v in items]})
    return meta, pd.DataFrame(list(provenance.get("sources") or []))


def _write_xlsx(frame: pd.DataFrame, path: Path, provenance: Mapping[str, Any]) -> None:
    meta, sources = _provenance_sheet(provenance)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="table", index=False)
        meta.to_excel(writer, sheet_name="provenance", index=False)
        if len(sources):
            sources.to_excel(writer, sheet_name="provenance", index=False, startrow=len(meta) + 2)
        for sheet in writer.sheets.values():
            mark_text_cells(sheet)  # user text is never a formula (see _spreadsheet)
            sheet.freeze_panes = "A2"
            for cells in sheet.columns:
                longest = max((len(str(c.value)) for c in cells[:200] if c.value is not None), default=8)
                sheet.column_dimensions[cells[0].column_letter].width = min(max(longest + 2, 8), 60)


def write_table(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    provenance: Mapping[str, Any],
    geometry: gpd.GeoDataFrame | None = None,
    key: str = "code",
    stdout_format: str | None = None,
) -> Path:
    """Write ``frame`` to ``path`` (``.csv``, ``.parquet``, ``.xlsx``, ``.geojson`` or ``.gpkg``) or ``-``.

    Text that a spreadsheet would run as a formula is made safe in CSV and XLSX (see
    :mod:`neighbourhood_lens._spreadsheet`). Spatial formats need ``geometry``: a GeoDataFrame
    with ``key`` and ``geometry`` columns; every row of ``frame`` must have a geometry. ``-``
    writes ``stdout_format`` (``csv``, ``tsv`` or ``json``; default :data:`STDOUT_FORMAT`) to
    stdout and no sidecar. Every file gets ``FILE.provenance.json``.
    """
    frame = integer_counts(frame)
    if str(path) == "-":
        stdout_format = stdout_format or STDOUT_FORMAT.get()
        if stdout_format == "json":
            sys.stdout.write(frame.to_json(orient="records", date_format="iso") + "\n")
        elif stdout_format in ("csv", "tsv"):
            safe = neutralise_frame(frame)
            sys.stdout.write(safe.to_csv(index=False, sep="," if stdout_format == "csv" else "\t",
                                         quoting=csv_quoting(safe)))
        else:
            raise DataError(f"cannot write {stdout_format!r} to stdout; use csv, tsv or json")
        sys.stdout.flush()
        return Path("-")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(
            f"cannot write {path}: unknown suffix {suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps(provenance, indent=2, default=str)
    if suffix == ".csv":
        safe = neutralise_frame(frame)
        safe.to_csv(path, index=False, quoting=csv_quoting(safe))
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"neighbourhood_lens": meta.encode()}
        )
        pq.write_table(table, path)
    elif suffix == ".xlsx":
        _write_xlsx(frame, path, provenance)
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
    sidecar_path(path).write_text(meta + "\n")
    return path
