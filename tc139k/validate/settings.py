"""What a checking process needs to know, shared by the stage and its worker processes."""

from __future__ import annotations

from dataclasses import dataclass

MAX_EXAMPLES = 5  # examples kept per reason code, in input order


@dataclass(frozen=True)
class WorkerSettings:
    frames_root: str | None
    fast_path: bool
    want_table: bool
    block_bytes: int
    max_line_bytes: int
    # with --frames-scope downloaded: (sources extracted whole, (source, video_id) extracted)
    frames_scope: tuple[frozenset, frozenset] | None = None
