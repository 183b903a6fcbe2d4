"""Checking one chunk of a QA file: the work `validate` hands to worker processes (and
does itself for small inputs). Kept apart so that a worker imports no more than it needs."""

from __future__ import annotations

import gc
import platform
from collections import Counter
from dataclasses import dataclass

import pyarrow as pa

from ..jsonl import iter_blocks
from .exact import Checker
from .settings import WorkerSettings as Settings

MAX_EXAMPLES = 5


@dataclass
class ChunkResult:
    """One chunk's outcome; per-record lists are in line order. Line numbers count from 1
    at the chunk's start (the merge adds the lines of the chunks before)."""

    lines: list[int]
    offsets: list[int]
    lengths: list[int]
    digests: list  # 16 bytes each, None for an over-long line
    valid: list[bool]
    quarantine: list[str]  # entries without file and line (qacheck.quarantine_line)
    quarantine_of: list[int]  # record position of each entry
    blank_lines: int
    reasons: Counter
    examples: dict
    unknown_fields: Counter
    prefixes: Counter
    table: pa.Table | None = None  # valid rows (in this process)
    table_path: str | None = None  # or an Arrow IPC file (from a worker)


_checker: Checker | None = None
_settings: Settings | None = None


def init_worker(settings: Settings) -> None:
    """Set up a worker process. Its allocator keeps freed memory instead of returning it to
    the system after every block: fresh pages cost a fault each, which on virtual machines
    doubles the time spent per block."""
    global _checker, _settings
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        import ctypes

        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD
            libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD
        except (OSError, AttributeError):
            pass
    _settings = settings
    _checker = Checker(settings.frames_root, exact_only=not settings.fast_path, want_table=settings.want_table)


def check_chunk(path: str, name: str, start: int, stop: int, table_path: str | None) -> ChunkResult:
    """Check one chunk with this process's checker. With `table_path`, the valid rows go to
    an Arrow IPC file there (cheap to hand over: the merge maps it), else into the result."""
    checker, settings = _checker, _settings
    # the many small objects of each block trigger collections that cost about 5 % of the
    # time and find nothing: collect once the chunk is done instead
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return _check_chunk(checker, settings, path, name, start, stop, table_path)
    finally:
        if gc_was_on:
            gc.enable()


def _check_chunk(checker, settings, path, name, start, stop, table_path) -> ChunkResult:
    res = ChunkResult([], [], [], [], [], [], [], 0, Counter(), {}, Counter(), Counter())
    batches = []
    line = 1
    for item in iter_blocks(path, settings.block_bytes, settings.max_line_bytes, start, stop, count_lines=False):
        o = checker.check(item, name, first_line=line)
        line += o.n_lines
        base = len(res.lines)
        res.lines += o.lines
        res.offsets += o.offsets
        res.lengths += o.lengths
        res.digests += o.digests
        res.valid += o.valid
        res.quarantine += o.quarantine
        res.quarantine_of += [base + k for k in o.quarantine_of]
        res.blank_lines += o.blank_lines
        res.reasons += o.reasons
        for code, ex in o.examples.items():
            kept = res.examples.setdefault(code, [])
            kept += ex[: MAX_EXAMPLES - len(kept)]
        if o.batch is not None:
            batches.append(o.batch)
    res.unknown_fields, res.prefixes = checker.unknown_fields.copy(), checker.prefixes.copy()
    checker.unknown_fields.clear()
    checker.prefixes.clear()
    if settings.want_table:
        table = pa.Table.from_batches(batches, schema=checker.schema)
        if table_path is None:
            res.table = table
        else:
            with pa.OSFile(table_path, "wb") as sink, pa.ipc.new_file(sink, checker.schema) as w:
                w.write_table(table)
            res.table_path = table_path
    return res


def init_in_process(settings: Settings) -> None:
    global _checker, _settings
    _settings = settings
    _checker = Checker(settings.frames_root, exact_only=not settings.fast_path, want_table=settings.want_table)
