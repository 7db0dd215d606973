"""Download official files into the user cache, verified, and read them in the publisher's layout.

``nlens data fetch`` (and ``nlens data build`` without a mirror) fetches each dataset from
the addresses in the source registry (:mod:`.sources`), best first, falling back to the next
address when one fails (moved, 404, corrupt). Each file is streamed with `requests` to a part
file beside its place in the cache, checked (SHA-256 where pinned, ``Content-Length``, then its
layout, columns and rows) and only then renamed into place (:mod:`.transfer`), so a failed or
killed download never replaces or corrupts a cached copy; a second run does not fetch again.
Requests carry a descriptive User-Agent (some government hosts refuse library defaults). ONS
lookups and boundaries are ArcGIS FeatureServer layers, read page by page (:mod:`.arcgis`).

The cache (``NLENS_CACHE`` or the user cache directory) holds, per dataset id::

    <cache>/<id>/<file as published>      the download (for ArcGIS layers: none)
    <cache>/<id>/<id>.nlens.parquet       the table read from it, as the build loads it
    <cache>/manifest.json                 url, sha256, bytes, rows, format, time per dataset;
                                          paths relative to the cache

A download is accepted only when it parses in the publisher's layout (ZIP member, sheet,
header row) and, after normalisation, has the dataset's required columns; generated files
(ArcGIS layers, hub downloads) are checked against the registry's expected row count.

**Sources files** (a user's own addresses, ``--sources FILE``) are read and written by
:mod:`.sources_file`; ``load_sources_file`` and ``write_sources_file`` are re-exported here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa

from neighbourhood_lens import __version__
from neighbourhood_lens.data.sources import DATASETS, Dataset, Source, get_dataset
from neighbourhood_lens.data.sources_file import dataset_sources, guess_format, load_sources_file, write_sources_file
from neighbourhood_lens.errors import DataError, SourceUnavailableError

__all__ = [
    "USER_AGENT",
    "default_cache_dir",
    "FetchResult",
    "fetch",
    "read_manifest",
    "load_sources_file",
    "write_sources_file",
    "dataset_sources",
    "cached_table",
    "cache_path",
    "fetch_one",
]

USER_AGENT = (
    f"neighbourhood-lens/{__version__} (open-source research tool; python-requests; "
    "+https://pypi.org/project/neighbourhood-lens/)"
)
TABLE_SUFFIX = ".nlens.parquet"
Transfer = Callable[[int, int | None], None]


def default_cache_dir() -> Path:
    """``$NLENS_CACHE`` if set, else ``<user cache dir>/neighbourhood-lens``."""
    env = os.environ.get("NLENS_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("neighbourhood-lens"))


@dataclass
class FetchResult:
    """Outcome for one dataset: ``status`` is downloaded, cached, manual or failed."""

    dataset_id: str
    status: str
    detail: str
    path: Path | None = None
    sha256: str | None = None
    table: Path | None = None
    url: str | None = None
    rows: int | None = None
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- manifest
def read_manifest(cache_dir: Path) -> dict[str, dict[str, Any]]:
    """The cache manifest: dataset id -> url, file, table, sha256, bytes, rows, fetched_at.

    ``file`` and ``table`` are stored relative to the cache, so a cache that is moved or
    mounted elsewhere still works; :func:`cache_path` resolves them.
    """
    p = cache_dir / "manifest.json"
    if not p.exists():
        return {}
    try:
        doc = json.loads(p.read_text())
    except ValueError as exc:
        raise DataError(f"{p}: the cache manifest is not valid JSON ({exc}); delete it and run "
                        "`nlens data fetch --force` to rebuild the cache") from None
    return doc if isinstance(doc, dict) else {}


def cache_path(cache_dir: Path, stored: str | None) -> Path | None:
    """A manifest path resolved against ``cache_dir`` (relative since 0.1; absolute in older caches).

    An absolute path from an older manifest that no longer exists is looked for at the same
    place inside this cache (``<cache>/<id>/<file>``), so a moved cache is never read from its
    old location.
    """
    if not stored:
        return None
    p = Path(stored)
    if not p.is_absolute():
        return cache_dir / p
    inside = cache_dir / p.parent.name / p.name
    return inside if inside.exists() or not p.exists() else p


def _relative(cache_dir: Path, path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.relative_to(cache_dir).as_posix()
    except ValueError:
        return str(path)


def _write_manifest(cache_dir: Path, manifest: Mapping[str, object]) -> None:
    tmp = cache_dir / f"manifest.json.{os.getpid()}.part"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, cache_dir / "manifest.json")


def cached_table(cache_dir: Path | None, dataset_id: str) -> tuple[Path, dict[str, Any]] | None:
    """The cached table of ``dataset_id`` and its manifest entry, if ``nlens data fetch`` made one."""
    if cache_dir is None:
        return None
    entry = read_manifest(cache_dir).get(dataset_id)
    table = cache_path(cache_dir, entry.get("table")) if entry else None
    if entry and table is not None and table.exists():
        return table, entry
    return None


def _table_readable(path: Path) -> str | None:
    """``None`` if the cached Parquet opens, else why not."""
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except (OSError, pa.ArrowException) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# ----------------------------------------------------------------------------- downloading
def _session() -> Any:
    import requests

    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    return s


def _file_name(src: Source, ds_id: str) -> str:
    name = unquote(Path(urlparse(src.url).path).name)
    ext = {"statxplore": ".csv"}.get(src.format, "." + src.format)
    return name if name.lower().endswith(ext) else f"{ds_id}{ext}"


def _read_arcgis(src: Source, ds: Dataset, *, timeout: float, transfer: Transfer | None) -> pa.Table:
    from neighbourhood_lens.data.arcgis import read_layer

    frame = read_layer(src.url, session=_session(), where=src.where, out_fields=src.out_fields,
                       geojson=src.format == "arcgis-geojson", timeout=timeout, progress=transfer)
    if src.dedupe:
        from neighbourhood_lens.data.normalise import normalise_headers

        mapping = normalise_headers(ds.id, list(frame.columns))
        keys = [c for c, canon in mapping.items() if canon in ds.key]
        frame = frame.drop_duplicates(subset=keys or None)
    if "geometry" in frame.columns:
        import io

        import geopandas as gpd
        import pyarrow.parquet as pq

        # GeoParquet (WKB plus its ``geo`` metadata, WGS84), exactly as the mirror's boundary files
        buf = io.BytesIO()
        gpd.GeoDataFrame(frame, geometry="geometry", crs=4326).to_parquet(buf, index=False)
        buf.seek(0)
        return pq.read_table(buf)
    return pa.Table.from_pandas(frame, preserve_index=False)


def fetch_one(
    ds: Dataset,
    src: Source,
    *,
    cache_dir: Path,
    timeout: float,
    expected_rows: int | None,
    transfer: Transfer | None = None,
) -> FetchResult:
    """Fetch ``ds`` from one source, read it in the publisher's layout, check it, cache the table.

    The download and the table are written to part files beside their targets and renamed
    into place only after every check passed, so a failure (corrupt, wrong rows, wrong
    columns) leaves any earlier copy of the dataset as it was. Errors name the address.
    """
    import pyarrow.parquet as pq

    from neighbourhood_lens.data.publisher_files import read_publisher_file
    from neighbourhood_lens.data.statxplore import needs_codes
    from neighbourhood_lens.data.transfer import commit, download_part
    from neighbourhood_lens.data.validate import normalise_table

    target_dir = cache_dir / ds.id
    target_dir.mkdir(parents=True, exist_ok=True)
    raw: Path | None = None
    part: Path | None = None
    out = target_dir / f"{ds.id}{TABLE_SUFFIX}"
    table_part = out.with_name(f"{out.name}.{os.getpid()}.part")
    try:
        if src.format.startswith("arcgis"):
            table = _read_arcgis(src, ds, timeout=timeout, transfer=transfer)
            digest = None
        elif src.format == "nomis":
            from neighbourhood_lens.data.nomis import read_nomis

            table = read_nomis(src.url, session=_session(), timeout=timeout, progress=transfer)
            digest = None
        else:
            raw = target_dir / _file_name(src, ds.id)
            part, digest = download_part(_session(), src.url, raw, timeout=timeout, sha256=src.sha256,
                                         transfer=transfer)
            table = read_publisher_file(part, src, ds, label=f"{src.url} (saved as {raw.name})")
        if expected_rows is not None and table.num_rows != expected_rows:
            raise DataError(
                f"{src.url}: {table.num_rows:,} rows, but {ds.id} has {expected_rows:,} (registry); the file is "
                "incomplete or a different edition. Check the address, or set rows = N in your sources file"
            )
        # raises on any schema problem; a Stat-Xplore export names areas: the build adds the codes (.statxplore)
        normalised = table if needs_codes(table, ds.id) else normalise_table(table, ds, source=src.url)
        pq.write_table(table, table_part)
        if part is not None and raw is not None:
            commit(part, raw)
        commit(table_part, out)
    finally:
        for p in (part, table_part):
            if p is not None:
                p.unlink(missing_ok=True)
    keep = {out.name} | ({raw.name} if raw is not None else set())
    for old in target_dir.iterdir():  # an earlier download under another name (a fallback address)
        if old.is_file() and old.name not in keep and not old.name.endswith(".part"):
            old.unlink(missing_ok=True)
    # notes of the reader (columns dropped, rows left out) and of the checks
    notes = list(dict.fromkeys(n.decode() for t in (table, normalised) for k, n in (t.schema.metadata or {}).items()
                               if k.startswith(b"nlens_note")))
    return FetchResult(ds.id, "downloaded", f"{table.num_rows:,} rows from {src.url}", raw, digest, out, src.url,
                       table.num_rows, notes)


def fetch_parts(
    ds: Dataset,
    parts: tuple[Source, ...],
    *,
    cache_dir: Path,
    timeout: float,
    transfer: Transfer | None = None,
) -> FetchResult:
    """Fetch a dataset published as one file per data year (each ``Source`` has its ``year``):
    every part is downloaded and read in its layout, the parts are stacked, checked as one table
    and cached; nothing replaces an earlier copy unless every part passed."""
    import pyarrow.parquet as pq

    from neighbourhood_lens.data.publisher_files import read_publisher_file
    from neighbourhood_lens.data.transfer import commit, download_part
    from neighbourhood_lens.data.validate import normalise_table

    target_dir = cache_dir / ds.id
    target_dir.mkdir(parents=True, exist_ok=True)
    out = target_dir / f"{ds.id}{TABLE_SUFFIX}"
    table_part = out.with_name(f"{out.name}.{os.getpid()}.part")
    downloaded: list[tuple[Path, Path]] = []
    try:
        tables = []
        for src in parts:
            raw = target_dir / f"{src.year}_{_file_name(src, ds.id)}"
            part, _ = download_part(_session(), src.url, raw, timeout=timeout, sha256=src.sha256, transfer=transfer)
            downloaded.append((part, raw))
            tables.append(read_publisher_file(part, src, ds, label=f"{src.url} (data year {src.year})"))
        table = pa.concat_tables(tables, promote_options="permissive")
        first = parts[0].url
        normalised = normalise_table(table, ds, source=f"{first} and {len(parts) - 1} more part(s)")
        pq.write_table(table, table_part)
        for part, raw in downloaded:
            commit(part, raw)
        commit(table_part, out)
    finally:
        for part, _ in downloaded:
            part.unlink(missing_ok=True)
        table_part.unlink(missing_ok=True)
    keep = {out.name} | {raw.name for _, raw in downloaded}
    for old in target_dir.iterdir():
        if old.is_file() and old.name not in keep and not old.name.endswith(".part"):
            old.unlink(missing_ok=True)
    notes = [n.decode() for k, n in (normalised.schema.metadata or {}).items() if k.startswith(b"nlens_note")]
    notes.append("parts: " + ", ".join(f"{s.year} {s.url}" for s in parts))
    return FetchResult(ds.id, "downloaded", f"{table.num_rows:,} rows from {len(parts)} files ({first}, ...)", None,
                       None, out, first, table.num_rows, notes)


def fetch(
    dataset_ids: Iterable[str] | None = None,
    *,
    cache_dir: Path | None = None,
    sources: Mapping[str, tuple[Source, ...]] | None = None,
    urls: Mapping[str, str] | None = None,
    checksums: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    transfer: Callable[[str, int, int | None, str], None] | None = None,
) -> list[FetchResult]:
    """Download datasets into the cache; never raises for one dataset's failure.

    ``sources`` (from :func:`load_sources_file`) replaces a dataset's addresses; ``urls`` and
    ``checksums`` override just the first address and its checksum (``--url ID=URL``). CNI is
    only fetched when the user gives its address this way. Each registry address is tried in
    turn; the result's ``detail`` names every failure.

    ``progress(dataset_id, n, total)`` is called before each dataset and
    ``transfer(dataset_id, done, total, unit)`` as its bytes (``unit`` "bytes") or, for ArcGIS
    layers, rows ("rows") arrive; ``total`` is ``None`` when the server does not say.
    Part files left by a killed fetch are removed first. With ``force`` the cached copy is
    replaced only once the new download has passed every check.
    """
    from neighbourhood_lens.data.transfer import sweep_orphans

    cache_dir = cache_dir or default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    sweep_orphans(cache_dir)
    ids = list(dataset_ids) if dataset_ids else list(DATASETS)
    overrides: dict[str, tuple[Source, ...]] = dict(sources or {})
    for ds_id, url in (urls or {}).items():
        ds = get_dataset(ds_id)
        base = ds.sources[0] if ds.sources else Source(url, guess_format(url, ds))
        overrides[ds_id] = (replace(base, url=url, sha256=None, format=guess_format(url, ds)),)
    for ds_id, sha in (checksums or {}).items():
        srcs = overrides.get(ds_id) or get_dataset(ds_id).sources
        overrides[ds_id] = (replace(srcs[0], sha256=sha), *srcs[1:])
    manifest = read_manifest(cache_dir)
    results: list[FetchResult] = []
    for n, ds_id in enumerate(ids, start=1):
        ds = get_dataset(ds_id)
        if progress:
            progress(ds_id, n, len(ids))
        srcs, user = dataset_sources(ds, overrides)
        if not srcs:
            results.append(FetchResult(ds_id, "manual", _manual_detail(ds, cache_dir), url=ds.landing_page))
            continue
        entry = manifest.get(ds_id, {})
        table = cache_path(cache_dir, entry.get("table"))
        stale = _table_readable(table) if table is not None and table.exists() else None
        if not force and entry.get("url") in {s.url for s in srcs} and table is not None and table.exists() \
                and stale is None:
            results.append(FetchResult(ds_id, "cached", "already in cache", cache_path(cache_dir, entry.get("file")),
                                       entry.get("sha256"), table, entry["url"], entry.get("rows")))
            continue
        failures: list[str] = []
        result = None
        if srcs[0].year is not None:  # one file per data year: every part is needed, none is a fallback
            step = (lambda done, total, _id=ds_id: transfer(_id, done, total, "bytes")) if transfer else None
            try:
                result = fetch_parts(ds, srcs, cache_dir=cache_dir, timeout=timeout, transfer=step)
            except (DataError, SourceUnavailableError) as exc:
                failures.append(str(exc))
        for src in srcs if result is None and srcs[0].year is None else ():
            expected = src.rows if user else ds.expected_rows
            unit = "rows" if src.format.startswith("arcgis") or src.format == "nomis" else "bytes"
            step = (lambda done, total, _id=ds_id, _u=unit: transfer(_id, done, total, _u)) if transfer else None
            try:
                result = fetch_one(ds, src, cache_dir=cache_dir, timeout=timeout, expected_rows=expected,
                                   transfer=step)
                break
            except (DataError, SourceUnavailableError) as exc:
                failures.append(str(exc))
        if result is None:
            detail = failures[0] if len(failures) == 1 else " | ".join(
                f"try {i}: {f}" for i, f in enumerate(failures, start=1))
            if force and table is not None and table.exists():
                detail += " (the cached copy was kept)"
            results.append(FetchResult(ds_id, "failed", detail, url=srcs[0].url))
            continue
        if stale:
            result.notes.append(f"the cached table was unreadable ({stale}), so it was downloaded again")
        if failures:
            result.notes.append(f"fell back to {result.url} after: {' | '.join(failures)}")
            result.detail += " (fallback address)"
        if entry.get("sha256") and result.sha256 and entry.get("url") == result.url \
                and entry["sha256"] != result.sha256:
            # fixed files are pinned on first download when the registry has no checksum
            result.notes.append(f"the file at {result.url} changed since it was first fetched "
                                f"({entry.get('fetched_at', '?')}, sha256 {entry['sha256'][:12]}...)")
            result.detail += " (CHANGED since the last download)"
        if not ds.open_data:
            from neighbourhood_lens.data.sources import CNI_CAVEAT

            result.notes.append(CNI_CAVEAT + f"; fetched from {result.url} at the user's request")
        manifest[ds_id] = {
            "url": result.url, "file": _relative(cache_dir, result.path), "table": _relative(cache_dir, result.table),
            "sha256": result.sha256, "bytes": result.path.stat().st_size if result.path else None,
            "rows": result.rows, "format": next(s.format for s in srcs if s.url == result.url),
            "parts": [s.url for s in srcs] if srcs[0].year is not None else None,
            "notes": result.notes, "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _write_manifest(cache_dir, manifest)
        results.append(result)
    return results


def _manual_detail(ds: Dataset, cache_dir: Path) -> str:
    if not ds.open_data:
        return (f"not open data, never downloaded automatically; supply your copy with `nlens data build --file "
                f"{ds.id}=PATH` (OCSI's layout or a public redistribution; see official-sources.md)")
    return f"no direct address; download it from {ds.landing_page} and pass --file {ds.id}=PATH"
