"""The fast path: accept the usual valid record cheaply, a block of records at a time.

A record is accepted here only when it is certainly valid and its `videos` is one clip
written as `[["<folder>NNNNNN.jpg", "<folder>NNNNNN.jpg", ...]]` (one separator, `", "` or
`","`, throughout). Everything else, every invalid record included, goes to the exact
checker (`exact`), which names the problems; the accepted rows are built exactly as the
exact checker builds them (a test compares both tiers byte for byte).

Per record, msgspec decodes the record with `videos` left as raw JSON bytes (no Python
string per frame path) and the rules of tc139k.qa check the turns and times; the folder is
parsed once per distinct folder. Per block, numpy checks the frame paths: each record's raw
`videos` must equal `[["` + folder + "NNNNNN.jpg" ... + `"]]` with the digits copied in
from the record, the digits must be ASCII and the frame numbers must increase.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import msgspec
import numpy as np
import pyarrow as pa

from .. import qa
from . import arrowbuild as ab
from .exact import Message, table_schema

TAIL = qa.FRAME_TAIL
_SEP_SPACE, _SEP = b'", "', b'","'  # between two paths
_POWERS = np.array([100_000, 10_000, 1_000, 100, 10, 1], dtype=np.int32)
_CACHE_LIMIT = 200_000


class FastRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    messages: list[Message]
    videos: msgspec.Raw
    start_time: float | str | None = None
    end_time: float | str | None = None


class _Candidate(NamedTuple):
    k: int  # position in the block
    videos: bytes  # the raw JSON of `videos`
    template: bytes  # what `videos` must be, frame numbers aside
    folder: qa.Folder
    n: int  # paths
    sep: bytes  # between two paths
    size: int  # bytes of each path
    question: str
    answer: str
    roles: list
    contents: list
    start: float | None
    end: float | None


class FastPath:
    """Accepts records block by block; keeps the parsed folders and the path prefixes of
    the records it accepted. `frames` (a FramesOnDisk) adds the frames-on-disk check."""

    def __init__(self, frames=None):
        self.decoder = msgspec.json.Decoder(FastRecord)
        self.schema = table_schema()
        self.frames = frames
        self.folders: dict[bytes, qa.Folder | None] = {}
        self.templates: dict[tuple, bytes] = {}  # (folder, separator, paths) -> template
        self.prefixes: Counter = Counter()

    def accept(self, raws: list) -> tuple[list[int], dict | None]:
        """The positions in `raws` of the accepted records and their table columns (all but
        record_id, source_file and source_line); None when none was accepted."""
        cand = [c for k, raw in enumerate(raws) if (c := self._record(k, raw)) is not None]
        if not cand:
            return [], None
        ok, digits, indices, path_rec = _paths(cand)
        if self.frames is not None:
            first = _starts([c.n for c in cand])
            for r in np.flatnonzero(ok).tolist():
                c = cand[r]
                video = (c.folder.source, c.folder.video_id)
                if self.frames.problems([(video, indices[first[r] : first[r] + c.n])]):
                    ok[r] = False
        if not ok.all():
            indices, digits = indices[ok[path_rec]], digits[ok[path_rec]]
            cand = [c for c, keep in zip(cand, ok.tolist()) if keep]
            if not cand:
                return [], None
        for c in cand:
            self.prefixes[c.folder.prefix] += c.n
        return [c.k for c in cand], _columns(cand, indices, digits, self.schema)

    def _record(self, k: int, raw) -> _Candidate | None:
        """A record that passes every check but those of its frame paths, else None."""
        try:
            rec = self.decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
            return None
        roles = [m.role for m in rec.messages]
        contents = [m.content for m in rec.messages]
        if qa.turn_problems(roles, contents) or qa.video_tags(contents) != 1:
            return None
        start, p = qa.seconds(rec.start_time, "start_time")
        end, q = qa.seconds(rec.end_time, "end_time")
        if p or q or qa.time_order(start, end):
            return None
        videos = bytes(rec.videos)
        quote = videos.find(b'"', 3)
        size = quote - 3  # of the first path
        if size <= TAIL or not videos.startswith(b'[["') or not videos.endswith(b'"]]'):
            return None
        if quote == len(videos) - 3:
            sep, n = b"", 1
        else:
            sep = _SEP_SPACE if videos.startswith(_SEP_SPACE, quote) else _SEP
            if not videos.startswith(sep, quote):
                return None
            n, rest = divmod(len(videos) - 6 + len(sep), size + len(sep))
            if rest:
                return None
        key = videos[3 : quote - TAIL]
        folder = self.folders.get(key, False)
        if folder is False:
            if len(self.folders) > _CACHE_LIMIT:
                self.folders.clear()
            try:
                folder = qa.parse_folder(key.decode("utf-8"))
            except UnicodeDecodeError:
                folder = None
            self.folders[key] = folder
        if folder is None:
            return None
        template = self.templates.get((key, sep, n))
        if template is None:
            if len(self.templates) > _CACHE_LIMIT // 50:
                self.templates.clear()
            template = self.templates[key, sep, n] = b'[["' + sep.join([key + b"000000.jpg"] * n) + b'"]]'
        question, answer = qa.question_answer(roles, contents)
        return _Candidate(k, videos, template, folder, n, sep, size, question, answer, roles, contents, start, end)


def _paths(cand: list[_Candidate]) -> tuple[np.ndarray, ...]:
    """Which candidates' frame paths are sound; the six digits (bytes) and the frame index of
    every path, and the candidate it belongs to."""
    got = np.frombuffer(b"".join([c.videos for c in cand]), dtype=np.uint8)
    want = np.frombuffer(b"".join([c.template for c in cand]), dtype=np.uint8)
    n = np.array([c.n for c in cand], dtype=np.int64)
    size = np.array([c.size for c in cand], dtype=np.int64)
    stride = size + np.array([len(c.sep) for c in cand], dtype=np.int64)
    rec_start = _starts([len(c.videos) for c in cand])
    path_rec = np.repeat(np.arange(len(cand)), n)
    k = np.arange(len(path_rec)) - _starts(n)[path_rec]
    at = (rec_start + 3 + size - TAIL)[path_rec] + k * stride[path_rec]
    digits = _six(got)[at]
    differ = got != want
    _six(differ)[at] = False  # only the digits may differ from the template
    ok = np.ones(len(cand), dtype=bool)
    ok[np.searchsorted(rec_start, np.flatnonzero(differ), side="right") - 1] = False
    ok[path_rec[((digits < 48) | (digits > 57)).any(axis=1)]] = False
    indices = (digits.astype(np.int32) - 48) @ _POWERS
    not_after = (np.diff(indices) <= 0) & (path_rec[1:] == path_rec[:-1])
    ok[path_rec[1:][not_after]] = False
    return ok, digits, indices, path_rec


def _columns(cand: list[_Candidate], indices: np.ndarray, digits: np.ndarray, schema: pa.Schema) -> dict:
    """Table columns of the accepted records (one clip each)."""
    n = np.array([c.n for c in cand], dtype=np.int64)
    offsets = _starts(n, total=True)
    msg_type = schema.field("messages").type
    int_list = schema.field("frame_indices").type
    struct = pa.StructArray.from_arrays(
        [ab.strings([x for c in cand for x in c.roles]), ab.strings([x for c in cand for x in c.contents])],
        fields=list(msg_type.value_type),
    )
    return {
        "video_id": ab.strings([c.folder.video_id for c in cand]),
        "source": ab.strings([c.folder.source for c in cand]),
        "question": ab.strings([c.question for c in cand]),
        "answer": ab.strings([c.answer for c in cand]),
        "messages": ab.lists(ab.offsets32([len(c.roles) for c in cand]), struct, msg_type),
        "frame_indices": ab.lists(offsets, ab.numbers(indices, np.int32), int_list),
        "frame_paths": ab.lists(offsets, _relpaths(cand, n, digits), schema.field("frame_paths").type),
        "clip_lengths": ab.lists(np.arange(len(cand) + 1), ab.numbers(n, np.int32), int_list),
        "clip_start": ab.numbers(indices[offsets[:-1]], np.int32),
        "clip_end": ab.numbers(indices[offsets[1:] - 1], np.int32),
        "start_time": ab.floats_or_null([c.start for c in cand]),
        "end_time": ab.floats_or_null([c.end for c in cand]),
    }


def _relpaths(cand: list[_Candidate], n: np.ndarray, digits: np.ndarray) -> pa.StringArray:
    """`<source>/<video_id>/<NNNNNN>.jpg` of every path: each record's relative folder and
    "000000.jpg" repeated, the digits written in (source and video id are ASCII)."""
    buf = np.frombuffer(b"".join((c.folder.rel + "000000.jpg").encode() * c.n for c in cand), dtype=np.uint8).copy()
    stride = np.repeat(np.array([len(c.folder.rel) + TAIL for c in cand], dtype=np.int64), n)
    ends = np.cumsum(stride)
    _six(buf)[ends - TAIL] = digits
    return pa.StringArray.from_buffers(len(ends), pa.py_buffer(ab.offsets32(stride)), pa.py_buffer(buf))


def _six(buf: np.ndarray) -> np.ndarray:
    """A view of `buf` as the six bytes starting at each position (no copy)."""
    return np.lib.stride_tricks.sliding_window_view(buf, 6, writeable=buf.flags.writeable)


def _starts(sizes, total: bool = False) -> np.ndarray:
    """Start offsets of consecutive pieces of the given sizes (and the end, with `total`)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out if total else out[:-1]
