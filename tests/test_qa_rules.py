"""The QA record rules (tc139k.qa) on fixed examples, through the public `run_validate`, on both
the fast path and the exact checker.

The property test of test_validate.py finds a role-order bug such as `[user, user]` only when
its random draw happens to build one; these examples name every such shape, each with the exact
reason and message it must get.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tc139k import qa
from tc139k.validate.run import run_validate

FOLDER = "timechatonline/timeit-v2/frames/youcook2/RC3aDeYbbUf/"
CLIP = [FOLDER + "000001.jpg", FOLDER + "000002.jpg", FOLDER + "000004.jpg"]
TEXT = {"user": "What happens next?", "assistant": "The dough is folded."}


def conversation(*roles: str) -> list[dict]:
    turns = [{"role": r, "content": TEXT.get(r, "Be brief.")} for r in roles]
    if turns:
        turns[0]["content"] = "<video>\n" + turns[0]["content"]  # one tag for the one clip
    return turns


def record(messages, **extra) -> dict:
    return {"messages": messages, "videos": [CLIP], **extra}


def validate(tmp_path, records, fast_path: bool):
    """(reasons per line: [(code, message)], valid rows) for the records, one per line."""
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / f"out-{fast_path}"
    res = run_validate([path], out_dir=out, max_invalid=len(records), fast_path=fast_path)
    quarantined = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    reasons = {q["line"]: [(r["code"], r["message"]) for r in q["reasons"]] for q in quarantined}
    assert res.records == len(records) and res.invalid == len(reasons)
    return reasons, pq.read_table(out / "valid.parquet").to_pylist()


ROLE_CASES = {
    ("user", "user"): "messages[1].role is 'user', expected 'assistant'",
    ("assistant", "user"): "messages[0].role is 'assistant', expected 'user'",
    ("assistant", "assistant"): "messages[0].role is 'assistant', expected 'user'",
    ("user",): "the conversation ends with a user turn (messages[0]) and no answer",
    ("user", "assistant", "user"): "the conversation ends with a user turn (messages[2]) and no answer",
    ("user", "assistant", "assistant", "user"): "messages[2].role is 'assistant', expected 'user'",
    ("user", "assistant", "user", "user"): "messages[3].role is 'user', expected 'assistant'",
    ("user", "user", "assistant", "assistant"): "messages[1].role is 'user', expected 'assistant'",
    ("system", "user", "assistant"): "messages[0].role is 'system', expected 'user'",
    ("user", "assistant", "system", "assistant"): "messages[2].role is 'system', expected 'user'",
}
VALID_ROLES = [("user", "assistant"), ("user", "assistant", "user", "assistant")]


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "exact"])
def test_role_orders_fixed_examples(tmp_path, fast_path):
    cases = list(ROLE_CASES.items())
    records = [record(conversation(*roles)) for roles, _ in cases] + [record(conversation(*r)) for r in VALID_ROLES]
    reasons, valid = validate(tmp_path, records, fast_path)
    for line, (roles, message) in enumerate(cases, start=1):
        assert reasons.get(line) == [("bad_roles", message)], roles
    assert len(valid) == len(VALID_ROLES)
    assert all(r["question"] == "What happens next?" and r["answer"] == "The dough is folded." for r in valid)
    assert [len(r["messages"]) for r in valid] == [2, 4]


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "exact"])
def test_empty_turns_and_tags(tmp_path, fast_path):
    empty_q = conversation("user", "assistant")
    empty_q[0]["content"] = "<video>\n  \t"
    empty_a = conversation("user", "assistant")
    empty_a[1]["content"] = " \n"
    later_empty = conversation("user", "assistant", "user", "assistant")
    later_empty[2]["content"] = "<video>"
    two_tags = conversation("user", "assistant")
    two_tags[1]["content"] = "Here <video> again."
    no_tag = conversation("user", "assistant")
    no_tag[0]["content"] = "What happens next?"
    split_tag = conversation("user", "assistant")
    split_tag[0]["content"] = "What happens <vid"
    split_tag[1]["content"] = "eo> next?"
    records = [record(m) for m in (empty_q, empty_a, later_empty, two_tags, no_tag, split_tag)]
    reasons, valid = validate(tmp_path, records, fast_path)
    assert reasons == {
        1: [("empty_question", "messages[0] (user) is empty")],
        2: [("empty_answer", "messages[1] (assistant) is empty")],
        3: [
            ("empty_question", "messages[2] (user) is empty"),
            ("video_tag_mismatch", "2 <video> tag(s) in messages but 1 frame list(s)"),
        ],
        4: [("video_tag_mismatch", "2 <video> tag(s) in messages but 1 frame list(s)")],
        5: [("video_tag_mismatch", "0 <video> tag(s) in messages but 1 frame list(s)")],
        6: [("video_tag_mismatch", "0 <video> tag(s) in messages but 1 frame list(s)")],  # no tag across turns
    }
    assert valid == []


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "exact"])
def test_times_fixed_examples(tmp_path, fast_path):
    base = conversation("user", "assistant")
    cases = [
        ({"start_time": "12.5", "end_time": 20}, None),
        ({"start_time": None, "end_time": " 3e1 "}, None),
        ({"start_time": 0, "end_time": 0.0}, None),
        ({"start_time": "1_0"}, ("time_not_numeric", "start_time '1_0' is not a number")),
        ({"end_time": "nan"}, ("time_not_numeric", "end_time 'nan' is not a number")),
        ({"end_time": "inf"}, ("time_not_numeric", "end_time 'inf' is not a number")),
        ({"start_time": True}, ("time_not_numeric", "start_time is a JSON boolean")),
        ({"start_time": [1]}, ("time_not_numeric", "start_time is a JSON array")),
        ({"end_time": {"s": 1}}, ("time_not_numeric", "end_time is a JSON object")),
        ({"start_time": -1}, ("time_negative", "start_time -1 is negative")),
        ({"end_time": "-0.5"}, ("time_negative", "end_time -0.5 is negative")),
        ({"start_time": 5, "end_time": 3}, ("time_order", "start_time 5 is after end_time 3")),
        ({"start_time": "7", "end_time": "7"}, None),
        (
            {"start_time": 2**70},
            (
                "time_out_of_range",
                "start_time 1.18059e+21 is past 999999 s, the last second a frame name (NNNNNN.jpg) can hold",
            ),
        ),
        (
            {"end_time": "1e6"},
            (
                "time_out_of_range",
                "end_time 1e+06 is past 999999 s, the last second a frame name (NNNNNN.jpg) can hold",
            ),
        ),
        ({"start_time": 999999.5, "end_time": "999999.9"}, None),
    ]
    records = [record(base, **times) for times, _ in cases]
    reasons, valid = validate(tmp_path, records, fast_path)
    for line, (times, want) in enumerate(cases, start=1):
        assert reasons.get(line) == ([want] if want else None), times
    assert [(r["start_time"], r["end_time"]) for r in valid] == [
        (12.5, 20.0),
        (None, 30.0),
        (0.0, 0.0),
        (7.0, 7.0),
        (999999.5, 999999.9),
    ]


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "exact"])
def test_a_time_that_overflows_to_infinity(tmp_path, fast_path):
    base = json.dumps(conversation("user", "assistant"))
    path = tmp_path / "qa.jsonl"
    # the JSON number 1e400 is refused by the parser; as a numeric string it reaches the time rule
    path.write_text(f'{{"messages": {base}, "videos": {json.dumps([CLIP])}, "start_time": "1e400"}}\n')
    out = tmp_path / "out"
    res = run_validate([path], out_dir=out, max_invalid=1, fast_path=fast_path)
    assert res.invalid == 1 and res.reasons == {"time_not_numeric": 1}
    [line] = (out / "quarantine.jsonl").read_text().splitlines()
    assert json.loads(line)["reasons"] == [{"code": "time_not_numeric", "message": "start_time inf is not finite"}]


def test_times_given_by_python_readers():
    """`stats dataset` and `keyframes compare` read records with json.loads, whose integers
    have no size limit."""
    assert qa.seconds(10**400, "end_time") == (None, ("time_not_numeric", f"end_time {10**400} is too large"))
    assert qa.seconds(7, "start_time") == (7.0, None) and isinstance(qa.seconds(7, "start_time")[0], float)
    assert qa.seconds(None, "start_time") == (None, None)
    # zero and fractions of a second are times, from every type (the float shortcut and the general path)
    for v in (0, 0.0, "0", "0.0", 0.5, "0.5", -0.0):
        assert qa.seconds(v, "start_time") == (float(v), None), v
    for v in (float("inf"), float("nan"), "inf", "1e999"):  # the float shortcut must not let them through
        assert qa.seconds(v, "start_time")[1][0] == "time_not_numeric", v
    assert qa.seconds(-0.5, "start_time") == (None, ("time_negative", "start_time -0.5 is negative"))
    # the range's bound, from every type (the float shortcut and the general path)
    for v in (qa.MAX_SECONDS, int(qa.MAX_SECONDS), "1000000", 2.0**70):
        assert qa.seconds(v, "end_time")[1][0] == "time_out_of_range", v
    for v in (qa.MAX_SECONDS - 0.5, 999_999, "999999.9"):
        assert qa.seconds(v, "end_time") == (float(v), None), v
    assert qa.seconds("-1e-9", "end_time") == (None, ("time_negative", "end_time -1e-09 is negative"))
    long = "1" * 30 + "x" * 30
    assert qa.seconds(long, "end_time") == (None, ("time_not_numeric", f"end_time {long[:40]!r} is not a number"))
    assert qa.time_order(None, 3.0) is None and qa.time_order(3.0, 3.0) is None
    assert qa.time_order(3.5, 3.0) == ("time_order", "start_time 3.5 is after end_time 3")


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "exact"])
def test_frame_paths_fixed_examples(tmp_path, fast_path):
    other = "timechatonline/timeit-v2/frames/coin/Other1/"
    two_tags = conversation("user", "assistant")
    two_tags[0]["content"] = "<video><video> Q"
    base = conversation("user", "assistant")
    cases = [
        (
            base,
            [[FOLDER + "00000\u0662.jpg"]],
            ("bad_frame_path", "videos[0][0]: frame number '00000\u0662' is not ASCII digits"),
        ),
        (
            base,
            [["RC3aDeYbbUf/000001.jpg"]],
            (
                "bad_frame_path",
                "videos[0][0]: frame path 'RC3aDeYbbUf/000001.jpg' does not end in <source>/<video_id>/<NNNNNN>.jpg",
            ),
        ),
        (
            base,
            [[FOLDER + "000001.jpg", other + "000002.jpg"]],
            ("clip_spans_videos", "videos[0] mixes frames of coin/Other1, youcook2/RC3aDeYbbUf"),
        ),
        (
            base,
            [[FOLDER + "000003.jpg", FOLDER + "000002.jpg"]],
            ("frames_not_increasing", "videos[0][1]: frame 000002 does not come after 000003"),
        ),
        (
            base,
            [[FOLDER + "000003.jpg", FOLDER + "000003.jpg"]],
            ("frames_not_increasing", "videos[0][1]: frame 000003 does not come after 000003"),
        ),
        (base, [[]], ("empty_clip", "videos[0] is empty")),
        (
            two_tags,
            [[FOLDER + "000001.jpg"], [other + "000001.jpg"]],
            ("record_spans_videos", "clips come from coin/Other1, youcook2/RC3aDeYbbUf"),
        ),
        (base, [["prefix/YouCook2/RC3aDeYbbUf/000001.jpg", "prefix/YouCook2/RC3aDeYbbUf/000005.jpg"]], None),
        (base, [[FOLDER + "000001.jpg", "other/prefix/youcook2/RC3aDeYbbUf/000002.jpg"]], None),
    ]
    records = [{"messages": m, "videos": v} for m, v, _ in cases]
    reasons, valid = validate(tmp_path, records, fast_path)
    for line, (_, videos, want) in enumerate(cases, start=1):
        assert reasons.get(line) == ([want] if want else None), videos
    # the source's case is normalised and the paths are taken relative to the frames root
    assert [(r["source"], r["video_id"], r["frame_paths"], r["frame_indices"]) for r in valid] == [
        ("youcook2", "RC3aDeYbbUf", ["youcook2/RC3aDeYbbUf/000001.jpg", "youcook2/RC3aDeYbbUf/000005.jpg"], [1, 5]),
        ("youcook2", "RC3aDeYbbUf", ["youcook2/RC3aDeYbbUf/000001.jpg", "youcook2/RC3aDeYbbUf/000002.jpg"], [1, 2]),
    ]


def test_json_type_names():
    assert [qa.json_type(v) for v in (None, True, 1, 1.5, "s", [1], {"a": 1})] == [
        "null",
        "boolean",
        "number",
        "number",
        "string",
        "array",
        "object",
    ]


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "exact"])
def test_frame_file_names_empty_messages_and_prefixes(tmp_path, fast_path):
    base = conversation("user", "assistant")
    names = ("00000a.jpg", "000001.png", "0000001.jpg", "00001.jpg")
    records = [{"messages": base, "videos": [[FOLDER + n]]} for n in names]
    records.append({"messages": [], "videos": [CLIP]})
    for prefix in ("a/b/c/", "", "/abs//"):
        records.append({"messages": base, "videos": [[prefix + "youcook2/RC3aDeYbbUf/000001.jpg"]]})
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    res = run_validate([path], out_dir=tmp_path / "out", max_invalid=len(records), fast_path=fast_path)
    got = {
        q["line"]: [(r["code"], r["message"]) for r in q["reasons"]]
        for q in map(json.loads, (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines())
    }
    for line, name in enumerate(names, start=1):
        assert got[line] == [
            ("bad_frame_path", f"videos[0][0]: frame file name {name!r} in {FOLDER + name!r} is not <6 digits>.jpg")
        ]
    assert got[5] == [
        ("bad_roles", "messages is empty"),
        ("video_tag_mismatch", "0 <video> tag(s) in messages but 1 frame list(s)"),
    ]
    assert len(got) == 5 and {k: res.prefixes.get(k) for k in ("", "/abs//", "a/b/c/")} == {
        "": 1,
        "/abs//": 1,
        "a/b/c/": 1,
    }


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "exact"])
def test_long_conversations(tmp_path, fast_path):
    long_ok = conversation(*(["user", "assistant"] * 40))
    long_bad = conversation(*(["user", "assistant"] * 39 + ["assistant", "user"]))
    turns_66 = conversation(*(["user", "assistant"] * 33))  # one past the precomputed role pairs
    reasons, valid = validate(tmp_path, [record(long_ok), record(long_bad), record(turns_66)], fast_path)
    assert reasons == {2: [("bad_roles", "messages[78].role is 'assistant', expected 'user'")]}
    assert [len(r["messages"]) for r in valid] == [80, 66]


def test_frame_index_needs_six_ascii_digits_and_jpg():
    assert qa.frame_index("000042.jpg") == 42
    for name in ("1234567.jpg", "123456.png", "123456.JPG", "abcdef.jpg", "١٢٣٤٥٦.jpg", "12345.jpg"):
        assert qa.frame_index(name) is None, name


def test_path_prefix_is_what_comes_before_source_video_frame():
    assert qa.path_prefix("frames/youcook2/XXXX/000001.jpg") == "frames/"  # any video id, even all X
    assert qa.path_prefix("a//b/youcook2/v1//000001.jpg") == "a//b/"
    assert qa.path_prefix("youcook2/v1/000001.jpg") == ""


def test_parse_folder_reads_exactly_prefix_source_video():
    assert qa.parse_folder(FOLDER) == qa.Folder(
        "youcook2", "RC3aDeYbbUf", "youcook2/RC3aDeYbbUf/", "timechatonline/timeit-v2/frames/"
    )
    assert qa.parse_folder("youcook2/v1/") == qa.Folder("youcook2", "v1", "youcook2/v1/", "")
    assert qa.parse_folder(FOLDER[:-1]) is None  # not a folder
    assert qa.parse_folder("frames/YouCook2/v1/") is None  # the source must be written in lower case
    assert qa.parse_folder("frames//youcook2/v1/") == qa.Folder("youcook2", "v1", "youcook2/v1/", "frames//")
    assert qa.parse_folder("frames/youcook2//v1/") is None  # parses, but is not written as <source>/<video_id>/


def test_turns_of_the_general_rule():
    # several turns: the question is the first user turn, the answer the first assistant turn
    problems, question, answer, tags = qa.turns(
        ["user", "assistant", "user", "assistant"], ["<video> Q1 ", " A1 ", "Q2 <video>", "  "]
    )
    assert (problems, question, answer, tags) == (
        [("empty_answer", "messages[3] (assistant) is empty")],
        "Q1",
        "A1",
        2,
    )
    # roles out of order: no question and no answer where the turns are not there
    problems, question, answer, tags = qa.turns(["assistant", "user"], ["A", "Q"])
    assert problems[0][0] == "bad_roles" and question is None and answer is None and tags == 0
    problems, question, answer, _ = qa.turns(["user", "user", "assistant"], ["Q1", "", "A"])
    assert [p[0] for p in problems] == ["bad_roles", "empty_question"] and problems[1][1].startswith("messages[1]")
    assert (question, answer) == ("Q1", None)  # the answer is turn 1 only
