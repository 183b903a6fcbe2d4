"""Is a frame a JPEG that `datasets` (PIL) will open? A structural check, cheap enough for
every embedded frame: start-of-image marker, the header segments up to the start of scan
with a frame header (SOFn) of non-zero size, and the end-of-image marker near the end (a
file cut short loses it). It does not decode the pixels: a file with an intact structure but
damaged entropy-coded data passes (PIL would decode it with artefacts, not fail).

`jpeg_problem(data)` returns None for a good frame, else a short reason; `FrameChecker`
checks files under a frames root, remembering recent answers (clips overlap);
`embedded_problems` checks the frames stored in a shard.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..jpegheader import EOI, SOI, walk_header

EOI_TAIL = 64  # encoders may pad after the end-of-image marker; a little slack
CACHE_LIMIT = 1_000_000  # answers kept; cleared when reached (bounded memory)


def jpeg_problem(data: bytes) -> str | None:
    """None when `data` is structurally a complete JPEG, else why not."""
    if not data:
        return "empty file"
    if not data.startswith(SOI):
        return "not a JPEG (no start-of-image marker)"
    if EOI not in data[-EOI_TAIL:]:
        return "truncated JPEG (no end-of-image marker)"
    size, _, problem = walk_header(data)
    if problem is not None:
        return problem
    if 0 in size:
        return f"JPEG of size {size[0]}x{size[1]}"
    return None


class FrameChecker:
    """Checks frame files `<frames_root>/<relative path>`; remembers recent answers."""

    def __init__(self, frames_root: str | os.PathLike):
        self.root = Path(frames_root)
        self._seen: dict[str, str | None] = {}

    def problem(self, rel: str) -> str | None:
        if rel in self._seen:
            return self._seen[rel]
        try:
            with open(self.root / rel, "rb") as f:
                found = jpeg_problem(f.read())
        except OSError as e:
            found = f"unreadable ({e.strerror or e})"
        if len(self._seen) >= CACHE_LIMIT:
            self._seen.clear()
        self._seen[rel] = found
        return found

    def record_problem(self, paths: list[str]) -> str | None:
        """The quarantine reason for a record whose frames are `paths`, or None."""
        bad = [(p, why) for p in paths if (why := self.problem(p)) is not None]
        if not bad:
            return None
        return (
            f"bad_frames: {len(bad)} of {len(paths)} frame(s) are not decodable JPEGs (first: {bad[0][0]}: {bad[0][1]})"
        )


def embedded_problems(pf, rel: str, limit: int = 5) -> list[str]:
    """Problems of the frames embedded in an opened shard (pyarrow ParquetFile) named `rel`,
    one row group at a time: at most `limit` listed, then a count of the rest."""
    found, total, row = [], 0, 0
    for i in range(pf.num_row_groups):
        for frames in pf.read_row_group(i, columns=["frames"]).column("frames").to_pylist():
            for frame in frames or []:
                why = jpeg_problem(frame.get("bytes") or b"")
                if why is not None:
                    total += 1
                    if len(found) < limit:
                        found.append(f"{rel}: row {row}: embedded frame {frame.get('path')}: {why}")
            row += 1
    if total > limit:
        found.append(f"{rel}: {total - limit} more bad embedded frame(s)")
    return found
