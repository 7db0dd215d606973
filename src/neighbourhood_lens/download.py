"""Download official files into the user cache, verified.

``nlens data fetch`` downloads each dataset that has a direct URL in the registry into
``<cache>/<dataset id>/<file name>``, where ``<cache>`` is the user cache directory
(``platformdirs``) or ``NLENS_CACHE``. A download is accepted only when

* the server answers 200 and sends a non-empty body (partial bodies are detected against
  ``Content-Length``);
* its SHA-256 matches the registry's pinned value, if one is pinned;
* it parses and, after normalisation, has the dataset's required columns.

Accepted files are moved into place atomically and described in ``<cache>/manifest.json``
(URL, SHA-256, size, time). A file already cached with a matching checksum is not fetched
again. Datasets without a direct URL (most ONS lookups, CNI) are reported with the page to
get them from; build those from a mirror or pass them with ``--file ID=PATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from .build import normalise_table, read_source, sha256_file
from .errors import ChecksumError, DataError, SourceUnavailableError
from .sources import DATASETS, get_dataset

__all__ = ["default_cache_dir", "FetchResult", "fetch", "read_manifest"]


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


def read_manifest(cache_dir: Path) -> dict[str, dict[str, object]]:
    """The cache manifest: dataset id -> url, file, sha256, bytes, fetched_at."""
    p = cache_dir / "manifest.json"
    return json.loads(p.read_text()) if p.exists() else {}


def _write_manifest(cache_dir: Path, manifest: Mapping[str, object]) -> None:
    tmp = cache_dir / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, cache_dir / "manifest.json")


def _download(url: str, dest: Path, *, timeout: float) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": "neighbourhood-lens"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as out:
            expected = resp.headers.get("Content-Length")
            shutil.copyfileobj(resp, out, length=1 << 20)
    except urllib.error.HTTPError as exc:
        raise SourceUnavailableError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceUnavailableError(f"{url}: cannot connect ({reason})") from None
    size = dest.stat().st_size
    if size == 0:
        raise DataError(f"{url}: the server sent an empty file")
    if expected is not None and int(expected) != size:
        raise DataError(f"{url}: download incomplete ({size} of {expected} bytes)")


def fetch(
    dataset_ids: Iterable[str] | None = None,
    *,
    cache_dir: Path | None = None,
    urls: Mapping[str, str] | None = None,
    checksums: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[FetchResult]:
    """Download datasets into the cache; never raises for one dataset's failure.

    ``urls`` and ``checksums`` override the registry per dataset id (for mirrors of the
    official site, and for tests against a local server).
    """
    cache_dir = cache_dir or default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    ids = list(dataset_ids) if dataset_ids else list(DATASETS)
    urls = dict(urls or {})
    checksums = dict(checksums or {})
    manifest = read_manifest(cache_dir)
    results: list[FetchResult] = []
    for n, ds_id in enumerate(ids, start=1):
        ds = get_dataset(ds_id)
        if progress:
            progress(ds_id, n, len(ids))
        url = urls.get(ds_id, ds.url)
        pinned = checksums.get(ds_id, ds.sha256)
        if url is None:
            how = "you must supply your own copy" if not ds.open_data else "download by hand"
            results.append(FetchResult(ds_id, "manual", f"no direct URL; {how} from {ds.landing_page}"))
            continue
        name = unquote(Path(urlparse(url).path).name) or f"{ds_id}.csv"
        target = cache_dir / ds_id / name
        entry = manifest.get(ds_id, {})
        if target.exists() and not force:
            digest = sha256_file(target)
            if digest == entry.get("sha256") and (pinned is None or digest == pinned):
                results.append(FetchResult(ds_id, "cached", "already in cache", target, digest))
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=target.suffix)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _download(url, tmp, timeout=timeout)
            digest = sha256_file(tmp)
            if pinned and digest != pinned:
                raise ChecksumError(f"{url}: SHA-256 {digest} does not match the pinned {pinned}")
            normalise_table(read_source(tmp, ds), ds, source=url)
        except (DataError, SourceUnavailableError) as exc:
            tmp.unlink(missing_ok=True)
            results.append(FetchResult(ds_id, "failed", str(exc)))
            continue
        for old in target.parent.iterdir():
            if old != tmp:
                old.unlink()
        os.replace(tmp, target)
        manifest[ds_id] = {
            "url": url, "file": str(target), "sha256": digest, "bytes": target.stat().st_size,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _write_manifest(cache_dir, manifest)
        results.append(FetchResult(ds_id, "downloaded", f"{target.stat().st_size:,} bytes", target, digest))
    return results
