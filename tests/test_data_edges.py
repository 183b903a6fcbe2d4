"""tc139k/data.py's collate contract at its edges, on rows built in memory (embedded frames as
`datasets` gives them undecoded, {"bytes", "path"}, and as PIL images): an empty batch and a
clip without frames are errors; one clip of one frame is a batch of one; clips of different
lengths are padded to the longest with zeros, mask False, frame seconds 0 and no key frame in
the padding; per-frame columns must match the frames; the record id is `record_id`, else
shard.v1's `id`; the collator's options are checked when it is made."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tc139k.data import ClipCollator, collate_clips, conversation, decode_frames, record_id
from tc139k.errors import SchemaError, UsageError

H, W = 6, 8


def _png(level: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (W, H), (level, level + 1, level + 2)).save(buf, format="PNG")
    return buf.getvalue()


def _row(rid: str, levels: list[int], **cols) -> dict:
    frames = [{"bytes": _png(v), "path": f"s/{rid}/{i:06d}.jpg"} for i, v in enumerate(levels)]
    base = {
        "record_id": rid,
        "frames": frames,
        "frame_seconds": [float(3 * i) for i in range(len(levels))],
        "is_keyframe": [i % 2 == 0 for i in range(len(levels))],
        "messages": [{"role": "user", "content": "<video>\nq", "extra": 1}, {"role": "assistant", "content": "a"}],
    }
    return {**base, **cols}


def test_an_empty_batch_is_refused():
    with pytest.raises(UsageError, match="an empty batch cannot be collated"):
        collate_clips([])


def test_a_clip_without_frames_is_refused():
    with pytest.raises(SchemaError, match="record r1 has no frames"):
        collate_clips([_row("r1", [])])


def test_one_clip_of_one_frame():
    batch = collate_clips([_row("r1", [10])])
    assert tuple(batch["frames"].shape) == (1, 1, 3, H, W)
    assert batch["frames"][0, 0, :, 0, 0].tolist() == [10, 11, 12]  # channels first, RGB
    assert batch["mask"].tolist() == [[True]] and batch["lengths"].tolist() == [1]
    assert batch["frame_seconds"].tolist() == [[0.0]] and batch["is_keyframe"].tolist() == [[True]]
    assert batch["record_ids"] == ["r1"]


def test_clips_are_padded_to_the_longest():
    batch = collate_clips([_row("short", [50, 60]), _row("long", [1, 2, 3, 4])])
    assert tuple(batch["frames"].shape) == (2, 4, 3, H, W)
    assert batch["lengths"].tolist() == [2, 4]
    assert batch["mask"].tolist() == [[True, True, False, False], [True] * 4]
    assert batch["frames"][0, 2:].abs().sum().item() == 0  # zero after the clip's end
    assert batch["frames"][0, 1, 0, 0, 0].item() == 60 and batch["frames"][1, 3, 0, 0, 0].item() == 4
    assert batch["frame_seconds"].tolist() == [[0.0, 3.0, 0.0, 0.0], [0.0, 3.0, 6.0, 9.0]]
    assert batch["is_keyframe"].tolist() == [[True, False, False, False], [True, False, True, False]]
    assert [len(m) for m in batch["messages"]] == [2, 2]
    assert batch["messages"][0][0] == {"role": "user", "content": "<video>\nq"}  # role and content only


def test_per_frame_columns_must_match_the_frames():
    for col in ("frame_seconds", "is_keyframe"):
        row = _row("r1", [1, 2, 3])
        row[col] = row[col][:2]
        with pytest.raises(SchemaError, match=rf"record r1: 3 frame\(s\) but 2 {col} value\(s\)"):
            collate_clips([row])


def test_missing_per_frame_columns_leave_zeros():
    batch = collate_clips([_row("r1", [1, 2], frame_seconds=None, is_keyframe=None)])
    assert batch["frame_seconds"].tolist() == [[0.0, 0.0]] and batch["is_keyframe"].tolist() == [[False, False]]


def test_images_as_given_and_a_size_for_mixed_frames():
    grey = Image.new("L", (W * 2, H * 2), 90)  # another mode and size: made RGB, resized on request
    row = _row("r2", [5])
    mixed = [_row("r1", [5]), {**row, "frames": [grey]}]
    sizes = ", ".join(sorted([f"{W}x{H}", f"{W * 2}x{H * 2}"]))
    with pytest.raises(UsageError, match=f"different sizes in one batch \\({sizes}\\)"):
        collate_clips(mixed)
    batch = ClipCollator(size=(H, W))(mixed)
    assert tuple(batch["frames"].shape) == (2, 1, 3, H, W)
    assert batch["frames"][1, 0, :, 0, 0].tolist() == [90, 90, 90]
    assert decode_frames({"frames": [grey]})[0].mode == "RGB"


def test_an_undecodable_embedded_frame_names_it():
    row = _row("r1", [1])
    row["frames"] = [{"bytes": b"not an image", "path": "s/r1/000000.jpg"}]
    with pytest.raises(SchemaError, match="frame s/r1/000000.jpg of record r1 cannot be decoded"):
        collate_clips([row])


def test_rows_without_frames_or_frame_paths_are_refused():
    with pytest.raises(SchemaError, match="neither frames nor frame_paths"):
        decode_frames({"record_id": "r1"})


def test_record_ids_and_conversations_of_either_schema():
    assert record_id({"record_id": "new", "id": "old"}) == "new"
    assert record_id({"id": "old"}) == "old"
    with pytest.raises(SchemaError, match="no record_id \\(nor id\\) column; columns: a, b"):
        record_id({"b": 1, "a": 2})
    flat = {"messages": None, "question": "what?", "answer": "this"}
    assert conversation(flat) == [
        {"role": "user", "content": "<video>\nwhat?"},
        {"role": "assistant", "content": "this"},
    ]


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"dtd_mode": "median"}, "dtd_mode must be one of"),
        ({"dtd_tau": "0.5"}, "dtd_tau must be a number"),
        ({"dtd_tau": True}, "dtd_tau must be a number"),
        ({"dtd_tau": 0.5, "token_grid": (0, 4)}, "two positive integers"),
        ({"dtd_tau": 0.5, "token_grid": (4,)}, "two positive integers"),
        ({"dtd_tau": 0.5, "token_grid": (4.0, 4)}, "two positive integers"),
        ({"token_grid": (4, 4)}, "give dtd_tau too"),
    ],
)
def test_collator_options_are_checked_when_it_is_made(kw, words):
    with pytest.raises(UsageError, match=words):
        ClipCollator(**kw)


def test_accepted_collator_options():
    c = ClipCollator(dtd_tau=1, dtd_mode="relative", token_grid=(2, 3), size=[4, 5])
    assert (c.dtd_tau, c.dtd_mode, c.token_grid, c.size) == (1.0, "relative", (2, 3), (4, 5))
    assert isinstance(c.dtd_tau, float)


def test_a_batch_without_dtd_levels_says_how_to_get_them():
    with pytest.raises(UsageError, match="built without --dtd-scores"):
        ClipCollator(dtd_tau=0.5)([_row("r1", [1])])


def test_frames_stay_uint8():
    batch = collate_clips([_row("r1", [255])])
    assert str(batch["frames"].dtype) == "torch.uint8" and int(batch["frames"].max()) == 255
    assert np.asarray(batch["frames"]).dtype == np.uint8
