"""Map geometry for the web app: simplified layers per zoom level, prepared once and held in memory.

Three layers, each a GeoJSON FeatureCollection of English areas (EPSG:4326) whose features
carry ``code, name, imd_decile, cni_decile, lb`` (IoD2025 / CNI 2023; ``lb`` = left-behind
2023 for an LSOA, or the number of left-behind LSOAs in a ward or LAD):

``lad24``  (low zoom) the ONS LAD 2024 boundaries, simplified to ~500 m; ~300 features.
``ward24`` (mid zoom) wards dissolved from their LSOA 2021 polygons, simplified to ~100 m.
``lsoa21`` (high zoom) LSOA 2021 polygons simplified to ~20 m, served for a bounding box only.

Each feature is serialised once to a JSON string; a request joins the strings of the features
whose bounding boxes meet the requested box, so no request re-encodes geometry.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError

if TYPE_CHECKING:
    import duckdb

    from ..profiles import ProfileStore

__all__ = ["LAYERS", "GeoLayer", "GeoCache"]

#: Layer name -> simplification tolerance in degrees (~111 km per degree of latitude).
LAYERS = {"lad24": 0.005, "ward24": 0.001, "lsoa21": 0.0002}
#: Largest bounding box (degrees of longitude x latitude) served for the LSOA layer.
MAX_LSOA_BBOX = 4.0


@dataclass
class GeoLayer:
    """One prepared layer: feature JSON strings and their bounds."""

    name: str
    features: np.ndarray
    bounds: np.ndarray
    codes: dict[str, int]
    whole: bytes | None = None

    def collection(self, bbox: tuple[float, float, float, float] | None = None) -> bytes:
        """The FeatureCollection, optionally only features meeting ``bbox``."""
        if bbox is None:
            if self.whole is None:
                self.whole = _collection(self.features)
            return self.whole
        x0, y0, x1, y1 = bbox
        b = self.bounds
        keep = (b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0)
        return _collection(self.features[keep])


def _collection(features: np.ndarray) -> bytes:
    return ('{"type":"FeatureCollection","features":[' + ",".join(features.tolist()) + "]}").encode()


def _layer(name: str, codes: pd.Series, geoms: np.ndarray, props: pd.DataFrame) -> GeoLayer:
    import shapely

    simple = shapely.simplify(geoms, LAYERS[name], preserve_topology=True)
    simple = shapely.transform(simple, lambda xy: np.round(xy, 5))
    bounds = shapely.bounds(simple)
    table = props.reindex(codes.to_numpy())
    table.insert(0, "code", codes.to_numpy())
    records = table.to_json(orient="records", lines=True).strip().split("\n")
    geojson = shapely.to_geojson(simple)
    features = np.char.add(np.char.add(np.char.add('{"type":"Feature","properties":', np.array(records)),
                                       np.char.add(',"geometry":', geojson.astype(str))), "}")
    index = {c: i for i, c in enumerate(codes.tolist())}
    return GeoLayer(name=name, features=features.astype(object), bounds=bounds, codes=index)


def _props(frame: pd.DataFrame, lb: str) -> pd.DataFrame:
    out = pd.DataFrame({"name": frame["name"], "imd_decile": frame["imd_decile"],
                        "cni_decile": frame["cni_decile"], "lb": frame[lb].astype(int)}, index=frame.index)
    return out


class GeoCache:
    """The three layers of one warehouse, built in a background thread (LADs first, wards last)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, store: ProfileStore) -> None:
        self._layers: dict[str, GeoLayer] = {}
        self._ready = {name: threading.Event() for name in LAYERS}
        self._error: Exception | None = None
        lad = con.execute(
            "SELECT lad24_code AS code, geometry FROM boundaries_lad24 WHERE lad24_code LIKE 'E%'"
        ).df()
        lsoa = con.execute(
            "SELECT lsoa21_code AS code, geometry FROM boundaries_lsoa21 WHERE lsoa21_code LIKE 'E%'"
        ).df()
        self._thread = threading.Thread(target=self._build, args=(lad, lsoa, store), daemon=True)
        self._thread.start()

    def _build(self, lad: pd.DataFrame, lsoa: pd.DataFrame, store: ProfileStore) -> None:
        import shapely

        try:
            lad = lad[lad["code"].isin(store.frames["lad24"].index)]
            self._layers["lad24"] = _layer("lad24", lad["code"],
                                           shapely.from_wkb(lad["geometry"].map(bytes).to_numpy()),
                                           _props(store.frames["lad24"], "n_left_behind"))
            self._ready["lad24"].set()
            l21 = store.frames["lsoa21"]
            lsoa = lsoa[lsoa["code"].isin(l21.index)].reset_index(drop=True)
            geoms = shapely.from_wkb(lsoa["geometry"].map(bytes).to_numpy())
            self._layers["lsoa21"] = _layer("lsoa21", lsoa["code"], geoms,
                                            _props(l21.assign(left_behind=l21["left_behind"].fillna(False)),
                                                   "left_behind"))
            self._ready["lsoa21"].set()
            wards = l21["ward24_code"].reindex(lsoa["code"]).to_numpy()
            order = np.argsort(wards, kind="stable")
            wards, geoms = wards[order], shapely.set_precision(geoms[order], 1e-4)
            starts = np.r_[0, np.flatnonzero(wards[1:] != wards[:-1]) + 1]
            ends = np.r_[starts[1:], len(wards)]
            merged = np.array([shapely.union_all(geoms[s:e]) for s, e in zip(starts, ends, strict=True)])
            self._layers["ward24"] = _layer("ward24", pd.Series(wards[starts]), merged,
                                            _props(store.frames["ward24"], "n_left_behind"))
        except Exception as exc:  # reported to the caller of layer()
            self._error = exc
        finally:
            for event in self._ready.values():
                event.set()

    def layer(self, name: str, *, timeout: float = 30.0) -> GeoLayer:
        """A prepared layer; waits for the ward layer if it is still being built."""
        if name not in LAYERS:
            raise DataError(f"unknown map layer {name!r}; valid layers: {', '.join(LAYERS)}")
        if not self._ready[name].wait(timeout):
            raise DataError(f"the {name} map layer is still being prepared; retry in a few seconds")
        if name not in self._layers:
            raise DataError(f"the {name} layer could not be prepared: {self._error}")
        return self._layers[name]

    def bbox(self, code: str) -> list[float] | None:
        """``[minlon, minlat, maxlon, maxlat]`` of an area in a ready layer, else None."""
        for layer in self._layers.values():
            if code in layer.codes:
                return [round(float(v), 5) for v in layer.bounds[layer.codes[code]]]
        return None

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until every layer is ready (for tests and benchmarks)."""
        return all(event.wait(timeout) for event in self._ready.values())
