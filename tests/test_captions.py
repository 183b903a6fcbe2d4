"""Reading the caption file defensively: the assumed layout, the alternatives it infers,
and a clear error on a layout it cannot read."""

from __future__ import annotations

import json

import pytest

from tc139k.captions import read_captions
from tc139k.errors import SchemaError

PREFIX = "timechatonline/timeit-v2/frames/"


def _write(tmp_path, records, name="captions.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_sample_layout_and_keyframes_match_the_ground_truth(sample):
    caps = read_captions(sample.captions)
    assert caps.layout.kind == "per_video" and caps.layout.video_key == "video_id"
    assert (caps.layout.list_key, caps.layout.time_key, caps.layout.caption_key) == ("captions", "time", "caption")
    assert caps.n_problems == 0 and caps.records == len(sample.truth)
    assert caps.keyframe_seconds() == {v: [float(t) for t in info["keyframes"]] for v, info in sample.truth.items()}
    for vid, v in caps.videos.items():
        assert v.source == sample.truth[vid]["source"] and v.duration == sample.truth[vid]["duration"]
    assert "one line per video" in caps.to_dict()["layout_description"]


def test_per_video_with_other_names_and_frame_times(tmp_path):
    path = _write(
        tmp_path,
        [
            {
                "video": "abc",
                "dataset": "COIN",
                "keyframes": [
                    {"image": PREFIX + "coin/abc/000012.jpg", "text": "a"},
                    {"image": PREFIX + "coin/abc/000003.jpg", "text": "b"},
                    {"image": PREFIX + "coin/abc/000003.jpg", "text": "again"},
                ],
            },
            {"video": "xyz", "keyframes": []},
        ],
    )
    caps = read_captions(path)
    assert (caps.layout.video_key, caps.layout.list_key, caps.layout.time_key, caps.layout.frame_key) == (
        "video",
        "keyframes",
        None,
        "image",
    )
    assert caps.keyframe_seconds() == {"abc": [3.0, 12.0]}
    assert caps.videos["abc"].source == "coin" and caps.videos["abc"].n_captions == 3


def test_per_video_time_map(tmp_path):
    path = _write(tmp_path, [{"video_id": "v1", "captions": {"7.0": "x", "0": "y", "14.5": "z"}}])
    caps = read_captions(path)
    assert caps.layout.list_is_map and caps.keyframe_seconds() == {"v1": [0.0, 7.0, 14.5]}


def test_per_caption_lines_with_frame_paths_only(tmp_path):
    path = _write(
        tmp_path,
        [
            {"frame_path": PREFIX + "videoic/30100445/000279.jpg", "caption": "x"},
            {"frame_path": "/elsewhere/videoic/30100445/000010.jpg", "caption": "y"},
            {"frame_path": PREFIX + "hirest/q1/000002.jpg", "caption": "z", "timestamp": "2.5"},
        ],
    )
    caps = read_captions(path)
    assert caps.layout.kind == "per_caption" and caps.layout.video_key is None
    assert caps.layout.time_key == "timestamp"
    assert caps.keyframe_seconds() == {"30100445": [10.0, 279.0], "q1": [2.5]}
    assert caps.videos["30100445"].source == "videoic"


def test_bad_lines_are_counted_with_their_line_numbers(tmp_path):
    path = _write(
        tmp_path,
        [
            {"video_id": "a", "captions": [{"time": 1, "caption": "x"}]},
            "not json",
            {"video_id": "b", "captions": [{"time": -3, "caption": "x"}]},
            {"video_id": 5, "captions": []},
            {"video_id": "c", "captions": [{"time": "soon", "caption": "x"}]},
            {"video_id": "d", "captions": [{"time": 2, "caption": "x"}, {"time": 4, "caption": "y"}]},
        ],
    )
    caps = read_captions(path)
    assert caps.keyframe_seconds() == {"a": [1.0], "d": [2.0, 4.0]}
    assert [p["line"] for p in caps.problems] == [2, 3, 4, 5] and caps.n_problems == 4
    assert "captions[0]" in caps.problems[1]["message"] and "video_id" in caps.problems[2]["message"]


@pytest.mark.parametrize(
    "records, named",
    [
        ([{"vid_name": "a", "shots": [1, 2]}], ["shots", "vid_name"]),
        ([{"video_id": "a", "captions": [{"when": 1, "words": "x"}]}], ["video_id", "captions", "when", "words"]),
        ([[1, 2], [3]], ["list"]),
    ],
)
def test_unknown_layout_names_the_fields_found(tmp_path, records, named):
    with pytest.raises(SchemaError, match="unknown caption layout") as e:
        read_captions(_write(tmp_path, records))
    for word in named:
        assert word in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(SchemaError, match="does not exist"):
        read_captions(tmp_path / "nope.jsonl")
