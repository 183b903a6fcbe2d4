"""Fast acceptance of QA records: prove the common, valid record valid, cheaply.

A record is accepted here only when it is certainly valid; anything else (including every
invalid record) goes to the exact checker in `qacheck`, which names every problem. The
accepted records must normalise exactly as the exact checker would normalise them; a test
runs both on the same inputs and compares the outputs byte for byte.

The trick is in `videos`: msgspec keeps it as raw JSON bytes (no Python string per frame
path). A record qualifies when its `videos` is one clip written as
`[["<folder>NNNNNN.jpg", "<folder>NNNNNN.jpg", ...]]` with one separator (`", "` or `","`)
and every path as long as the first. For a block of records the raw bytes are joined and
compared with a template built from each record's folder, whose digit positions hold 0xFF
(a byte UTF-8 never contains), so one masked comparison checks the structure and picks out
the digits (numpy). Records are grouped by a fingerprint of their folder, so the folder is
parsed and the template built once per group (and cached across blocks); the comparison
checks every byte, so a fingerprint shared by two folders only sends records on to the
exact checker. Digits must be ASCII and strictly increasing; all of them are read at once
as 8-byte words (SWAR).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import msgspec
import numpy as np
import pyarrow as pa

from ..paths import FramePathError, frame_relpath, parse_frame_path
from . import arrowbuild as ab

TAG = "<video>"
# a numeric start/end time string; Python's float() alone would also take "1_0", "nan", "inf"
NUMERIC_RE = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)
TAIL = 10  # len("000000.jpg")
HOLE = 0xFF  # template byte standing for a digit (UTF-8 never holds it)
_HOLES = bytes([HOLE]) * 6 + b".jpg"
_LAST_HOLES = _HOLES + b'"]]'
_INF = math.inf
_BAD = object()
_PAIR = ("user", "assistant")
_ROLES = [tuple("user" if i % 2 == 0 else "assistant" for i in range(n)) for n in range(65)]
_FOLDER_CACHE_LIMIT = 200_000
_TEMPLATE_CACHE_LIMIT = 4096
_SEPS = {0: b"", 3: b'","', 4: b'", "'}
_OPEN, _CLOSE = (int.from_bytes(x, "little") for x in (b'[["', b'"]]'))
_SEP, _SEP_SPACE = (int.from_bytes(x, "little") for x in (b'","', b'", "'))
_PAD = bytes(8)
_GROUP_KEY = np.dtype([("folder", "<u8"), ("length", "<i8"), ("paths", "<i8"), ("sep", "<i8")])
_MIX = tuple(np.uint64(m) for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9))
_LOW6, _ADD_46, _ZEROS, _HIGH_BITS, _PAIRS, _BYTE = (
    np.uint64(m) for m in (0xFFFFFFFFFFFF, 0x464646464646, 0x303030303030, 0x808080808080, 0x00FF00FF00FF, 0xFF)
)


class FastMessage(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    role: str
    content: str


class FastRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    messages: list[FastMessage]
    videos: msgspec.Raw
    start_time: float | str | None = None
    end_time: float | str | None = None


DECODER = msgspec.json.Decoder(FastRecord)


def parse_folder(folder: bytes):
    """(source, video_id, relative folder, prefix) when `folder` + 6 digits + ".jpg" is a
    valid frame path for any digits, else None."""
    try:
        text = folder.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.endswith("/"):
        return None
    try:
        ref = parse_frame_path(text + "000000.jpg")
    except FramePathError:
        return None
    rel = frame_relpath(ref.source, ref.video_id, 0)[:-TAIL]
    if not text.endswith(rel):  # e.g. an upper-case source: the exact checker normalises it
        return None
    return (ref.source, ref.video_id, rel.encode("ascii"), text[: -len(rel)])


def _seconds(v):
    """Seconds from a decoded start/end time; _BAD for anything the exact checker rejects."""
    if v is None:
        return None
    if v.__class__ is str:
        if not NUMERIC_RE.fullmatch(v):
            return _BAD
        v = float(v)
    return v if 0.0 <= v < math.inf else _BAD


class FastBlock:
    """The fast-path records of one block. `add` each record; `verify` the block; then
    `columns` gives the accepted records' table columns."""

    def __init__(self, folders: dict, prefixes: Counter, templates: dict | None = None):
        self.folders = folders  # shared cache: folder bytes -> parse_folder()
        self.prefixes = prefixes
        # shared cache: (folder, separator, paths) -> template (records of one video share it)
        self.templates = templates if templates is not None else {}
        # one tuple per record: (record number in the block, raw videos, question, answer,
        # turn contents (roles alternate from "user"), start, end)
        self.recs: list[tuple] = []
        self.infos: list[tuple] = []  # parse_folder() of each record that `verify` kept
        self.counts: np.ndarray | None = None  # paths of each kept record
        self.accepted: np.ndarray | None = None
        self.indices: np.ndarray | None = None
        self.got: np.ndarray | None = None  # the joined raw videos
        self.path_end: np.ndarray | None = None  # end of every path in `got`

    def add(self, raw, k: int) -> bool:
        """Decode and check one record; False sends it to the exact checker. The frame
        paths are checked later, for the whole block, by `verify`."""
        try:
            rec = DECODER.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
            return False
        msgs = rec.messages
        if len(msgs) == 2:
            m0, m1 = msgs
            q, a = m0.content, m1.content
            if m0.role != "user" or m1.role != "assistant" or q.count(TAG) != 1 or TAG in a:
                return False
            question, answer = q.replace(TAG, "").strip(), a.strip()
            if not question or not answer:
                return False
            contents = (q, a)
        else:
            contents = _turns(msgs)
            if contents is None:
                return False
            question, answer = contents[0].replace(TAG, "").strip(), contents[1].strip()
        start, end = rec.start_time, rec.end_time
        if start.__class__ is not float or not 0.0 <= start < _INF:
            start = _seconds(start)
            if start is _BAD:
                return False
        if end.__class__ is not float or not 0.0 <= end < _INF:
            end = _seconds(end)
            if end is _BAD:
                return False
        if start is not None and end is not None and start > end:
            return False
        self.recs.append((k, rec.videos, question, answer, contents, start, end))
        return True

    def verify(self, existing: Callable | None = None) -> list[int]:
        """Check the frame paths of the block's records against their templates; returns
        the record numbers sent on to the exact checker. With `existing(source, video_id)`
        (sorted frame indices on disk, or None), records with a missing frame are sent on
        as well."""
        recs = self.recs
        if not recs:
            self.accepted = np.zeros(0, dtype=bool)
            return []
        raws = [r[1] for r in recs]
        joined = b"".join(raws + [_PAD])  # (8-byte reads near the end stay inside)
        got = np.frombuffer(joined, dtype=np.uint8)
        lens = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
        pos = _starts(lens)
        shape = _shapes(joined, got, pos, pos + lens)
        # one template per group of records with the same folder, separator and number of
        # paths; the template comparison below checks every byte of every record, so the
        # fingerprint that groups folders only has to be good, not exact
        fits = np.flatnonzero(shape.fits)
        keys = np.empty(len(fits), dtype=_GROUP_KEY)
        keys["folder"] = _fingerprint(got, pos[fits] + 3, shape.plen[fits] - TAIL)
        keys["length"], keys["paths"], keys["sep"] = shape.plen[fits], shape.n_paths[fits], shape.sep[fits]
        _, firsts, group = np.unique(keys, return_index=True, return_inverse=True)
        group_info, group_template = self._groups(joined, pos[fits[firsts]], shape, fits[firsts])
        good = np.zeros(len(recs), dtype=bool)
        good[fits] = np.array([x is not None for x in group_info], dtype=bool)[group]
        bad_k = [recs[r][0] for r in np.flatnonzero(~good)]
        kept = np.flatnonzero(good)
        if not len(kept):
            self.recs = []
            self.accepted = np.zeros(0, dtype=bool)
            return bad_k
        kept_group = group[good[fits]].tolist()
        infos = [group_info[g] for g in kept_group]
        want = np.frombuffer(b"".join([group_template[g] for g in kept_group] + [_PAD]), dtype=np.uint8)
        plen, sep, n_paths = shape.plen[kept], shape.sep[kept], shape.n_paths[kept]
        if bad_k:  # lay the records that fit out as in their templates
            got = np.concatenate([got[p : p + n] for p, n in zip(pos[kept].tolist(), lens[kept].tolist())] + [got[-8:]])
            pos = _starts(lens[kept])
            self.recs = [recs[r] for r in kept.tolist()]
        else:
            pos = pos[kept]
        path_offsets = _starts(n_paths, total=True)
        path_rec, i = _path_positions(n_paths)
        path_end = pos[path_rec] + 3 + (i + 1) * plen[path_rec] + i * sep[path_rec]
        bad = np.zeros(len(kept), dtype=bool)
        # every hole (0xFF, which UTF-8 never holds) differs from the raw bytes; any other
        # difference is a record that does not fit its template
        differs = got != want
        if np.count_nonzero(differs) != 6 * len(path_end):
            differs &= want != HOLE
            bad[np.searchsorted(pos, np.flatnonzero(differs), side="right") - 1] = True
        indices, non_digit = _six_digits(_words(got)[8][path_end - TAIL])
        if non_digit.any():
            bad[path_rec[non_digit]] = True
        step_bad = np.diff(indices) <= 0
        step_bad[path_offsets[1:-1] - 1] = False  # from one record to the next
        if step_bad.any():
            bad[path_rec[1:][step_bad]] = True
        if existing is not None:
            for r, info in enumerate(infos):
                if not bad[r]:
                    have = existing(info[0], info[1])
                    idx = indices[path_offsets[r] : path_offsets[r + 1]]
                    if have is None or not np.isin(idx, have).all():
                        bad[r] = True
        self.accepted = ~bad
        self.indices, self.got, self.path_end = indices, got, path_end
        self.infos, self.counts = infos, n_paths
        paths_per_group = np.bincount(
            np.asarray(kept_group)[self.accepted], weights=n_paths[self.accepted], minlength=len(group_info)
        )
        for info, n in zip(group_info, paths_per_group.tolist()):
            if n:
                self.prefixes[info[3]] += int(n)
        return sorted(bad_k + [self.recs[r][0] for r in np.flatnonzero(bad)])

    def _groups(self, joined: bytes, starts: np.ndarray, shape, rows: np.ndarray) -> tuple[list, list]:
        """parse_folder() and the template of each group, from its first record (None for
        both when the folder is not a valid one)."""
        folders, cache = self.folders, self.templates
        infos, templates = [], []
        for p, q, n, sl in zip(
            starts.tolist(), shape.q_end[rows].tolist(), shape.n_paths[rows].tolist(), shape.sep[rows].tolist()
        ):
            folder = joined[p + 3 : q - TAIL]
            info = folders.get(folder, False)
            if info is False:
                if len(folders) > _FOLDER_CACHE_LIMIT:
                    folders.clear()
                info = folders[folder] = parse_folder(folder)
            template = None
            if info is not None:
                key = (folder, sl, n)
                template = cache.get(key)
                if template is None:
                    if len(cache) > _TEMPLATE_CACHE_LIMIT:
                        cache.clear()
                    template = cache[key] = b'[["' + (folder + _HOLES + _SEPS[sl]) * (n - 1) + folder + _LAST_HOLES
            infos.append(info)
            templates.append(template)
        return infos, templates

    def accepted_k(self) -> list[int]:
        return [r[0] for r, ok in zip(self.recs, self.accepted) if ok]

    def columns(self, schema: pa.Schema) -> dict:
        """Table columns of the accepted records, except record_id, source_file and
        source_line (the caller knows the lines)."""
        ok = self.accepted
        recs, infos, counts = self.recs, self.infos, self.counts
        indices, path_end = self.indices, self.path_end
        if not ok.all():
            path_mask = np.repeat(ok, counts)
            indices, path_end = indices[path_mask], path_end[path_mask]
            recs = [r for r, keep in zip(recs, ok) if keep]
            infos = [x for x, keep in zip(infos, ok) if keep]
            counts = counts[ok]
        _, _, question, answer, turns, start, end = zip(*recs)
        offsets = _starts(counts, total=True)
        firsts = offsets[:-1]
        n = len(recs)
        sizes = [len(t) for t in turns]
        contents = list(chain.from_iterable(turns))
        roles = ab.repeated_strings(_PAIR, len(contents) // 2)  # every record: user, assistant, ...
        msg_offsets = ab.offsets32(sizes)
        msg_type = schema.field("messages").type
        int_list = schema.field("frame_indices").type
        struct = pa.StructArray.from_arrays([roles, ab.strings(contents)], fields=list(msg_type.value_type))
        return {
            "video_id": ab.strings([x[1] for x in infos]),
            "source": ab.strings([x[0] for x in infos]),
            "question": ab.strings(question),
            "answer": ab.strings(answer),
            "messages": ab.lists(msg_offsets, struct, msg_type),
            "frame_indices": ab.lists(offsets, ab.numbers(indices, np.int32), int_list),
            "frame_paths": ab.lists(
                offsets, _relpaths(self.got, path_end, infos, counts), schema.field("frame_paths").type
            ),
            "clip_lengths": ab.lists(np.arange(n + 1), ab.numbers(counts, np.int32), int_list),
            "clip_start": ab.numbers(indices[firsts], np.int32),
            "clip_end": ab.numbers(indices[firsts + counts - 1], np.int32),
            "start_time": ab.floats_or_null(start),
            "end_time": ab.floats_or_null(end),
        }


def _turns(msgs) -> list | None:
    """The contents of a longer conversation that passes every check, else None."""
    n = len(msgs)
    if n < 2 or n % 2 or n >= len(_ROLES) or tuple(m.role for m in msgs) != _ROLES[n]:
        return None
    contents = [m.content for m in msgs]
    if "\0".join(contents).count(TAG) != 1:
        return None
    if any(not c.replace(TAG, "").strip() for c in contents[0::2]):
        return None
    if any(not c.strip() for c in contents[1::2]):
        return None
    return contents


@dataclass
class _Shapes:
    """Per record: does it look like `[["<path>"<sep>"<path>"...]]` with paths of one
    length (`fits`), where the first path ends (`q_end`), its length, the separator's
    length (0, 3 or 4) and the number of paths that implies."""

    fits: np.ndarray
    q_end: np.ndarray
    plen: np.ndarray
    sep: np.ndarray
    n_paths: np.ndarray


def _shapes(joined: bytes, got: np.ndarray, pos: np.ndarray, end: np.ndarray) -> _Shapes:
    words = _words(got)[4]
    find = joined.find
    q_end = np.fromiter(
        (find(b'"', p, e) for p, e in zip((pos + 3).tolist(), end.tolist())), dtype=np.int64, count=len(pos)
    )
    q_end[q_end < 0] = len(got) - 8  # no quote: points into the padding
    after = words[q_end]
    sep = np.where(after == _SEP_SPACE, 4, np.where(after & 0xFFFFFF == _SEP, 3, 0))
    single = q_end == end - 3
    sep[single] = 0
    plen = q_end - pos - 3
    n_paths, rest = np.divmod(end - pos - 6 + sep, np.maximum(plen + sep, 1))
    n_paths[single] = 1
    fits = (
        (end - pos > 6 + TAIL)
        & (words[pos] & 0xFFFFFF == _OPEN)
        & (words[np.maximum(end - 3, 0)] & 0xFFFFFF == _CLOSE)
        & (plen > TAIL)
        & (q_end < end)
        & (single | ((sep > 0) & (rest == 0)))
    )
    return _Shapes(fits, q_end, plen, sep, n_paths)


def _fingerprint(got: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """A 64-bit mix of the last 24 and first 8 bytes of each folder (where video ids and
    sources are)."""
    words = _words(got)[8]
    last = len(words) - 1
    out = np.zeros(len(start), dtype=np.uint64)
    for back, mult in ((8, _MIX[0]), (16, _MIX[1]), (24, _MIX[2])):
        out ^= words[np.clip(start + length - back, 0, last)] * mult
        out = (out << np.uint64(29)) | (out >> np.uint64(35))
    return out ^ words[np.clip(start, 0, last)]


def _six_digits(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices from 8-byte little-endian words whose first 6 bytes are the digits
    (SWAR: all digits of all words at once), and which words hold a non-digit there."""
    x = words & _LOW6
    # per byte: >= 0x80 as it is, > 0x39 once 0x46 is added, < 0x30 once 0x30 is taken
    # away; carries and borrows only reach bytes of words flagged already
    non_digit = ((x | (x + _ADD_46) | (x - _ZEROS)) & _HIGH_BITS) != 0
    d = x - _ZEROS
    d = (d * np.uint64(10) + (d >> np.uint64(8))) & _PAIRS  # bytes 0, 2, 4: two digits each
    index = (
        (d & _BYTE).astype(np.int32) * 10000
        + ((d >> np.uint64(16)) & _BYTE).astype(np.int32) * 100
        + (d >> np.uint64(32)).astype(np.int32)
    )
    return index, non_digit


def _words(buf: np.ndarray) -> dict[int, np.ndarray]:
    """Overlapping views of `buf` as little-endian 4- and 8-byte words starting at every
    byte (no copy): one gather then reads several bytes at arbitrary offsets."""
    return {
        4: np.ndarray((max(len(buf) - 3, 0),), dtype="<u4", buffer=buf, strides=(1,)),
        8: np.ndarray((max(len(buf) - 7, 0),), dtype="<u8", buffer=buf, strides=(1,)),
    }


def _prefixes(buf: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The 4 bytes at each `start` as int32 (each start at least 4 bytes before the end)."""
    return _words(buf)[4][start].view(np.int32)


def _relpaths(got: np.ndarray, path_end: np.ndarray, info: list, counts: np.ndarray) -> pa.StringArray:
    """`<source>/<video_id>/<NNNNNN>.jpg` of every path: the tail of each path in the raw
    bytes (the template check proved it equal to the parsed folder's), taken as string
    views over `got` and copied out in one cast."""
    length = np.repeat(np.fromiter(map(len, map(itemgetter(2), info)), dtype=np.int64, count=len(info)) + TAIL, counts)
    start = path_end - length
    views = np.empty((len(start), 4), dtype=np.int32)
    views[:, 0] = length
    views[:, 1] = _prefixes(got, start)
    views[:, 2] = 0
    views[:, 3] = start
    arr = pa.Array.from_buffers(pa.string_view(), len(start), [None, pa.py_buffer(views), pa.py_buffer(got)])
    return arr.cast(pa.string())


def _path_positions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For consecutive clips of `counts` paths: each path's clip and position in its clip."""
    path_clip = np.repeat(np.arange(len(counts)), counts)
    return path_clip, np.arange(len(path_clip)) - _starts(counts)[path_clip]


def _starts(sizes, total: bool = False) -> np.ndarray:
    """Start offsets of consecutive pieces of the given sizes (and the end, with `total`)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out if total else out[:-1]
