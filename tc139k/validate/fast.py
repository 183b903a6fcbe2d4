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
_HEAD = 512  # bytes of `videos` that must hold its first path (else: the exact checker)


class FastRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    messages: list[Message]
    videos: msgspec.Raw
    start_time: float | str | None = None
    end_time: float | str | None = None


class _Candidate(msgspec.Struct, gc=False):  # (a Struct: cheap to make, one per record)
    k: int  # position in the block
    videos: memoryview  # the raw JSON of `videos`
    template: bytes  # what `videos` must be, frame numbers aside
    folder: qa.Folder
    n: int  # paths
    sep: bytes  # between two paths
    size: int  # bytes of each path
    question: str
    answer: str
    contents: list  # of the turns (whose roles alternate from "user")
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
        got, at, ok, indices, path_rec = _paths(cand)
        if self.frames is not None:
            first = _starts([c.n for c in cand])
            for r in np.flatnonzero(ok).tolist():
                c = cand[r]
                video = (c.folder.source, c.folder.video_id)
                if self.frames.problems([(video, indices[first[r] : first[r] + c.n])]):
                    ok[r] = False
        if not ok.all():
            indices, at = indices[ok[path_rec]], at[ok[path_rec]]
            cand = [c for c, keep in zip(cand, ok.tolist()) if keep]
            if not cand:
                return [], None
        for c in cand:
            self.prefixes[c.folder.prefix] += c.n
        return [c.k for c in cand], _columns(cand, indices, got, at, self.schema)

    def _record(self, k: int, raw) -> _Candidate | None:
        """A record that passes every check but those of its frame paths, else None."""
        try:
            rec = self.decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return None
        roles = [m.role for m in rec.messages]
        contents = [m.content for m in rec.messages]
        problems, question, answer, tags = qa.turns(roles, contents)
        if problems or tags != 1:
            return None
        start, p = qa.seconds(rec.start_time, "start_time")
        end, q = qa.seconds(rec.end_time, "end_time")
        if p or q or qa.time_order(start, end):
            return None
        videos = memoryview(rec.videos)  # (no copy: only the first path is looked at here)
        head = bytes(videos[:_HEAD])
        quote = head.find(b'"', 3)  # the end of the first path
        size = quote - 3
        if size <= TAIL or not head.startswith(b'[["') or videos[-3:] != b'"]]':
            return None
        if quote == len(videos) - 3:
            sep, n = b"", 1
        else:
            sep = _SEP_SPACE if head.startswith(_SEP_SPACE, quote) else _SEP
            if not head.startswith(sep, quote):
                return None
            n, rest = divmod(len(videos) - 6 + len(sep), size + len(sep))
            if rest:
                return None
        key = head[3 : quote - TAIL]
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
        return _Candidate(k, videos, template, folder, n, sep, size, question, answer, contents, start, end)


def _paths(cand: list[_Candidate]) -> tuple[np.ndarray, ...]:
    """The joined raw `videos` of the candidates; for every path, where its digits are in
    them; which candidates' paths are sound; the frame index and the candidate of every
    path."""
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
    digits -= 48  # (bytes below "0" wrap round to large values)
    not_digit = digits > 9
    if np.count_nonzero(not_digit):
        ok[path_rec[not_digit.any(axis=1)]] = False
    indices = digits.astype(np.int32) @ _POWERS
    not_after = (np.diff(indices) <= 0) & (path_rec[1:] == path_rec[:-1])
    ok[path_rec[1:][not_after]] = False
    return got, at, ok, indices, path_rec


def _columns(cand: list[_Candidate], indices: np.ndarray, got: np.ndarray, at: np.ndarray, schema: pa.Schema) -> dict:
    """Table columns of the accepted records (one clip each)."""
    n = np.array([c.n for c in cand], dtype=np.int64)
    offsets = _starts(n, total=True)
    contents = [x for c in cand for x in c.contents]
    msg_type = schema.field("messages").type
    int_list = schema.field("frame_indices").type
    struct = pa.StructArray.from_arrays(
        # the roles of an accepted record alternate from "user"
        [ab.strings(["user", "assistant"] * (len(contents) // 2)), ab.strings(contents)],
        fields=list(msg_type.value_type),
    )
    return {
        "video_id": ab.strings([c.folder.video_id for c in cand]),
        "source": ab.strings([c.folder.source for c in cand]),
        "question": ab.strings([c.question for c in cand]),
        "answer": ab.strings([c.answer for c in cand]),
        "messages": ab.lists(ab.offsets32([len(c.contents) for c in cand]), struct, msg_type),
        "frame_indices": ab.lists(offsets, ab.numbers(indices, np.int32), int_list),
        "frame_paths": ab.lists(offsets, _relpaths(cand, n, got, at), schema.field("frame_paths").type),
        "clip_lengths": ab.lists(np.arange(len(cand) + 1), ab.numbers(n, np.int32), int_list),
        "clip_start": ab.numbers(indices[offsets[:-1]], np.int32),
        "clip_end": ab.numbers(indices[offsets[1:] - 1], np.int32),
        "start_time": ab.floats_or_null([c.start for c in cand]),
        "end_time": ab.floats_or_null([c.end for c in cand]),
    }


def _relpaths(cand: list[_Candidate], n: np.ndarray, got: np.ndarray, at: np.ndarray) -> pa.StringArray:
    """`<source>/<video_id>/<NNNNNN>.jpg` of every path: the path's tail in `got` (the fast
    path accepted only folders that end in the relative one), read through string views
    (length, first 4 bytes, buffer, offset; every one is longer than 12 bytes) and copied
    out by one cast."""
    length = np.repeat(np.array([len(c.folder.rel) + TAIL for c in cand], dtype=np.int64), n)
    start = at + 6 + 4 - length  # the digits, ".jpg"
    views = np.empty((len(start), 4), dtype=np.int32)
    views[:, 0] = length
    views[:, 1] = np.ndarray((len(got) - 3,), dtype="<i4", buffer=got, strides=(1,))[start]
    views[:, 2] = 0
    views[:, 3] = start
    arr = pa.Array.from_buffers(pa.string_view(), len(start), [None, pa.py_buffer(views), pa.py_buffer(got)])
    return arr.cast(pa.string())


def _six(buf: np.ndarray) -> np.ndarray:
    """A view of `buf` as the six bytes starting at each position (no copy)."""
    return np.lib.stride_tricks.sliding_window_view(buf, 6, writeable=buf.flags.writeable)


def _starts(sizes, total: bool = False) -> np.ndarray:
    """Start offsets of consecutive pieces of the given sizes (and the end, with `total`)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out if total else out[:-1]
