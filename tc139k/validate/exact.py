"""The exact checker: one QA record (schemas/qa.v1.json) at a time, naming every problem.

Typed decoding first; when that fails, plain JSON, to list every structural problem; then
the record rules of tc139k.qa on whatever is sound, and every frame path parsed on its own.
A record without problems comes back with its normalised row (schemas/qa_table.v1.json),
exactly as the fast path (`fast`) would have built it; a test compares the two tiers byte
for byte. Duplicates are not judged here: the merge compares line digests in input order.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field

import msgspec
import numpy as np
import pyarrow as pa

from .. import qa, schemas
from ..jsonl import line_problem
from ..paths import frame_relpath
from . import arrowbuild as ab

TABLE_SCHEMA_ID = "qa_table.v1"
RECORD_SCHEMA_ID = "qa.v1"
KNOWN_FIELDS = ("messages", "videos", "start_time", "end_time")
MESSAGE_FIELDS = ("role", "content")
MAX_DETAILS = 3  # problems of one kind listed per clip or field before "and N more"


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


@dataclass
class Row:
    """A valid record, normalised (the table columns the caller does not add itself)."""

    source: str
    video_id: str
    question: str
    answer: str
    roles: list[str]
    contents: list[str]
    indices: list[int]
    relpaths: list[str]
    clip_lengths: list[int]
    start: float | None
    end: float | None


@dataclass
class Checked:
    problems: list = field(default_factory=list)  # (code, message), in the order found
    row: Row | None = None  # when there is no problem


class ExactChecker:
    """Checks records one by one; counts the fields it ignored and the path prefixes of the
    clips whose paths are all sound. `frames` (a FramesOnDisk) adds the frames-on-disk check."""

    def __init__(self, frames=None):
        self.typed = msgspec.json.Decoder(QARecord)
        self.generic = msgspec.json.Decoder()
        self.frames = frames
        self.unknown_fields: Counter = Counter()
        self.prefixes: Counter = Counter()

    def check(self, raw) -> Checked:
        out = Checked()
        try:
            rec = self.typed.decode(raw)
        except msgspec.ValidationError:
            self._check_generic(raw, out)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as ex:  # nested too deep: bad JSON too
            out.problems.append(line_problem(raw, ex))
        else:
            roles = [m.role for m in rec.messages]
            contents = [m.content for m in rec.messages]
            self._check_record(out, roles, contents, rec.videos, rec.start_time, rec.end_time)
        return out

    def _check_generic(self, raw, out: Checked) -> None:
        """A record that does not decode into QARecord: name every structural problem, then
        check the parts that are sound."""
        try:
            obj = self.generic.decode(raw)
        except (msgspec.DecodeError, RecursionError) as ex:
            out.problems.append(line_problem(raw, ex))
            return
        if not isinstance(obj, dict):
            out.problems.append(("not_an_object", f"the line holds a JSON {qa.json_type(obj)}, not an object"))
            return
        for key in obj:
            if key not in KNOWN_FIELDS:
                self.unknown_fields[key] += 1
        messages = _structure_messages(obj, out.problems, self.unknown_fields)
        videos = _structure_videos(obj, out.problems)
        times = []
        for name in ("start_time", "end_time"):
            v = obj.get(name)
            if isinstance(v, int) and not isinstance(v, bool):
                try:
                    v = float(v)
                except OverflowError:
                    pass
            if v is not None and not isinstance(v, (float, str)):  # the type is wrong
                out.problems.append(qa.seconds(v, name)[1])
                v = None
            times.append(v)
        roles = contents = None
        if messages is not None:
            roles, contents = [m[0] for m in messages], [m[1] for m in messages]
        self._check_record(out, roles, contents, videos, times[0], times[1])

    def _check_record(self, out: Checked, roles, contents, videos, start, end) -> None:
        """The record rules on the parts that are sound (None: already found wrong)."""
        problems = out.problems
        question = answer = None
        if roles is not None:
            turn_problems, question, answer, tags = qa.turns(roles, contents)
            problems += turn_problems
        if videos is not None:
            if roles is not None and (p := qa.tag_problem(tags, len(videos))):
                problems.append(p)
            if not videos:
                problems.append(("no_video", "videos is empty"))
            for ci, paths in enumerate(videos):
                if not paths:
                    problems.append(("empty_clip", f"videos[{ci}] is empty"))
        start, p = qa.seconds(start, "start_time")
        problems += [p] if p else []
        end, p = qa.seconds(end, "end_time")
        problems += [p] if p else []
        if p := qa.time_order(start, end):
            problems.append(p)
        if videos is None:
            return
        clips = [self._clip(ci, paths) for ci, paths in enumerate(videos) if paths]
        for c in clips:
            problems += _capped(c.problems)
        found = sorted({c.video for c in clips if not c.problems})
        if len(found) > 1:
            problems.append(("record_spans_videos", "clips come from " + ", ".join(f"{s}/{v}" for s, v in found)))
        if self.frames is not None and found:
            problems += self.frames.problems([(c.video, c.indices) for c in clips if not c.problems])
        if problems:
            return
        out.row = Row(
            *found[0],
            question,
            answer,
            roles,
            contents,
            [i for c in clips for i in c.indices],
            [frame_relpath(*c.video, i) for c in clips for i in c.indices],
            [len(c.indices) for c in clips],
            start,
            end,
        )

    def _clip(self, ci: int, paths: list[str]) -> _Clip:
        """Every path of one clip parsed on its own; problems name the clip and position."""
        clip = _Clip()
        refs = []
        for k, p in enumerate(paths):
            ref, why = qa.frame_ref(p)
            if ref is None:
                clip.problems.append(("bad_frame_path", f"videos[{ci}][{k}]: {why}"))
            else:
                refs.append((k, ref, p))
        videos = {(ref.source, ref.video_id) for _, ref, _ in refs}
        if len(videos) > 1:
            names = sorted(f"{s}/{v}" for s, v in videos)
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            clip.problems.append(("clip_spans_videos", f"videos[{ci}] mixes frames of {', '.join(names[:3])}{more}"))
        for (_, before, _), (k, ref, _) in zip(refs, refs[1:]):
            if ref.index <= before.index:
                clip.problems.append(
                    (
                        "frames_not_increasing",
                        f"videos[{ci}][{k}]: frame {ref.index:06d} does not come after {before.index:06d}",
                    )
                )
        if not clip.problems:
            clip.video = videos.pop()
            clip.indices = [ref.index for _, ref, _ in refs]
            for _, _, p in refs:
                self.prefixes[qa.path_prefix(p)] += 1
        return clip


@dataclass
class _Clip:
    problems: list = field(default_factory=list)
    video: tuple[str, str] | None = None  # (source, video_id) when the clip is sound
    indices: list[int] | None = None


def columns(rows: list[Row], schema: pa.Schema) -> dict:
    """Table columns of valid records, except record_id, source_file and source_line."""
    msg_type = schema.field("messages").type
    int_list = schema.field("frame_indices").type
    struct = pa.StructArray.from_arrays(
        [ab.strings([x for r in rows for x in r.roles]), ab.strings([x for r in rows for x in r.contents])],
        fields=list(msg_type.value_type),
    )
    frame_offsets = ab.offsets32([len(r.indices) for r in rows])
    indices = np.array([i for r in rows for i in r.indices], dtype=np.int32)
    starts = frame_offsets[:-1]
    return {
        "video_id": ab.strings([r.video_id for r in rows]),
        "source": ab.strings([r.source for r in rows]),
        "question": ab.strings([r.question for r in rows]),
        "answer": ab.strings([r.answer for r in rows]),
        "messages": ab.lists(ab.offsets32([len(r.roles) for r in rows]), struct, msg_type),
        "frame_indices": ab.lists(frame_offsets, ab.numbers(indices, np.int32), int_list),
        "frame_paths": ab.lists(
            frame_offsets, ab.strings([p for r in rows for p in r.relpaths]), schema.field("frame_paths").type
        ),
        "clip_lengths": ab.lists(
            ab.offsets32([len(r.clip_lengths) for r in rows]),
            ab.numbers([n for r in rows for n in r.clip_lengths], np.int32),
            int_list,
        ),
        "clip_start": ab.numbers(np.minimum.reduceat(indices, starts), np.int32),
        "clip_end": ab.numbers(np.maximum.reduceat(indices, starts), np.int32),
        "start_time": ab.floats_or_null([r.start for r in rows]),
        "end_time": ab.floats_or_null([r.end for r in rows]),
    }


# ---- quarantine entries ----------------------------------------------------------------------


def entry_tail(offset: int, problems: list, raw: bytes, truncated: bool = False) -> str:
    """A quarantine entry's JSON after its "file" and "line" members, which the caller adds
    once it knows the line numbers (see quarantine_line)."""
    entry = {"offset": offset, "reasons": [{"code": c, "message": m} for c, m in problems]}
    if truncated:
        entry["raw_truncated"] = True
    entry.update(raw_field(raw))
    return json.dumps(entry, ensure_ascii=False)[1:]


def quarantine_line(file_name: str, line: int, tail: str) -> str:
    """The quarantine JSON line: {"file", "line", "offset", "reasons", "raw" or "raw_base64"}."""
    return '{"file": ' + json.dumps(file_name, ensure_ascii=False) + f', "line": {line}, ' + tail


def raw_field(raw: bytes) -> dict:
    """The original line for the quarantine file: text when it is UTF-8, else base64."""
    try:
        return {"raw": bytes(raw).decode("utf-8")}
    except UnicodeDecodeError:
        return {"raw_base64": base64.b64encode(bytes(raw)).decode("ascii")}


# ---- structure of records that are not QARecord -------------------------------------------


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


def _structure_messages(obj: dict, problems: list, unknown: Counter) -> list | None:
    """[(role, content)] when messages is a list of well-typed turns, else None."""
    if "messages" not in obj:
        problems.append(("missing_field", "messages is missing"))
        return None
    raw = obj["messages"]
    if not isinstance(raw, list):
        problems.append(("wrong_type", f"messages is a JSON {qa.json_type(raw)}, expected an array"))
        return None
    out, ok = [], True
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            problems.append(("wrong_type", f"messages[{i}] is a JSON {qa.json_type(m)}, expected an object"))
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
                    ("wrong_type", f"messages[{i}].{key} is a JSON {qa.json_type(m[key])}, expected a string")
                )
                ok = False
        if ok:
            out.append((m["role"], m["content"]))
    return out if ok else None


def _structure_videos(obj: dict, problems: list) -> list | None:
    if "videos" not in obj:
        problems.append(("missing_field", "videos is missing"))
        return None
    raw = obj["videos"]
    if not isinstance(raw, list):
        problems.append(("wrong_type", f"videos is a JSON {qa.json_type(raw)}, expected an array of arrays"))
        return None
    ok = True
    for ci, clip in enumerate(raw):
        if not isinstance(clip, list):
            problems.append(
                ("wrong_type", f"videos[{ci}] is a JSON {qa.json_type(clip)}, expected an array of frame paths")
            )
            ok = False
            continue
        wrong = [k for k, p in enumerate(clip) if not isinstance(p, str)]
        for k in wrong[:MAX_DETAILS]:
            problems.append(("wrong_type", f"videos[{ci}][{k}] is a JSON {qa.json_type(clip[k])}, expected a string"))
        if len(wrong) > MAX_DETAILS:
            problems.append(("wrong_type", f"and {len(wrong) - MAX_DETAILS} more in videos[{ci}]"))
        ok = ok and not wrong
    return raw if ok else None
