"""Reading and writing key-frame output files (`schemas/keyframes.v2.json`; v1 files are read too).

A key-frame output folder holds `keyframes-*.parquet` files, one row per video, each with
the provenance of the run in the Parquet key-value metadata under `tc139k` (JSON), and
`.done/keyframes-NNNNN.json` markers recording each file's size and sha256.

Readers (shards, stats) go through `keyframe_files`, `open_file` and `reading`: a file that
is empty, truncated, not Parquet, or whose size differs from its marker raises
DamagedFileError naming the file and the rerun that repairs it, never a pyarrow traceback.
A missing folder, or one without key-frame files, is a usage error.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .. import schemas
from ..atomic import Markers, atomic_path, file_matches, is_disk_full
from ..errors import DamagedFileError, SchemaError, UsageError
from ..layout import missing_keyframes_hint

SCHEMA_ID = "keyframes.v2"
# Columns added since v1, with their type: a v1 file recorded none of them, so readers get
# them as empty lists and every older output folder stays readable.
ADDED_SINCE_V1 = {"transitions": pa.list_(pa.list_(pa.float64()))}
FILE_GLOB = "keyframes-*.parquet"
PROVENANCE_KEY = b"tc139k"


def keyframes_schema() -> pa.Schema:
    return schemas.load(SCHEMA_ID).to_arrow()


def write_keyframes_file(rows: list[dict], path: str | Path, provenance: dict) -> Path:
    """Write rows (dicts with the schema's fields) atomically, deterministic bytes."""
    schema = keyframes_schema()
    rows = [{**dict.fromkeys(ADDED_SINCE_V1, []), **r} for r in rows]  # rows of v1's fields: none recorded
    table = pa.Table.from_pylist(rows, schema=schema)
    problems = schemas.check_table(table, schemas.load(SCHEMA_ID))
    if problems:
        raise SchemaError(f"key-frame rows for {path} break {SCHEMA_ID}: {'; '.join(problems)}")
    meta = dict(schema.metadata or {})
    meta[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=False, store_schema=True)
    return Path(path)


def keyframe_files(folder: str | Path) -> list[Path]:
    """The folder's key-frame files, each checked: its Parquet footer reads and its size is
    the one its marker recorded (a cheap check; the keyframes rerun also compares hashes)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a key-frame output folder (it does not exist or is not a folder)")
    files = sorted(folder.glob(FILE_GLOB))
    if not files:
        raise UsageError(f"no {FILE_GLOB} files in {folder}; {missing_keyframes_hint(folder, FILE_GLOB)}")
    markers = Markers(folder)
    for f in files:
        record = (markers.get(f.stem) or {}).get("file")
        if record is not None and not file_matches(f, record, hash_it=False):
            raise damaged(f, f"{f.stat().st_size} bytes, its run wrote {record.get('bytes')}")
        open_file(f).close()
    return files


def damaged(path: Path, why: str) -> DamagedFileError:
    return DamagedFileError(
        f"key-frame file {path} is damaged ({why}); rerun the `tc139k keyframes build` command that "
        f"wrote {path.parent} (same options, --out {path.parent}): it checks every file and redoes the damaged ones"
    )


@contextlib.contextmanager
def reading(path: Path):
    """Turn pyarrow's errors while reading `path` into DamagedFileError naming it."""
    try:
        yield
    except (pa.ArrowException, OSError) as e:
        if isinstance(e, OSError) and is_disk_full(e):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise damaged(Path(path), f"not a readable Parquet file: {first}") from None


def open_file(path: str | Path) -> pq.ParquetFile:
    """A key-frame file opened for reading (footer parsed), or DamagedFileError."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise damaged(path, "empty file")
    with reading(path):
        return pq.ParquetFile(path)


def has_rows(n: int) -> Callable[[Path], bool]:
    """A test for a file a marker of an older run vouches for without a hash: it must be
    Parquet with `n` rows (one per video of its batch)."""

    def check(path: Path) -> bool:
        try:
            return path.stat().st_size > 0 and pq.ParquetFile(path).metadata.num_rows == n
        except (pa.ArrowException, OSError):
            return False

    return check


def read_provenance(path: str | Path) -> dict:
    with reading(Path(path)):
        meta = pq.read_schema(path).metadata or {}
    raw = meta.get(PROVENANCE_KEY)
    return json.loads(raw) if raw else {}


def read_keyframes(folder: str | Path, columns: list[str] | None = None) -> pa.Table:
    """All rows of a key-frame output folder, checked against the schema."""
    tables = []
    expected = keyframes_schema()
    for f in keyframe_files(folder):
        with reading(f):
            t = _read_table(f, columns)
        for name in t.column_names:
            want = expected.field(name).type
            if t.schema.field(name).type != want:
                raise SchemaError(f"{f}: column {name!r} is {t.schema.field(name).type}, expected {want}")
        tables.append(t.replace_schema_metadata(None))
    return pa.concat_tables(tables)


def iter_videos(folder: str | Path, columns: list[str] | None = None) -> Iterator[dict]:
    """Rows as dicts, file by file (bounded memory)."""
    for f in keyframe_files(folder):
        with reading(f), open_file(f) as pf:
            for batch in pf.iter_batches(columns=_present(f, columns), batch_size=64):
                yield from _with_added(batch.to_pylist(), columns)


def _missing(f: Path, columns: list[str] | None) -> list[str]:
    have = set(pq.read_schema(f).names)
    return [c for c in (columns or ADDED_SINCE_V1) if c in ADDED_SINCE_V1 and c not in have]


def _present(f: Path, columns: list[str] | None) -> list[str] | None:
    missing = _missing(f, columns)
    return [c for c in columns if c not in missing] if columns else None


def _read_table(f: Path, columns: list[str] | None) -> pa.Table:
    """The file's columns, those added since v1 filled in with empty lists for a v1 file."""
    missing = _missing(f, columns)
    t = pq.read_table(f, columns=_present(f, columns))
    for c in missing:
        empty = pa.array([[]] * t.num_rows, type=ADDED_SINCE_V1[c])
        t = t.append_column(pa.field(c, ADDED_SINCE_V1[c], nullable=False), empty)
    return t.select(columns) if columns else t


def _with_added(rows: list[dict], columns: list[str] | None) -> list[dict]:
    for c in ADDED_SINCE_V1:
        if columns is None or c in columns:
            for r in rows:
                r.setdefault(c, [])
    return rows


def patch_scores_array(row: dict) -> np.ndarray:
    """The row's quantised scores as uint8 (n_frames, grid_h * grid_w)."""
    n, cells = row["n_frames"], row["grid_h"] * row["grid_w"]
    q = np.frombuffer(row["patch_scores"], dtype=np.uint8)
    if q.size != n * cells:
        raise SchemaError(f"video {row['video_id']}: patch_scores has {q.size} bytes, expected {n}x{cells}")
    return q.reshape(n, cells)
