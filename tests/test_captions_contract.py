"""tc139k/captions.py at its edges: the layout is inferred from the first records and a field
is taken only when more than half of the records having it hold the expected type (a few bad
records become problems, they do not change the layout); times follow the QA time rule
(numbers or numeric strings, not negative, not booleans, below 999999 s) and else come from the
frame path's index; a record that does not fit is a problem naming its line and what is wrong,
the first MAX_PROBLEMS kept and all of them counted; each video's seconds are sorted without
repeats while every caption is counted."""

from __future__ import annotations

import json

import pytest

from tc139k.captions import MAX_PROBLEMS, infer_layout, read_captions
from tc139k.errors import SchemaError

PREFIX = "timechatonline/timeit-v2/frames/"


def _write(tmp_path, records) -> str:
    path = tmp_path / "captions.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def _video(vid: str, times, **extra) -> dict:
    return {"video_id": vid, "captions": [{"time": t, "caption": "c"} for t in times], **extra}


def test_seconds_are_sorted_without_repeats_and_every_caption_is_counted(tmp_path):
    caps = read_captions(_write(tmp_path, [_video("a", [14, "7.0", 7, " 0 ", 3.5])]))
    v = caps.videos["a"]
    assert v.seconds == [0.0, 3.5, 7.0, 14.0] and v.n_captions == 5 and caps.captions == 5


@pytest.mark.parametrize(
    "bad, words",
    [
        (-1, "negative"),
        (True, "JSON"),  # a boolean is no time
        ("soon", "is not a number"),
        (1_000_000, "past 999999 s"),
        ("nan", "is not a number"),
    ],
)
def test_a_bad_time_is_a_problem_naming_the_caption(tmp_path, bad, words):
    caps = read_captions(_write(tmp_path, [_video("a", [1]), _video("b", [2, bad])]))
    assert caps.keyframe_seconds() == {"a": [1.0]}
    [problem] = caps.problems
    assert problem["line"] == 2 and problem["message"].startswith("captions[1]: ") and words in problem["message"]


def test_the_largest_time_a_frame_name_holds_is_taken(tmp_path):
    caps = read_captions(_write(tmp_path, [_video("a", [999_999, "999998.5"])]))
    assert caps.keyframe_seconds() == {"a": [999_998.5, 999_999.0]} and caps.n_problems == 0


def test_a_time_wins_over_the_frame_index_and_a_null_time_falls_back_to_it(tmp_path):
    frame = PREFIX + "coin/a/000012.jpg"
    rec = {
        "video_id": "a",
        "captions": [
            {"time": 3, "frame": frame, "caption": "x"},
            {"time": None, "frame": PREFIX + "coin/a/000020.jpg", "caption": "y"},
            {"time": "5", "frame": PREFIX + "coin/a/000030.jpg", "caption": "z"},
        ],
    }
    caps = read_captions(_write(tmp_path, [rec]))
    assert caps.layout.time_key == "time" and caps.layout.frame_key == "frame"
    assert caps.keyframe_seconds() == {"a": [3.0, 5.0, 20.0]}
    assert caps.videos["a"].source == "coin"  # from the frame path: the record has no source


def test_no_time_and_no_usable_frame_path_is_a_problem(tmp_path):
    rec = {"video_id": "a", "captions": [{"time": 1, "caption": "x"}, {"frame": "elsewhere.png", "caption": "y"}]}
    caps = read_captions(_write(tmp_path, [rec]))
    assert caps.videos == {} and caps.n_problems == 1
    assert caps.problems[0]["message"] == "captions[1]: no time to take the time from"


def test_per_caption_lines_without_a_video_id_or_a_parsable_frame_path_are_problems(tmp_path):
    lines = [
        {"frame": PREFIX + "coin/v/000004.jpg", "caption": "x"},
        {"frame": PREFIX + "coin/v/000009.jpg", "caption": "y"},
        {"frame": "not-a-frame.txt", "caption": "z"},
        {"frame": PREFIX + "coin/v/000011.jpg", "caption": 5},
    ]
    caps = read_captions(_write(tmp_path, lines))
    assert caps.layout.kind == "per_caption" and caps.keyframe_seconds() == {"v": [4.0, 9.0]}
    assert [p["line"] for p in caps.problems] == [3, 4]
    assert caps.problems[1]["message"] == "caption is missing or not a string"


def test_sources_are_canonical_and_a_videos_first_duration_is_kept(tmp_path):
    lines = [
        _video("a", [1], source=" COIN ", duration="60"),
        _video("a", [2], source="coin", duration=90),
        _video("b", [1], duration="long"),  # a duration that is no time is left out, not a problem
    ]
    caps = read_captions(_write(tmp_path, lines))
    a, b = caps.videos["a"], caps.videos["b"]
    assert (a.source, a.duration, a.seconds) == ("coin", 60.0, [1.0, 2.0])
    assert b.duration is None and caps.n_problems == 0


def test_a_minority_of_bad_records_does_not_change_the_layout(tmp_path):
    good = [_video(f"v{i}", [i]) for i in range(3)]
    bad = [{"video_id": 7, "captions": "none"}, {"video_id": "x", "captions": {"1": "a"}}]
    caps = read_captions(_write(tmp_path, [*good, *bad]))
    assert (caps.layout.kind, caps.layout.video_key, caps.layout.list_is_map) == ("per_video", "video_id", False)
    assert sorted(caps.videos) == ["v0", "v1", "v2"]
    assert [p["line"] for p in caps.problems] == [4, 5]
    assert "video_id is missing or not a string" in caps.problems[0]["message"]
    assert "captions is missing or not a list" in caps.problems[1]["message"]


def test_half_of_the_records_is_not_enough_to_take_a_field():
    half = [_video("a", [1]), {"video_id": 5, "captions": [{"time": 2, "caption": "x"}]}]
    with pytest.raises(SchemaError, match="unknown caption layout"):
        infer_layout(half)  # no video id field for more than half, and no frame path either
    more = [*half, _video("b", [3])]
    assert infer_layout(more).video_key == "video_id"


def test_records_past_the_sample_that_do_not_fit_are_problems(tmp_path):
    lines = [_video("a", [1]), _video("b", [2]), {"frame_path": PREFIX + "coin/c/000003.jpg", "caption": "x"}]
    caps = read_captions(_write(tmp_path, lines), sample_records=2)
    assert caps.layout.kind == "per_video" and sorted(caps.videos) == ["a", "b"]
    assert [p["line"] for p in caps.problems] == [3]
    with pytest.raises(SchemaError, match="unknown caption layout"):
        read_captions(_write(tmp_path, [{"frame_path": 1, "text": 2}, *lines]), sample_records=1)


def test_problems_beyond_max_problems_are_counted_not_kept(tmp_path):
    lines = [_video("a", [1])] + ["{broken"] * (MAX_PROBLEMS + 5)
    caps = read_captions(_write(tmp_path, lines))
    assert caps.n_problems == MAX_PROBLEMS + 5 and len(caps.problems) == MAX_PROBLEMS
    assert [p["line"] for p in caps.problems] == list(range(2, MAX_PROBLEMS + 2))
    assert caps.records == 1


def test_a_time_map_with_a_key_that_is_no_time_is_a_problem(tmp_path):
    lines = [
        {"video_id": "a", "captions": {"1": "x", "2.5": "y"}},
        {"video_id": "b", "captions": {"3": "x", "later": "y"}},
        {"video_id": "c", "captions": {"4": "z"}},
    ]
    caps = read_captions(_write(tmp_path, lines))
    assert caps.layout.list_is_map and caps.keyframe_seconds() == {"a": [1.0, 2.5], "c": [4.0]}
    assert [p["line"] for p in caps.problems] == [2] and "'later' is not a number" in caps.problems[0]["message"]


def test_an_item_that_is_not_an_object_is_named(tmp_path):
    rec = {"video_id": "b", "captions": [{"time": 1, "caption": "x"}, "text"]}
    caps = read_captions(_write(tmp_path, [_video("a", [1]), _video("c", [1]), rec]))
    assert caps.problems == [{"line": 3, "message": "captions[1] is not an object"}]


def test_a_field_of_booleans_is_no_time_field(tmp_path):
    rec = {
        "video_id": "a",
        "captions": [{"time": True, "frame": PREFIX + f"coin/a/{i:06d}.jpg", "caption": "x"} for i in (4, 8)],
    }
    caps = read_captions(_write(tmp_path, [rec]))
    assert caps.layout.time_key is None and caps.keyframe_seconds() == {"a": [4.0, 8.0]}
