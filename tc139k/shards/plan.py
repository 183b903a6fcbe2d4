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

import hashlib
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
    """`validation` when the hash of `source/video_id` falls under `val_fraction`, else `train`."""
    h = int.from_bytes(hashlib.sha256(f"{source}/{video_id}".encode()).digest()[:8], "big")
    return "validation" if h / 2**64 < val_fraction else "train"


def plan_shards(row_bytes: list[int], max_shard_size: int, min_shards: int = 1) -> list[tuple[int, int]]:
    """Contiguous [start, end) ranges with about equal bytes, each under `max_shard_size`
    unless a single row is larger, and at least `min(min_shards, len(row_bytes))` of them."""
    if not row_bytes:
        return []
    total = sum(row_bytes)
    n = min(len(row_bytes), max(1, math.ceil(total / max_shard_size), min_shards))
    while True:
        target = total / n
        ranges, start, acc = [], 0, 0
        for i, b in enumerate(row_bytes):
            must_cut = len(row_bytes) - i <= n - 1 - len(ranges)  # one row left per shard still due
            if acc and len(ranges) < n - 1 and (acc + b > target * 1.0000001 or must_cut):
                ranges.append((start, i))
                start, acc = i, 0
            acc += b
        ranges.append((start, len(row_bytes)))
        sizes = [sum(row_bytes[a:b]) for a, b in ranges]
        if all(s <= max_shard_size or b - a == 1 for s, (a, b) in zip(sizes, ranges)) or n >= len(row_bytes):
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
