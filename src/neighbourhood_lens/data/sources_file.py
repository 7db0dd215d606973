"""Sources files: a user's own addresses for any dataset, in TOML, read and written.

**Sources files.** A TOML file (``--sources FILE`` or ``NLENS_SOURCES``) replaces any
address, keyed by dataset id with the registry's own keys, so an organisation can point at
its internal mirror or a test at a loopback server::

    [imd2019_lsoa11]
    url = "https://mirror.example.org/iod/File_7_2019.csv"
    sha256 = "..."            # optional
    format = "csv"            # optional: csv, xlsx, xls, ods, zip, arcgis, arcgis-geojson, parquet, nomis,
                              # statxplore (a DWP Stat-Xplore CSV export), geojson
    member = "..."            # optional, for zip; also sheet, skip, usecols, where, dedupe, rows
    fallbacks = ["https://...", {url = "https://.../FeatureServer/0", format = "arcgis"}]

A fallback given as a URL is read in its own format (guessed from the URL); a table sets its
keys. A dataset published as one file per data year (DESNZ fuel poverty) lists ``parts``
instead of ``url``; keys beside ``parts`` apply to every part::

    [fuel_poverty_lsoa]
    sheet = "Table 3"
    skip = 2
    parts = [{url = "https://.../sub-regional-fuel-poverty-2024-2022-data.xlsx", year = 2022},
             {url = "https://.../2011_fuel_poverty.xlsx", year = 2011, sheet = "LSOA"}]

Datasets with no fixed file address take the user's own file the same way: a DWP Stat-Xplore CSV
export (areas by name; :mod:`.statxplore`) or the ONS WD21 ward boundaries as GeoJSON (a file on disk
is given with ``nlens data build --file ID=PATH`` instead)::

    [uc_households_msoa11]
    url = "https://intranet.example.org/dwp/households_on_UC_msoa.csv"   # format = "statxplore" (guessed)
    [boundaries_ward21]
    url = "https://open-geography-portalx-ons.hub.arcgis.com/api/download/v1/items/<ITEM_ID>/geojson?layers=0"

``nlens data sources --out FILE.toml`` writes the registry in this format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from neighbourhood_lens.data.sources import DATASETS, Dataset, Source
from neighbourhood_lens.errors import DataError, examples

__all__ = ["load_sources_file", "write_sources_file", "dataset_sources", "guess_format"]

_SOURCE_KEYS = {f.name for f in fields(Source)}


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
        if isinstance(entry, dict) and "parts" in entry and "url" not in entry:
            out[ds_id] = _parts(entry, where=f"sources file {p}: [{ds_id}]")
            continue
        if not isinstance(entry, dict) or "url" not in entry:
            raise DataError(f"sources file {p}: [{ds_id}] needs a url = \"...\" line (or parts = [...])")
        extra = set(entry) - _SOURCE_KEYS - {"fallbacks"}
        if extra:
            raise DataError(
                f"sources file {p}: [{ds_id}] has unknown key(s) {', '.join(sorted(extra))}; allowed: "
                f"{', '.join(sorted(_SOURCE_KEYS | {'fallbacks'}))}"
            )
        kw = {k: v for k, v in entry.items() if k in _SOURCE_KEYS}
        if "format" not in kw:
            kw["format"] = guess_format(kw["url"], DATASETS[ds_id])
        try:
            first = Source(**kw)
        except (TypeError, ValueError) as exc:
            raise DataError(f"sources file {p}: [{ds_id}]: {exc}") from None
        rest = tuple(_fallback(first, fb, DATASETS[ds_id], where=f"sources file {p}: [{ds_id}] fallbacks")
                     for fb in entry.get("fallbacks", []))
        out[ds_id] = (first, *rest)
    return out


def _parts(entry: dict[str, Any], *, where: str) -> tuple[Source, ...]:
    """A dataset published as one file per data year: ``parts = [{url = ..., year = 2019}, ...]``;
    keys beside ``parts`` (format, sheet, skip, ...) apply to every part unless a part sets its own."""
    common = {k: v for k, v in entry.items() if k != "parts"}
    extra = set(common) - _SOURCE_KEYS
    parts = entry["parts"]
    if extra or not isinstance(parts, list) or not parts:
        raise DataError(f"{where}: parts must be a list of tables {{url = \"...\", year = YYYY}}"
                        + (f"; unknown key(s) {', '.join(sorted(extra))}" if extra else ""))
    out = []
    for n, part in enumerate(parts, start=1):
        if not isinstance(part, dict) or "url" not in part or not isinstance(part.get("year"), int):
            raise DataError(f"{where}: part {n} needs url = \"...\" and year = YYYY (got {part!r})")
        bad = set(part) - _SOURCE_KEYS
        if bad:
            raise DataError(f"{where}: part {n} has unknown key(s) {', '.join(sorted(bad))}")
        try:
            out.append(Source(**{"format": "xlsx", **common, **part}))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}: part {n}: {exc}") from None
    years = [s.year for s in out]
    if len(set(years)) != len(years):
        raise DataError(f"{where}: data year(s) {sorted({y for y in years if years.count(y) > 1})} appear twice")
    return tuple(out)


def _fallback(first: Source, fb: object, ds: Dataset, *, where: str) -> Source:
    """One fallback address: a URL (read in its own format, guessed from the URL; the first
    address's sheet, member and so on carry over only when the format is the same) or a table
    with the same keys as the first address."""
    if isinstance(fb, str):
        fmt = guess_format(fb, ds)
        if fmt == first.format:
            return replace(first, url=fb, sha256=None, rows=first.rows)
        return Source(fb, fmt, rows=first.rows, where=first.where)
    if isinstance(fb, dict) and "url" in fb:
        extra = set(fb) - _SOURCE_KEYS
        if extra:
            raise DataError(f"{where}: unknown key(s) {', '.join(sorted(extra))}; "
                            f"allowed: {', '.join(sorted(_SOURCE_KEYS))}")
        kw = {"format": guess_format(fb["url"], ds), "rows": first.rows, **fb}
        try:
            return Source(**kw)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}: {exc}") from None
    raise DataError(f"{where}: each fallback is a URL string or a table {{url = \"...\", format = \"...\"}}, "
                    f"not {fb!r}")


def guess_format(url: str, ds: Dataset) -> str:
    """The format of ``url`` for ``ds``: from its suffix (a CSV of a DWP series is a Stat-Xplore export;
    ``.geojson``, ``.json`` and the ONS hub's ``.../geojson`` are GeoJSON), a FeatureServer layer, or the
    registry's first format."""
    from neighbourhood_lens.data.statxplore import STATXPLORE_DATASETS

    path = urlparse(url).path
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix == "csv" and ds.id in STATXPLORE_DATASETS:
        return "statxplore"
    if suffix in ("geojson", "json") or path.rstrip("/").endswith("/geojson"):
        return "geojson"
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
            lines.append(f"fallbacks = {_fallbacks_toml(first, ds)}")
        if ds.expected_rows:
            lines.append(f"rows = {ds.expected_rows}")  # checked for a user's address only when given
        lines.append("")
    p.write_text("\n".join(lines), encoding="utf-8")
    return p


def _fallbacks_toml(first: Source, ds: Dataset) -> str:
    """Fallbacks as URLs when each reads like the first address, else as inline tables."""
    rest = ds.sources[1:]
    if all(_fallback(first, s.url, ds, where="") == replace(s, sha256=None) for s in rest):
        return _toml_value([s.url for s in rest])
    default = Source("x")
    tables = []
    for s in rest:
        keys = [f.name for f in fields(Source) if f.name in ("url", "format") or getattr(s, f.name) !=
                getattr(default, f.name)]
        tables.append("{" + ", ".join(f"{k} = {_toml_value(getattr(s, k))}" for k in keys) + "}")
    return "[" + ", ".join(tables) + "]"


def dataset_sources(
    ds: Dataset, overrides: Mapping[str, tuple[Source, ...]] | None = None,
) -> tuple[tuple[Source, ...], bool]:
    """The sources to try for ``ds`` and whether they came from the user (not the registry)."""
    if overrides and ds.id in overrides:
        return overrides[ds.id], True
    return ds.sources, False
