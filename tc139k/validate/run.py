"""`tc139k validate`: check QA annotation files and write the normalised table.

Outputs in `out_dir` (each written atomically; report.json goes last, so its presence means
the run finished):
- valid.parquet: the valid records, schemas/qa_table.v1.json, in input order;
- quarantine.jsonl: one JSON object per bad record, in input order: file, line, byte offset,
  every reason (code and message) and the original line (`raw`, or `raw_base64` when it is
  not UTF-8);
- report.json: counts per reason with examples, per-file sizes, hashes and counts, the
  parameters, the frame-path prefixes seen and the fields that were ignored.

Large inputs are cut into chunks at line ends and checked by worker processes; the results
are merged in input order, so the outputs do not depend on the number of workers: the same
inputs and parameters give byte-identical files. Exact duplicates are found at the merge,
across chunks and files: the first occurrence is kept.
"""

from __future__ import annotations

import base64
import json
import mmap
import multiprocessing
import os
import shutil
import threading
import time
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import __version__
from ..atomic import atomic_path, dumps_json, output_lock, remove_stale_temps
from ..errors import Tc139kError, UsageError
from ..jsonl import chunk_bounds, has_bom, sniff
from ..layout import check_outside
from .frames import SCOPES, downloaded_videos, find_manifest, manifest_path
from .settings import MAX_EXAMPLES, WorkerSettings

# numpy, pyarrow and the checker are imported only once the worker processes are starting:
# a worker imports this module too, and the main process's imports then overlap theirs

VALID_FILE = "valid.parquet"
QUARANTINE_FILE = "quarantine.jsonl"
REPORT_FILE = "report.json"
WORK_DIR = ".validate-work"  # chunk tables handed from workers to the merge; removed after
ROW_GROUP_ROWS = 16_384
BLOCK_BYTES = 2 << 20  # a block's Python objects stay small enough to stay in cache
CHUNK_BYTES = 32 << 20  # one task for a worker process
MAX_LINE_BYTES = 64 << 20
PARALLEL_MIN_BYTES = 48 << 20  # below this, starting processes costs more than it saves
HASH_WINDOW = 64 << 20  # a multiple of mmap.ALLOCATIONGRANULARITY


@dataclass
class InputSummary:
    path: str
    name: str
    bytes: int
    xxh3_128: str  # hash of the whole file
    bom: bool
    lines: int = 0
    blank_lines: int = 0
    records: int = 0
    valid: int = 0
    invalid: int = 0


@dataclass
class ValidateResult:
    records: int
    valid: int
    invalid: int  # not counting the records of videos that were not downloaded
    blank_lines: int
    reasons: dict[str, int]
    examples: dict[str, list[dict]]
    max_invalid: int
    passed: bool  # some record, invalid <= max_invalid, and some record valid unless all were set apart
    inputs: list[InputSummary]
    out_dir: str | None
    outputs: dict[str, str] = field(default_factory=dict)
    unknown_fields: dict[str, int] = field(default_factory=dict)
    prefixes: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    videos: int = 0
    workers: int = 1
    seconds: float = 0.0
    frames_scope: str | None = None  # with frames_root: "downloaded" or "all"
    manifest: str | None = None  # the download manifest that says what was downloaded
    not_downloaded: int = 0  # valid records, but their video was not downloaded

    def to_dict(self) -> dict:
        return asdict(self)

    def headline(self) -> str:
        """The counts in one line, the same for `tc139k validate` and a recipe's validate stage:
        records of videos that were not downloaded are set apart, neither valid nor invalid."""
        apart = f", {self.not_downloaded} not downloaded (set apart)" if self.not_downloaded else ""
        blank = f", {self.blank_lines} blank line(s) skipped" if self.blank_lines else ""
        return (
            f"{self.records} record(s) in {len(self.inputs)} file(s): {self.valid} valid, "
            f"{self.invalid} invalid{apart}{blank}"
        )

    def failure(self, limit: str = "--max-invalid") -> str | None:
        """Why the run did not pass, or None; `limit` names the invalid-record setting."""
        if self.passed:
            return None
        if self.invalid > self.max_invalid:
            return f"{self.invalid} invalid record(s), more than {limit} {self.max_invalid}"
        if self.records == 0:
            names = ", ".join(i.path for i in self.inputs)
            return f"no QA record in {names}: empty, or only blank lines (is this the right file?)"
        return (
            f"no valid record: the videos of all {self.not_downloaded} record(s) were not downloaded "
            "(download them, or check another folder of frames)"
        )

    def summary(self) -> dict:
        """The key figures a recipe's validate stage records in run-summary.json (and `not_downloaded`
        when some records were set apart); `tc139k validate --json` prints cli/_results.validate."""
        out = {"records": self.records, "valid": self.valid, "invalid": self.invalid, "reasons": dict(self.reasons)}
        if self.not_downloaded:
            out["not_downloaded"] = self.not_downloaded
        return out


def run_validate(
    paths,
    frames_root: str | Path | None = None,
    out_dir: str | Path | None = None,
    max_invalid: int = 0,
    workers: int | None = None,
    fast_path: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
    block_bytes: int = BLOCK_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
    show_progress: bool = False,
    frames_scope: str | None = None,
) -> ValidateResult:
    """Validate QA files (schemas/qa.v1.json).

    With `out_dir`, write valid.parquet, quarantine.jsonl and report.json there; without it,
    only check. With `frames_root`, also check that every referenced frame exists under it.
    `frames_scope` (with `frames_root`): "all" wants every referenced video on disk;
    "downloaded" (the default when a download manifest lies next to the frames root) reports
    the records of videos the manifest says were not downloaded as `not_downloaded`, apart
    from the invalid ones (see tc139k.validate.frames).
    `workers`: processes checking chunks (default: one per CPU for large inputs, none for
    small ones). `fast_path=False` checks every record with the exact checker (slower, same
    results)."""
    t0 = time.perf_counter()
    files = _check_params(paths, frames_root, max_invalid, workers, chunk_bytes, block_bytes, max_line_bytes)
    if frames_root is not None and out_dir is not None:
        check_outside(out_dir, frames_root)
    frames_scope, manifest = _frames_scope(frames_root, frames_scope)
    inputs = [
        InputSummary(path=str(p), name=p.name, bytes=p.stat().st_size, xxh3_128="", bom=has_bom(p)) for p in files
    ]
    total_bytes = sum(i.bytes for i in inputs)
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if total_bytes >= PARALLEL_MIN_BYTES else 1
    out = Path(out_dir) if out_dir is not None else None
    settings = WorkerSettings(
        str(frames_root) if frames_root is not None else None,
        fast_path,
        out is not None,
        block_bytes,
        max_line_bytes,
        downloaded_videos(manifest) if frames_scope == "downloaded" else None,
    )
    with output_lock(out, "tc139k validate"):
        work = out / WORK_DIR if out is not None and workers > 1 else None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / REPORT_FILE).unlink(missing_ok=True)  # written last: its presence means done
            remove_stale_temps(out)  # of a run that was killed
            shutil.rmtree(out / WORK_DIR, ignore_errors=True)
        hasher = _FileHasher(files)
        scheduler = _Scheduler(files, chunk_bytes, settings, workers, work)
        bar = None
        try:
            scheduler.start()
            from ..progress import progress

            merger = _Merger(files, inputs)
            bar = progress(total=total_bytes, desc="validate", unit="B", enabled=show_progress, unit_scale=True)
            if out is None:
                scheduler.run(merger, None, bar)
            else:
                with atomic_path(out / VALID_FILE) as valid_tmp, atomic_path(out / QUARANTINE_FILE) as q_tmp:
                    with open(q_tmp, "w", encoding="utf-8", newline="\n") as qf:
                        writer = _TableWriter(valid_tmp)
                        try:
                            scheduler.run(merger, (writer, qf), bar)
                        finally:
                            writer.close()
        finally:
            scheduler.close()
            if bar is not None:
                bar.close()
            for summary, digest in zip(inputs, hasher.result()):
                summary.xxh3_128 = digest
        records = sum(i.records for i in inputs)
        valid = sum(i.valid for i in inputs)
        invalid = records - valid - merger.not_downloaded
        result = ValidateResult(
            records=records,
            valid=valid,
            invalid=invalid,
            blank_lines=sum(i.blank_lines for i in inputs),
            reasons=dict(sorted(merger.reasons.items())),
            examples={c: merger.examples[c] for c in sorted(merger.examples)},
            max_invalid=max_invalid,
            # an empty table because no record's video was downloaded is no success either, nor
            # one because the input held no record at all
            passed=invalid <= max_invalid and not (valid == 0 and merger.not_downloaded) and records > 0,
            inputs=inputs,
            out_dir=str(out) if out is not None else None,
            unknown_fields=dict(sorted(merger.unknown_fields.items())),
            prefixes=dict(sorted(merger.prefixes.items())),
            sources=dict(sorted(merger.sources.items())),
            videos=len(merger.videos),
            workers=workers,
            frames_scope=frames_scope,
            manifest=str(manifest) if manifest is not None else None,
            not_downloaded=merger.not_downloaded,
        )
        if out is not None:
            result.outputs = {
                "valid": str(out / VALID_FILE),
                "quarantine": str(out / QUARANTINE_FILE),
                "report": str(out / REPORT_FILE),
            }
            report = _report(result, frames_root, max_line_bytes)
            with atomic_path(out / REPORT_FILE) as tmp:
                tmp.write_text(dumps_json(report), encoding="utf-8")
        result.seconds = time.perf_counter() - t0
        return result


def _check_params(paths, frames_root, max_invalid, workers, chunk_bytes, block_bytes, max_line_bytes) -> list[Path]:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = [Path(p) for p in paths]
    if not files:
        raise UsageError("no annotation files given")
    for p in files:
        if not p.exists():
            raise UsageError(f"annotation file {p} does not exist")
        if not p.is_file():
            raise UsageError(f"annotation file {p} is not a file")
        if sniff(p) == "parquet":
            raise UsageError(
                f"annotation file {p} is a Parquet file (a valid.parquet already written by `tc139k validate`?); "
                "validate reads the QA records as JSON Lines, as downloaded (time_chat_online_139k_train_flt.jsonl)"
            )
    if frames_root is not None and not Path(frames_root).is_dir():
        raise UsageError(f"frames root {frames_root} is not a folder")
    if isinstance(max_invalid, bool) or not isinstance(max_invalid, int) or max_invalid < 0:
        raise UsageError(f"max_invalid must be a non-negative integer, not {max_invalid!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"workers must be a positive integer, not {workers!r}")
    if not 1 <= block_bytes <= max_line_bytes:
        raise UsageError("block_bytes must be at least 1 and at most max_line_bytes")
    if chunk_bytes < 1:
        raise UsageError("chunk_bytes must be positive")
    return files


def _frames_scope(frames_root, scope: str | None) -> tuple[str | None, Path | None]:
    """The scope of the frames check and the download manifest it reads, if any."""
    if frames_root is None:
        if scope is not None:
            raise UsageError("--frames-scope needs --frames-root")
        return None, None
    if scope is not None and scope not in SCOPES:
        raise UsageError(f"frames scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    manifest = find_manifest(Path(frames_root))
    if scope is None:
        scope = "downloaded" if manifest is not None else "all"
    if scope == "downloaded" and manifest is None:
        raise UsageError(
            f"--frames-scope downloaded needs the download manifest next to the frames root "
            f"({manifest_path(frames_root)} does not exist); "
            "use --frames-scope all to require every video"
        )
    return scope, (manifest if scope == "downloaded" else None)


# ---- checking chunks, in this process or in workers ---------------------------------------


def _worker_init(settings: WorkerSettings, parent_pid: int) -> None:
    from .worker import init_worker

    init_worker(settings, parent_pid)


def _worker_check(*args):
    from .worker import check_chunk

    return check_chunk(*args)


class _Scheduler:
    """Hands chunks to the worker processes and checks chunks here whenever there is nothing
    to merge (notably while the workers start); results are merged in input order."""

    def __init__(self, files, chunk_bytes, settings, workers, work):
        self.files, self.settings, self.work = files, settings, work
        self.tasks = [
            (fi, start, stop) for fi, path in enumerate(files) for start, stop in chunk_bounds(path, chunk_bytes)
        ]
        if workers > 1:  # the last chunks cut finer, so that the processes finish together
            tail = self.tasks[-workers:]
            del self.tasks[-workers:]
            self.tasks += [
                (fi, a, b)
                for fi, start, stop in tail
                for a, b in chunk_bounds(files[fi], max(chunk_bytes // 4, 1), start, stop)
            ]
        self.n_pool = workers - 1
        self.pool = None
        self.results: dict[int, object] = {}  # task number -> ChunkResult, or Future from the pool
        self.next_task = 0

    def start(self) -> None:
        """Start the worker processes and give them their first chunks (before this process
        imports anything heavy, so that the imports overlap)."""
        if self.n_pool <= 0:
            return
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)
            self.work.mkdir(parents=True)
        self.pool = ProcessPoolExecutor(
            max_workers=self.n_pool,
            initializer=_worker_init,
            initargs=(self.settings, os.getpid()),
            mp_context=multiprocessing.get_context("spawn"),
        )  # no fork of threads
        self._feed()

    def _feed(self) -> None:
        while (
            self.pool is not None
            and self.next_task < len(self.tasks)
            and sum(isinstance(r, Future) for r in self.results.values()) < 2 * self.n_pool
        ):
            fi, start, stop = self.tasks[self.next_task]
            table_path = str(self.work / f"chunk-{self.next_task:06d}.arrow") if self.work is not None else None
            self.results[self.next_task] = self.pool.submit(
                _worker_check, str(self.files[fi]), self.files[fi].name, start, stop, table_path
            )
            self.next_task += 1

    def run(self, merger, sinks, bar) -> None:
        from . import worker as qaworker

        qaworker.init_in_process(self.settings)
        max_ahead = 2 * self.n_pool + 2  # results held in memory before they can be merged
        next_merge = 0
        while next_merge < len(self.tasks):
            self._feed()
            ready = self.results.get(next_merge)
            if (
                isinstance(ready, Future)
                and not ready.done()
                and self.next_task < len(self.tasks)
                and len(self.results) < max_ahead
            ):
                ready = None  # check a chunk here rather than wait
            if ready is None:
                fi, start, stop = self.tasks[self.next_task]
                self.results[self.next_task] = qaworker.check_chunk(
                    str(self.files[fi]), self.files[fi].name, start, stop, None
                )
                self.next_task += 1
                continue
            res = self.results.pop(next_merge)
            fi, start, stop = self.tasks[next_merge]
            if isinstance(res, Future):
                try:
                    res = res.result()
                except BrokenProcessPool as e:
                    raise Tc139kError(
                        f"a worker process checking {self.files[fi].name} (bytes {start}-{stop}) "
                        f"died ({e}); rerun with --workers 1 to check in one process"
                    ) from None
            if (
                self.pool is not None
                and self.next_task == len(self.tasks)
                and not any(isinstance(r, Future) for r in self.results.values())
            ):
                self.pool.shutdown(wait=False)  # the workers exit while the last merges run
            merger.merge(fi, res, sinks)
            bar.update(stop - start)
            next_merge += 1

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)


class _FileHasher:
    """XXH3-128 of the input files, read on a thread while the records are checked."""

    def __init__(self, files: list[Path]):
        self.files = files
        self.digests: list[str] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="tc139k-hash", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            import xxhash

            for p in self.files:
                h = xxhash.xxh3_128()
                with open(p, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    # mapped a window at a time rather than read: no copy of the file, and
                    # no more of it counted in this process's memory than one window
                    for at in range(0, size, HASH_WINDOW):
                        with mmap.mmap(
                            f.fileno(), min(HASH_WINDOW, size - at), access=mmap.ACCESS_READ, offset=at
                        ) as m:
                            h.update(m)
                self.digests.append(h.hexdigest())
        except BaseException as e:  # raised in the caller by result()
            self.error = e

    def result(self) -> list[str]:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.digests


# ---- merging in input order ------------------------------------------------------------------


class _Merger:
    """Merges chunk results in input order: finds duplicates across chunks and files, adds
    their reason, and sends rows and quarantine lines to the outputs."""

    def __init__(self, files: list[Path], inputs: list[InputSummary]):
        self.files, self.inputs = files, inputs
        self.seen: dict[bytes, tuple[str, int]] = {}
        self.reasons: Counter = Counter()
        self.examples: dict[str, list[dict]] = {}
        self.unknown_fields: Counter = Counter()
        self.prefixes: Counter = Counter()
        self.sources: Counter = Counter()
        self.videos: set[tuple[str, str]] = set()
        self.not_downloaded = 0

    def merge(self, fi: int, res, sinks) -> None:
        from .exact import quarantine_line

        summary, name = self.inputs[fi], self.inputs[fi].name
        base = summary.lines  # lines of this file in the chunks before
        lines = [base + n for n in res.lines]
        valid = list(res.valid)
        quarantine = dict(zip(res.quarantine_of, res.quarantine))
        dup_rows, dups = self._find_duplicates(fi, res, lines, valid, quarantine)
        absent = [k for k in res.not_downloaded if k not in dups]
        self.not_downloaded += len(absent)
        self.reasons += res.reasons
        for code, ex in res.examples.items():
            kept = self.examples.setdefault(code, [])
            kept += [
                dict(e, line=base + e["line"]) if code != "duplicate" else e for e in ex[: MAX_EXAMPLES - len(kept)]
            ]
        self.unknown_fields += res.unknown_fields
        self.prefixes += res.prefixes
        n_valid = sum(valid)
        summary.records += len(valid)
        summary.valid += n_valid
        summary.invalid += len(valid) - n_valid - len(absent)
        summary.blank_lines += res.blank_lines
        summary.lines += len(res.lines) + res.blank_lines
        table = self._table(res, dup_rows, base)
        if table is not None and table.num_rows:
            self._count_videos(table)
        if sinks is not None:
            writer, qf = sinks
            if table is not None and table.num_rows:
                writer.write(table)
            if quarantine:
                qf.write("".join(quarantine_line(name, lines[k], quarantine[k]) + "\n" for k in sorted(quarantine)))

    def _find_duplicates(self, fi: int, res, lines: list[int], valid: list[bool], quarantine: dict):
        """Marks records seen before (in this run) as duplicates; returns the positions of
        the rows to drop among the chunk's valid rows, and those of the duplicates."""
        seen, digests = self.seen, res.digests
        if None not in digests and len(set(digests)) == len(digests) and seen.keys().isdisjoint(digests):
            seen.update(zip(digests, zip([fi] * len(lines), lines)))  # the usual case: no duplicate
            return [], set()
        dup_rows, dups, examples, row = [], set(), [], 0
        for k, digest in enumerate(digests):
            was_valid = valid[k]
            if digest is not None:
                first = seen.get(digest)
                if first is None:
                    seen[digest] = (fi, lines[k])
                else:
                    message = f"same bytes as {self.inputs[first[0]].name} line {first[1]}"
                    dups.add(k)
                    examples.append({"file": self.inputs[fi].name, "line": lines[k], "message": message})
                    quarantine[k] = self._add_duplicate(fi, res, k, quarantine.get(k), message)
                    if was_valid:
                        valid[k] = False
                        dup_rows.append(row)
            row += was_valid
        if examples:
            self.reasons["duplicate"] += len(examples)
            res.examples["duplicate"] = examples
        return dup_rows, dups

    def _table(self, res, dup_rows: list[int], base: int):
        import numpy as np
        import pyarrow as pa

        from . import arrowbuild as ab

        table = res.table
        if res.table_path is not None:
            table = pa.ipc.open_file(pa.memory_map(res.table_path)).read_all()
            os.unlink(res.table_path)  # the mapping keeps the data readable
        if table is None:
            return None
        if dup_rows:
            keep = np.ones(table.num_rows, dtype=bool)
            keep[dup_rows] = False
            table = table.filter(ab.mask(keep))
        if base:
            i = table.schema.get_field_index("source_line")
            shifted = ab.numbers(ab.values(table.column(i)) + base, np.int64)
            table = table.set_column(i, table.schema.field(i), shifted)
        return table

    def _count_videos(self, table) -> None:
        import numpy as np
        import pyarrow.compute as pc  # (Table.group_by would import pandas)

        from . import arrowbuild as ab

        src = pc.dictionary_encode(table.column("source").combine_chunks())
        vid = pc.dictionary_encode(table.column("video_id").combine_chunks())
        n_vid = len(vid.dictionary)
        keys, counts = np.unique(
            ab.values(src.indices).astype(np.int64) * n_vid + ab.values(vid.indices), return_counts=True
        )
        sources, videos = src.dictionary.to_pylist(), vid.dictionary.to_pylist()
        for key, n in zip(keys.tolist(), counts.tolist()):
            pair = (sources[key // n_vid], videos[key % n_vid])
            self.sources[pair[0]] += n
            self.videos.add(pair)

    def _add_duplicate(self, fi: int, res, k: int, tail: str | None, message: str) -> str:
        """The quarantine entry (without file and line) of a duplicate record."""
        reason = {"code": "duplicate", "message": message}
        if tail is not None:  # already invalid: the duplicate reason goes first
            obj = json.loads("{" + tail)
            obj["reasons"].insert(0, reason)
            return json.dumps(obj, ensure_ascii=False)[1:]
        with open(self.files[fi], "rb") as f:
            f.seek(res.offsets[k])
            raw = f.read(res.lengths[k])
        obj = {"offset": res.offsets[k], "reasons": [reason]}
        try:
            obj["raw"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            obj["raw_base64"] = base64.b64encode(raw).decode("ascii")
        return json.dumps(obj, ensure_ascii=False)[1:]


class _TableWriter:
    """valid.parquet in row groups of exactly ROW_GROUP_ROWS rows, each written from one
    contiguous chunk, so that the file's bytes depend only on the rows."""

    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        from .exact import table_schema

        self.schema = table_schema()
        # LZ4, and dictionaries only where values repeat a lot: encoding is the costliest
        # step of the merge, and zstd or a dictionary of frame paths costs half as much again
        self.writer = pq.ParquetWriter(
            path,
            self.schema,
            compression="lz4",
            use_dictionary=["source_file", "source", "video_id", "messages.list.element.role"],
            write_statistics=["source_line", "clip_start", "clip_end", "start_time", "end_time"],
        )
        self.pending: list = []  # pyarrow tables
        self.rows = 0

    def write(self, table) -> None:
        import pyarrow as pa

        self.pending.append(table)
        self.rows += table.num_rows
        while self.rows >= ROW_GROUP_ROWS:
            whole = pa.concat_tables(self.pending)
            self._write(whole.slice(0, ROW_GROUP_ROWS))
            rest = whole.slice(ROW_GROUP_ROWS)
            self.pending, self.rows = [rest], rest.num_rows

    def close(self) -> None:
        import pyarrow as pa

        try:
            if self.rows:
                self._write(pa.concat_tables(self.pending))
        finally:
            self.writer.close()

    def _write(self, table) -> None:
        # one contiguous chunk per row group: the writer cuts pages at batch ends inside
        # each chunk, so without this the bytes would depend on how the rows were chunked
        self.writer.write_table(table.combine_chunks(), row_group_size=ROW_GROUP_ROWS)


def _report(result: ValidateResult, frames_root, max_line_bytes) -> dict:
    """report.json. Only parameters that can change the outcome are listed, so that the
    tuning knobs (workers, chunk and block sizes, fast path) leave the file unchanged."""
    from .exact import RECORD_SCHEMA_ID, TABLE_SCHEMA_ID, reason_codes

    codes = reason_codes()
    # the scope and manifest only when they changed the outcome: without a record set apart,
    # "downloaded" checks every record as "all" does
    scope = {}
    if result.not_downloaded:
        scope = {"frames_scope": result.frames_scope, "manifest": result.manifest}
    report = {
        "tool": {"name": "tc139k", "version": __version__},
        "record_schema": RECORD_SCHEMA_ID,
        "table_schema": TABLE_SCHEMA_ID,
        "params": {
            "inputs": [i.path for i in result.inputs],
            "frames_root": str(frames_root) if frames_root is not None else None,
            "max_invalid": result.max_invalid,
            "max_line_bytes": max_line_bytes,
            **scope,
        },
        "inputs": [asdict(i) for i in result.inputs],
        "records": result.records,
        "valid": result.valid,
        "invalid": result.invalid,
        "blank_lines": result.blank_lines,
        "passed": result.passed,
        "reasons": result.reasons,
        "reason_descriptions": {c: codes[c] for c in result.reasons},
        "examples": result.examples,
        "unknown_fields": result.unknown_fields,
        "frame_path_prefixes": result.prefixes,
        "records_per_source": result.sources,
        "videos": result.videos,
        "outputs": {"valid": VALID_FILE, "quarantine": QUARANTINE_FILE},
    }
    if scope:
        report["not_downloaded"] = result.not_downloaded
    return report
