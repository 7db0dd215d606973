"""Read a publisher's file in its own layout into one Arrow table.

The publishers do not ship tidy tables: MHCLG's IoD workbooks start with a *Notes* sheet and
spread one table over several sheets; ONS population workbooks and Defra's rural-urban ODS
put title rows above the header; ONS and Nomis ship ZIP archives holding the CSV or
workbook; IoD2025 File 7 holds the sub-domains in columns 35-52. A
:class:`~neighbourhood_lens.data.sources.Source` says which member, sheet, header row and
columns to read; :func:`read_publisher_file` applies it. Names are left as published (the
normalisers map them afterwards), fully empty rows and columns (footnotes, padding) are
dropped.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from neighbourhood_lens.archives import read_member
from neighbourhood_lens.data.normalise import normalise_headers
from neighbourhood_lens.data.sources import Dataset, Source
from neighbourhood_lens.data.statxplore import STATXPLORE_DATASETS, is_export, read_export
from neighbourhood_lens.errors import DataError, examples

__all__ = ["read_publisher_file", "read_geojson", "parse_usecols", "zip_member"]

_TABULAR = (".csv", ".xlsx", ".xls", ".ods")


def parse_usecols(spec: str) -> list[int]:
    """0-based column positions from a 1-based spec such as ``"1,2,35-37"``.

    >>> parse_usecols("1,2,35-37")
    [0, 1, 34, 35, 36]
    """
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if re.fullmatch(r"\d+-\d+", part):
            lo, hi = (int(x) for x in part.split("-"))
            out += list(range(lo - 1, hi))
        elif part.isdigit():
            out.append(int(part) - 1)
        elif part:
            raise DataError(f"usecols {spec!r}: {part!r} is not a column number or range like 35-52")
    return out


#: Most bytes one archive member may unpack to (the largest official member, a national workbook or
#: a Nomis bulk CSV, is a small fraction of this); more is refused before it reaches memory.
MAX_MEMBER_BYTES = 1_000_000_000


def zip_member(path: Path, member: str | None, *, label: str | None = None,
               max_bytes: int = MAX_MEMBER_BYTES) -> tuple[str, bytes]:
    """The bytes of ``member`` of the archive at ``path`` (its only table when ``member`` is None).

    ``label`` names the file in errors (the address it came from) instead of ``path``. The member
    is read by :func:`~neighbourhood_lens.archives.read_member`: refused when its directory says,
    or its data proves, that it unpacks to more than ``max_bytes``.
    """
    where = label or str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if member is None:
                tables = [n for n in names if n.lower().endswith(_TABULAR)]
                if len(tables) != 1:
                    raise DataError(
                        f"{where}: cannot tell which member to read; it holds {examples(names)}. Name one "
                        "with `member = ...` in your sources file"
                    )
                member = tables[0]
            match = [n for n in names if n == member or n.rsplit("/", 1)[-1] == member]
            if not match:
                raise DataError(f"{where}: the archive has no member {member!r}; it holds {examples(names)}")
            return match[0], read_member(zf, match[0], name=where, max_bytes=max_bytes)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{where}: not a readable ZIP archive ({exc}); the download may be corrupt") from None


def read_publisher_file(path: Path, source: Source, dataset: Dataset, *, label: str | None = None) -> pa.Table:
    """Read ``path`` as ``source`` describes it (see the module docstring).

    ``label`` names the file in error messages (e.g. the address a download came from).
    """
    fmt = source.format
    name, data = path.name, None
    where = label or str(path)
    if fmt == "zip":
        name, data = zip_member(path, source.member, label=where)
        fmt = Path(name).suffix.lower().lstrip(".")
        where = f"{where}!{name}"
    if fmt in ("statxplore", "csv") and dataset.id in STATXPLORE_DATASETS:
        raw = data if data is not None else path.read_bytes()
        if fmt == "statxplore" or is_export(raw):
            return read_export(raw, dataset.id, where=where)
        table = _read_csv_bytes(raw, where)
    elif fmt == "geojson":
        return read_geojson(data if data is not None else path.read_bytes(), dataset, where=where)
    elif fmt == "csv":
        table = _read_csv_bytes(data if data is not None else path.read_bytes(), where)
    elif fmt in ("xlsx", "xls", "ods"):
        table = _read_sheet(io.BytesIO(data) if data is not None else path, source, dataset, where, fmt)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(io.BytesIO(data) if data is not None else path)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{where}: not a readable Parquet file ({exc})") from None
    else:
        raise DataError(f"{where}: cannot read format {fmt!r} here")
    if source.usecols:
        cols = parse_usecols(source.usecols)
        bad = [c + 1 for c in cols if c >= table.num_columns]
        if bad:
            raise DataError(f"{where}: has {table.num_columns} columns; usecols {source.usecols} asks for {bad}")
        table = table.select(cols)
    from neighbourhood_lens.data.layouts import reshape

    return reshape(table, dataset.id, year=source.year, where=where)


def read_geojson(data: bytes, dataset: Dataset, *, where: str) -> pa.Table:
    """A GeoJSON boundary file (an ONS download, or the hub download API's ``.../geojson?layers=0``)
    as GeoParquet in WGS84 (EPSG:4326), the layout of the FeatureServer reader and the mirror.

    Only the area code and name columns of the dataset's geography are kept (``WD21CD, WD21NM`` ->
    ``ward21_code, ward21_name`` after normalisation), plus ``geometry``; the others (``FID``,
    ``WD21NMW``, ``BNG_E``, ``LAT``, ``GlobalID`` ...) are dropped, and a note names them.
    """
    import geopandas as gpd
    import pyarrow.parquet as pq

    if not data.strip():
        raise DataError(f"{where}: the file is empty")
    try:
        gdf = gpd.read_file(io.BytesIO(data))
    except Exception as exc:  # pyogrio raises DataSourceError, ValueError ... for a corrupt file
        raise DataError(f"{where}: not a readable GeoJSON file ({type(exc).__name__}: {exc})") from None
    if gdf.geometry.isna().all():
        raise DataError(f"{where}: no feature has a geometry; is this the boundaries download?")
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    mapping = normalise_headers(dataset.id, [c for c in gdf.columns if c != gdf.geometry.name])
    keep = [c for c, canon in mapping.items() if dataset.geography and canon.startswith(f"{dataset.geography}_")]
    dropped = [c for c in mapping if c not in keep]
    gdf = gdf[[*keep, gdf.geometry.name]].rename_geometry("geometry") if gdf.geometry.name != "geometry" \
        else gdf[[*keep, "geometry"]]
    buf = io.BytesIO()
    gdf.set_crs(4326, allow_override=True).to_parquet(buf, index=False)
    buf.seek(0)
    table = pq.read_table(buf)
    if dropped:
        meta = {**(table.schema.metadata or {}), b"nlens_note_geojson": f"dropped column(s) {', '.join(dropped)} "
                "of the GeoJSON file".encode()}
        table = table.replace_schema_metadata(meta)
    return table


def _read_csv_bytes(data: bytes, where: str) -> pa.Table:
    import pyarrow.csv as pacsv

    if not data.strip():
        raise DataError(f"{where}: the file is empty")
    try:
        return pacsv.read_csv(io.BytesIO(data))
    except pa.ArrowInvalid as exc:
        if "utf8" not in str(exc).lower():
            raise DataError(f"{where}: not a readable CSV ({exc})") from None
    return pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(encoding="cp1252"))


def join_sheets(sheets: Mapping[str, object], dataset: Dataset, where: str) -> pa.Table:
    """Join the sheets of an official workbook that carry the dataset's key.

    Official workbooks start with a *Notes* sheet and may spread one table over several
    sheets keyed by area code (IoD2019 File 8 has one sheet per domain). Every sheet whose
    header has the dataset's key column(s) after normalisation is read; a single such sheet
    is returned as it is, several are joined on the key (each key must be in every sheet,
    and columns repeated across sheets, such as names, are taken from the first).
    """
    frames = []
    for name, frame in sheets.items():
        mapping = normalise_headers(dataset.id, [str(c) for c in frame.columns])  # type: ignore[attr-defined]
        frame = frame.rename(columns=lambda c, m=mapping: m[str(c)])  # type: ignore[attr-defined]
        if set(dataset.key) <= set(frame.columns):
            frames.append((name, frame))
    if not frames:
        raise DataError(
            f"{where}: no sheet has the key column(s) {', '.join(dataset.key)} of {dataset.id}"
        )
    name, out = frames[0]
    for other_name, frame in frames[1:]:
        keys = out[list(dataset.key)].drop_duplicates()
        other = frame[list(dataset.key)].drop_duplicates()
        if len(keys) != len(other) or len(keys.merge(other)) != len(keys):
            raise DataError(
                f"{where}: sheets {name!r} and {other_name!r} do not cover the same "
                f"{'+'.join(dataset.key)} values, so they cannot be joined row for row"
            )
        new = [c for c in frame.columns if c not in out.columns]
        out = out.merge(frame[list(dataset.key) + new], on=list(dataset.key), how="left", validate="one_to_one")
    return pa.Table.from_pandas(out, preserve_index=False)


def _read_sheet(handle: object, source: Source, dataset: Dataset, where: str, fmt: str) -> pa.Table:
    """One sheet (or every sheet with the key, joined) of an XLSX, XLS or ODS workbook.

    Read with Calamine (Rust; about 10-50x faster than openpyxl, xlrd or odfpy on national
    tables), falling back to the format's Python reader if Calamine refuses the file.
    """
    import pandas as pd

    engines = ["calamine", {"xlsx": "openpyxl", "xls": "xlrd", "ods": "odf"}[fmt]]
    failure: Exception | None = None
    for engine in engines:
        if hasattr(handle, "seek"):
            handle.seek(0)  # type: ignore[attr-defined]
        try:
            if engine == "calamine":
                return _calamine(handle, source, dataset, where)
            book = pd.ExcelFile(handle, engine=engine)
            if source.sheet is None:
                sheets = {name: pd.read_excel(book, sheet_name=name, dtype=object, skiprows=source.skip)
                          for name in book.sheet_names}
                return join_sheets({k: _tidy(v) for k, v in sheets.items()}, dataset, where)
            if source.sheet not in book.sheet_names:
                raise DataError(f"{where}: no sheet {source.sheet!r}; the sheets are {examples(book.sheet_names)}")
            frame = pd.read_excel(book, sheet_name=source.sheet, dtype=object, skiprows=source.skip)
            break
        except DataError:
            raise
        except ImportError:
            continue
        except Exception as exc:  # calamine, openpyxl, xlrd and odfpy raise many types for corrupt files
            failure = failure or exc
    else:
        raise DataError(f"{where}: not a readable {fmt.upper()} workbook ({type(failure).__name__}: {failure})")
    frame = _tidy(frame)
    return pa.Table.from_pandas(frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object
                                               and not _numeric(frame[c])}), preserve_index=False)


def _calamine(handle: object, source: Source, dataset: Dataset, where: str) -> pa.Table:
    """Read with python-calamine directly: rows come back as Python values, and columns are built
    whole (pandas' own calamine reader converts cell by cell, several times slower)."""
    from python_calamine import CalamineWorkbook

    book = (CalamineWorkbook.from_path(str(handle)) if isinstance(handle, str | Path)
            else CalamineWorkbook.from_filelike(handle))  # type: ignore[arg-type]
    if source.sheet is not None and source.sheet not in book.sheet_names:
        raise DataError(f"{where}: no sheet {source.sheet!r}; the sheets are {examples(book.sheet_names)}")
    names = [source.sheet] if source.sheet is not None else list(book.sheet_names)
    frames = {n: _tidy(_rows_frame(book.get_sheet_by_name(n).to_python(skip_empty_area=False), source.skip))
              for n in names}
    if source.sheet is None:
        return join_sheets(frames, dataset, where)
    frame = frames[source.sheet]
    return pa.Table.from_pandas(frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object
                                               and not _numeric(frame[c])}), preserve_index=False)


def _rows_frame(rows: list[list[object]], skip: int) -> object:
    """A frame from a sheet's rows: ``skip`` rows above the header, empty cells as missing."""
    import pandas as pd

    rows = rows[skip:]
    if not rows:
        return pd.DataFrame()
    header, seen = [], {}
    for i, h in enumerate(rows[0]):
        name = str(h).strip() if h not in ("", None) else f"Unnamed: {i}"
        if name in seen:  # as pandas does: a repeated header gets .1, .2 ...
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        header.append(name)
    columns = list(zip(*rows[1:], strict=False)) if len(rows) > 1 else [()] * len(header)
    data = {}
    for name, values in zip(header, columns, strict=False):
        col = pd.Series(values)  # a column of numbers is inferred as numbers at once (no per-cell pass)
        if col.dtype == object:
            col = col.where(col != "", None)
        data[name] = col
    return pd.DataFrame(data)


def _numeric(col: object) -> bool:
    import pandas as pd

    s = pd.Series(col).dropna()
    return len(s) > 0 and pd.to_numeric(s, errors="coerce").notna().all()


def _tidy(frame: object) -> object:
    """Drop fully empty rows and columns and pandas' ``Unnamed: n`` padding columns."""
    import pandas as pd

    frame = frame.dropna(how="all").dropna(axis=1, how="all")  # type: ignore[attr-defined]
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.loc[:, [not c.startswith("Unnamed:") for c in frame.columns]]
    for c in frame.columns:
        if frame[c].dtype == object and _numeric(frame[c]):
            frame[c] = pd.to_numeric(frame[c])
    return frame
