"""tc139k.captions.infer_layout, whole: every field of the layout it infers for each kind of
caption file, what a layout needs (a caption, a time or a frame path, a video id or a frame
path), and its refusals word for word (they name the fields found and what was expected)."""

from __future__ import annotations

import pytest

from tc139k.captions import CAPTION_KEYS, FRAME_KEYS, TIME_KEYS, CaptionLayout, infer_layout
from tc139k.errors import SchemaError


def test_one_line_per_video_with_a_list_of_items():
    records = [
        {"video_id": "v1", "source": "coin", "duration": 30, "captions": [{"time": 1, "caption": "a", "x": 0}]},
        {"video_id": "v2", "source": "coin", "duration": 12.5, "captions": [{"time": 2, "caption": "b"}]},
    ]
    assert infer_layout(records) == CaptionLayout(
        "per_video",
        "video_id",
        "source",
        "duration",
        "captions",
        False,
        "time",
        None,
        "caption",
        ["captions", "duration", "source", "video_id"],
        ["caption", "time", "x"],
    )


def test_one_line_per_video_with_a_map_of_times():
    records = [{"vid": "v1", "dataset": "coin", "length": "30", "segments": {"1": "a", "2.5": "b"}}]
    assert infer_layout(records) == CaptionLayout(
        "per_video",
        "vid",
        "dataset",
        "length",
        "segments",
        True,
        None,
        None,
        None,
        ["dataset", "length", "segments", "vid"],
        [],
    )


def test_a_map_of_times_needs_a_video_id():
    # without one the map's keys name no video: not a layout
    with pytest.raises(SchemaError, match="unknown caption layout"):
        infer_layout([{"segments": {"1": "a"}}])


def test_one_line_per_video_whose_items_carry_frame_paths():
    records = [{"frames": [{"frame": "coin/v1/000003.jpg", "text": "a"}]}]
    assert infer_layout(records) == CaptionLayout(
        "per_video", None, None, None, "frames", False, None, "frame", "text", ["frames"], ["frame", "text"]
    )


def test_one_line_per_caption():
    records = [{"video": "v1", "data_source": "coin", "timestamp": 3, "description": "a", "video_duration": 9}]
    assert infer_layout(records) == CaptionLayout(
        "per_caption",
        "video",
        "data_source",
        "video_duration",
        None,
        False,
        "timestamp",
        None,
        "description",
        ["data_source", "description", "timestamp", "video", "video_duration"],
        [],
    )
    by_path = infer_layout([{"image": "coin/v1/000001.jpg", "content": "a"}])
    assert (by_path.kind, by_path.video_key, by_path.time_key, by_path.frame_key, by_path.caption_key) == (
        "per_caption",
        None,
        None,
        "image",
        "content",
    )


@pytest.mark.parametrize(
    "record",
    [
        {"video_id": "v1", "time": 3},  # no caption
        {"video_id": "v1", "caption": "a"},  # no time and no frame path
        {"time": 3, "caption": "a"},  # no video id and no frame path
    ],
)
def test_a_caption_line_needs_a_caption_a_time_or_frame_and_a_video_or_frame(record):
    with pytest.raises(SchemaError) as err:
        infer_layout([record])
    fields = ", ".join(sorted(record))
    assert str(err.value) == (
        f"caption file: unknown caption layout: the first record has fields {fields} (all records looked at: "
        f"{fields}); expected one line per video with video_id and captions [{{time, frame, caption}}] "
        "(captions.v1) or one line per caption with a video id or frame path, a time or frame path, and a caption"
    )


def test_the_refusal_lists_every_field_seen_and_the_first_records_own():
    with pytest.raises(SchemaError) as err:
        infer_layout([{"b": 1, "a": 2}, {"c": 3}], where="x.jsonl")
    assert str(err.value).startswith(
        "x.jsonl: unknown caption layout: the first record has fields a, b (all records looked at: a, b, c);"
    )


@pytest.mark.parametrize(
    "items, item_words",
    [([{"time": 1, "note": "a"}, {"time": 2}], "fields note, time"), ([["not", "an", "object"]], "no fields")],
)
def test_a_list_whose_items_fit_no_layout_is_named_with_what_they_hold(items, item_words):
    with pytest.raises(SchemaError) as err:
        infer_layout([{"video_id": "v1", "captions": items}], where="c.jsonl")
    assert str(err.value) == (
        f"c.jsonl: unknown caption layout: records have fields captions, video_id; their 'captions' items have "
        f"{item_words}; expected items with a caption ({'/'.join(CAPTION_KEYS)}) and a time "
        f"({'/'.join(TIME_KEYS)}) or frame path ({'/'.join(FRAME_KEYS)})"
    )


@pytest.mark.parametrize(
    "records, kinds",
    [([], "nothing"), ([1, "a"], "int, str"), ([[1], None], "NoneType, list")],
)
def test_records_that_are_not_objects_are_named_by_their_types(records, kinds):
    with pytest.raises(SchemaError) as err:
        infer_layout(records, where="f.jsonl")
    assert str(err.value) == f"f.jsonl: unknown caption layout: records are {kinds}, not JSON objects"
