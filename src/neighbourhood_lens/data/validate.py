"""Check official files: SHA-256 checksums, and canonical columns plus validation of a table.

Used by the build (:mod:`.build`) and by downloads (:mod:`.download`), which both accept a
file only when it passes :func:`normalise_table`: the dataset's normaliser maps the headers
to canonical columns, then required columns, unique keys, GSS code patterns, English codes
where the dataset is England-only and numeric score/rank/decile columns are checked.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pyarrow as pa

from neighbourhood_lens.data.levels import GSS_CODE
from neighbourhood_lens.data.normalise import normalise_headers
from neighbourhood_lens.data.sources import Dataset
from neighbourhood_lens.errors import DataError, SchemaError, examples

__all__ = ["sha256_file", "read_checksums", "normalise_table", "table_notes"]


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_checksums(directory: Path) -> dict[str, str]:
    """Parse ``SHA256SUMS`` (``<hex>  <file name>`` per line) in ``directory`` if present."""
    sums = directory / "SHA256SUMS"
    if not sums.exists():
        return {}
    out: dict[str, str] = {}
    for n, line in enumerate(sums.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            raise DataError(f"{sums}: line {n} is not '<sha256>  <file>': {line!r}")
        out[parts[1].lstrip("*")] = parts[0].lower()
    return out


def normalise_table(table: pa.Table, dataset: Dataset, *, source: str) -> pa.Table:
    """Rename to canonical columns and validate; raise a :class:`DataError` naming the file,
    column and example values on any problem."""
    if len(table.column_names) == 1 and (sep := next((d for d in ";\t|" if d in table.column_names[0]), None)):
        raise SchemaError(f"{source}: only one column, {table.column_names[0]!r}: is the file separated by "
                          f"{sep!r} instead of commas? Save it as comma-separated CSV")
    try:
        mapping = normalise_headers(dataset.id, table.column_names)
    except ValueError as exc:
        raise SchemaError(f"{source}: {exc}") from None
    table = table.rename_columns([mapping[c] for c in table.column_names])
    notes: list[str] = []
    table = _drop_row_numbers(table, dataset, notes)
    table = _coerce(table, dataset, source)
    # The IoD 2004-2010 files publish ranks only: derive the deciles before checking for them.
    table = _derive_deciles(table, dataset, notes)
    missing = [c for c in dataset.required if c not in table.column_names]
    if missing:
        raise SchemaError(
            f"{source} does not look like {dataset.id} ({dataset.title}): missing column(s) "
            f"{', '.join(missing)}. Found: {examples(table.column_names, limit=12)}. "
            f"Check the file is the right one ({dataset.landing_page})."
        )
    if table.num_rows == 0:
        raise DataError(f"{source}: the file has a header but no rows")
    if dataset.england_filter:
        table = _keep_england(table, dataset, notes)
    _check_codes(table, dataset, source)
    _check_unique(table, dataset, source)
    if notes:
        meta = dict(table.schema.metadata or {})
        meta.update({f"nlens_note_{i}".encode(): n.encode() for i, n in enumerate(notes)})
        table = table.replace_schema_metadata(meta)
    return table


#: Row numbers the ONS portal adds to its downloads (hub CSVs carry ``ObjectId``; FeatureServer
#: pages carry the object-id field, which :mod:`.arcgis` drops). They number rows, not areas.
_ROW_NUMBERS = ("objectid", "fid", "object_id")


def _drop_row_numbers(table: pa.Table, dataset: Dataset, notes: list[str]) -> pa.Table:
    """Drop the portal's row-number column from an ONS lookup or boundary download (noted)."""
    if not dataset.id.startswith(("lookup_", "boundaries_", "ruc")):
        return table
    found = [c for c in table.column_names if c in _ROW_NUMBERS]
    if found:
        notes.append(f"dropped the portal's row-number column(s) {', '.join(found)}")
        table = table.drop_columns(found)
    return table


def table_notes(table: pa.Table) -> list[str]:
    """The notes :func:`normalise_table` attached (rows filtered, deciles derived)."""
    return [v.decode() for k, v in sorted((table.schema.metadata or {}).items()) if k.startswith(b"nlens_note")]


def _keep_england(table: pa.Table, dataset: Dataset, notes: list[str]) -> pa.Table:
    """Keep English rows of a file the publisher issues for England and Wales (counted in a note)."""
    import pyarrow.compute as pc

    key = table.column(dataset.key[0])
    english = pc.fill_null(pc.starts_with(key, "E"), False)
    dropped = table.num_rows - pc.sum(english).as_py()
    if dropped:
        others = pc.filter(key, pc.invert(english)).to_pylist()
        notes.append(f"kept the {table.num_rows - dropped:,} English rows; {dropped:,} rows for Wales (or "
                     f"elsewhere) left out, e.g. {examples(others, limit=3)}")
        table = table.filter(english)
    return table


def _derive_deciles(table: pa.Table, dataset: Dataset, notes: list[str]) -> pa.Table:
    """Add ``<domain>_decile`` from the national rank where an edition publishes ranks only.

    The IoD 2004-2010 tables give scores and ranks; MHCLG's deciles are equal-count groups of
    the national rank, decile ``ceil(10 * rank / N)`` (decile 1 = most deprived 10%).
    """
    import pyarrow.compute as pc

    if dataset.id not in ("imd2004_lsoa01", "imd2007_lsoa01", "imd2010_lsoa01"):
        return table
    added = []
    n = table.num_rows
    for name in list(table.column_names):
        if not name.endswith("_rank") or name.replace("_rank", "_decile") in table.column_names:
            continue
        rank = table.column(name)
        dec = pc.ceil(pc.divide(pc.multiply(rank.cast(pa.float64()), 10.0), float(n)))
        table = table.append_column(name.replace("_rank", "_decile"), dec)
        added.append(name.replace("_rank", "_decile"))
    if added:
        notes.append(f"deciles derived from the national ranks as ceil(10 x rank / {n:,}): {', '.join(added)}")
    return table


def _coerce(table: pa.Table, dataset: Dataset, source: str) -> pa.Table:
    """Codes and names as strings (trimmed); score/rank/decile columns as float64."""
    import pyarrow.compute as pc

    for i, name in enumerate(table.column_names):
        col = table.column(i)
        if name.endswith(("_code", "_name")) and not pa.types.is_string(col.type):
            col = col.cast(pa.string())
            table = table.set_column(i, name, col)
        if name.endswith("_code"):
            table = table.set_column(i, name, pc.utf8_trim_whitespace(col))
        elif (
            name.endswith(("_score", "_rank", "_decile")) or name == "population"
        ) and not pa.types.is_floating(col.type):
            try:
                table = table.set_column(i, name, col.cast(pa.float64()))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                bad = _non_numeric(col)
                raise DataError(
                    f"{source}: column {name!r} ({dataset.id}) must be numeric; "
                    f"{len(bad)} value(s) are not, e.g. {examples(bad)}"
                ) from None
    return table


def _non_numeric(col: pa.ChunkedArray) -> list[str]:
    import pandas as pd

    s = col.to_pandas().astype("string")
    bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()]
    return [f"row {i + 2}: {v!r}" for i, v in bad.head(5).items()] + (
        [f"... ({len(bad)} in all)"] if len(bad) > 5 else []
    )


def _check_codes(table: pa.Table, dataset: Dataset, source: str) -> None:
    import pyarrow.compute as pc

    for key in dataset.key:
        col = table.column(key)
        nulls = col.null_count
        if nulls:
            raise DataError(f"{source}: {nulls} row(s) have no {key} ({dataset.id})")
        if not key.endswith("_code"):  # a year, month or type in a long table's composite key
            continue
        bad = pc.invert(pc.match_substring_regex(col, GSS_CODE.pattern))
        if pc.any(bad).as_py():
            vals = pc.filter(col, bad).to_pylist()
            raise DataError(
                f"{source}: column {key!r} holds {len(vals)} value(s) that are not GSS codes "
                f"(a letter then 8 digits, e.g. E01000001): {examples(vals)}"
            )
        if dataset.england_only:
            not_e = pc.invert(pc.starts_with(col, "E"))
            if pc.any(not_e).as_py():
                vals = pc.filter(col, not_e).to_pylist()
                raise DataError(
                    f"{source}: {dataset.id} covers England only, but column {key!r} has "
                    f"{len(vals)} non-English code(s): {examples(vals)}. Remove them or use "
                    "the English file."
                )


def _check_unique(table: pa.Table, dataset: Dataset, source: str) -> None:
    import pyarrow.compute as pc

    if len(dataset.key) == 1:
        col = table.column(dataset.key[0])
        if pc.count_distinct(col).as_py() == table.num_rows:
            return
        counts = pc.value_counts(col)
        dup = [v["values"] for v in counts.to_pylist() if v["counts"] > 1]
    else:
        # The distinct count by DuckDB, in parallel, in place of Arrow's group_by over the
        # six multi-column keys of the national tables (`benchmarks/bench_build.py`: the whole build took
        # 5.8-6.5 s before, 4.7-5.1 s after). Arrow lists the repeats, when there are any.
        import duckdb

        cols = ", ".join('"' + k.replace('"', '""') + '"' for k in dataset.key)
        with duckdb.connect() as mem:
            mem.register("keyed", table.select(list(dataset.key)))
            distinct = mem.execute(f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM keyed)").fetchall()[0][0]
        if distinct == table.num_rows:
            return
        grouped = table.group_by(list(dataset.key)).aggregate([([], "count_all")])
        mask = pc.greater(grouped.column("count_all"), 1)
        dup_tbl = grouped.filter(mask)
        dup = ["/".join(str(r[k]) for k in dataset.key) for r in dup_tbl.to_pylist()]
    raise DataError(
        f"{source}: {len(dup)} duplicate {'+'.join(dataset.key)} value(s) in {dataset.id}: "
        f"{examples(dup)}. Each must appear once; remove the repeated rows."
    )
