"""What the web app's first pages need, computed once per warehouse build and stored in it.

Without it, a freshly started server simplifies and dissolves every map layer and computes the
2004-2025 trajectories of each area type on the first requests (13-25 s for a first profile
page, 12 s for the first IoD2015 map). :func:`build_web_cache` computes them once and writes
three tables into the warehouse; :func:`load_web_cache` reads them back in a second or two, so
a restarted server is ready with everything in memory:

``web_cache_meta``
    one row: the cache format, the tool version and the key of the data it was built from
    (:func:`web_cache_key`: the datasets' ids, checksums and load times in ``provenance``).
    A cache whose key does not match the warehouse is ignored (and rebuilt by ``nlens serve``).
``web_cache_features``
    every map layer of :mod:`._geo` (``lad24``, ``ward24``, ``lsoa21``, ``lsoa11``,
    ``ward17``, ``lad19`` and ``lsoa01``): per feature its layer, order, code, bounding box
    and the serialised GeoJSON feature, exactly as the server sends it.
``web_cache_trajectories``
    :func:`..deprivation.trajectories.trajectories` of every geography level (the profile
    chart, and the map's IoD2004-2015 colours of wards 2017 and LADs 2019).

The tables are derived data: a rebuild (``nlens data build``) writes a new warehouse without
them (:mod:`..data.keep` carries only datasets and the user's work), and the next ``nlens
serve`` builds them again. Stored neighbourhood sets are not cached (they change with the
user's work); they are dissolved on first use.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neighbourhood_lens import __version__
from neighbourhood_lens.warehouse import table_names

if TYPE_CHECKING:
    import duckdb

    from neighbourhood_lens.outputs.profiles import ProfileStore

    from ._geo import GeoLayer

__all__ = ["CACHE_TABLES", "TRAJECTORY_LEVELS", "WebCache", "Trajectories", "web_cache_key", "web_cache_current",
           "build_web_cache", "load_web_cache"]

#: The tables this module writes.
CACHE_TABLES = ("web_cache_meta", "web_cache_features", "web_cache_trajectories")
#: Levels whose trajectories are cached (every level a profile page can show).
TRAJECTORY_LEVELS = ("lsoa11", "msoa11", "ward17", "lad19", "region19", "lsoa21", "ward24", "lad24", "region24")
#: Bump when the stored layout or content changes.
_FORMAT = 1


def web_cache_key(con: duckdb.DuckDBPyConnection) -> str:
    """A key of the data in this warehouse: its datasets' ids, checksums and load times, and the tool version."""
    rows = con.execute("SELECT dataset_id, sha256, CAST(loaded_at AS VARCHAR) FROM provenance ORDER BY 1").fetchall()
    text = f"{_FORMAT}|{__version__}|" + "|".join(",".join(str(v) for v in r) for r in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class Trajectories:
    """Trajectories per level, from the cache or computed on first use (thread-safe)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame] | None = None) -> None:
        self._con, self._lock = con, threading.Lock()
        self._frames = {level: self._indexed(frame) for level, frame in (frames or {}).items()}
        self._lsoas: dict[int, pd.DataFrame] = {}  # lsoa_percentiles per base vintage, shared by its levels

    @staticmethod
    def _indexed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(["code", "edition"], kind="stable").set_index("code", drop=False)

    def frame(self, level: str) -> pd.DataFrame:
        """Every area's trajectory at ``level`` (indexed by code, rows sorted by edition)."""
        with self._lock:
            if level not in self._frames:
                from neighbourhood_lens.deprivation.trajectories import base_vintage, lsoa_percentiles, trajectories

                cur, vintage = self._con.cursor(), base_vintage(level)
                if vintage not in self._lsoas:
                    self._lsoas[vintage] = lsoa_percentiles(cur, vintage=vintage)
                self._frames[level] = self._indexed(trajectories(cur, by=level, lsoas=self._lsoas[vintage]))
            return self._frames[level]

    def of(self, level: str, code: str) -> pd.DataFrame:
        """One area's rows, by edition (empty if the level has no such code)."""
        frame = self.frame(level)
        if code not in frame.index:
            return frame.iloc[:0]
        return frame.loc[[code]]

    def levels(self) -> list[str]:
        """Levels held in memory."""
        return list(self._frames)


@dataclass
class WebCache:
    """The cached map layers and trajectories of one warehouse."""

    key: str
    layers: dict[str, GeoLayer] = field(default_factory=dict)
    trajectories: dict[str, pd.DataFrame] = field(default_factory=dict)


def build_web_cache(con: duckdb.DuckDBPyConnection, *, store: ProfileStore | None = None,
                    layers: dict[str, GeoLayer] | None = None, levels: tuple[str, ...] = TRAJECTORY_LEVELS,
                    progress: Callable[[str], None] | None = None) -> WebCache:
    """Compute the map layers and trajectories and write them to the warehouse ``con`` (read-write).

    ``store`` (the profile store) and ``layers`` (already prepared layers, e.g. of a running
    :class:`._geo.GeoCache`) are computed when not given. ``progress`` is told each step.
    Replaces any earlier cache tables in one transaction.
    """
    from neighbourhood_lens.outputs.profiles import load_store

    from ._geo import GeoCache

    say = progress or (lambda _: None)
    key = web_cache_key(con)
    geo = None
    if layers is None:  # dissolved in GeoCache's own thread while the trajectories are computed here
        say("map layers: simplifying and dissolving boundaries")
        geo = GeoCache(con.cursor(), store or load_store(con))
    frames = {}
    trajectories = Trajectories(con)
    for level in levels:
        say(f"trajectories: {level}")
        frames[level] = trajectories.frame(level).reset_index(drop=True)
    if geo is not None:
        say("map layers: finishing")
        geo.wait(None)
        geo.lazy_layer("lsoa01")
        layers = geo.prepared()
    say("writing the cache tables")
    features = pd.concat([pd.DataFrame({"layer": name, "ord": np.arange(len(layer.features), dtype=np.int32),
                                        "code": list(layer.codes), "x0": layer.bounds[:, 0], "y0": layer.bounds[:, 1],
                                        "x1": layer.bounds[:, 2], "y1": layer.bounds[:, 3],
                                        "feature": pd.array(layer.features, dtype="str")})
                          for name, layer in layers.items() if not name.startswith("nbhd:")], ignore_index=True)
    traj = pd.concat([f.assign(level=level) for level, f in frames.items()], ignore_index=True) if frames else None
    meta = pd.DataFrame({"format": [_FORMAT], "tool_version": [__version__], "data_key": [key],
                         "built_at": [pd.Timestamp.now(tz="UTC").isoformat()]})
    con.execute("BEGIN TRANSACTION")
    try:
        for table, frame in (("web_cache_features", features), ("web_cache_trajectories", traj),
                             ("web_cache_meta", meta)):
            con.execute(f"DROP TABLE IF EXISTS {table}")
            if frame is not None:
                con.register("_web_cache_frame", frame)
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM _web_cache_frame")
                con.unregister("_web_cache_frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return WebCache(key=key, layers=dict(layers), trajectories=frames)


def web_cache_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds a web cache built from its present data by this version."""
    names = table_names(con)
    if not set(CACHE_TABLES) <= names:
        return False
    try:
        meta = con.execute("SELECT format, tool_version, data_key FROM web_cache_meta").fetchall()
        return meta == [(_FORMAT, __version__, web_cache_key(con))]
    except Exception:  # a damaged or foreign table of that name
        return False


def load_web_cache(con: duckdb.DuckDBPyConnection) -> WebCache | None:
    """The stored cache if it matches this warehouse's data, else None (missing, stale or damaged)."""
    from ._geo import GeoLayer

    if not web_cache_current(con):
        return None
    try:
        cache = WebCache(key=web_cache_key(con))
        rows = con.execute("SELECT layer, code, x0, y0, x1, y1, feature FROM web_cache_features "
                           "ORDER BY layer, ord").df()
        for name, part in rows.groupby("layer", sort=False):
            codes = part["code"].tolist()
            cache.layers[str(name)] = GeoLayer(name=str(name), features=part["feature"].to_numpy(dtype=object),
                                               bounds=part[["x0", "y0", "x1", "y1"]].to_numpy(dtype=float),
                                               codes={c: i for i, c in enumerate(codes)})
        traj = con.execute("SELECT * FROM web_cache_trajectories").df()
        cache.trajectories = {str(level): part.drop(columns="level").reset_index(drop=True)
                              for level, part in traj.groupby("level", sort=False)}
        return cache
    except Exception:  # a damaged cache is rebuilt, never fatal
        return None
