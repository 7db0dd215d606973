"""What the map can colour: editions, domains, CNI, left-behind flags, neighbourhood sets and stored results.

The browser asks :func:`catalogue` what there is, picks a geometry layer (:mod:`._geo`) and
asks :meth:`MapValues.values` for ``{code: value}`` of one measure on that layer, joined to
the features on ``code``. Measures:

``imd{year}:{domain}``
    The IoD edition ``year`` (2004, 2007, 2010, 2015, 2019, 2025), ``domain`` ``imd`` or one
    of the seven domains: the published LSOA decile on the edition's own LSOA vintage (2001,
    2011 or 2021); for wards and LADs of the edition's vintage family, the
    population-weighted summary of :mod:`..profiles` (IoD2019 on wards 2017 / LADs 2019,
    IoD2025 on wards 2024 / LADs 2024), and for wards 2017 / LADs 2019 in the other editions
    the decile of the area's population-weighted rank percentile (:mod:`..trajectories`,
    IMD only; scores are not comparable between editions). For a neighbourhood set, the
    summary of its LSOAs (:func:`..profiles.summarise_areas`) in the edition of its vintage.
``cni{year}``
    Community Needs Index decile: 2023 on LSOAs 2021 and the 2021-based areas; 2019 on wards
    2017 and LADs 2019 (published for wards).
``lb{year}``
    Left behind: 2023 = the LSOA flag (LSOAs 2021) or the number of left-behind LSOAs (wards
    2024, LADs 2024); 2019 = the ward flag (wards 2017) or the number of left-behind wards
    (LADs 2019).
``result:{kind}:{name}``
    A stored index, programme or evaluation (:func:`..store.list_results`) on its unit's layer:
    its ``decile`` when it has one, else its ``value_column``.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

import pandas as pd

from neighbourhood_lens.outputs.profiles import DOMAINS, summarise_areas

from ..errors import DataError

if TYPE_CHECKING:
    import duckdb

    from neighbourhood_lens.outputs.profiles import ProfileStore

    from ._geo import GeoCache
    from .cache import Trajectories

__all__ = ["EDITIONS", "MapValues"]

#: Edition -> (table, LSOA layer, layers by zoom: LAD, ward, LSOA).
EDITIONS = {
    2025: ("imd2025_lsoa21", "lsoa21", ("lad24", "ward24", "lsoa21")),
    2019: ("imd2019_lsoa11", "lsoa11", ("lad19", "ward17", "lsoa11")),
    2015: ("imd2015_lsoa11", "lsoa11", ("lad19", "ward17", "lsoa11")),
    2010: ("imd2010_lsoa01", "lsoa01", ("lad19", "ward17", "lsoa01")),
    2007: ("imd2007_lsoa01", "lsoa01", ("lad19", "ward17", "lsoa01")),
    2004: ("imd2004_lsoa01", "lsoa01", ("lad19", "ward17", "lsoa01")),
}
_UNIT_LAYER = {"lsoa21": "lsoa21", "ward24": "ward24", "lad24": "lad24", "lsoa11": "lsoa11", "ward17": "ward17",
               "lad19": "lad19"}
_MEASURE = re.compile(r"^(imd(?P<year>\d{4}):(?P<domain>[a-z]+)|cni(?P<cni>2019|2023)|lb(?P<lb>2019|2023)|"
                      r"result:(?P<kind>index|programme|evaluation):(?P<name>[a-z][a-z0-9_]{0,47}))$")


def _clean(series: pd.Series) -> dict[str, Any]:
    out = series.dropna()
    if pd.api.types.is_bool_dtype(out) or out.dtype == object and out.map(type).eq(bool).all():
        out = out.astype(bool).astype(int)
    elif pd.api.types.is_numeric_dtype(out):
        out = out.astype(float).round(4)
        if (out == out.round()).all():
            out = out.astype(int)
    return {str(k): (v.item() if hasattr(v, "item") else v) for k, v in out.items()}


class MapValues:
    """Measures for the map from one warehouse connection; results are cached per (layer, measure)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, store: ProfileStore, geo: GeoCache,
                 trajectories: Trajectories | None = None) -> None:
        from .cache import Trajectories

        self.con, self.store, self.geo = con, store, geo
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._trajectories = trajectories or Trajectories(con)
        self._columns = {t: {r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()}
                         for t, _, _ in EDITIONS.values()}

    # ---- what there is ---------------------------------------------------------------------------
    def sets(self) -> pd.DataFrame:
        from neighbourhood_lens.geo.neighbourhood_sets import neighbourhood_sets

        return neighbourhood_sets(self.con.cursor())

    def results(self) -> pd.DataFrame:
        from ..store import list_results

        try:
            return list_results(self.con.cursor())
        except Exception:  # no registry yet
            return pd.DataFrame(columns=["kind", "name", "unit", "value_column", "description"])

    def catalogue(self) -> dict[str, Any]:
        """Editions with their domains and layers, neighbourhood sets and stored results."""
        editions = [{"year": y, "layers": list(z), "lsoa_layer": lsoa,
                     "domains": [d for d in ("imd", *DOMAINS) if f"{d}_decile" in self._columns[t]]}
                    for y, (t, lsoa, z) in EDITIONS.items()]
        sets = [{"name": r["name"], "vintage": int(r["vintage"]), "layer": f"nbhd:{r['name']}",
                 "n_neighbourhoods": int(r["n_neighbourhoods"])} for _, r in self.sets().iterrows()]
        results = []
        for _, r in self.results().iterrows():
            layer = self.unit_layer(str(r["unit"]))
            if layer:
                results.append({"measure": f"result:{r['kind']}:{r['name']}", "kind": r["kind"], "name": r["name"],
                                "unit": r["unit"], "layer": layer, "value_column": r["value_column"],
                                "description": r.get("description") or ""})
        return {"editions": editions, "neighbourhood_sets": sets, "results": results}

    def unit_layer(self, unit: str) -> str | None:
        """The geometry layer of a unit (None for units without polygons: MSOA, regions)."""
        if unit.startswith("neighbourhoods:"):
            return "nbhd:" + unit.split(":", 1)[1]
        return _UNIT_LAYER.get(unit)

    def geometry(self, layer: str) -> Any:
        """A geometry layer, building ``lsoa01`` and neighbourhood sets on first use."""
        if layer == "lsoa01":
            return self.geo.lazy_layer("lsoa01")
        if layer.startswith("nbhd:"):
            return self.geo.lazy_layer(layer, self._assignment(layer[5:])[0])
        return self.geo.layer(layer)

    def _assignment(self, name: str) -> tuple[pd.DataFrame, int]:
        from neighbourhood_lens.geo.neighbourhood_sets import load_neighbourhoods

        sets = self.sets()
        if name not in set(sets["name"]):
            known = ", ".join(sets["name"]) or "none stored"
            raise DataError(f"no neighbourhood set {name!r} in the warehouse ({known}); build one with "
                            "`nlens neighbourhoods build --name NAME`")
        frame, vintage = load_neighbourhoods(self.con.cursor(), name)
        key = f"lsoa{str(vintage)[2:]}_code"
        return frame[[key, "neighbourhood_code", "neighbourhood_name"]].set_axis([key, "code", "name"], axis=1), vintage

    # ---- values ----------------------------------------------------------------------------------
    def values(self, layer: str, measure: str) -> dict[str, Any]:
        """``{"measure", "layer", "scale", "values": {code: value}}``; scale is decile, flag, count or value."""
        match = _MEASURE.match(measure)
        if not match:
            raise DataError(f"unknown measure {measure[:60]!r}: use imd<year>:<domain> (e.g. imd2019:income), "
                            "cni2019, cni2023, lb2019, lb2023 or result:<kind>:<name>")
        key = (layer, measure)
        with self._lock:
            if key not in self._cache:
                scale, values = self._compute(layer, match)
                self._cache[key] = {"measure": measure, "layer": layer, "scale": scale, "values": _clean(values)}
            return self._cache[key]

    def _compute(self, layer: str, m: re.Match[str]) -> tuple[str, pd.Series]:
        frames = self.store.frames
        if m["year"]:
            return "decile", self._imd(layer, int(m["year"]), m["domain"])
        if m["cni"]:
            ok = {"2023": ("lsoa21", "ward24", "lad24"), "2019": ("ward17", "lad19")}[m["cni"]]
            if layer not in ok:
                raise DataError(f"CNI {m['cni']} is not shown on the {layer} layer; use {', '.join(ok)}")
            return "decile", frames[layer]["cni_decile"]
        if m["lb"]:
            flag = {"2023": "lsoa21", "2019": "ward17"}[m["lb"]]
            counts = {"2023": ("ward24", "lad24"), "2019": ("lad19",)}[m["lb"]]
            if layer == flag:
                return "flag", frames[layer]["left_behind"].fillna(False).astype(bool)
            if layer in counts:
                return "count", frames[layer]["n_left_behind"]
            raise DataError(f"left behind {m['lb']} is not shown on the {layer} layer; use {flag}")
        return self._result(layer, m["kind"], m["name"])

    def _imd(self, layer: str, year: int, domain: str) -> pd.Series:
        if year not in EDITIONS:
            raise DataError(f"no IoD edition {year}: use {', '.join(map(str, EDITIONS))}")
        table, lsoa, _ = EDITIONS[year]
        column = f"{domain}_decile"
        if column not in self._columns[table]:
            raise DataError(f"IoD{year} has no {domain} decile in the warehouse; available: "
                            f"{', '.join(c[:-7] for c in sorted(self._columns[table]) if c.endswith('_decile'))}")
        if layer == lsoa:
            key = f"{lsoa}_code"
            frame = self.con.cursor().execute(f"SELECT {key} AS code, {column} FROM {table}").df()
            return frame.set_index("code")[column]
        family = {2025: ("ward24", "lad24")}.get(year, ("ward17", "lad19"))
        if layer in family and year in (2019, 2025):
            return self.store.frames[layer][column]
        if layer in family and domain == "imd":
            return self._trajectory(layer, year)
        if layer.startswith("nbhd:"):
            return self._neighbourhood_imd(layer[5:], year, domain)
        raise DataError(f"IoD{year} {domain} is not shown on the {layer} layer; use {lsoa}"
                        f"{' or ' + ', '.join(family) if domain == 'imd' or year in (2019, 2025) else ''}")

    def _trajectory(self, level: str, year: int) -> pd.Series:
        frame = self._trajectories.frame(level).reset_index(drop=True)
        edition = frame[frame["edition"].astype(str).str.contains(str(year))]
        return edition.set_index("code")["area_decile"]

    def _neighbourhood_imd(self, name: str, year: int, domain: str) -> pd.Series:
        assignment, vintage = self._assignment(name)
        edition = 2025 if vintage == 2021 else 2019
        if year != edition:
            raise DataError(f"neighbourhood set {name!r} is built on LSOA {vintage} boundaries: colour it by "
                            f"IoD{edition}")
        key = f"lsoa{str(vintage)[2:]}_code"
        lsoas = self.store.frames[f"lsoa{str(vintage)[2:]}"]
        joined = lsoas.join(assignment.set_index(key)["code"].rename("nbhd"), how="inner")
        summary = summarise_areas(joined, by="nbhd", cni=False)
        return summary[f"{domain}_decile"]

    def _result(self, layer: str, kind: str, name: str) -> tuple[str, pd.Series]:
        from ..store import load_result

        frame, row = load_result(self.con.cursor(), kind=kind, name=name)
        expected = self.unit_layer(str(row["unit"]))
        if layer != expected:
            raise DataError(f"{kind} {name!r} is on unit {row['unit']}: draw it on the {expected} layer")
        frame = frame.set_index("code")
        if "decile" in frame.columns:
            return "decile", frame["decile"]
        column = str(row["value_column"])
        if kind == "evaluation" and "role" in frame.columns:
            return "category", frame["role"]
        return "value", frame[column]
