"""Map geometry for the web app: simplified layers per zoom level, prepared once and held in memory.

Each layer is a GeoJSON FeatureCollection of English areas (EPSG:4326) whose features carry
``code`` and ``name`` (the 2021-based layers also ``imd_decile, cni_decile, lb``: IoD2025 /
CNI 2023; ``lb`` = left-behind 2023 for an LSOA, or the number of left-behind LSOAs in a ward
or LAD). Other measures are joined on ``code`` in the browser (:mod:`._layers`).

``lad24``  (low zoom) the ONS LAD 2024 boundaries, simplified to ~500 m; ~300 features.
``ward24`` (mid zoom) wards dissolved from their LSOA 2021 polygons, simplified to ~100 m.
``lsoa21`` (high zoom) LSOA 2021 polygons simplified to ~20 m, served for a bounding box only.
``lsoa11``, ``ward17``, ``lad19`` the same for the 2011-based geography (IoD2015/2019, CNI
2019, the 2019 left-behind wards): LSOA 2011 polygons, wards 2017 and LADs 2019 dissolved
from them along the ONS best-fit lookups (built once at start-up, after the 2021 layers).
``lsoa01`` LSOA 2001 polygons (IoD2004-2010) dissolved from LSOA 2011 polygons along the ONS
LSOA 2001 -> 2011 best-fit lookup (built on first use): exact where an LSOA was unchanged or
split, the union of the 2011 LSOAs otherwise.
``nbhd:NAME`` a stored neighbourhood set, dissolved from its LSOAs on first use.

Bounding boxes of every area type (also MSOA 2011 and regions, which have no layer) are the
unions of their LSOAs' boxes, so "show on map" works for any code.

Each feature is serialised once to a JSON string; a request joins the strings of the features
whose bounding boxes meet the requested box, so no request re-encodes geometry.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from neighbourhood_lens._isin import isin

from ..errors import DataError

if TYPE_CHECKING:
    import duckdb

    from neighbourhood_lens.outputs.profiles import ProfileStore

__all__ = ["LAYERS", "GeoLayer", "GeoCache"]

#: Layer name -> simplification tolerance in degrees (~111 km per degree of latitude).
LAYERS = {"lad24": 0.005, "ward24": 0.001, "lsoa21": 0.0002, "lsoa11": 0.0002, "ward17": 0.001, "lad19": 0.005}
#: Layers built on first use, and neighbourhood sets (``nbhd:NAME``): their tolerance.
LAZY = {"lsoa01": 0.0002, "nbhd": 0.0005}
#: Layers served only for a bounding box (too many features for the whole country).
BBOX_ONLY = ("lsoa21", "lsoa11", "lsoa01")
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

    tolerance = LAYERS.get(name) or LAZY[name.split(":")[0]]
    simple = shapely.simplify(geoms, tolerance, preserve_topology=True)
    simple = shapely.transform(simple, lambda xy: np.round(xy, 5))
    bounds = shapely.bounds(simple)
    table = props.reindex(codes.to_numpy())
    table.insert(0, "code", codes.to_numpy())
    records = table.to_json(orient="records", lines=True).strip().split("\n")
    geojson = shapely.to_geojson(simple)
    # One Arrow string kernel joins the pieces: numpy's np.char first copies every feature into a
    # fixed-width array as wide as the longest one (with it, `nlens serve` peaked at 1,399 MB on its
    # first start instead of 948 MB: benchmarks/bench_web_cold.py).
    text = pa.large_string()
    features = pc.binary_join_element_wise(
        pa.scalar('{"type":"Feature","properties":', text), pa.array(records, text),
        pa.scalar(',"geometry":', text), pa.array(geojson, text), pa.scalar("}", text), pa.scalar("", text),
        null_handling="replace", null_replacement="null",  # an area without a polygon: "geometry":null
    ).to_numpy(zero_copy_only=False)
    index = {c: i for i, c in enumerate(codes.tolist())}
    return GeoLayer(name=name, features=features, bounds=bounds, codes=index)


#: Threads for a dissolve: GEOS releases the GIL while it snaps and unions, so the polygons of different
#: keys are merged on several cores at once (a first ``nlens serve`` dissolves three national layers).
DISSOLVE_THREADS = max(1, min(4, os.cpu_count() or 1))


def dissolve(keys: np.ndarray, geoms: np.ndarray, *, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Union the polygons of each key: ``(unique keys, merged geometries)``, keys sorted.

    Polygons are snapped to a 1e-4 degree grid first so that shared edges cancel. The keys are
    shared out over ``threads`` (default :data:`DISSOLVE_THREADS`) in contiguous runs; each key's
    union is the same GEOS call as in one thread, so the result does not depend on ``threads``.
    """
    import shapely

    workers = max(1, DISSOLVE_THREADS if threads is None else threads)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    geoms = np.concatenate(_each_part(lambda part: shapely.set_precision(part, 1e-4), geoms[order], workers))
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1]
    ends = np.r_[starts[1:], len(keys)]
    merged = geoms[starts].copy()  # a key with one polygon keeps it as it is

    def union(several: np.ndarray) -> None:
        for i in several:
            merged[i] = shapely.union_all(geoms[starts[i]:ends[i]])

    _each_part(union, np.flatnonzero(ends - starts > 1), workers)
    return keys[starts], merged


def _each_part(fn: Callable[[np.ndarray], Any], items: np.ndarray, workers: int) -> list[Any]:
    """``fn`` of each of ``workers`` contiguous parts of ``items``, in threads when more than one; in order."""
    if workers == 1 or len(items) < 2 * workers:
        return [fn(items)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="nlens-dissolve") as pool:
        return list(pool.map(fn, np.array_split(items, workers)))


def _names(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"name": frame["name"]}, index=frame.index)


def _props(frame: pd.DataFrame, lb: str) -> pd.DataFrame:
    out = pd.DataFrame({"name": frame["name"], "imd_decile": frame["imd_decile"],
                        "cni_decile": frame["cni_decile"], "lb": frame[lb].astype(int)}, index=frame.index)
    return out


def _disk_cache(key: str | None, name: str) -> Path | None:
    """Where a dissolved layer of the warehouse ``key`` is kept between runs (None: no cache)."""
    if not key:
        return None
    from platformdirs import user_cache_dir

    root = os.environ.get("NLENS_CACHE_DIR") or user_cache_dir("neighbourhood-lens")
    return Path(root) / "geometry" / f"{name}-{key}.parquet"


def cached_dissolve(keys: np.ndarray, geoms: np.ndarray, *, name: str, cache_key: str | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`dissolve`, read from / written to the user cache directory when ``cache_key`` is given.

    The key identifies the warehouse file (path, size, modification time) and the tool version,
    so a rebuilt warehouse gets new polygons. A cache that cannot be read or written is ignored.
    """
    import shapely

    path = _disk_cache(cache_key, name)
    if path is not None and path.exists():
        try:
            frame = pd.read_parquet(path)
            return frame["code"].to_numpy(dtype=object), shapely.from_wkb(frame["wkb"].to_numpy())
        except Exception:  # a damaged cache file: rebuild it
            pass
    codes, merged = dissolve(keys, geoms)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            pd.DataFrame({"code": codes, "wkb": shapely.to_wkb(merged)}).to_parquet(tmp)
            tmp.replace(path)
        except OSError:
            pass
    return codes, merged


class GeoCache:
    """The map layers of one warehouse, built in a background thread (LADs first, wards last).

    With ``cache_key`` the dissolved layers (wards 2024, wards 2017, LADs 2019) are kept in the
    user cache directory, so a restarted server prepares its map in a few seconds.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, store: ProfileStore, *, cache_key: str | None = None,
                 layers: dict[str, GeoLayer] | None = None) -> None:
        self._layers: dict[str, GeoLayer] = {}
        self._ready = {name: threading.Event() for name in LAYERS}
        self._error: Exception | None = None
        self._con, self._store, self._cache_key = con, store, cache_key
        self._boxes: dict[str, list[float]] = {}
        self._lazy_lock = threading.Lock()
        self._lsoa11: tuple[np.ndarray, np.ndarray] | None = None
        if layers is not None and set(LAYERS) <= set(layers):  # prepared before (:mod:`.cache`)
            self._thread = threading.Thread(target=self._adopt, args=(layers, store), daemon=True)
        else:
            lad = con.execute(
                "SELECT lad24_code AS code, geometry FROM boundaries_lad24 WHERE lad24_code LIKE 'E%'"
            ).df()
            lsoa = con.execute(
                "SELECT lsoa21_code AS code, geometry FROM boundaries_lsoa21 WHERE lsoa21_code LIKE 'E%'"
            ).df()
            self._thread = threading.Thread(target=self._build, args=(lad, lsoa, store), daemon=True)
        self._thread.start()

    def _adopt(self, layers: dict[str, GeoLayer], store: ProfileStore) -> None:
        """Take layers prepared earlier (from the warehouse's web cache); only the boxes are computed."""
        try:
            self._layers.update(layers)
            self._group_boxes(self._layers["lsoa21"], store.frames["lsoa21"], ["region24_code"])
            self._group_boxes(self._layers["lsoa11"], store.frames["lsoa11"], ["msoa11_code", "region19_code"])
        except Exception as exc:  # reported to the caller of layer()
            self._error = exc
        finally:
            for event in self._ready.values():
                event.set()

    def prepared(self) -> dict[str, GeoLayer]:
        """The layers prepared so far (every layer once :meth:`wait` returns True)."""
        return dict(self._layers)

    def _lsoa11_geometry(self) -> tuple[np.ndarray, np.ndarray]:
        """LSOA 2011 codes and polygons (read from the warehouse when the layers came from the cache)."""
        import shapely

        if self._lsoa11 is None:
            lsoa = self._con.execute(
                "SELECT lsoa11_code AS code, geometry FROM boundaries_lsoa11 WHERE lsoa11_code LIKE 'E%'").df()
            lsoa = lsoa[isin(lsoa["code"], self._store.frames["lsoa11"].index)].reset_index(drop=True)
            self._lsoa11 = (lsoa["code"].to_numpy(), shapely.from_wkb(lsoa["geometry"].map(bytes).to_numpy()))
        return self._lsoa11

    def _build(self, lad: pd.DataFrame, lsoa: pd.DataFrame, store: ProfileStore) -> None:
        import shapely

        try:
            lad = lad[isin(lad["code"], store.frames["lad24"].index)]
            self._layers["lad24"] = _layer("lad24", lad["code"],
                                           shapely.from_wkb(lad["geometry"].map(bytes).to_numpy()),
                                           _props(store.frames["lad24"], "n_left_behind"))
            self._ready["lad24"].set()
            l21 = store.frames["lsoa21"]
            lsoa = lsoa[isin(lsoa["code"], l21.index)].reset_index(drop=True)
            geoms = shapely.from_wkb(lsoa["geometry"].map(bytes).to_numpy())
            self._layers["lsoa21"] = _layer("lsoa21", lsoa["code"], geoms,
                                            _props(l21.assign(left_behind=l21["left_behind"].fillna(False)),
                                                   "left_behind"))
            self._ready["lsoa21"].set()
            wards, merged = cached_dissolve(l21["ward24_code"].reindex(lsoa["code"]).to_numpy(), geoms,
                                            name="ward24", cache_key=self._cache_key)
            self._layers["ward24"] = _layer("ward24", pd.Series(wards), merged,
                                            _props(store.frames["ward24"], "n_left_behind"))
            self._ready["ward24"].set()
            self._group_boxes(self._layers["lsoa21"], l21, ["region24_code"])
            self._build_2011(store)
        except Exception as exc:  # reported to the caller of layer()
            self._error = exc
        finally:
            for event in self._ready.values():
                event.set()

    def _build_2011(self, store: ProfileStore) -> None:
        """LSOA 2011 polygons, wards 2017 and LADs 2019 dissolved from them; MSOA and region boxes."""
        import shapely

        l11 = store.frames["lsoa11"]
        lsoa = self._con.execute(
            "SELECT lsoa11_code AS code, geometry FROM boundaries_lsoa11 WHERE lsoa11_code LIKE 'E%'").df()
        lsoa = lsoa[isin(lsoa["code"], l11.index)].reset_index(drop=True)
        geoms = shapely.from_wkb(lsoa["geometry"].map(bytes).to_numpy())
        self._lsoa11 = (lsoa["code"].to_numpy(), geoms)
        self._layers["lsoa11"] = _layer("lsoa11", lsoa["code"], geoms, _names(l11))
        self._ready["lsoa11"].set()
        wards, merged = cached_dissolve(l11["ward17_code"].reindex(lsoa["code"]).to_numpy(), geoms, name="ward17",
                                        cache_key=self._cache_key)
        self._layers["ward17"] = _layer("ward17", pd.Series(wards), merged, _names(store.frames["ward17"]))
        self._ready["ward17"].set()
        ward_lad = store.frames["ward17"]["lad19_code"].reindex(wards).to_numpy()
        lads, merged = cached_dissolve(ward_lad, merged, name="lad19", cache_key=self._cache_key)
        self._layers["lad19"] = _layer("lad19", pd.Series(lads), merged, _names(store.frames["lad19"]))
        self._ready["lad19"].set()
        self._group_boxes(self._layers["lsoa11"], l11, ["msoa11_code", "region19_code"])

    def _group_boxes(self, layer: GeoLayer, lsoas: pd.DataFrame, keys: list[str]) -> None:
        """Boxes of areas with no layer of their own: the union of their LSOAs' boxes."""
        codes = pd.Index(list(layer.codes))
        b = pd.DataFrame(layer.bounds, index=codes, columns=["x0", "y0", "x1", "y1"])
        for key in keys:
            g = b.groupby(lsoas[key].reindex(codes).to_numpy())
            box = pd.concat([g[["x0", "y0"]].min(), g[["x1", "y1"]].max()], axis=1)
            self._boxes.update({str(k): [round(float(v), 5) for v in row]
                                for k, row in zip(box.index, box.to_numpy(), strict=True)})

    def lazy_layer(self, name: str, assignment: pd.DataFrame | None = None) -> GeoLayer:
        """``lsoa01`` or a neighbourhood set ``nbhd:NAME`` (``assignment``: LSOA code, code, name), built once."""
        import shapely

        with self._lazy_lock:
            if name in self._layers:
                return self._layers[name]
            if not self.layer("lsoa11", timeout=120) or self._error:
                raise DataError(f"the {name} layer could not be prepared: {self._error}")
            if name == "lsoa01":
                look = self._con.execute("SELECT lsoa11_code, lsoa01_code, lsoa01_name AS name "
                                         "FROM lookup_lsoa01_lsoa11").df()
                assignment = look.rename(columns={"lsoa01_code": "code"})
                key = "lsoa11_code"
            elif assignment is None:
                raise DataError(f"unknown map layer {name!r}")
            else:
                key = assignment.columns[0]
            if key == "lsoa11_code":
                codes, geoms = self._lsoa11_geometry()
            else:
                layer = self._layers["lsoa21"]
                rows = self._con.execute(
                    "SELECT lsoa21_code AS code, geometry FROM boundaries_lsoa21 WHERE lsoa21_code LIKE 'E%'").df()
                rows = rows[isin(rows["code"], layer.codes)]
                codes, geoms = rows["code"].to_numpy(), shapely.from_wkb(rows["geometry"].map(bytes).to_numpy())
            unit = assignment.drop_duplicates(key).set_index(key)["code"].reindex(codes)
            ok = unit.notna().to_numpy()
            keys, merged = dissolve(unit.to_numpy()[ok].astype(str), geoms[ok])
            names = assignment.drop_duplicates("code").set_index("code")[["name"]]
            self._layers[name] = _layer(name, pd.Series(keys), merged, names)
            return self._layers[name]

    def layer(self, name: str, *, timeout: float = 30.0) -> GeoLayer:
        """A prepared layer; waits for the ward layer if it is still being built."""
        if name in self._layers:
            return self._layers[name]
        if name not in LAYERS:
            raise DataError(f"unknown map layer {name!r}; valid layers: {', '.join(LAYERS)}")
        if not self._ready[name].wait(timeout):
            raise DataError(f"the {name} map layer is still being prepared; retry in a few seconds")
        if name not in self._layers:
            raise DataError(f"the {name} layer could not be prepared: {self._error}")
        return self._layers[name]

    def bbox(self, code: str) -> list[float] | None:
        """``[minlon, minlat, maxlon, maxlat]`` of an area in a ready layer (or of its LSOAs), else None."""
        for layer in list(self._layers.values()):
            if code in layer.codes:
                return [round(float(v), 5) for v in layer.bounds[layer.codes[code]]]
        return self._boxes.get(code)

    def bbox_of(self, lsoa_codes: list[str]) -> list[float] | None:
        """The box around a set of LSOAs (a custom area)."""
        boxes = [b for b in (self.bbox(c) for c in lsoa_codes) if b]
        if not boxes:
            return None
        a = np.array(boxes)
        return [round(float(v), 5) for v in (a[:, 0].min(), a[:, 1].min(), a[:, 2].max(), a[:, 3].max())]

    def labels(self) -> list[dict[str, object]]:
        """Place-name labels for the basemap: each LAD 2024's name at a point inside it."""
        import shapely

        layer = self.layer("lad24")
        if getattr(self, "_labels", None) is None:
            feats = [json.loads(f) for f in layer.features]
            points = shapely.point_on_surface(shapely.from_geojson([json.dumps(f["geometry"]) for f in feats]))
            self._labels = [{"code": f["properties"]["code"], "name": f["properties"]["name"],
                             "lon": round(float(p.x), 4), "lat": round(float(p.y), 4)}
                            for f, p in zip(feats, points, strict=True)]
        return self._labels

    def wait(self, timeout: float | None = 60.0) -> bool:
        """Block until every layer is ready (for tests and benchmarks)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
