"""Checking QA records (schemas/qa.v1.json) block by block and normalising the valid ones
into Arrow record batches (schemas/qa_table.v1.json).

Two tiers. `qafast` accepts the common valid record cheaply; every other record comes here,
to the exact checker, which names every problem with its position: typed decoding first,
plain JSON when that fails (to list all structural problems), then the semantic checks.
Its frame paths are checked per clip against a template of the clip's folder (numpy, per
block) and, when that does not fit, path by path.

Duplicates are not judged here: a run may check blocks in several processes, so the caller
compares the per-record digests in input order (see `validate`).
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa
import xxhash

from .. import schemas
from ..jsonl import JSON_BLANK, Block, LongLine
from ..paths import FramePathError, frame_relpath, parse_frame_path
from . import arrowbuild as ab
from .fast import NUMERIC_RE, FastBlock, _path_positions, _six_digits, _starts, _words

TABLE_SCHEMA_ID = "qa_table.v1"
RECORD_SCHEMA_ID = "qa.v1"
KNOWN_FIELDS = ("messages", "videos", "start_time", "end_time")
MESSAGE_FIELDS = ("role", "content")
VIDEO_TAG = "<video>"
MAX_DETAILS = 3  # problems of one kind listed per record before "and N more"
TAIL = 10  # len("000000.jpg")
_DIR_CACHE_LIMIT = 200_000


def decode_problem(raw, ex: Exception) -> tuple[str, str]:
    """The problem of a line msgspec could not decode. msgspec 0.23 reports invalid UTF-8 as
    a DecodeError among the syntax errors, 0.22 as a UnicodeDecodeError placed within one
    string: the line's bytes are checked here, so code and message do not depend on msgspec."""
    try:
        str(raw, "utf-8")
    except UnicodeDecodeError as u:
        return ("invalid_utf8", f"byte {u.start}: {u.reason}")
    return ("invalid_json", str(ex))


class Message(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    role: str
    content: str


class QARecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The typed form of schemas/qa.v1.json (a test keeps the two in step)."""

    messages: list[Message]
    videos: list[list[str]]
    start_time: float | str | None = None
    end_time: float | str | None = None


def reason_codes() -> dict[str, str]:
    """Reason code -> description, from schemas/qa.v1.json."""
    return dict(schemas.load(RECORD_SCHEMA_ID).extra["reasons"])


def table_schema() -> pa.Schema:
    return schemas.load(TABLE_SCHEMA_ID).to_arrow()


def _json_type(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _expected_roles(n: int) -> list[str]:
    return ["user" if i % 2 == 0 else "assistant" for i in range(n)]


_ROLES = [_expected_roles(n) for n in range(65)]


@dataclass
class _Clip:
    rec: int  # record number in the block
    ci: int  # clip number in the record
    paths: list  # the original paths (kept until the block is done)
    folder: tuple | None = None  # _parse_folder() of the first path's folder
    joined: str | None = None  # "\n".join(paths) while waiting for the template check
    fast: int = -1  # position in the block's _FastClips when the template check passed
    source: str | None = None
    video_id: str | None = None
    indices: list | None = None  # results of the exact path
    relpaths: list | None = None
    problems: list = field(default_factory=list)


@dataclass
class _FastClips:
    """The block's template-checked clips and their frame indices, path by path."""

    clips: list  # _Clip, including those that failed and went to the exact path
    counts: np.ndarray  # paths per clip
    offsets: np.ndarray  # first path of each clip; len(clips) + 1 entries
    path_clip: np.ndarray  # clip of each path
    indices: np.ndarray  # int32 frame index of each path

    def clip_indices(self, i: int) -> np.ndarray:
        return self.indices[self.offsets[i] : self.offsets[i + 1]]


@dataclass
class _Rec:
    line: int
    start: int  # byte range of the line in the block
    end: int
    problems: list = field(default_factory=list)
    question: str | None = None
    answer: str | None = None
    roles: list | None = None
    contents: list | None = None
    start_time: float | None = None
    end_time: float | None = None
    clips: list = field(default_factory=list)  # clip numbers in the block


@dataclass
class BlockOutcome:
    """What one block gave. Per-record lists are in line order; `quarantine[i]` belongs to
    the record `quarantine_of[i]` (its position in the per-record lists)."""

    batch: pa.RecordBatch | None  # valid records, qa_table.v1
    quarantine: list[str]  # quarantine entries without file and line: see quarantine_line()
    quarantine_of: list[int]
    lines: list[int]
    offsets: list[int]  # byte offset of each record's line in the file
    lengths: list[int]  # bytes, line ending excluded
    digests: list[bytes]  # XXH3-128 of each record's line bytes
    valid: list[bool]
    blank_lines: int
    reasons: Counter
    examples: dict  # code -> first few {"file", "line", "message"}
    n_lines: int = 0  # lines in the block, blank ones included


class Checker:
    """Checks blocks of records; keeps caches (parsed folders, frames on disk) and the
    counts that do not depend on order (ignored fields, path prefixes)."""

    def __init__(self, frames_root: str | Path | None = None, exact_only: bool = False, want_table: bool = True):
        self.decoder = msgspec.json.Decoder(QARecord)
        self.generic = msgspec.json.Decoder()
        self.schema = table_schema()
        self.frames_root = Path(frames_root) if frames_root is not None else None
        self.exact_only = exact_only  # every record through the exact checker (for tests)
        self.want_table = want_table
        self.dirs: dict[str, tuple | None] = {}
        self.folders: dict[bytes, tuple | None] = {}
        self.templates: dict[tuple, bytes] = {}
        self.frames: dict[tuple[str, str], np.ndarray | None] = {}
        self.unknown_fields: Counter = Counter()
        self.prefixes: Counter = Counter()

    # ---- one block -----------------------------------------------------------------------

    def check(self, item: Block | LongLine, file_name: str, first_line: int | None = None) -> BlockOutcome:
        """Check one block; `first_line` overrides the block's first line number. The
        outcome's `n_lines` says how many lines it held."""
        if isinstance(item, LongLine):
            if first_line is not None:
                item = LongLine(item.offset, first_line, item.size, item.head)
            return self._long_line(item, file_name)
        if first_line is not None and first_line != item.first_line:
            item = Block(item.data, item.offset, first_line)
        data = item.data
        lines, starts, ends, digests = [], [], [], []
        fast = None if self.exact_only else FastBlock(self.folders, self.prefixes, self.templates)
        exact_k = []
        blank = 0
        digest_of = xxhash.xxh3_128_digest
        add = fast.add if fast is not None else None
        # lines as views of the block (no copy); msgspec and xxhash read them in place
        view, find, size = memoryview(data), data.find, len(data)
        pos, line = 0, item.first_line
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
                raw = view[start:end]
                k = len(lines)
                lines.append(line)
                starts.append(start)
                ends.append(end)
                digests.append(digest_of(raw))
                if add is None or not add(raw, k):
                    exact_k.append(k)
            line += 1
        if fast is not None:
            exact_k = sorted(exact_k + fast.verify(self._existing if self.frames_root else None))
        recs = self._check_exact_records(data, exact_k, lines, starts, ends)
        valid = [True] * len(lines)
        quarantine, quarantine_of = [], []
        reasons, examples = Counter(), {}
        for k, rec in zip(exact_k, recs):
            if rec.problems:
                valid[k] = False
                _count(reasons, examples, file_name, rec.line, rec.problems)
                entry = {
                    "offset": item.offset + rec.start,
                    "reasons": [{"code": c, "message": m} for c, m in rec.problems],
                }
                entry.update(_raw_field(data[rec.start : rec.end]))
                quarantine.append(_entry_tail(entry))
                quarantine_of.append(k)
        batch = None
        if self.want_table:
            batch = self._table(file_name, lines, digests, fast, exact_k, recs)
        return BlockOutcome(
            batch,
            quarantine,
            quarantine_of,
            lines,
            [item.offset + s for s in starts],
            [e - s for s, e in zip(starts, ends)],
            digests,
            valid,
            blank,
            reasons,
            examples,
            line - item.first_line,
        )

    def _check_exact_records(self, data: bytes, exact_k: list[int], lines, starts, ends) -> list:
        view = memoryview(data)
        recs: list[_Rec] = []
        clips: list[_Clip] = []
        for k in exact_k:
            s, e = starts[k], ends[k]
            raw = view[s:e]
            rec = _Rec(lines[k], s, e)
            recs.append(rec)
            try:
                typed = self.decoder.decode(raw)
            except msgspec.ValidationError:
                self._check_generic(raw, rec, len(recs) - 1, clips)
            except (msgspec.DecodeError, UnicodeDecodeError) as ex:
                rec.problems.append(decode_problem(raw, ex))
            else:
                self._check_record(
                    rec, len(recs) - 1, typed.messages, typed.videos, typed.start_time, typed.end_time, clips
                )
        fast = self._check_fast([c for c in clips if c.joined is not None])
        for c in clips:
            if c.fast < 0:
                self._check_exact(c)
        self._check_videos(recs, clips, fast)
        self._clips, self._fast_clips = clips, fast  # read by _table
        return recs

    def _long_line(self, item: LongLine, file_name: str) -> BlockOutcome:
        problem = ("line_too_long", f"{item.size} bytes; only the first {len(item.head)} are kept here")
        entry = {"offset": item.offset, "reasons": [{"code": problem[0], "message": problem[1]}], "raw_truncated": True}
        entry.update(_raw_field(item.head))
        reasons, examples = Counter(), {}
        _count(reasons, examples, file_name, item.line, [problem])
        # no digest: over-long lines are never compared as duplicates
        return BlockOutcome(
            None,
            [_entry_tail(entry)],
            [0],
            [item.line],
            [item.offset],
            [item.size],
            [None],
            [False],
            0,
            reasons,
            examples,
            1,
        )

    # ---- one record ----------------------------------------------------------------------

    def _check_record(self, rec: _Rec, r: int, messages, videos, start, end, clips) -> None:
        """Semantic checks shared by the typed and the generic path. `messages` is a list of
        Message (or None when its structure was already found wrong), likewise `videos`."""
        problems = rec.problems
        tags = -1
        if messages is not None:
            n = len(messages)
            roles = [m.role for m in messages]
            contents = [m.content for m in messages]
            if n < 2 or n % 2 or roles != (_ROLES[n] if n < len(_ROLES) else _expected_roles(n)):
                problems.append(("bad_roles", _roles_problem(roles)))
            # "\0" cannot be part of a tag, so no tag is counted across two turns
            tags = "\0".join(contents).count(VIDEO_TAG)
            for i, (role, text) in enumerate(zip(roles, contents)):
                if role == "user":
                    if not text.replace(VIDEO_TAG, "").strip():
                        problems.append(("empty_question", f"messages[{i}] (user) is empty"))
                elif role == "assistant" and not text.strip():
                    problems.append(("empty_answer", f"messages[{i}] (assistant) is empty"))
            rec.roles, rec.contents = roles, contents
            if n and roles[0] == "user":
                rec.question = contents[0].replace(VIDEO_TAG, "").strip()
            if n > 1 and roles[1] == "assistant":
                rec.answer = contents[1].strip()
        if videos is not None:
            if tags >= 0 and tags != len(videos):
                problems.append(
                    ("video_tag_mismatch", f"{tags} {VIDEO_TAG} tag(s) in messages but {len(videos)} frame list(s)")
                )
            if not videos:
                problems.append(("no_video", "videos is empty"))
            for ci, paths in enumerate(videos):
                if not paths:
                    problems.append(("empty_clip", f"videos[{ci}] is empty"))
                    continue
                rec.clips.append(len(clips))
                clips.append(self._clip(r, ci, paths))
        rec.start_time = _seconds(start, "start_time", problems)
        rec.end_time = _seconds(end, "end_time", problems)
        if rec.start_time is not None and rec.end_time is not None and rec.start_time > rec.end_time:
            problems.append(("time_order", f"start_time {rec.start_time:g} is after end_time {rec.end_time:g}"))

    def _clip(self, r: int, ci: int, paths: list) -> _Clip:
        """A clip is a template candidate when its first path's folder parses and all its
        paths are ASCII and as long as the first."""
        clip = _Clip(r, ci, paths)
        first = paths[0]
        folder = first[:-TAIL]
        info = self.dirs.get(folder, False)
        if info is False:
            info = self._parse_folder(folder)
        if info is not None:
            joined = "\n".join(paths)
            if len(joined) == len(paths) * (len(first) + 1) - 1 and joined.isascii():
                clip.folder, clip.joined = info, joined
        return clip

    def _parse_folder(self, folder: str):
        """(source, video_id, relative folder, prefix, folder) when `folder` + 6 digits +
        ".jpg" is a valid frame path for any digits; None otherwise."""
        if len(self.dirs) > _DIR_CACHE_LIMIT:
            self.dirs.clear()
        info = None
        if folder.endswith("/") and folder.isascii() and "\n" not in folder:
            try:
                ref = parse_frame_path(folder + "000000.jpg")
            except FramePathError:
                ref = None
            if ref is not None:
                rel = frame_relpath(ref.source, ref.video_id, 0)[:-TAIL]
                cut = folder.lower().rfind(rel.lower())
                info = (ref.source, ref.video_id, rel, folder[:cut] if cut >= 0 else "", folder)
        self.dirs[folder] = info
        return info

    def _check_generic(self, raw, rec: _Rec, r: int, clips) -> None:
        """Records that do not decode into QARecord: decode as plain JSON, name every
        structural problem, then run the semantic checks on the parts that are sound."""
        try:
            obj = self.generic.decode(raw)
        except msgspec.DecodeError as ex:
            rec.problems.append(decode_problem(raw, ex))
            return
        if not isinstance(obj, dict):
            rec.problems.append(("not_an_object", f"the line holds a JSON {_json_type(obj)}, not an object"))
            return
        problems = rec.problems
        for key in obj:
            if key not in KNOWN_FIELDS:
                self.unknown_fields[key] += 1
        messages = _structure_messages(obj, problems, self.unknown_fields)
        videos = _structure_videos(obj, problems)
        times = []
        for name in ("start_time", "end_time"):
            v = obj.get(name)
            if isinstance(v, bool) or not isinstance(v, (int, float, str, type(None))):
                problems.append(("time_not_numeric", f"{name} is a JSON {_json_type(v)}"))
                v = None
            elif isinstance(v, int):
                try:
                    v = float(v)
                except OverflowError:
                    problems.append(("time_not_numeric", f"{name} {v} is too large"))
                    v = None
            times.append(v)
        self._check_record(rec, r, messages, videos, times[0], times[1], clips)

    # ---- frames, per block ---------------------------------------------------------------

    def _check_fast(self, cand: list[_Clip]) -> _FastClips | None:
        """Template check: the joined paths of each candidate clip must equal
        `folder + NNNNNN.jpg` per path with ASCII digits, and the numbers must increase.
        A clip that fails goes to the exact path, which names the problem."""
        if not cand:
            return None
        got = np.frombuffer(("\n".join(c.joined for c in cand) + "\n").encode("ascii"), dtype=np.uint8)
        template = "".join((c.folder[4] + "000000.jpg\n") * len(c.paths) for c in cand)
        want = np.frombuffer(template.encode("ascii"), dtype=np.uint8).copy()
        counts = np.fromiter((len(c.paths) for c in cand), dtype=np.int64, count=len(cand))
        stride = np.fromiter((len(c.folder[4]) + TAIL + 1 for c in cand), dtype=np.int64, count=len(cand))
        path_clip, k = _path_positions(counts)
        clip_start = _starts(counts * stride)
        newline = clip_start[path_clip] + (k + 1) * stride[path_clip] - 1
        digit_pos = (newline - TAIL)[:, None] + np.arange(6)
        digits = got[digit_pos]
        want[digit_pos] = digits
        bad = np.zeros(len(cand), dtype=bool)
        mismatch = np.flatnonzero(got != want)
        if len(mismatch):
            bad[np.searchsorted(clip_start, mismatch, side="right") - 1] = True
        indices, nondigit = _six_digits(_words(got)[8][newline - TAIL])
        if nondigit.any():
            bad[path_clip[nondigit]] = True
        step_bad = (np.diff(indices) <= 0) & (path_clip[1:] == path_clip[:-1])
        if step_bad.any():
            bad[path_clip[1:][step_bad]] = True
        for i, c in enumerate(cand):
            c.joined = None
            if not bad[i]:
                c.fast = i
                c.source, c.video_id = c.folder[0], c.folder[1]
                self.prefixes[c.folder[3]] += len(c.paths)
        offsets = np.zeros(len(cand) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return _FastClips(cand, counts, offsets, path_clip, indices)

    def _check_exact(self, c: _Clip) -> None:
        """Every path parsed on its own; problems name the clip and the position."""
        refs, problems = [], c.problems
        for k, p in enumerate(c.paths):
            try:
                ref = parse_frame_path(p)
            except FramePathError as ex:
                problems.append(("bad_frame_path", f"videos[{c.ci}][{k}]: {ex}"))
                continue
            if not p[-TAIL:-4].isascii():
                problems.append(
                    ("bad_frame_path", f"videos[{c.ci}][{k}]: frame number {p[-TAIL:-4]!r} is not ASCII digits")
                )
                continue
            refs.append((k, ref, p))
        videos = {(ref.source, ref.video_id) for _, ref, _ in refs}
        if len(videos) > 1:
            names = sorted(f"{s}/{v}" for s, v in videos)
            problems.append(
                (
                    "clip_spans_videos",
                    f"videos[{c.ci}] mixes frames of {', '.join(names[:3])}"
                    + (f" and {len(names) - 3} more" if len(names) > 3 else ""),
                )
            )
        prev = None
        for k, ref, _ in refs:
            if prev is not None and ref.index <= prev:
                problems.append(
                    (
                        "frames_not_increasing",
                        f"videos[{c.ci}][{k}]: frame {ref.index:06d} does not come after {prev:06d}",
                    )
                )
            prev = ref.index
        if not problems:
            c.source, c.video_id = refs[0][1].source, refs[0][1].video_id
            c.indices = [ref.index for _, ref, _ in refs]
            c.relpaths = [ref.relpath for _, ref, _ in refs]
            for _, ref, p in refs:
                self.prefixes[p[: len(p) - len(ref.relpath)]] += 1

    def _check_videos(self, recs: list[_Rec], clips: list[_Clip], fast: _FastClips | None) -> None:
        """Per record: the clips' problems, one video per record, frames on disk."""
        for rec in recs:
            found = set()
            for n in rec.clips:
                c = clips[n]
                rec.problems += _capped(c.problems)
                if c.source is not None:
                    found.add((c.source, c.video_id))
            if len(found) > 1:
                rec.problems.append(
                    ("record_spans_videos", "clips come from " + ", ".join(f"{s}/{v}" for s, v in sorted(found)))
                )
            if self.frames_root is not None and found:
                self._check_frames_exist(rec, clips, fast)

    def _check_frames_exist(self, rec: _Rec, clips: list[_Clip], fast: _FastClips | None) -> None:
        missing, total, first_missing = 0, 0, None
        for n in rec.clips:
            c = clips[n]
            if c.source is None:
                continue
            have = self._existing(c.source, c.video_id)
            idx = fast.clip_indices(c.fast) if c.fast >= 0 else np.asarray(c.indices, dtype=np.int32)
            total += len(idx)
            absent = np.ones(len(idx), dtype=bool) if have is None else ~np.isin(idx, have)
            if absent.any():
                missing += int(absent.sum())
                if first_missing is None:
                    first_missing = frame_relpath(c.source, c.video_id, int(idx[absent.argmax()]))
        if missing:
            rec.problems.append(
                (
                    "missing_frame",
                    f"{missing} of {total} frame(s) missing under {self.frames_root} (first: {first_missing})",
                )
            )

    def _existing(self, source: str, video_id: str) -> np.ndarray | None:
        """Frame indices present on disk for one video: one directory listing per video for
        the whole run, instead of one stat per path per record."""
        key = (source, video_id)
        if key not in self.frames:
            found = None
            try:
                with os.scandir(self.frames_root / source / video_id) as it:
                    found = np.array(
                        sorted(int(e.name[:6]) for e in it if _is_frame_name(e.name) and e.is_file()), dtype=np.int32
                    )
            except (FileNotFoundError, NotADirectoryError):
                found = None
            self.frames[key] = found
        return self.frames[key]

    # ---- outputs -------------------------------------------------------------------------

    def _table(self, file_name: str, lines, digests, fast: FastBlock | None, exact_k, recs):
        """The valid records of the block as one record batch in line order."""
        parts = []  # (record numbers, columns)
        if fast is not None and fast.accepted is not None and fast.accepted.any():
            parts.append((fast.accepted_k(), fast.columns(self.schema)))
        valid = [(k, rec) for k, rec in zip(exact_k, recs) if not rec.problems]
        if valid:
            parts.append(
                ([k for k, _ in valid], self._exact_columns([rec for _, rec in valid], self._clips, self._fast_clips))
            )
        self._clips = self._fast_clips = None
        if not parts:
            return None
        batches = []
        for ks, cols in parts:
            cols = dict(
                cols,
                record_id=ab.hex_strings(b"".join([digests[k] for k in ks]), 16, 8),
                source_file=ab.strings([file_name] * len(ks)),
                source_line=ab.numbers([lines[k] for k in ks], np.int64),
            )
            batches.append(pa.RecordBatch.from_arrays([cols[f.name] for f in self.schema], schema=self.schema))
        if len(batches) == 1:
            return batches[0]
        order = np.argsort(np.concatenate([np.asarray(ks) for ks, _ in parts]), kind="stable")
        return pa.Table.from_batches(batches).take(ab.numbers(order, np.int64)).combine_chunks().to_batches()[0]

    def _exact_columns(self, valid: list[_Rec], clips: list[_Clip], fast: _FastClips | None) -> dict:
        first_clip = [clips[r.clips[0]] for r in valid]
        frame_offsets, indices, relpaths, clip_lengths = self._frames_of(valid, clips, fast)
        msg_type = self.schema.field("messages").type
        int_list = self.schema.field("frame_indices").type
        struct = pa.StructArray.from_arrays(
            [ab.strings([x for r in valid for x in r.roles]), ab.strings([x for r in valid for x in r.contents])],
            fields=list(msg_type.value_type),
        )
        starts = frame_offsets[:-1]
        return {
            "video_id": ab.strings([c.video_id for c in first_clip]),
            "source": ab.strings([c.source for c in first_clip]),
            "question": ab.strings([r.question for r in valid]),
            "answer": ab.strings([r.answer for r in valid]),
            "messages": ab.lists(ab.offsets32([len(r.roles) for r in valid]), struct, msg_type),
            "frame_indices": ab.lists(frame_offsets, ab.numbers(indices, np.int32), int_list),
            "frame_paths": ab.lists(frame_offsets, ab.strings(relpaths), self.schema.field("frame_paths").type),
            "clip_lengths": ab.lists(
                ab.offsets32([len(r.clips) for r in valid]), ab.numbers(clip_lengths, np.int32), int_list
            ),
            "clip_start": ab.numbers(np.minimum.reduceat(indices, starts), np.int32),
            "clip_end": ab.numbers(np.maximum.reduceat(indices, starts), np.int32),
            "start_time": ab.floats_or_null([r.start_time for r in valid]),
            "end_time": ab.floats_or_null([r.end_time for r in valid]),
        }

    def _frames_of(self, valid: list[_Rec], clips: list[_Clip], fast: _FastClips | None):
        """Per valid record, its frames: (int32 offsets, indices, relative paths, frames per
        clip), the frames of all its clips in order."""
        rel = _relpath_list(fast) if fast is not None else None
        indices, relpaths, sizes, clip_lengths = [], [], [], []
        for r in valid:
            size = 0
            for n in r.clips:
                c = clips[n]
                if c.fast >= 0:
                    lo, hi = fast.offsets[c.fast], fast.offsets[c.fast + 1]
                    indices += fast.indices[lo:hi].tolist()
                    relpaths += rel[lo:hi]
                else:
                    indices += c.indices
                    relpaths += c.relpaths
                size += len(c.paths)
                clip_lengths.append(len(c.paths))
            sizes.append(size)
        return ab.offsets32(sizes), np.array(indices, dtype=np.int32), relpaths, clip_lengths


# ---- helpers -------------------------------------------------------------------------------


def _relpath_buffer(fast: _FastClips) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes and int32 offsets of `<source>/<video_id>/<NNNNNN>.jpg` for every path of
    the template-checked clips: per-clip templates with the digits written in."""
    text = "".join((c.folder[2] + "000000.jpg") * len(c.paths) for c in fast.clips)
    buf = np.frombuffer(text.encode("ascii"), dtype=np.uint8).copy()
    rel_len = np.fromiter((len(c.folder[2]) for c in fast.clips), dtype=np.int64, count=len(fast.clips))
    stride = rel_len + TAIL
    path_clip, k = _path_positions(fast.counts)
    starts = _starts(fast.counts * stride)[path_clip] + k * stride[path_clip]
    rest = np.abs(fast.indices.astype(np.int64))  # failed clips carry junk; keep it printable
    digits = np.empty((len(rest), 6), dtype=np.uint8)
    for i in range(5, -1, -1):
        digits[:, i] = 48 + rest % 10
        rest //= 10
    buf[(starts + rel_len[path_clip])[:, None] + np.arange(6)] = digits
    offsets = np.empty(len(starts) + 1, dtype=np.int32)
    offsets[0] = 0
    offsets[1:] = starts + stride[path_clip]
    return buf, offsets


def _relpath_list(fast: _FastClips) -> list[str]:
    buf, offsets = _relpath_buffer(fast)
    text = buf.tobytes().decode("ascii")
    return [text[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def _is_frame_name(name: str) -> bool:
    return len(name) == TAIL and name.endswith(".jpg") and name[:6].isascii() and name[:6].isdigit()


def _count(reasons: Counter, examples: dict, file_name: str, line: int, problems: list) -> None:
    for code in dict.fromkeys(c for c, _ in problems):
        reasons[code] += 1
        ex = examples.setdefault(code, [])
        if len(ex) < 5:
            ex.append({"file": file_name, "line": line, "message": next(m for c, m in problems if c == code)})


def _capped(problems: list) -> list:
    """At most MAX_DETAILS problems of each code, then one 'and N more'."""
    out, seen = [], Counter()
    for code, msg in problems:
        seen[code] += 1
        if seen[code] <= MAX_DETAILS:
            out.append((code, msg))
    for code, n in seen.items():
        if n > MAX_DETAILS:
            out.append((code, f"and {n - MAX_DETAILS} more"))
    return out


def _roles_problem(roles: list) -> str:
    if not roles:
        return "messages is empty"
    for i, role in enumerate(roles):
        want = "user" if i % 2 == 0 else "assistant"
        if role != want:
            return f"messages[{i}].role is {role!r}, expected {want!r}"
    return f"the conversation ends with a user turn (messages[{len(roles) - 1}]) and no answer"


def _seconds(v, name: str, problems: list) -> float | None:
    if v is None:
        return None
    if isinstance(v, str):
        if not NUMERIC_RE.fullmatch(v):
            problems.append(("time_not_numeric", f"{name} {v[:40]!r} is not a number"))
            return None
        v = float(v)
    if not math.isfinite(v):
        problems.append(("time_not_numeric", f"{name} {v} is not finite"))
        return None
    if v < 0:
        problems.append(("time_negative", f"{name} {v:g} is negative"))
        return None
    return float(v)


def _entry_tail(entry: dict) -> str:
    """A quarantine entry's JSON after its "file" and "line" members, which the caller adds
    once it knows the line numbers (see quarantine_line)."""
    return json.dumps(entry, ensure_ascii=False)[1:]


def quarantine_line(file_name: str, line: int, tail: str) -> str:
    """The quarantine JSON line: {"file", "line", "offset", "reasons", "raw" or "raw_base64"}."""
    return '{"file": ' + json.dumps(file_name, ensure_ascii=False) + f', "line": {line}, ' + tail


def _raw_field(raw: bytes) -> dict:
    """The original line for the quarantine file: text when it is UTF-8, else base64."""
    try:
        return {"raw": bytes(raw).decode("utf-8")}
    except UnicodeDecodeError:
        return {"raw_base64": base64.b64encode(bytes(raw)).decode("ascii")}


def _structure_messages(obj: dict, problems: list, unknown: Counter):
    if "messages" not in obj:
        problems.append(("missing_field", "messages is missing"))
        return None
    raw = obj["messages"]
    if not isinstance(raw, list):
        problems.append(("wrong_type", f"messages is a JSON {_json_type(raw)}, expected an array"))
        return None
    out, ok = [], True
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            problems.append(("wrong_type", f"messages[{i}] is a JSON {_json_type(m)}, expected an object"))
            ok = False
            continue
        for key in m:
            if key not in MESSAGE_FIELDS:
                unknown[f"messages[].{key}"] += 1
        for key in MESSAGE_FIELDS:
            if key not in m:
                problems.append(("missing_field", f"messages[{i}].{key} is missing"))
                ok = False
            elif not isinstance(m[key], str):
                problems.append(
                    ("wrong_type", f"messages[{i}].{key} is a JSON {_json_type(m[key])}, expected a string")
                )
                ok = False
        if ok:
            out.append(Message(m["role"], m["content"]))
    return out if ok else None


def _structure_videos(obj: dict, problems: list):
    if "videos" not in obj:
        problems.append(("missing_field", "videos is missing"))
        return None
    raw = obj["videos"]
    if not isinstance(raw, list):
        problems.append(("wrong_type", f"videos is a JSON {_json_type(raw)}, expected an array of arrays"))
        return None
    ok = True
    for ci, clip in enumerate(raw):
        if not isinstance(clip, list):
            problems.append(
                ("wrong_type", f"videos[{ci}] is a JSON {_json_type(clip)}, expected an array of frame paths")
            )
            ok = False
            continue
        wrong = [k for k, p in enumerate(clip) if not isinstance(p, str)]
        for k in wrong[:MAX_DETAILS]:
            problems.append(("wrong_type", f"videos[{ci}][{k}] is a JSON {_json_type(clip[k])}, expected a string"))
        if len(wrong) > MAX_DETAILS:
            problems.append(("wrong_type", f"and {len(wrong) - MAX_DETAILS} more in videos[{ci}]"))
        ok = ok and not wrong
    return raw if ok else None
