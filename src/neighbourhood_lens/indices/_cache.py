"""Look-ups that cannot change under a read-only warehouse connection, kept per connection.

Building an index reads two things that do not depend on the spec's values: the codes of the
unit's areas (one column of an LSOA hierarchy) and the schema of each component table. Under a
connection opened read-only these are the same on every build, so :func:`cached` computes each
once and gives the same object back on the next build over that connection.

Notes
-----
A value is never stale, because it is kept only while nothing could have changed it:

* **Read-only database.** A value is stored only when the database was opened read-only
  (DuckDB's ``access_mode`` setting is ``read_only``): no statement may write to it, and no other
  process may open it for writing while it is open. A writable connection is never cached.
* **Nothing of the connection's own.** What a read-only connection can still change is its
  temporary catalog: temporary tables and views, frames registered on it (a view over a live
  Python object, which can change without any statement), attached databases, ``USE`` and the
  search path. A value is stored only when the connection has no temporary table or view and
  every table it reads is a base table of the current database and schema.
* **Catalog version.** DuckDB counts every statement that may change what a name binds to
  (registering or unregistering a frame, ``CREATE``, ``INSERT``, ``ATTACH``, ``USE``, ``SET``,
  ``PRAGMA``, even ``BEGIN``; the count is the connection's ``_catalog_version()``, the one
  DuckDB's own relation layer uses to bind its schemas again). Each value is kept with the
  count read *before* it was computed and is given back only while the count is unchanged; any
  such statement since then makes it a miss, computed and checked again. A DuckDB without that
  count caches nothing.
* **The connection itself is the key**, held by a weak reference: a value never passes to
  another connection (a new connection to a rebuilt file starts empty, whatever its ``id``),
  and a connection's values go with it. At most 32 values are kept per connection, the least
  recently used dropped first.

Errors are never cached: a look-up that raises raises again on the next call, with its message.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import duckdb

__all__ = ["cached", "clear", "size"]

T = TypeVar("T")

LIMIT = 32
"""The most values kept per connection."""

_lock = threading.Lock()
_store: weakref.WeakKeyDictionary[object, OrderedDict[Hashable, tuple[int, object]]] = weakref.WeakKeyDictionary()


def _version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The connection's catalog version, or None when DuckDB does not count it (or it is closed)."""
    count = getattr(con, "_catalog_version", None)
    if count is None:
        return None
    try:
        return int(count())
    except Exception:  # noqa: BLE001 - a closed connection: nothing cached, the read itself raises as before
        return None


def _unchanging(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> bool:
    """Whether the database is read-only, the connection has no temporary table or view (nor a
    registered frame), and each of ``tables`` is a base table of the current database and schema."""
    import duckdb

    names = list(dict.fromkeys(tables))
    marks = ", ".join("?" for _ in names) or "NULL"
    sql = ("SELECT current_setting('access_mode') = 'read_only'"
           " AND (SELECT count(*) FROM duckdb_tables() WHERE temporary) = 0"
           " AND (SELECT count(*) FROM duckdb_views() WHERE temporary AND NOT internal) = 0"
           " AND (SELECT count(DISTINCT table_name) FROM duckdb_tables() WHERE NOT temporary"
           "      AND database_name = current_database() AND schema_name = current_schema()"
           f"     AND table_name IN ({marks})) = ?")
    try:
        return bool(con.execute(sql, [*names, len(names)]).fetchall()[0][0])
    except duckdb.Error:
        return False


def cached(con: duckdb.DuckDBPyConnection, key: Hashable, compute: Callable[[], T], *, tables: Sequence[str]) -> T:
    """``compute()``, kept under ``key`` for ``con`` while it can give nothing else (see the module notes).

    ``tables`` are the tables ``compute`` reads. The value is shared between calls, so it must
    not be changed in place (Arrow arrays are immutable; give a copy of anything else).
    """
    version = _version(con)
    if version is None:
        return compute()
    with _lock:
        values = _store.get(con)
        hit = values.get(key) if values is not None else None
        if hit is not None and hit[0] == version:
            values.move_to_end(key)
            return hit[1]  # type: ignore[return-value]
    if not _unchanging(con, tables):
        return compute()
    value = compute()
    with _lock:
        values = _store.setdefault(con, OrderedDict())
        for k in [k for k, (v, _) in values.items() if v != version]:
            del values[k]
        values[key] = (version, value)
        values.move_to_end(key)
        while len(values) > LIMIT:
            values.popitem(last=False)
    return value


def size(con: duckdb.DuckDBPyConnection) -> int:
    """How many values a look-up on ``con`` would give now (those of its current catalog version)."""
    version = _version(con)
    with _lock:
        return sum(v == version for v, _ in (_store.get(con) or {}).values())


def clear() -> None:
    """Forget every kept value."""
    with _lock:
        _store.clear()
