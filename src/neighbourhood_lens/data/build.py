"""Build the warehouse from official files: a mirror directory, the download cache, or files
the user names.

For every dataset in :data:`~neighbourhood_lens.data.sources.DATASETS` the build

1. finds the file (``--file ID=PATH`` first, then ``MIRROR/ID.parquet`` (also ``.csv``,
   ``.xlsx``, ``.geojson``, ``.gpkg``), then the download cache), and checks its SHA-256
   against the mirror's ``SHA256SUMS`` or the registry's pinned value when there is one;
2. reads it (Parquet, CSV, XLSX, or any vector format pyogrio reads) and maps its headers to
   canonical columns with the dataset's normaliser;
3. validates it: required columns, unique keys, code patterns, English codes where the
   dataset is England-only, numeric columns that are numeric;
4. loads it as a table named after the dataset id, and records a ``provenance`` row.

It then checks code vintages across datasets (an LSOA 2021 code in an LSOA 2011 table is an
error), notes tied national ranks and refuses ranks outside 1..N, builds the geography
hierarchies and the ``areas`` table, and records every join in ``join_report``. The new
warehouse is written to a temporary file and moved into place only when the whole build
succeeds, so a failed build never leaves a half-built warehouse and
rebuilding is idempotent.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from neighbourhood_lens import __version__
from neighbourhood_lens.data.publisher_files import join_sheets, read_publisher_file
from neighbourhood_lens.data.sources import DATASETS, Dataset, get_dataset
from neighbourhood_lens.data.statxplore import STATXPLORE_DATASETS, add_msoa11_codes, needs_codes
from neighbourhood_lens.data.validate import normalise_table, read_checksums, sha256_file, table_notes
from neighbourhood_lens.errors import ChecksumError, DataError, SourceUnavailableError, first_line

__all__ = [
    "BuildReport",
    "build_warehouse",
    "read_source",
    "normalise_table",
    "locate_sources",
    "sha256_file",
    "read_checksums",
]

SUFFIXES = (".parquet", ".geoparquet", ".csv", ".xlsx", ".xls", ".ods", ".geojson", ".gpkg", ".zip", ".shp")
Progress = Callable[[str, int, int], None]


@dataclass
class BuildReport:
    """What a build did: datasets loaded, kept from the old warehouse, fetched, skipped (with
    reasons), the user's tables carried across, warnings (something to act on) and info
    (expected coverage notes, one line per dataset)."""

    db_path: Path
    loaded: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    user_tables: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    seconds: float = 0.0


def locate_sources(
    dataset_ids: Iterable[str],
    *,
    mirror: Path | None,
    cache_dir: Path | None,
    files: Mapping[str, Path] | None = None,
) -> tuple[dict[str, Path], dict[str, list[str]]]:
    """Find a file for each dataset. Returns ``(found, tried)``; ``tried`` lists, for each
    dataset not found, every place that was looked at."""
    files = dict(files or {})
    found: dict[str, Path] = {}
    tried: dict[str, list[str]] = {}
    for ds in dataset_ids:
        looked: list[str] = []
        if ds in files:
            p = Path(files[ds])
            if p.exists():
                found[ds] = p
                continue
            looked.append(f"{p} (given with --file; does not exist)")
        if mirror is not None:
            for suffix in SUFFIXES:
                p = mirror / f"{ds}{suffix}"
                if p.exists():
                    found[ds] = p
                    break
            else:
                looked.append(f"{mirror}/{ds}.parquet (mirror)")
            if ds in found:
                continue
        else:
            looked.append("no mirror (set --mirror DIR or NLENS_MIRROR)")
        if cache_dir is not None:
            from neighbourhood_lens.data.download import cached_table

            hit = cached_table(cache_dir, ds)
            if hit:
                found[ds] = hit[0]
                continue
            looked.append(f"{cache_dir / ds}/ (download cache; `nlens data fetch {ds}`)")
        tried[ds] = looked
    return found, tried


def read_source(path: Path, dataset: Dataset | None = None) -> pa.Table:
    """Read one official or mirrored file into an Arrow table.

    Parquet and GeoParquet are read as they are (geometry stays WKB); CSV is read as UTF-8,
    falling back to Windows-1252 (common in older government files) with a warning; other
    vector formats go through pyogrio and are reprojected to WGS84 (EPSG:4326), geometry as
    WKB. For XLSX see :func:`_read_workbook`.
    """
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".geoparquet"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix == ".csv" and dataset is not None and dataset.id in STATXPLORE_DATASETS:
            from neighbourhood_lens.data.sources import Source

            return read_publisher_file(path, Source(str(path), "csv"), dataset)  # an export, or a long CSV
        if suffix in (".geojson", ".json") and dataset is not None:
            from neighbourhood_lens.data.sources import Source

            return read_publisher_file(path, Source(str(path), "geojson"), dataset)
        if suffix == ".csv":
            from neighbourhood_lens.data.layouts import reshape

            table = _read_csv(path)
            return reshape(table, dataset.id, where=str(path)) if dataset is not None else table
        if suffix == ".xlsx" and (dataset is None or not _registry_layout(dataset, "xlsx")):
            return _read_workbook(path, dataset)
        if suffix in (".xlsx", ".xls", ".ods") or (suffix == ".zip" and dataset is not None
                                                    and _registry_layout(dataset, "zip")):
            from neighbourhood_lens.data.sources import Source

            if dataset is None:
                raise DataError(f"{path}: a {suffix} file needs a dataset id to be read")
            fmt = suffix.lstrip(".")
            src = _registry_layout(dataset, fmt) or Source(str(path), fmt)
            return read_publisher_file(path, src, dataset)
        import geopandas as gpd
        from pyogrio.errors import DataLayerError, DataSourceError

        try:
            gdf = gpd.read_file(path)
        except (DataSourceError, DataLayerError) as exc:  # GDAL: no format it knows, or a damaged file
            why = first_line(str(exc), 160).split(".;")[0]  # GDAL's first sentence, not its advice on drivers
            raise DataError(f"cannot read {path}: {why}; a {suffix or 'file without extension'} "
                            "is read as a vector file (GeoPackage, GeoJSON, shapefile); tables are read from "
                            ".csv, .xlsx or .parquet") from None
        if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
            gdf = gdf.to_crs(4326)
        gdf["geometry"] = gdf.geometry.to_wkb()
        return pa.Table.from_pandas(gdf.rename(columns={gdf.geometry.name: "geometry"}))
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc


def _registry_layout(dataset: Dataset, fmt: str) -> object:
    """The registry's description (sheet, header row, ZIP member) of the publisher's ``fmt`` file."""
    for src in dataset.sources:
        if src.format == fmt or (src.format == "zip" and fmt == Path(src.member or "").suffix.lstrip(".")):
            return src if src.format == fmt else _member_as_file(src)
    return None


def _member_as_file(src: object) -> object:
    from dataclasses import replace

    return replace(src, format=Path(src.member).suffix.lstrip("."), member=None)  # type: ignore[arg-type]


def _read_workbook(path: Path, dataset: Dataset | None) -> pa.Table:
    """Read an XLSX file the way MHCLG publishes the IoD (see :func:`join_sheets`).

    Without a ``dataset`` the first sheet is read.
    """
    import zipfile

    import pandas as pd
    from openpyxl.utils.exceptions import InvalidFileException

    try:  # openpyxl named: pandas' default reader of .xlsx is to change
        sheets = pd.read_excel(path, sheet_name=0 if dataset is None else None, dtype=object, engine="openpyxl")
    except (zipfile.BadZipFile, KeyError, InvalidFileException, EOFError) as exc:  # no zip, or a zip of no workbook
        raise DataError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__}: {str(exc)[:120]}); "
                        "save it again from Excel, or as CSV") from None
    if dataset is None:
        return pa.Table.from_pandas(sheets, preserve_index=False)
    return join_sheets(sheets, dataset, str(path))


def _read_csv(path: Path) -> pa.Table:
    import pyarrow.csv as pacsv

    try:
        return pacsv.read_csv(path)
    except pa.ArrowInvalid as exc:
        if "UTF8" not in str(exc) and "utf8" not in str(exc).lower():
            raise
    warnings.warn(f"{path} is not UTF-8; read as Windows-1252", stacklevel=3)
    return pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding="cp1252"))


def build_warehouse(
    db: Path,
    *,
    mirror: str | Path | None = None,
    cache_dir: Path | None = None,
    files: Mapping[str, Path] | None = None,
    only: Iterable[str] | None = None,
    progress: Progress | None = None,
    fetch_missing: bool = False,
    sources: Mapping[str, object] | None = None,
    timeout: float = 60.0,
) -> BuildReport:
    """Build (or rebuild) the warehouse at ``db``, keeping what the build does not replace.

    Parameters
    ----------
    mirror
        Directory laid out like ``../shared/data``: one file per dataset id.
    cache_dir
        The download cache filled by ``nlens data fetch``.
    files
        Explicit files by dataset id (e.g. the user's own CNI copy); these win. With an
        existing warehouse and neither ``mirror`` nor ``only``, just these datasets are
        replaced and everything else is copied from the existing warehouse.
    only
        Load just these datasets; the others are copied from the existing warehouse (never
        deleted).
    fetch_missing
        Download open datasets that are found nowhere into ``cache_dir`` first (what
        ``nlens data build`` does without a mirror). Offline, the error lists every missing
        file, its official address and where to put it.
    sources
        A user's sources (:func:`neighbourhood_lens.data.download.load_sources_file`) for fetching.

    Open datasets that cannot be found are an error listing every place tried; OCSI's CNI
    (not open data) and open datasets the publisher gives no direct download for (the DWP
    Stat-Xplore series, tables behind a landing page) are skipped with a warning saying where to
    get them when absent (and kept from the existing warehouse when they are there). Derived
    tables (hierarchies, ``areas``, ``iod_lsoa``, the WD21 best fit) are recomputed; the user's
    tables are carried across and checked (see :mod:`._keep`).
    """
    import shutil
    import time

    import duckdb

    from neighbourhood_lens.data import derive as _derive
    from neighbourhood_lens.data import keep as _keep
    from neighbourhood_lens.data import outcome_tables as _outcome_tables

    t0 = time.perf_counter()
    db = Path(db)
    mirror = Path(mirror) if mirror is not None else None  # a str from a script works too
    _keep.check_writable(db)
    existing = _keep.old_datasets(db)
    files = dict(files or {})
    if only:
        ids = list(only)
    elif existing and mirror is None and files:
        ids = list(files)
    else:
        ids = list(DATASETS)
    for ds in [*ids, *files]:
        get_dataset(ds)
    ids += [d for d in files if d not in ids]
    found, tried = locate_sources(ids, mirror=mirror, cache_dir=cache_dir, files=files)
    report = BuildReport(db_path=db)
    keep = [d for d in DATASETS if d in existing and d not in found]
    # open datasets with no direct address (Stat-Xplore exports, landing pages) are skipped like CNI when absent
    missing = {d: t for d, t in tried.items() if DATASETS[d].open_data and DATASETS[d].url is not None
               and d not in existing}
    if missing and fetch_missing:
        missing = _fetch_missing(missing, cache_dir, sources, timeout, report)
        found, tried = locate_sources(ids, mirror=mirror, cache_dir=cache_dir, files=files)
        keep = [d for d in DATASETS if d in existing and d not in found]
    if missing:
        raise SourceUnavailableError(_missing_message(missing, mirror, cache_dir, fetch_missing))
    for d, t in tried.items():
        if d in existing:
            report.info.append(f"{d}: not found in this build's sources, kept from the existing warehouse")
        elif not DATASETS[d].open_data:
            report.skipped[d] = "not found: " + ", ".join(t)
            report.warnings.append(f"{d} skipped: not open data, supply your copy with --file {d}=PATH")
        elif DATASETS[d].url is None:
            report.skipped[d] = "not found: " + ", ".join(t)
            report.warnings.append(f"{d} skipped: no direct address ({DATASETS[d].no_url_reason}); get it from "
                                   f"{DATASETS[d].landing_page} and build with --file {d}=PATH")

    sums_cache: dict[Path, dict[str, str]] = {}
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_name(db.name + ".building")
    tmp.unlink(missing_ok=True)
    db.with_name(db.name + ".building.wal").unlink(missing_ok=True)
    # a rebuild starts from a copy of the old file and drops what it does not keep (see .keep)
    in_place = bool(existing) and _keep.can_copy_file(db)
    if in_place:
        shutil.copyfile(db, tmp)
    con = duckdb.connect(str(tmp))
    try:
        con.begin()  # one transaction: one WAL flush instead of one per statement
        if existing:
            _keep.attach(con, db)
            if in_place:
                _keep.start_from_copy(con, keep)
        _derive.create_audit_tables(con)
        if existing:
            report.kept = _keep.copy_datasets(con, keep, in_place=in_place)
        total = len(found)
        for n, (ds_id, path) in enumerate(found.items(), start=1):
            if progress:
                progress(ds_id, n, total)
            _load_one(con, DATASETS[ds_id], path, files=files, cache_dir=cache_dir, sums_cache=sums_cache)
            report.loaded.append(ds_id)
        info: list[str] = []
        checks = (_derive.check_vintages(con, info=info) + _derive.check_ranks(con)
                  + _outcome_tables.check_outcome_tables(con))
        # datasets kept from the previous warehouse were checked when they were loaded (see their provenance)
        checks = [m for m in checks if m.split(":", 1)[0] not in report.kept] + _derive.derive_tables(con)
        expected = [_derive.is_expected(m) for m in checks]  # quirks of the official files: notes
        report.info.extend(m for m in info if m.split(":", 1)[0] not in report.kept)
        report.info.extend(m for m, e in zip(checks, expected, strict=True) if e)
        report.warnings.extend(m for m, e in zip(checks, expected, strict=True) if not e)
        carried = _keep.carry_bestfit(con, report.loaded, __version__) if existing else None
        # expected: generalised coastlines
        report.info.extend(carried if carried is not None else _outcome_tables.derive_ward21_bestfit(con))
        if existing:
            report.user_tables, messages = _keep.carry_user_tables(con, in_place=in_place)
            report.warnings.extend(messages)
            _keep.detach(con)
        con.commit()
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    _keep.check_writable(db)  # nobody opened it meanwhile
    os.replace(tmp, db)
    db.with_name(db.name + ".building.wal").unlink(missing_ok=True)
    report.seconds = time.perf_counter() - t0
    return report


def _load_one(con: object, ds: Dataset, path: Path, *, files: Mapping[str, Path], cache_dir: Path | None,
              sums_cache: dict[Path, dict[str, str]]) -> None:
    """Read, check and load one dataset file, with its provenance row."""
    from neighbourhood_lens.data import derive as _derive
    from neighbourhood_lens.data.download import cached_table
    from neighbourhood_lens.data.sources import CNI_CAVEAT

    digest = sha256_file(path)
    notes: list[str] = []
    source = str(path.resolve())
    hit = cached_table(cache_dir, ds.id) if ds.id not in files else None
    if hit and hit[0] == path:
        entry = hit[1]
        source, digest = entry["url"], entry.get("sha256") or digest
        notes += [f"downloaded {entry.get('fetched_at', '')} ({entry.get('format', '')}); cached table {path}"]
        notes += list(entry.get("notes") or [])
    else:
        sums = sums_cache.setdefault(path.parent, read_checksums(path.parent))
        expected = sums.get(path.name) or (ds.sha256 if ds.id not in files else None)
        if expected and expected != digest:
            raise ChecksumError(
                f"{path}: SHA-256 is {digest} but {expected} was expected "
                f"({'SHA256SUMS' if path.name in sums else 'registry'}). The file is "
                "corrupt or changed; fetch it again."
            )
    if not ds.open_data and ds.id in files:
        notes.append(CNI_CAVEAT)
    try:
        table = read_source(path, ds)
    except DataError as exc:
        if hit and hit[0] == path:
            raise DataError(f"{ds.id}: the cached table {path} (downloaded from {source}) cannot be read ({exc}); "
                            f"download it again with `nlens data fetch --force {ds.id}`") from None
        raise
    rows_read = table.num_rows
    if needs_codes(table, ds.id):  # a Stat-Xplore export names its areas: code them with the loaded lookup
        table = add_msoa11_codes(table, _msoa11_names(con, ds), dataset_id=ds.id, where=source)
        notes += [n for n in table_notes(table) if n not in notes]
    table = normalise_table(table, ds, source=str(path))
    notes += [n for n in table_notes(table) if n not in notes]
    con.register("_incoming", table)  # type: ignore[attr-defined]
    con.execute(f'CREATE OR REPLACE TABLE "{ds.id}" AS SELECT * FROM _incoming')  # type: ignore[attr-defined]
    con.unregister("_incoming")  # type: ignore[attr-defined]
    rows_loaded = con.execute(f'SELECT count(*) FROM "{ds.id}"').fetchall()[0][0]  # type: ignore[attr-defined]
    _derive.record_provenance(
        con, ds, source=source, sha256=digest, rows_read=rows_read,  # type: ignore[arg-type]
        rows_loaded=rows_loaded, tool_version=__version__,
    )
    for note in notes:
        _derive._note(con, ds.id, note)  # type: ignore[arg-type]


def _msoa11_names(con: object, ds: Dataset) -> object:
    """``msoa11_code, msoa11_name`` from ``lookup_lsoa11_msoa11`` in the warehouse being built."""
    loaded = {r[0] for r in con.execute(  # type: ignore[attr-defined]
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
    if "lookup_lsoa11_msoa11" not in loaded:
        raise DataError(f"{ds.id}: a Stat-Xplore export names its areas, and lookup_lsoa11_msoa11 (the MSOA 2011 "
                        "names) is needed to code them; build it too (drop --only, or add lookup_lsoa11_msoa11)")
    return con.execute("SELECT DISTINCT msoa11_code, msoa11_name FROM lookup_lsoa11_msoa11").df()  # type: ignore[attr-defined]


def _fetch_missing(missing: dict[str, list[str]], cache_dir: Path | None, sources: Mapping[str, object] | None,
                   timeout: float, report: BuildReport) -> dict[str, list[str]]:
    """Download the missing open datasets; return those still missing, with why."""
    from neighbourhood_lens.data.download import default_cache_dir, fetch

    results = fetch(list(missing), cache_dir=cache_dir or default_cache_dir(), sources=sources,  # type: ignore[arg-type]
                    timeout=timeout)
    still: dict[str, list[str]] = {}
    for r in results:
        if r.status in ("downloaded", "cached"):
            report.fetched.append(r.dataset_id)
        elif r.status == "manual":
            # no direct address (a landing page only): built without it, and said so
            report.skipped[r.dataset_id] = r.detail
            report.warnings.append(f"{r.dataset_id} skipped: {r.detail}")
        else:
            still[r.dataset_id] = [*missing[r.dataset_id], f"download failed: {r.detail}"]
    return still


def _missing_message(missing: dict[str, list[str]], mirror: Path | None, cache_dir: Path | None,
                     fetched: bool) -> str:
    """One headline, then one line per missing dataset: its official address and what went wrong."""
    import re

    if not fetched:
        lines = [f"  {d}: tried {', '.join(t)}" for d, t in missing.items()]
        return (f"{len(missing)} dataset(s) could not be found. Fix: run `nlens data build` without --mirror to "
                "download them, pass --mirror DIR (a directory like ../shared/data), --file ID=PATH, or --only to "
                "build a subset.\n" + "\n".join(lines))
    hosts = sorted({h for t in missing.values() for h in re.findall(r"cannot connect to (\S+)", " ".join(t))})
    lines = []
    for d, t in missing.items():
        ds = DATASETS[d]
        failure = next((x for x in t if x.startswith("download failed")), "")
        short = "offline" if "cannot connect" in failure and failure.count("cannot connect") == len(ds.sources) \
            else failure.removeprefix("download failed: ")
        lines.append(f"  {d}: {ds.url} ({short})")
    head = (f"{len(missing)} open dataset(s) are not in the cache and could not be downloaded"
            + (f" (cannot reach {', '.join(hosts)})" if hosts else "") + ". Download each file below when online "
            f"(`nlens data fetch` fills {cache_dir or 'the download cache'}), or save the files by hand and build "
            "with --file ID=PATH for each, or put them in a directory as ID.csv/.xlsx/.zip/.parquet and pass "
            "--mirror DIR; to use other addresses (an internal mirror or proxy) pass --sources FILE:")
    return head + "\n" + "\n".join(lines)
