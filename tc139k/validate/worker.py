"""Checking one chunk of a QA file: the work `validate` hands to worker processes (and does
itself for small inputs). Kept apart so that a worker imports no more than it needs.

A chunk is read in blocks of whole lines (tc139k.jsonl). In each block the fast path
(`fast`) accepts what it can; every other record goes to the exact checker (`exact`), which
names its problems; the valid rows of both come out in line order.
"""

from __future__ import annotations

import gc
import os
import platform
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import xxhash

from ..jsonl import JSON_BLANK, LongLine, iter_blocks
from . import arrowbuild as ab
from .exact import ExactChecker, columns, entry_tail, table_schema
from .fast import FastPath
from .frames import FramesOnDisk
from .settings import MAX_EXAMPLES, WorkerSettings


@dataclass
class ChunkResult:
    """One chunk's outcome; per-record lists are in line order. Line numbers count from 1
    at the chunk's start (the merge adds the lines of the chunks before)."""

    lines: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    digests: list = field(default_factory=list)  # 16 bytes each, None for an over-long line
    valid: list[bool] = field(default_factory=list)
    quarantine: list[str] = field(default_factory=list)  # entries without file and line
    quarantine_of: list[int] = field(default_factory=list)  # record position of each entry
    not_downloaded: list[int] = field(default_factory=list)  # records whose only problem that is
    blank_lines: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)
    unknown_fields: Counter = field(default_factory=Counter)
    prefixes: Counter = field(default_factory=Counter)
    table: pa.Table | None = None  # valid rows (in this process)
    table_path: str | None = None  # or an Arrow IPC file (from a worker)

    def add_problems(self, name: str, line: int, problems: list) -> None:
        for code in dict.fromkeys(c for c, _ in problems):
            self.reasons[code] += 1
            kept = self.examples.setdefault(code, [])
            if len(kept) < MAX_EXAMPLES:
                kept.append({"file": name, "line": line, "message": next(m for c, m in problems if c == code)})


class Checker:
    """The two tiers with their caches, for one process."""

    def __init__(self, settings: WorkerSettings):
        frames = None
        if settings.frames_root is not None:
            frames = FramesOnDisk(settings.frames_root, settings.frames_scope)
        self.settings = settings
        self.exact = ExactChecker(frames)
        self.fast = FastPath(frames) if settings.fast_path else None
        self.schema = table_schema()

    def check_chunk(self, path: str, name: str, start: int, stop: int, table_path: str | None) -> ChunkResult:
        """Check one chunk. With `table_path`, the valid rows go to an Arrow IPC file there
        (cheap to hand over: the merge maps it), else into the result."""
        res, batches, line = ChunkResult(), [], 1
        s = self.settings
        for item in iter_blocks(path, s.block_bytes, s.max_line_bytes, start, stop, count_lines=False):
            if isinstance(item, LongLine):
                self._long_line(res, name, item, line)
                line += 1
                continue
            batch, n_lines = self._block(res, name, item.data, item.offset, line)
            line += n_lines
            if batch is not None:
                batches.append(batch)
        for tier in (self.exact, self.fast):
            if tier is not None:
                res.prefixes += tier.prefixes
                tier.prefixes.clear()
        res.unknown_fields = self.exact.unknown_fields.copy()
        self.exact.unknown_fields.clear()
        if s.want_table:
            table = pa.Table.from_batches(batches, schema=self.schema)
            if table_path is None:
                res.table = table
            else:
                with pa.OSFile(table_path, "wb") as sink, pa.ipc.new_file(sink, self.schema) as w:
                    w.write_table(table)
                res.table_path = table_path
        return res

    def _block(self, res: ChunkResult, name: str, data: bytes, offset: int, first_line: int):
        """Check the records of one block into `res`; (valid rows, lines in the block)."""
        lines, starts, ends = [], [], []
        # lines as views of the block (no copy); msgspec and xxhash read them in place
        view, find, size = memoryview(data), data.find, len(data)
        pos, line, blank = 0, first_line, 0
        while pos < size:
            stop = find(b"\n", pos)
            if stop < 0:
                stop = size
            start, end, pos = pos, stop, stop + 1
            if end > start and data[end - 1] == 0x0D:
                end -= 1
            if end == start or (data[start] != 0x7B and not data[start:end].strip(JSON_BLANK)):  # "{" starts a record
                blank += 1
            else:
                lines.append(line)
                starts.append(start)
                ends.append(end)
            line += 1
        raws = [view[s:e] for s, e in zip(starts, ends)]
        base = len(res.lines)
        res.lines += lines
        res.offsets += [offset + s for s in starts]
        res.lengths += [e - s for s, e in zip(starts, ends)]
        res.digests += list(map(xxhash.xxh3_128_digest, raws))
        res.blank_lines += blank
        fast_k, fast_cols = self.fast.accept(raws) if self.fast is not None else ([], None)
        valid = [False] * len(raws)
        for k in fast_k:
            valid[k] = True
        exact_k, rows = [], []
        for k, raw in enumerate(raws):
            if valid[k]:
                continue
            checked = self.exact.check(raw)
            if checked.row is not None:
                valid[k] = True
                exact_k.append(k)
                rows.append(checked.row)
                continue
            res.add_problems(name, lines[k], checked.problems)
            res.quarantine.append(entry_tail(offset + starts[k], checked.problems, raw))
            res.quarantine_of.append(base + k)
            if all(c == "not_downloaded" for c, _ in checked.problems):
                res.not_downloaded.append(base + k)
        res.valid += valid
        parts = [(ks, cols) for ks, cols in ((fast_k, fast_cols), (exact_k, rows)) if ks]
        if not self.settings.want_table or not parts:
            return None, line - first_line
        batches = []
        for ks, cols in parts:
            if cols is rows:
                cols = columns(rows, self.schema)
            cols = dict(
                cols,
                record_id=ab.hex_strings(b"".join([res.digests[base + k] for k in ks]), 16, 8),
                source_file=ab.strings([name] * len(ks)),
                source_line=ab.numbers([lines[k] for k in ks], np.int64),
            )
            batches.append(pa.RecordBatch.from_arrays([cols[f.name] for f in self.schema], schema=self.schema))
        if len(batches) == 1:
            return batches[0], line - first_line
        order = np.argsort(np.concatenate([np.asarray(ks) for ks, _ in parts]), kind="stable")
        table = pa.Table.from_batches(batches).take(ab.numbers(order, np.int64)).combine_chunks()
        return table.to_batches()[0], line - first_line

    def _long_line(self, res: ChunkResult, name: str, item: LongLine, line: int) -> None:
        problems = [("line_too_long", f"{item.size} bytes; only the first {len(item.head)} are kept here")]
        res.add_problems(name, line, problems)
        res.quarantine.append(entry_tail(item.offset, problems, item.head, truncated=True))
        res.quarantine_of.append(len(res.lines))
        res.lines.append(line)
        res.offsets.append(item.offset)
        res.lengths.append(item.size)
        res.digests.append(None)  # over-long lines are never compared as duplicates
        res.valid.append(False)


_checker: Checker | None = None


def init_worker(settings: WorkerSettings, parent_pid: int) -> None:
    """Set up a worker process: it dies with its parent, even a parent killed with SIGKILL.
    Its allocator keeps freed memory instead of returning it to the system after every
    block: fresh pages cost a fault each, which on virtual machines doubles the time spent
    per block."""
    _die_with_parent(parent_pid)
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        import ctypes

        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD
            libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD
        except (OSError, AttributeError):
            pass
    init_in_process(settings)


def init_in_process(settings: WorkerSettings) -> None:
    global _checker
    _checker = Checker(settings)


def check_chunk(path: str, name: str, start: int, stop: int, table_path: str | None) -> ChunkResult:
    """Check one chunk with this process's checker."""
    # the many small objects of each block trigger collections that cost about 5 % of the
    # time and find nothing: collect once the chunk is done instead
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return _checker.check_chunk(path, name, start, stop, table_path)
    finally:
        if gc_was_on:
            gc.enable()


def _die_with_parent(parent_pid: int) -> None:
    """On Linux the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG); elsewhere a
    thread watches the parent's pid. Either way no worker outlives a killed `validate`."""
    if platform.system() == "Linux":
        import ctypes

        try:
            if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # PR_SET_PDEATHSIG
                if os.getppid() != parent_pid:  # the parent died before the call
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        import time

        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="tc139k-parent-watch", daemon=True).start()
