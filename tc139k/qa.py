"""The rules of a QA record (schemas/qa.v1.json), defined once for every reader.

`validate` checks records with them, `stats dataset` and `keyframes compare` read records and
times with them, so a value one accepts the others accept too. Each rule returns the problem
it finds as `(reason code, message)` (codes from schemas/qa.v1.json), or None:

- times: a number or a numeric string (`NUMERIC_RE`; not "1_0", "nan", "inf"), finite, >= 0
  and below MAX_SECONDS (what start and end mean is undocumented, but they are seconds of a
  1 fps video, and a frame name holds six digits: no video of the dataset reaches 10**6 s);
- roles: at least one user/assistant pair, alternating from "user";
- the `<video>` tag: one per frame list, counted over all turns; a question is not empty
  once its tags are removed, an answer is not empty;
- frame paths: `<prefix><source>/<video_id>/<NNNNNN>.jpg` with six ASCII digits
  (tc139k.paths parses the tail); `parse_folder` tells whether a folder is one of a video.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from .paths import FramePathError, FrameRef, frame_relpath, parse_frame_path

VIDEO_TAG = "<video>"
FRAME_TAIL = 10  # len("000000.jpg")
# a numeric time string; Python's float() alone would also take "1_0", "nan", "inf"
NUMERIC_RE = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)

Problem = tuple[str, str]
# Frame names are NNNNNN.jpg at 1 fps: 999,999 s (11.6 days) is the last second any video can have.
MAX_SECONDS = 1_000_000.0


def json_type(v) -> str:
    """The JSON type name of a decoded value (for messages)."""
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


def seconds(v, name: str) -> tuple[float | None, Problem | None]:
    """A start or end time (None, a number or a numeric string) in seconds, or its problem."""
    if v.__class__ is float and 0.0 <= v < MAX_SECONDS:  # the usual case, first
        return v, None
    if v is None:
        return None, None
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None, ("time_not_numeric", f"{name} is a JSON {json_type(v)}")
    if isinstance(v, str):
        if not NUMERIC_RE.fullmatch(v):
            return None, ("time_not_numeric", f"{name} {v[:40]!r} is not a number")
        v = float(v)
    elif isinstance(v, int):
        try:
            v = float(v)
        except OverflowError:
            return None, ("time_not_numeric", f"{name} {v} is too large")
    if not math.isfinite(v):
        return None, ("time_not_numeric", f"{name} {v} is not finite")
    if v < 0:
        return None, ("time_negative", f"{name} {v:g} is negative")
    if v >= MAX_SECONDS:
        return None, (
            "time_out_of_range",
            f"{name} {v:g} is past 999999 s, the last second a frame name (NNNNNN.jpg) can hold",
        )
    return float(v), None


def time_order(start: float | None, end: float | None) -> Problem | None:
    if start is not None and end is not None and start > end:
        return ("time_order", f"start_time {start:g} is after end_time {end:g}")
    return None


def expected_role(i: int) -> str:
    return "user" if i % 2 == 0 else "assistant"


_PAIRS = [["user", "assistant"] * (n // 2) for n in range(66)]


def roles_problem(roles: list[str]) -> Problem:
    """What is wrong with roles that are not user/assistant pairs starting with the user."""
    n = len(roles)
    if not roles:
        return ("bad_roles", "messages is empty")
    for i, role in enumerate(roles):
        if role != expected_role(i):
            return ("bad_roles", f"messages[{i}].role is {role!r}, expected {expected_role(i)!r}")
    return ("bad_roles", f"the conversation ends with a user turn (messages[{n - 1}]) and no answer")


def turns(roles: list[str], contents: list[str]) -> tuple[list[Problem], str | None, str | None, int]:
    """The conversation rules. (problems: bad_roles, then every empty question (tags
    removed) and answer in turn order; the first question, tags removed, and the first
    answer, stripped, None where the turn is not there; the <video> tags in all turns.)"""
    n = len(roles)
    if n == 2 and roles[0] == "user" and roles[1] == "assistant":  # the usual record, first
        question, answer = contents[0].replace(VIDEO_TAG, "").strip(), contents[1].strip()
        problems = [] if question else [("empty_question", "messages[0] (user) is empty")]
        if not answer:
            problems.append(("empty_answer", "messages[1] (assistant) is empty"))
        return problems, question, answer, contents[0].count(VIDEO_TAG) + contents[1].count(VIDEO_TAG)
    problems = []
    if not (n >= 2 and n % 2 == 0 and roles == (_PAIRS[n] if n < len(_PAIRS) else ["user", "assistant"] * (n // 2))):
        problems.append(roles_problem(roles))
    question = answer = None
    for i, (role, text) in enumerate(zip(roles, contents)):
        if role == "user":
            text = text.replace(VIDEO_TAG, "").strip()
            if not text:
                problems.append(("empty_question", f"messages[{i}] (user) is empty"))
            if i == 0:
                question = text
        elif role == "assistant":
            text = text.strip()
            if not text:
                problems.append(("empty_answer", f"messages[{i}] (assistant) is empty"))
            if i == 1:
                answer = text
    return problems, question, answer, sum(c.count(VIDEO_TAG) for c in contents)


def tag_problem(tags: int, clips: int) -> Problem | None:
    if tags != clips:
        return ("video_tag_mismatch", f"{tags} {VIDEO_TAG} tag(s) in messages but {clips} frame list(s)")
    return None


def frame_index(name: str) -> int | None:
    """The frame number of a frame file name (six ASCII digits + ".jpg"), else None."""
    digits = name[:6]
    if len(name) == FRAME_TAIL and name.endswith(".jpg") and digits.isascii() and digits.isdigit():
        return int(digits)
    return None


def frame_ref(path: str) -> tuple[FrameRef | None, str | None]:
    """The parsed frame path, or why it is not one (six ASCII digits required)."""
    try:
        ref = parse_frame_path(path)
    except FramePathError as ex:
        return None, str(ex)
    digits = path[-FRAME_TAIL:-4]
    if not digits.isascii():
        return None, f"frame number {digits!r} is not ASCII digits"
    return ref, None


def path_prefix(path: str) -> str:
    """What comes before the last three components (`<source>/<video_id>/<NNNNNN>.jpg`) of
    a valid frame path, separators included."""
    head = path
    for _ in range(3):
        head = head.rstrip("/")
        head = head[: head.rfind("/") + 1]
    return head


class Folder(NamedTuple):
    source: str
    video_id: str
    rel: str  # "<source>/<video_id>/", the folder relative to the frames root
    prefix: str  # what comes before it


def parse_folder(folder: str) -> Folder | None:
    """The video of a folder written exactly as `<prefix><source>/<video_id>/` (source in
    lower case), so that folder + any six ASCII digits + ".jpg" is a valid frame path of
    that video; None for any other folder."""
    if not folder.endswith("/"):
        return None
    ref, _ = frame_ref(folder + "000000.jpg")
    if ref is None:
        return None
    rel = frame_relpath(ref.source, ref.video_id, 0)[:-FRAME_TAIL]
    if not folder.endswith(rel):
        return None
    return Folder(ref.source, ref.video_id, rel, folder[: -len(rel)])
