"""How shard rows are split and cut: the split rule, the shard plan, the row-group plan and
their defaults (the one place the CLI, the recipes and the library take them from).

- Split: a record goes to validation when a stable hash of its video (`source/video_id`)
  falls under `val_fraction`, so no video is in both splits. `tc139k export swift` uses the
  same rule, so its split files hold the same videos as the shards.
- Shards: contiguous ranges of a split's rows with about equal bytes, each under
  `max_shard_size` unless one row is larger, and at least `min(min_shards, rows)` of them so
  that a `DataLoader` with that many workers has a file for each.
- Row groups: contiguous runs of a shard's rows of at most `row_group_bytes` (estimated in
  memory, unless one row is larger) and at most `row_group_rows` rows; streaming readers
  hold one row group at a time.

Everything here is a pure function of its arguments, so plans (and the shards' bytes) are
reproducible. Only the standard library (and tc139k.errors): the CLI imports the defaults
when it starts.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import re

from ..errors import UsageError

DEFAULT_VAL_FRACTION = 0.05
DEFAULT_MAX_SHARD_SIZE = 500_000_000
DEFAULT_MIN_SHARDS = 8  # DataLoader(num_workers=2..8) gets a shard per worker
DEFAULT_ROW_GROUP_BYTES = 96_000_000  # the Hub viewer and streaming want about 64-128 MB
# datasets' own Parquet writer uses 100 rows for image data and 1000 otherwise
DEFAULT_ROW_GROUP_ROWS = 1000
DEFAULT_ROW_GROUP_ROWS_EMBEDDED = 100


def parse_size(text: str) -> int:
    """`500MB`, `2GB`, `1.5 G`, `1000000` -> bytes (powers of ten)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)[bB]?\s*", text)
    if not m:
        raise UsageError(f"{text!r} is not a size such as 500MB, 2GB or 1000000")
    return int(float(m.group(1)) * {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[m.group(2).lower()])


def video_split(source: str, video_id: str, val_fraction: float) -> str:
    """`validation` when the hash of `source/video_id` (its sha256's first 8 bytes, big-endian,
    over 2**64) falls under `val_fraction`, else `train`."""
    h = int.from_bytes(hashlib.sha256(f"{source}/{video_id}".encode()).digest()[:8], "big")
    return "validation" if h / 2**64 < val_fraction else "train"


def plan_shards(row_bytes: list[int], max_shard_size: int, min_shards: int = 1) -> list[tuple[int, int]]:
    """Contiguous [start, end) ranges with about equal bytes, each under `max_shard_size`
    unless a single row is larger, and at least `min(min_shards, len(row_bytes))` of them.

    For n shards, shard k ends at the row boundary nearest to k/n of the bytes, so every
    shard is within about a row of total / n; n starts at the fewest the size allows and
    grows until every shard fits (a shard of one row always fits)."""
    if not row_bytes:
        return []
    cum = list(itertools.accumulate(row_bytes))  # exact integers: cum[i] = bytes of rows 0..i
    total, rows = cum[-1], len(row_bytes)
    n = min(rows, max(1, math.ceil(total / max_shard_size), min_shards))
    while True:
        ends = []
        for k in range(1, n):
            ideal = total * k / n
            j = bisect.bisect_left(cum, ideal)  # the first row whose end reaches the ideal
            end = j if j > 0 and ideal - cum[j - 1] <= cum[j] - ideal else j + 1  # the nearer boundary
            ends.append(min(max(end, ends[-1] + 1 if ends else 1), rows - (n - k)))  # a row for every shard
        ranges = list(zip([0, *ends], [*ends, rows]))
        if n >= rows or all(b - a == 1 or cum[b - 1] - (cum[a - 1] if a else 0) <= max_shard_size for a, b in ranges):
            return ranges
        n += 1


def plan_row_groups(row_bytes: list[int], max_bytes: int, max_rows: int) -> list[int]:
    """Lengths of consecutive row groups: each at most `max_rows` rows and `max_bytes` bytes
    (a row larger than `max_bytes` gets a group of its own)."""
    groups, count, acc = [], 0, 0
    for b in row_bytes:
        if count and (count >= max_rows or acc + b > max_bytes):
            groups.append(count)
            count, acc = 0, 0
        count += 1
        acc += b
    if count:
        groups.append(count)
    return groups


def keyframe_flags(seconds, keyframes) -> list[bool]:
    """Which clip frames stand for a key frame: one falls in (previous clip frame, frame].
    Clips skip frames, so an exact match would miss key frames inside the gaps. `keyframes`
    is sorted."""
    import numpy as np  # here, not at the top: the CLI imports this module for its defaults

    upto = np.searchsorted(np.asarray(keyframes, dtype=np.float64), np.asarray(seconds, dtype=np.float64), "right")
    before = np.concatenate([[0], upto[:-1]])
    return (upto > before).tolist()
