"""Reading back the valid table (`valid.parquet`) that `tc139k validate --out` writes, for the
stages that consume it: a missing file, or the raw JSON Lines records given in its place, is a
usage error; an unreadable one or one without the needed columns a schema error naming the
file."""

from __future__ import annotations

from pathlib import Path

from ..errors import SchemaError, UsageError
from ..jsonl import sniff

EXPECTED = "expected the valid.parquet written by `tc139k validate`"


def read_valid_table(path: Path, columns: list[str], optional: tuple[str, ...] = ()) -> list[dict]:
    """The rows of `path` as dicts of `columns` (all required) and of those `optional` columns
    the table has."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise UsageError(f"QA table {path} does not exist; run `tc139k validate --out DIR` first")
    if sniff(path) == "jsonl":
        raise UsageError(
            f"{path} is JSON Lines (QA records as downloaded), not the valid.parquet this command reads: "
            f"run `tc139k validate {path} --out DIR` and pass DIR/valid.parquet"
        )
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise SchemaError(f"{path} is not a readable Parquet file ({e}); {EXPECTED}") from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise SchemaError(f"{path} lacks column(s) {', '.join(missing)}; {EXPECTED}")
    return table.select(columns + [c for c in optional if c in table.column_names]).to_pylist()
