"""Download official files into the user cache, verified, and read them in the publisher's layout.

``nlens data fetch`` (and ``nlens data build`` without a mirror) fetches each dataset from
the addresses in the source registry (:mod:`.sources`), best first, falling back to the next
address when one fails (moved, 404, corrupt). Downloads go through `pooch
<https://www.fatiando.org/pooch/>`_: cached by file name (a second run does not fetch again),
checked against a pinned SHA-256 where the file is fixed, with a progress bar and a
descriptive User-Agent (some government hosts refuse library defaults). ONS lookups and
boundaries are ArcGIS FeatureServer layers, read page by page (:mod:`._arcgis`).

The cache (``NLENS_CACHE`` or the user cache directory) holds, per dataset id::

    <cache>/<id>/<file as published>      the download (for ArcGIS layers: none)
    <cache>/<id>/<id>.nlens.parquet       the table read from it, as the build loads it
    <cache>/manifest.json                 url, sha256, bytes, rows, format, time per dataset

A download is accepted only when it parses in the publisher's layout (ZIP member, sheet,
header row) and, after normalisation, has the dataset's required columns; generated files
(ArcGIS layers, hub downloads) are checked against the registry's expected row count.

**Sources files.** A TOML file (``--sources FILE`` or ``NLENS_SOURCES``) replaces any
address, keyed by dataset id with the registry's own keys, so an organisation can point at
its internal mirror or a test at a loopback server::

    [imd2019_lsoa11]
    url = "https://mirror.example.org/iod/File_7_2019.csv"
    sha256 = "..."            # optional
    format = "csv"            # optional: csv, xlsx, xls, ods, zip, arcgis, arcgis-geojson, parquet
    member = "..."            # optional, for zip; also sheet, skip, usecols, where, dedupe, rows

``nlens data sources --out FILE.toml`` writes the registry in this format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa

from neighbourhood_lens import __version__
from neighbourhood_lens.data.http import connection_reason
from neighbourhood_lens.data.sources import DATASETS, Dataset, Source, get_dataset
from neighbourhood_lens.errors import ChecksumError, DataError, SourceUnavailableError, examples

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
]

USER_AGENT = (
    f"neighbourhood-lens/{__version__} (open-source research tool; python-requests via pooch; "
    "+https://pypi.org/project/neighbourhood-lens/)"
)
TABLE_SUFFIX = ".nlens.parquet"
_SOURCE_KEYS = {f.name for f in fields(Source)}


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


# ----------------------------------------------------------------------------- sources files
def load_sources_file(path: str | os.PathLike[str] | None = None) -> dict[str, tuple[Source, ...]]:
    """Read a user's sources file (``path`` or ``$NLENS_SOURCES``): dataset id -> sources.

    Each table needs ``url``; ``fallbacks = [urls]`` adds further addresses read the same way;
    ``rows`` sets the expected row count (unchecked when absent). Unknown ids and keys are errors naming them.
    """
    path = path or os.environ.get("NLENS_SOURCES")
    if not path:
        return {}
    from neighbourhood_lens._toml import read_toml

    p = Path(path).expanduser()
    doc = read_toml(p, what="sources file", hint=" (given with --sources or NLENS_SOURCES)")
    out: dict[str, tuple[Source, ...]] = {}
    for ds_id, entry in doc.items():
        if ds_id not in DATASETS:
            raise DataError(f"sources file {p}: unknown dataset id [{ds_id}]; known ids: {examples(list(DATASETS))}")
        if not isinstance(entry, dict) or "url" not in entry:
            raise DataError(f"sources file {p}: [{ds_id}] needs a url = \"...\" line")
        extra = set(entry) - _SOURCE_KEYS - {"fallbacks"}
        if extra:
            raise DataError(
                f"sources file {p}: [{ds_id}] has unknown key(s) {', '.join(sorted(extra))}; allowed: "
                f"{', '.join(sorted(_SOURCE_KEYS | {'fallbacks'}))}"
            )
        kw = {k: v for k, v in entry.items() if k in _SOURCE_KEYS}
        if "format" not in kw:
            kw["format"] = _guess_format(kw["url"], DATASETS[ds_id])
        try:
            first = Source(**kw)
        except (TypeError, ValueError) as exc:
            raise DataError(f"sources file {p}: [{ds_id}]: {exc}") from None
        rest = tuple(replace(first, url=u, sha256=None) for u in entry.get("fallbacks", []))
        out[ds_id] = (first, *rest)
    return out


def _guess_format(url: str, ds: Dataset) -> str:
    suffix = Path(urlparse(url).path).suffix.lower().lstrip(".")
    if suffix in ("csv", "xlsx", "xls", "ods", "zip", "parquet"):
        return suffix
    if "/FeatureServer/" in url:
        return "arcgis-geojson" if ds.geometry else "arcgis"
    return ds.sources[0].format if ds.sources else "csv"


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def write_sources_file(path: str | os.PathLike[str]) -> Path:
    """Write the registry's addresses as a sources file (``.toml``) or a table (``.csv``).

    The TOML has one table per dataset with a direct address, in the keys
    :func:`load_sources_file` reads; datasets without one are listed as comments with the reason.
    """
    from neighbourhood_lens.data.sources import registry_frame

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() == ".csv":
        registry_frame().to_csv(p, index=False)
        return p
    if p.suffix.lower() != ".toml":
        raise DataError(f"--out {p}: use .toml (a sources file) or .csv")
    default = Source("x")
    lines = ["# neighbourhood-lens sources file: dataset id -> address (nlens data fetch --sources FILE).",
             "# Edit a url to point at your own mirror; keys as in the registry.", ""]
    for ds in DATASETS.values():
        if not ds.sources:
            lines += [f"# [{ds.id}] no direct address: {ds.no_url_reason or 'see ' + ds.landing_page}", ""]
            continue
        first = ds.sources[0]
        lines.append(f"[{ds.id}]")
        for f in fields(Source):
            v = getattr(first, f.name)
            if f.name == "url" or v != getattr(default, f.name) or f.name == "format":
                lines.append(f"{f.name} = {_toml_value(v)}")
        if len(ds.sources) > 1:
            lines.append(f"fallbacks = {_toml_value([s.url for s in ds.sources[1:]])}")
        if ds.expected_rows:
            lines.append(f"rows = {ds.expected_rows}")  # checked for a user's address only when given
        lines.append("")
    p.write_text("\n".join(lines), encoding="utf-8")
    return p


def dataset_sources(
    ds: Dataset, overrides: Mapping[str, tuple[Source, ...]] | None = None,
) -> tuple[tuple[Source, ...], bool]:
    """The sources to try for ``ds`` and whether they came from the user (not the registry)."""
    if overrides and ds.id in overrides:
        return overrides[ds.id], True
    return ds.sources, False


# ----------------------------------------------------------------------------- manifest
def read_manifest(cache_dir: Path) -> dict[str, dict[str, Any]]:
    """The cache manifest: dataset id -> url, file, table, sha256, bytes, rows, fetched_at."""
    p = cache_dir / "manifest.json"
    return json.loads(p.read_text()) if p.exists() else {}


def _write_manifest(cache_dir: Path, manifest: Mapping[str, object]) -> None:
    tmp = cache_dir / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, cache_dir / "manifest.json")


def cached_table(cache_dir: Path | None, dataset_id: str) -> tuple[Path, dict[str, Any]] | None:
    """The cached table of ``dataset_id`` and its manifest entry, if ``nlens data fetch`` made one."""
    if cache_dir is None:
        return None
    entry = read_manifest(cache_dir).get(dataset_id)
    if entry and entry.get("table") and Path(entry["table"]).exists():
        return Path(entry["table"]), entry
    return None


# ----------------------------------------------------------------------------- downloading
def _session() -> Any:
    import requests

    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    return s


def _file_name(src: Source, ds_id: str) -> str:
    name = unquote(Path(urlparse(src.url).path).name)
    ext = "." + src.format
    return name if name.lower().endswith(ext) else f"{ds_id}{ext}"


def _download(src: Source, dest_dir: Path, ds_id: str, *, timeout: float, progressbar: bool) -> Path:
    """Download one file with pooch (verified against ``src.sha256`` when pinned)."""
    import pooch
    import requests

    pooch.get_logger().setLevel("WARNING")
    name = _file_name(src, ds_id)
    downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout, headers={"User-Agent": USER_AGENT})
    known = f"sha256:{src.sha256}" if src.sha256 else None
    try:
        out = Path(pooch.retrieve(src.url, known_hash=known, fname=name, path=dest_dir, downloader=downloader))
    except requests.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        reason = exc.response.reason if exc.response is not None else ""
        raise SourceUnavailableError(f"{src.url}: HTTP {code} {reason}") from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
        raise DataError(f"{src.url}: download incomplete (the connection ended early: {exc})") from None
    except requests.RequestException as exc:
        raise SourceUnavailableError(connection_reason(src.url, exc)) from None
    except ValueError as exc:
        if "hash" in str(exc).lower():
            raise ChecksumError(f"{src.url}: SHA-256 does not match the pinned {src.sha256} ({exc})") from None
        raise
    if out.stat().st_size == 0:
        out.unlink()
        raise DataError(f"{src.url}: the server sent an empty file")
    return out


def _read_arcgis(src: Source, ds: Dataset, *, timeout: float) -> pa.Table:
    from neighbourhood_lens.data.arcgis import read_layer

    frame = read_layer(src.url, session=_session(), where=src.where, out_fields=src.out_fields,
                       geojson=src.format == "arcgis-geojson", timeout=timeout)
    if src.dedupe:
        from neighbourhood_lens.data.normalise import normalise_headers

        mapping = normalise_headers(ds.id, list(frame.columns))
        keys = [c for c, canon in mapping.items() if canon in ds.key]
        frame = frame.drop_duplicates(subset=keys or None)
    if "geometry" in frame.columns:
        import geopandas as gpd

        frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=4326).to_wkb()
    return pa.Table.from_pandas(frame, preserve_index=False)


def _sha256(path: Path) -> str:
    from neighbourhood_lens.data.validate import sha256_file

    return sha256_file(path)


def fetch_one(
    ds: Dataset,
    src: Source,
    *,
    cache_dir: Path,
    timeout: float,
    expected_rows: int | None,
    progressbar: bool = False,
) -> FetchResult:
    """Fetch ``ds`` from one source, read it in the publisher's layout, check it, cache the table."""
    from neighbourhood_lens.data.publisher_files import read_publisher_file
    from neighbourhood_lens.data.validate import normalise_table

    target_dir = cache_dir / ds.id
    target_dir.mkdir(parents=True, exist_ok=True)
    raw: Path | None = None
    if src.format.startswith("arcgis"):
        table = _read_arcgis(src, ds, timeout=timeout)
        digest = None
    else:
        raw = _download(src, target_dir, ds.id, timeout=timeout, progressbar=progressbar)
        digest = _sha256(raw)
        try:
            table = read_publisher_file(raw, src, ds)
        except DataError:
            raw.unlink(missing_ok=True)  # a corrupt file must not be taken from the cache next time
            raise
    if expected_rows is not None and table.num_rows != expected_rows:
        if raw is not None:
            raw.unlink(missing_ok=True)
        raise DataError(
            f"{src.url}: {table.num_rows:,} rows, but {ds.id} has {expected_rows:,} (registry); the file is "
            "incomplete or a different edition. Check the address, or set rows = N in your sources file"
        )
    normalised = normalise_table(table, ds, source=src.url)  # raises on any schema problem
    import pyarrow.parquet as pq

    out = target_dir / f"{ds.id}{TABLE_SUFFIX}"
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, out)
    notes = [n.decode() for k, n in (normalised.schema.metadata or {}).items() if k.startswith(b"nlens_note")]
    return FetchResult(ds.id, "downloaded", f"{table.num_rows:,} rows from {src.url}", raw, digest, out, src.url,
                       table.num_rows, notes)


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
    progressbar: bool = False,
) -> list[FetchResult]:
    """Download datasets into the cache; never raises for one dataset's failure.

    ``sources`` (from :func:`load_sources_file`) replaces a dataset's addresses; ``urls`` and
    ``checksums`` override just the first address and its checksum (``--url ID=URL``). CNI is
    only fetched when the user gives its address this way. Each registry address is tried in
    turn; the result's ``detail`` names every failure.
    """
    cache_dir = cache_dir or default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    ids = list(dataset_ids) if dataset_ids else list(DATASETS)
    overrides: dict[str, tuple[Source, ...]] = dict(sources or {})
    for ds_id, url in (urls or {}).items():
        ds = get_dataset(ds_id)
        base = ds.sources[0] if ds.sources else Source(url, _guess_format(url, ds))
        overrides[ds_id] = (replace(base, url=url, sha256=None, format=_guess_format(url, ds)),)
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
            results.append(FetchResult(ds_id, "manual", _manual_detail(ds, cache_dir)))
            continue
        entry = manifest.get(ds_id, {})
        if not force and entry.get("url") in {s.url for s in srcs} and Path(entry.get("table", "")).exists():
            results.append(FetchResult(ds_id, "cached", "already in cache", Path(entry["file"]) if entry.get("file")
                                       else None, entry.get("sha256"), Path(entry["table"]), entry["url"]))
            continue
        if force:
            for old in (cache_dir / ds_id).glob("*") if (cache_dir / ds_id).is_dir() else []:
                old.unlink()
        failures: list[str] = []
        result = None
        for src in srcs:
            expected = src.rows if user else ds.expected_rows
            try:
                result = fetch_one(ds, src, cache_dir=cache_dir, timeout=timeout, expected_rows=expected,
                                   progressbar=progressbar)
                break
            except (DataError, SourceUnavailableError) as exc:
                failures.append(str(exc))
        if result is None:
            detail = failures[0] if len(failures) == 1 else " | ".join(
                f"try {i}: {f}" for i, f in enumerate(failures, start=1))
            results.append(FetchResult(ds_id, "failed", detail))
            continue
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
            "url": result.url, "file": str(result.path) if result.path else None, "table": str(result.table),
            "sha256": result.sha256, "bytes": result.path.stat().st_size if result.path else None,
            "rows": result.rows, "format": next(s.format for s in srcs if s.url == result.url),
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
