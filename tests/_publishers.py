"""The publishers' files, rebuilt from the mirror in each publisher's own layout, served on loopback.

:func:`serve_publishers` registers, on a :class:`_loopback.Loopback` server, every official
path in the source registry (``neighbourhood_lens.data.sources``), answering with the mirror's
data (``../shared/data``) written the way the publisher ships it:

* MHCLG: File 7 CSVs with the long official headers (IoD2025 File 7 with its sub-domains in
  columns 35-52), File 8 and File 4 workbooks with a Notes sheet and one sheet per domain, the
  2010 CSV with ranks only, and the National Archives' 2004/2007 ZIPs holding an XLS each;
  the IoD2019 File 7 and File 4 first addresses answer 301 to the equivalent asset path, as
  asset-manager does for replaced assets;
* ONS: the SAPE population workbooks (four title rows; one inside a ZIP), FeatureServer
  layers paged with ``exceededTransferLimit`` (object-id fields ``FID``/``ObjectId``/
  ``OBJECTID``, ``returnCountOnly``, layer metadata; the OA-level layer capped at 1,000 rows
  a page although it advertises 2,000, and read for its LSOA columns), GeoJSON boundaries, a
  hub CSV with ``ObjectId`` and a hub item that answers 404 (so the FeatureServer fallback is used);
* Nomis: bulk ZIPs with the ``date, geography, geography code, <Topic>: <category>; measures:
  Value`` headers and the other geography levels beside the LSOA member;
* Defra: the rural-urban ODS with two title rows.

Only the mirror's columns are written (under the publisher's headers), plus the columns every
real file has that the mirror dropped (Nomis ``date``/``geography``, File 7's area names and
its supplementary indices, which the fixture leaves empty): :data:`EXTRA_COLUMNS` lists them.
The IoD 2004-2010 files publish no deciles, so none are written: the build derives them.

Workbooks are written by ``tests/_workbooks.py`` (XLSX and ODS directly as XML, so the national
tables take seconds, not minutes; XLS through ``xlwt``). Nothing is written into the repository: files go to a
temporary directory or stay in memory.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
from _exports import statxplore_export, ward21_geojson
from _loopback import Loopback, zip_bytes
from _workbooks import ods_bytes, xls_bytes, xlsx_bytes

from neighbourhood_lens.data.sources import DATASETS

__all__ = ["serve_publishers", "serve_landing_page_files", "serve_nomis_api", "LANDING_PAGE_FILES", "rewrite_sources",
           "xlsx_bytes", "ods_bytes", "xls_bytes", "write_cni_files",
           "EXTRA_COLUMNS", "OFFICIAL_HOSTS"]

OFFICIAL_HOSTS = ("https://assets.publishing.service.gov.uk", "https://webarchive.nationalarchives.gov.uk",
                  "https://www.ons.gov.uk", "https://www.nomisweb.co.uk", "https://services1.arcgis.com",
                  "https://open-geography-portalx-ons.hub.arcgis.com")

#: Columns of the official layout that the mirror does not carry (table -> columns).
EXTRA_COLUMNS: dict[str, set[str]] = {
    # File 7 2025 also holds the sub-domains (read into imd2025_lsoa21_subdomains from the same file)
    "imd2025_lsoa21": {"lsoa21_name", "lad24_code", "lad24_name"} | {
        f"{d}_{m}" for d in ("idaci", "idaopi", "children_and_young_people", "adult_skills", "geographical_barriers",
                             "wider_barriers", "indoors", "outdoors") for m in ("score", "rank", "decile")},
    "census2011_household_deprivation_lsoa11": {"lsoa11_name"},
    **{ds: {"date", "lsoa21_name"} for ds in ("census2021_population_lsoa21", "census2021_household_deprivation_lsoa21",
                                               "census2021_disability_lsoa21", "census2021_overcrowding_lsoa21",
                                               "census2021_tenure_lsoa21")},
}


# ----------------------------------------------------------------------------- publisher headers
_IOD_NAMES = {"imd": "Index of Multiple Deprivation (IMD)", "income": "Income", "employment": "Employment",
              "education": "Education, Skills and Training", "health": "Health Deprivation and Disability",
              "crime": "Crime", "housing_and_access": "Barriers to Housing and Services",
              "housing_and_services": "Barriers to Housing and Services", "environment": "Living Environment",
              "children_and_young_people": "Children and Young People Sub-domain",
              "adult_skills": "Adult Skills Sub-domain", "geographical_barriers": "Geographical Barriers Sub-domain",
              "wider_barriers": "Wider Barriers Sub-domain", "indoors": "Indoors Sub-domain",
              "outdoors": "Outdoors Sub-domain", "idaci": "Income Deprivation Affecting Children Index (IDACI)",
              "idaopi": "Income Deprivation Affecting Older People Index (IDAOPI)"}
_GEO = {"lsoa": "LSOA", "lad": "Local Authority District"}


def _iod_header(col: str) -> str:
    """``IMD_rank`` -> ``Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)``."""
    m = re.fullmatch(r"(lsoa|lad)(\d\d)_(code|name)", col)
    if m:
        return f"{_GEO[m.group(1)]} {m.group(3)} (20{m.group(2)})"
    domain, measure = col.lower().rsplit("_", 1)
    name = _IOD_NAMES[domain]
    if measure == "score":
        return f"{name} Score" + (" (rate)" if domain in ("income", "employment", "idaci", "idaopi") else "")
    if measure == "rank":
        return f"{name} Rank (where 1 is most deprived)"
    return f"{name} Decile (where 1 is most deprived 10% of LSOAs)"


def _archive_header(col: str) -> str:
    """The 2004-2010 files' capitals: ``IMD SCORE``, ``RANK OF INCOME SCORE (where 1 is most deprived)``."""
    words = {"imd": "IMD", "income": "INCOME", "employment": "EMPLOYMENT", "health": "HEALTH DEPRIVATION AND "
             "DISABILITY", "education": "EDUCATION SKILLS AND TRAINING", "housing_and_access": "BARRIERS TO HOUSING "
             "AND SERVICES", "crime": "CRIME AND DISORDER", "environment": "LIVING ENVIRONMENT"}
    domain, measure = col.lower().rsplit("_", 1)
    if measure == "score":
        return f"{words[domain]} SCORE"
    return f"RANK OF {words[domain]} SCORE (where 1 is most deprived)"


def _indicator_header(col: str) -> str:
    """An indicator's snake_case mirror name back to a File 8 header (that normalises to it)."""
    h = col.replace("_idaci_", "_(IDACI)_").replace("_idaopi_", "_(IDAOPI)_")
    h = re.sub(r"_km$", "_(km)", h)
    h = re.sub(r"_rate_per_1000_(.*)$", r"_(rate per 1000 \1)", h)
    h = h.replace("_", " ")
    return h[0].upper() + h[1:]


def _ons_field(col: str) -> str:
    """``lsoa11_code`` -> ``LSOA11CD``, ``region19_name`` -> ``RGN19NM``, ``ward17_code`` -> ``WD17CD``."""
    m = re.fullmatch(r"(lsoa|msoa|ward|lad|region)(\d\d)_(code|name)", col)
    if not m:
        return {"change_code": "CHGIND", "ruc21_code": "RUC21CD", "classification": "RUC21NM",
                "ruc": "Urban_rural_flag"}.get(col, col)
    geo = {"ward": "WD", "region": "RGN"}.get(m.group(1), m.group(1).upper())
    return f"{geo}{m.group(2)}{'CD' if m.group(3) == 'code' else 'NM'}"


def _nomis(frame: pd.DataFrame, topic: str, *, total: str, rename: dict[str, str] | None = None) -> pd.DataFrame:
    """Nomis bulk layout: ``date, geography, geography code, <topic>: <category>; measures: Value``."""
    out = pd.DataFrame({"date": 2021, "geography": frame["lsoa_name"], "geography code": frame["lsoa21_code"]})
    for c in frame.columns:
        if c in ("lsoa21_code", "lsoa_name"):
            continue
        label = "Total: All " + total if c.startswith("total_") else (rename or {}).get(c, c)
        out[f"{topic}: {label}; measures: Value"] = frame[c]
    return out


# ----------------------------------------------------------------------------- the fixtures
def _csv(frame: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    buf = io.BytesIO()
    pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), buf)
    return buf.getvalue()


def _mirror(mirror: Path, ds: str) -> pd.DataFrame:
    return pd.read_parquet(mirror / f"{ds}.parquet")


def _path(url: str) -> str:
    p = urlparse(url)
    return p.path + (f"?{p.query}" if p.query else "")


class _Builder:
    """Writes each dataset's official file(s) from the mirror and registers the routes."""

    def __init__(self, server: Loopback, mirror: Path) -> None:
        self.server, self.mirror = server, mirror
        names = _mirror(mirror, "lookup_lsoa21_ward24_lad24")
        self.lsoa21 = names.set_index("lsoa21_code")

    def url(self, ds: str, n: int = 0) -> str:
        return _path(DATASETS[ds].sources[n].url)

    def file(self, ds: str, body: bytes, n: int = 0) -> None:
        self.server.file(self.url(ds, n), body)

    def redirect(self, ds: str, frm: int, to: int, body: bytes) -> None:
        self.server.file(self.url(ds, to), body)
        self.server.moved(self.url(ds, frm), self.server.url + self.url(ds, to))

    # -- MHCLG ------------------------------------------------------------------------
    def iod_file7(self, ds: str, *, redirect: bool = False) -> None:
        frame = _mirror(self.mirror, ds)
        order = [c for c in frame.columns if re.match(r"(lsoa|lad)\d\d_", c)]
        for domain in dict.fromkeys(c.rsplit("_", 1)[0] for c in frame.columns if c not in order):
            order += [f"{domain}_{m}" for m in ("score", "rank", "decile") if f"{domain}_{m}" in frame.columns]
        body = _csv(frame[order].rename(columns=_iod_header))
        if redirect:
            self.redirect(ds, 0, 1, body)
        else:
            self.file(ds, body)

    def iod2025_file7(self) -> None:
        """File 7 2025 in the official column order: sub-domains at 35-52 (the registry reads them there)."""
        imd = _mirror(self.mirror, "imd2025_lsoa21").set_index("lsoa21_code")
        sub = _mirror(self.mirror, "imd2025_lsoa21_subdomains").set_index("lsoa21_code")
        out = pd.DataFrame(index=imd.index)
        out["lsoa21_name"] = self.lsoa21["lsoa21_name"].reindex(imd.index)
        out["lad24_code"] = self.lsoa21["lad24_code"].reindex(imd.index)
        out["lad24_name"] = self.lsoa21["lad24_name"].reindex(imd.index)
        for d in ("IMD", "Income", "Employment", "Education", "Health", "Crime", "Housing_and_Services",
                  "Environment"):
            for m in ("score", "rank", "decile"):
                out[f"{d}_{m}"] = imd[f"{d}_{m}"]
        for d in ("idaci", "idaopi"):
            for m in ("score", "rank", "decile"):
                out[f"{d}_{m}"] = np.nan  # in the real file; not in the mirror
        for c in sub.columns:
            out[c] = sub[c]
        frame = out.reset_index()
        assert list(frame.columns).index("children_and_young_people_score") == 34
        body = _csv(frame.rename(columns=lambda c: "LSOA code (2021)" if c == "lsoa21_code" else
                                 "LSOA name (2021)" if c == "lsoa21_name" else _iod_header(c)))
        self.file("imd2025_lsoa21", body)  # the registry's newer asset id; the subdomains read the same file
        self.server.moved(self.url("imd2025_lsoa21", 1), self.server.url + self.url("imd2025_lsoa21", 0))

    def iod_workbook(self, ds: str, sheets: dict[str, list[str]], key: str, edition: str,
                     header: Callable[[str], str]) -> bytes:
        frame = _mirror(self.mirror, ds)
        book = {"Notes": (pd.DataFrame({f"English Indices of Deprivation {edition}": [
            "Test copy rebuilt from the neighbourhood-lens mirror (loopback fixture)"]}), ())}
        code = f"LSOA code (20{key[4:6]})"
        for name, cols in sheets.items():
            book[name] = (frame[[key, *cols]].rename(columns=lambda c: code if c == key else header(c)), ())
        return xlsx_bytes(book)

    def file8_2019(self) -> None:
        cols = list(_mirror(self.mirror, "imd2019_lsoa11_indicators").columns[1:])
        groups = {"IoD2019 Income Domain": cols[0:3], "IoD2019 Employment Domain": cols[3:4],
                  "IoD2019 Education Domain": cols[4:7], "IoD2019 Health Domain": cols[7:11],
                  "IoD2019 Barriers Domain": cols[11:20], "IoD2019 Living Env Domain": cols[20:]}
        self.file("imd2019_lsoa11_indicators",
                  self.iod_workbook("imd2019_lsoa11_indicators", groups, "lsoa11_code", "2019", _indicator_header))

    def file8_2025(self) -> None:
        cols = list(_mirror(self.mirror, "imd2025_lsoa21_indicators").columns[1:])
        groups = {"IoD25 Income Domain": cols[0:3], "IoD25 Employment Domain": cols[3:4],
                  "IoD25 Education Domain": cols[4:6], "IoD25 Health Domain": cols[6:10],
                  "IoD25 Crime Domain": cols[10:18], "IoD25 Barriers Domain": cols[18:]}
        self.file("imd2025_lsoa21_indicators",
                  self.iod_workbook("imd2025_lsoa21_indicators", groups, "lsoa21_code", "2025", _indicator_header))

    def file4_2019(self) -> None:
        cols = list(_mirror(self.mirror, "imd2019_lsoa11_subdomains").columns[1:])
        order = [c for d in dict.fromkeys(c.rsplit("_", 1)[0] for c in cols) for c in (f"{d}_rank", f"{d}_decile")]
        body = self.iod_workbook("imd2019_lsoa11_subdomains", {"IoD2019 Sub-domains": order}, "lsoa11_code", "2019",
                                 _iod_header)
        self.redirect("imd2019_lsoa11_subdomains", 0, 1, body)

    def iod2010(self) -> None:
        frame = _mirror(self.mirror, "imd2010_lsoa01")
        frame = frame[[c for c in frame.columns if not c.endswith("_decile")]]  # the file gives ranks only
        self.file("imd2010_lsoa01", _csv(frame.rename(columns=lambda c: "LSOA CODE" if c == "lsoa01_code" else
                                                      _archive_header(c))))

    def iod_archive_zip(self, ds: str, key_header: str) -> None:
        src = DATASETS[ds].sources[0]
        frame = _mirror(self.mirror, ds).drop(columns=["IMD_decile"])
        frame = frame.rename(columns={"lsoa01_code": key_header, frame.columns[1]: "LA CODE",
                                      frame.columns[2]: "LA NAME", "IMD_score": "IMD SCORE",
                                      "IMD_rank": "RANK OF IMD (where 1 is most deprived)"})
        xls = xls_bytes({src.sheet: (frame, ())})
        self.file(ds, zip_bytes({f"{src.member}": xls, "Readme.txt": b"Indices of Deprivation (fixture)\n"}))

    # -- ONS, Nomis, Defra --------------------------------------------------------------
    def sape(self, ds: str) -> None:
        src = DATASETS[ds].sources[0]
        frame = _mirror(self.mirror, ds).rename(columns={"lsoa11_code": "LSOA Code", "lsoa11_name": "LSOA Name",
                                                          "total_population": "All Ages"})
        year = ds[10:14]
        title = [f"Mid-{year} Population Estimates for Lower Layer Super Output Areas in England and Wales by Single "
                 "Year of Age and Sex", "National Statistics", "Source: Office for National Statistics",
                 "All Persons"]
        book = xlsx_bytes({"Contents": (pd.DataFrame({"Contents": ["Mid-year estimates"]}), ()),
                           src.sheet: (frame[["LSOA Code", "LSOA Name", *frame.columns[2:]]], title)})
        self.file(ds, zip_bytes({src.member: book}) if src.format == "zip" else book)

    def census_zip(self, ds: str, table: str, nomis: pd.DataFrame) -> None:
        """A Nomis bulk ZIP: the LSOA member beside the other geography levels."""
        member = DATASETS[ds].sources[0].member
        other = _csv(nomis.head(3).assign(**{"geography code": ["E92000001", "W92000004", "K04000001"]}))
        self.file(ds, zip_bytes({f"census2021-{table}-ctry.csv": other, member: _csv(nomis),
                                 f"census2021-{table}-msoa.csv": other}))

    def census(self) -> None:
        names = self.lsoa21["lsoa21_name"]
        for ds, table, topic, total in (
                ("census2021_population_lsoa21", "ts001", "Residence type", "usual residents"),
                ("census2021_household_deprivation_lsoa21", "ts011", "Household deprivation", "households"),
                ("census2021_disability_lsoa21", "ts038", "Disability", "usual residents"),
                ("census2021_overcrowding_lsoa21", "ts052", "Occupancy rating for bedrooms", "households"),
                ("census2021_tenure_lsoa21", "ts054", "Tenure of household", "households")):
            if ds not in DATASETS or not DATASETS[ds].sources:
                continue
            frame = _mirror(self.mirror, ds)
            rename = ({c: f"Occupancy rating of bedrooms: {c.split(' (')[0]}" for c in frame.columns[2:]}
                      if table == "ts052" else None)
            nomis = _nomis(frame.assign(lsoa_name=frame["lsoa21_code"].map(names).fillna(frame["lsoa21_code"])),
                           topic, total=total, rename=rename)
            if table == "ts001":  # TS001 names its total "Residence type: Total"
                nomis.columns = [c.replace("Total: All usual residents", "Total") for c in nomis.columns]
            self.census_zip(ds, table, nomis)

    def ruc2011(self) -> None:
        src = DATASETS["ruc2011_lsoa11"].sources[0]
        frame = _mirror(self.mirror, "ruc2011_lsoa11").rename(columns={
            "lsoa11_code": "Lower Super Output Area 2011 Code", "ruc11_code": "Rural Urban Classification 2011 code",
            "classification": "Rural Urban Classification 2011 (10 fold)",
            "ruc": "Rural Urban Classification 2011 (2 fold)"})
        title = ["Rural Urban Classification 2011 lookup tables for small area geographies",
                 "Lower Super Output Areas (LSOA) 2011"]
        self.file("ruc2011_lsoa11", ods_bytes({"Notes": (pd.DataFrame({"Notes": ["Defra (fixture)"]}), ()),
                                               src.sheet: (frame, title)}))

    def arcgis(self, ds: str, *, n: int = 0, cap: int = 2000, oid: str = "FID", page_cap: int | None = None,
               frame: pd.DataFrame | None = None) -> None:
        frame = _mirror(self.mirror, ds) if frame is None else frame
        geometry = frame.pop("geometry") if "geometry" in frame.columns else None
        frame = frame.rename(columns=_ons_field)
        path = urlparse(DATASETS[ds].sources[n].url).path
        _arcgis_layer(self.server, path, frame, cap=cap, page_cap=page_cap or cap, oid=oid, geometry=geometry)

    def hub_csv(self, ds: str) -> None:
        frame = _mirror(self.mirror, ds).rename(columns=_ons_field)
        self.file(ds, _csv(frame.assign(ObjectId=np.arange(1, len(frame) + 1))))


def _arcgis_layer(server: Loopback, path: str, frame: pd.DataFrame, *, cap: int, page_cap: int, oid: str,
                  geometry: pd.Series | None) -> None:
    """A FeatureServer layer at ``path``: metadata, ``returnCountOnly``, pages of at most ``page_cap`` rows
    (the layer advertises ``cap``), ``outFields`` honoured, JSON or GeoJSON (precomputed per feature)."""
    import shapely

    table = frame.astype(object).where(frame.notna(), None)
    table.insert(0, oid, np.arange(1, len(frame) + 1))
    # pandas writes JSON in C but rounds doubles to 15 digits, so a layer with decimals is written by json
    exact = not any(pd.api.types.is_float_dtype(t) for t in frame.dtypes)

    def json_rows(part: pd.DataFrame) -> list[str]:
        if exact:
            return part.to_json(orient="records", lines=True).splitlines() if len(part) else []
        return [json.dumps(r) for r in part.to_dict("records")]

    attrs = json_rows(table)
    geo = shapely.to_geojson(shapely.from_wkb(geometry.to_numpy())).tolist() if geometry is not None else None
    fields = [{"name": oid, "type": "esriFieldTypeOID", "alias": oid}] + [
        {"name": c, "type": "esriFieldTypeString", "alias": c} for c in frame.columns]

    def meta(q: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        doc = {"name": path.split("/")[-3], "objectIdField": oid, "maxRecordCount": cap, "fields": fields}
        return 200, json.dumps(doc).encode(), {"Content-Type": "application/json"}

    def query(q: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        if q.get("returnCountOnly") == "true":
            return 200, json.dumps({"count": len(attrs)}).encode(), {"Content-Type": "application/json"}
        offset = int(q.get("resultOffset", 0))
        n = min(int(q.get("resultRecordCount", cap)), page_cap)
        rows = attrs[offset:offset + n]
        wanted = q.get("outFields", "*")
        if wanted != "*":
            keep = [c for c in table.columns if c == oid or c in wanted.split(",")]
            rows = json_rows(table.iloc[offset:offset + n][keep])
        more = offset + len(rows) < len(attrs)
        if q.get("f") == "geojson":
            assert geo is not None, "GeoJSON asked of a table layer"
            feats = ",".join(f'{{"type":"Feature","id":{offset + i + 1},"properties":{r},"geometry":{geo[offset + i]}}}'
                             for i, r in enumerate(rows))
            tail = ',"properties":{"exceededTransferLimit":true}' if more else ""
            body = f'{{"type":"FeatureCollection","features":[{feats}]{tail}}}'
        else:
            feats = ",".join(f'{{"attributes":{r}}}' for r in rows)
            tail = ',"exceededTransferLimit":true' if more else ""
            body = f'{{"objectIdFieldName":"{oid}","features":[{feats}]{tail}}}'
        return 200, body.encode(), {"Content-Type": "application/json"}

    server.routes[path] = meta
    server.routes[path + "/query"] = query


def serve_publishers(server: Loopback, mirror: Path, *, only: Sequence[str] | None = None) -> list[str]:
    """Register every registry dataset's official paths on ``server`` (or just ``only``); return their ids."""
    b = _Builder(server, mirror)
    builders: dict[str, Callable[[], None]] = {
        "imd2019_lsoa11": lambda: b.iod_file7("imd2019_lsoa11", redirect=True),
        "imd2019_lsoa11_indicators": b.file8_2019,
        "imd2019_lsoa11_subdomains": b.file4_2019,
        "imd2025_lsoa21": b.iod2025_file7,
        "imd2025_lsoa21_subdomains": lambda: None,  # the same File 7 as imd2025_lsoa21
        "imd2015_lsoa11": lambda: b.iod_file7("imd2015_lsoa11"),
        "imd2010_lsoa01": b.iod2010,
        "imd2007_lsoa01": lambda: b.iod_archive_zip("imd2007_lsoa01", "LSOA"),
        "imd2004_lsoa01": lambda: b.iod_archive_zip("imd2004_lsoa01", "SOA"),
        "population2019_lsoa11": lambda: b.sape("population2019_lsoa11"),
        "population2020_lsoa11": lambda: b.sape("population2020_lsoa11"),
        "census2021_population_lsoa21": b.census,
        "census2021_household_deprivation_lsoa21": lambda: None,  # b.census writes every Nomis zip
        "census2021_disability_lsoa21": lambda: None,
        "census2021_overcrowding_lsoa21": lambda: None,
        "census2021_tenure_lsoa21": lambda: None,
        "lookup_lsoa11_ward17": lambda: b.arcgis("lookup_lsoa11_ward17", oid="FID"),
        "lookup_lsoa11_msoa11": lambda: b.arcgis("lookup_lsoa11_msoa11", oid="ObjectId", page_cap=1000,
                                                 frame=_oa_level(_mirror(mirror, "lookup_lsoa11_msoa11"))),
        "lookup_lsoa11_lad19": lambda: b.arcgis("lookup_lsoa11_lad19", oid="FID"),
        "lookup_lad19_region19": lambda: b.arcgis("lookup_lad19_region19", oid="FID"),
        "lookup_lsoa21_ward24_lad24": lambda: b.arcgis("lookup_lsoa21_ward24_lad24", oid="ObjectId"),
        "lookup_lad24_region24": lambda: b.hub_csv("lookup_lad24_region24"),
        "lookup_lsoa01_lsoa11": lambda: b.arcgis("lookup_lsoa01_lsoa11", oid="FID"),
        # the hub item answers 404 (as reported for one item), so the FeatureServer fallback is read
        "lookup_lsoa11_lsoa21_lad22": lambda: b.arcgis("lookup_lsoa11_lsoa21_lad22", n=1, oid="ObjectId"),
        "ruc2011_lsoa11": b.ruc2011,
        "ruc2021_lsoa21": lambda: b.arcgis("ruc2021_lsoa21", oid="ObjectId"),
        "boundaries_lsoa11": lambda: b.arcgis("boundaries_lsoa11", oid="FID"),
        "boundaries_lsoa21": lambda: b.arcgis("boundaries_lsoa21", oid="OBJECTID"),
        "boundaries_lad24": lambda: b.arcgis("boundaries_lad24", oid="OBJECTID"),
        "imd2025_lsoa21_indicators": b.file8_2025,
        "census2011_household_deprivation_lsoa11": lambda: serve_nomis_api(server, mirror),
    }
    ids = [d for d in DATASETS if d in builders and (only is None or d in only)]
    done: set[Callable[[], None]] = set()
    for d in ids:
        if builders[d] not in done:
            builders[d]()
            done.add(builders[d])
    if only is not None and "census2021_population_lsoa21" not in ids and any(d.startswith("census2021") for d in ids):
        b.census()
    if only is not None and "imd2025_lsoa21_subdomains" in ids and "imd2025_lsoa21" not in ids:
        b.iod2025_file7()
    return ids


#: Outcome files known only by a landing page ("landing page; file link changes each release"): the
#: fixture serves them at paths of its own under the publisher's host, in the publisher's layout.
LANDING_PAGE_FILES = {
    "insolvencies_ward": "/media/fixture-insolvency-2022/Individual_Insolvency_Statistics_by_Ward_2012_to_2022.csv",
    "fuel_poverty_lsoa": "/media/fixture-fuel-poverty/sub-regional-fuel-poverty-{year}-data.xlsx",
    # no file address at all: the user's own Stat-Xplore exports, and the WD21 wards from the hub download API
    "children_low_income_msoa11": "/user-exports/children_relative_low_income_msoa_14-22.csv",
    "uc_households_msoa11": "/user-exports/households_on_UC_msoa_15-22.csv",
    "boundaries_ward21": "/api/download/v1/items/fixture-wd21-bgc/geojson?layers=0",
}


def serve_landing_page_files(server: Loopback, mirror: Path) -> str:
    """Serve the insolvency ward CSV (wide), the twelve DESNZ fuel poverty workbooks, the two
    Stat-Xplore exports and the WD21 ward GeoJSON (tests/_exports.py); return the sources-file
    tables (TOML) that point at them, as a user would write them."""
    for ds in ("children_low_income_msoa11", "uc_households_msoa11"):
        server.file(LANDING_PAGE_FILES[ds], statxplore_export(mirror, ds))
    server.file(LANDING_PAGE_FILES["boundaries_ward21"], ward21_geojson(mirror))
    user_files = ("\n[children_low_income_msoa11]\n"
                  f'url = "{server.url}{LANDING_PAGE_FILES["children_low_income_msoa11"]}"\nformat = "statxplore"\n'
                  # the format of these two is guessed: a CSV of a DWP series, the hub's .../geojson
                  f'\n[uc_households_msoa11]\nurl = "{server.url}{LANDING_PAGE_FILES["uc_households_msoa11"]}"\n'
                  f'\n[boundaries_ward21]\nurl = "{server.url}{LANDING_PAGE_FILES["boundaries_ward21"]}"\n')
    ins = _mirror(mirror, "insolvencies_ward")
    wide = ins.pivot_table(index=["ward21_code", "ward21_name", "type"], columns="year", values="count",
                           aggfunc="first").reset_index()
    wide.columns = [str(c) for c in wide.columns]
    wide["type"] = wide["type"].map({"bankruptcy": "Bankruptcy", "dro": "DRO", "iva": "IVA", "total": "Total"})
    wide = wide.rename(columns={"ward21_code": "ward_code", "ward21_name": "ward_name", "type": "insolvency_type"})
    server.file(LANDING_PAGE_FILES["insolvencies_ward"], _csv(wide))

    fuel = _mirror(mirror, "fuel_poverty_lsoa")
    names = pd.concat([_mirror(mirror, ds)[[f"lsoa{yy}_code", f"lsoa{yy}_name"]].set_axis(["code", "name"], axis=1)
                       for ds, yy in (("lookup_lsoa01_lsoa11", "01"), ("lookup_lsoa11_lad19", "11"),
                                      ("lookup_lsoa21_ward24_lad24", "21"))])
    names = names.drop_duplicates("code").set_index("code")["name"]
    parts = []
    for year, rows in fuel.groupby("year"):
        path = LANDING_PAGE_FILES["fuel_poverty_lsoa"].format(year=year)
        if year == 2011:  # sheet LSOA, LSOA 2001 codes, the share as a fraction
            frame = pd.DataFrame({"LSOA Code": rows["lsoa_code"], "LA Code": None, "LA Name": None, "Region": None,
                                  "Estimated number of households": rows["households"],
                                  "Estimated number of Fuel Poor Households": rows["fuel_poor_households"],
                                  "Proportion of households fuel poor": rows["fuel_poor_share"].round(3)})
            book = {"Read Me": (pd.DataFrame({"Fuel poverty sub-regional statistics": ["2011 data (fixture)"]}), ()),
                    "LSOA": (frame, ())}
            parts.append(f'{{url = "{server.url}{path}", year = {year}, sheet = "LSOA", skip = 0}}')
        else:
            frame = pd.DataFrame({"LSOA Code": rows["lsoa_code"], "LSOA Name": rows["lsoa_code"].map(names),
                                  "LA Code": None, "LA Name": None, "Region": None,
                                  "Number of households1": rows["households"],
                                  "Number of households in fuel poverty1": rows["fuel_poor_households"],
                                  "Proportion of households fuel poor (%)": (100 * rows["fuel_poor_share"]).round(1)})
            frame = pd.concat([frame, pd.DataFrame({"LSOA Code": ["Source: DESNZ (fixture)"]})])  # a footnote row
            title = [f"Table 3: Number and proportion of households in fuel poverty by LSOA, England, {year}",
                     f"Measure: {'Low Income High Costs' if year <= 2018 else 'Low Income Low Energy Efficiency'}"]
            book = {"Contents": (pd.DataFrame({"Contents": ["Tables 1-3"]}), ()), "Table 3": (frame, title)}
            parts.append(f'{{url = "{server.url}{path}", year = {year}}}')
        server.file(path, xlsx_bytes(book))
    return ("\n[insolvencies_ward]\n"
            f'url = "{server.url}{LANDING_PAGE_FILES["insolvencies_ward"]}"\nformat = "csv"\n'
            "\n[fuel_poverty_lsoa]\nformat = \"xlsx\"\nsheet = \"Table 3\"\nskip = 2\nparts = [\n    "
            + ",\n    ".join(parts) + ",\n]\n" + user_files)


def serve_nomis_api(server: Loopback, mirror: Path) -> None:
    """QS119EW through the Nomis API (``NM_519_1.data.csv``): long, one row per LSOA and category, the
    API's upper-case columns (``RECORD_OFFSET``, ``RECORD_COUNT`` on every row), at most 25,000 rows
    per request, paged by ``RecordOffset``/``RecordLimit``."""
    ds = "census2011_household_deprivation_lsoa11"
    frame = _mirror(mirror, ds)
    names = _mirror(mirror, "lookup_lsoa11_lad19").set_index("lsoa11_code")["lsoa11_name"]
    labels = {"total_households": (0, "All categories: Classification of household deprivation"),
              "Household is not deprived in any dimension": (1, "Household is not deprived in any dimension"),
              "Household is deprived in one dimension": (2, "Household is deprived in 1 dimension"),
              "Household is deprived in two dimensions": (3, "Household is deprived in 2 dimensions"),
              "Household is deprived in three dimensions": (4, "Household is deprived in 3 dimensions"),
              "Household is deprived in four dimensions": (5, "Household is deprived in 4 dimensions")}
    long = frame.melt(id_vars="lsoa11_code", value_vars=list(labels), var_name="cat", value_name="OBS_VALUE")
    long["C_DEPRIVED"] = long["cat"].map(lambda c: labels[c][0])
    long = long.sort_values(["lsoa11_code", "C_DEPRIVED"], kind="stable").reset_index(drop=True)
    out = pd.DataFrame({"DATE": 2011, "DATE_NAME": 2011, "GEOGRAPHY": np.arange(len(long)) // 6 + 1249902593,
                        "GEOGRAPHY_NAME": long["lsoa11_code"].map(names).fillna(long["lsoa11_code"]),
                        "GEOGRAPHY_CODE": long["lsoa11_code"],
                        "GEOGRAPHY_TYPE": "2011 super output areas - lower layer",
                        "RURAL_URBAN": 0, "RURAL_URBAN_NAME": "Total", "C_DEPRIVED": long["C_DEPRIVED"],
                        "C_DEPRIVED_NAME": long["cat"].map(lambda c: labels[c][1]), "MEASURES": 20100,
                        "MEASURES_NAME": "Value", "OBS_VALUE": long["OBS_VALUE"], "OBS_STATUS": "A",
                        "RECORD_COUNT": len(long)})
    path = urlparse(DATASETS[ds].sources[0].url).path

    def page(q: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        offset = int(q.get("RecordOffset", 0))
        n = min(int(q.get("RecordLimit", 25_000)), 25_000)
        chunk = out.iloc[offset:offset + n].assign(RECORD_OFFSET=np.arange(offset, offset + min(n, len(out) - offset)))
        return 200, _csv(chunk), {"Content-Type": "text/csv"}

    server.routes[path] = page


def _oa_level(frame: pd.DataFrame) -> pd.DataFrame:
    """The OA-level lookup layer: one row per output area, so an LSOA appears once per OA (two for
    every tenth LSOA here), with the OA and LAD columns the registry does not ask for."""
    twice = frame.iloc[::10]
    out = pd.concat([frame, twice]).sort_values("lsoa11_code", kind="stable").reset_index(drop=True)
    out.insert(0, "OA11CD", [f"X{i:08d}" for i in range(len(out))])
    out["LAD11CD"] = "E06000001"
    return out


def rewrite_sources(text: str, base: str) -> str:
    """Point every official address in a sources file at the loopback server ``base``."""
    for host in OFFICIAL_HOSTS:
        text = text.replace(host, base)
    return text


def write_cni_files(mirror: Path, directory: Path) -> dict[str, Path]:
    """The user's CNI copies (not open data, so never served): CSVs from the mirror, for ``--file``."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for ds in ("cni2019_ward17", "cni2023_lsoa21"):
        out[ds] = directory / f"{ds}.csv"
        _mirror(mirror, ds).to_csv(out[ds], index=False)
    return out
