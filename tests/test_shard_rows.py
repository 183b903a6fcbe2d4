"""One shard row from one QA record and its video's key frames, by hand: which clip frames stand
for a key frame, the drop ratios, the triggers inside the clip, and the key-frames-only rows.
No build: these run in milliseconds, so a slip in the row rule shows at once."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from tc139k.shards.build import _record_row, _VideoKF, _write_shard, shard_schema
from tc139k.shards.plan import keyframe_flags, parse_size, plan_row_groups, plan_shards, video_split


def _kf(keyframes=(0.0, 4.0, 9.0, 15.0)) -> _VideoKF:
    seconds = [float(s) for s in range(20)]
    return _VideoKF(
        status="ok",
        error=None,
        pos={s: i for i, s in enumerate(seconds)},
        drop_ratio=np.array([0.0] + [0.1 * (i % 10) for i in range(1, 20)], dtype=np.float32),
        keyframes=np.array(keyframes),
        triggers=np.array([2.0, 6.0, 11.0, 19.0]),
    )


REC = {
    "record_id": "r1",
    "video_id": "v",
    "source": "coin",
    "question": "Q?",
    "answer": "A.",
    "start_time": 1.0,
    "end_time": 12.0,
    "frame_indices": [1, 3, 5, 8, 12],
    "frame_paths": [f"coin/v/{i:06d}.jpg" for i in (1, 3, 5, 8, 12)],
    "messages": [{"role": "user", "content": "<video>Q?"}, {"role": "assistant", "content": "A."}],
}


def test_key_frames_inside_the_gaps_mark_the_next_clip_frame():
    # key frames at 0, 4, 9, 15; clip frames at 1, 3, 5, 8, 12: 0 falls in (-inf, 1], 4 in (3, 5], 9 in (8, 12]
    assert keyframe_flags([1.0, 3.0, 5.0, 8.0, 12.0], [0.0, 4.0, 9.0, 15.0]) == [True, False, True, False, True]
    assert keyframe_flags([4.0, 5.0], [4.0]) == [True, False]  # exactly on a clip frame
    assert keyframe_flags([1.0, 2.0], []) == [False, False]
    assert keyframe_flags([5.0, 6.0, 7.0], [1.0, 2.0, 6.5, 6.6]) == [True, False, True]  # several in one gap


def test_row_from_a_record():
    row, reason = _record_row(REC, _kf(), "messages", keyframes_only=False)
    assert reason is None
    assert row["frame_seconds"] == [1.0, 3.0, 5.0, 8.0, 12.0]
    assert row["frame_paths"] == REC["frame_paths"] and row["videos"] == [REC["frame_paths"]]
    assert row["is_keyframe"] == [True, False, True, False, True]
    assert row["frame_drop_ratio"] == [float(np.float32(x)) for x in (0.1, 0.3, 0.5, 0.8, 0.2)]
    assert row["clip_drop_ratio"] == sum(row["frame_drop_ratio"][1:]) / 5  # the first frame counts as kept
    assert row["trigger_seconds"] == [2.0, 6.0, 11.0]  # those inside [1, 12], ends included
    assert {k: row[k] for k in ("record_id", "video_id", "source", "question", "answer", "start_time", "end_time")} == {
        k: REC[k] for k in ("record_id", "video_id", "source", "question", "answer", "start_time", "end_time")
    }
    assert row["messages"] == REC["messages"]
    flat, _ = _record_row(REC, _kf(), "flat", keyframes_only=False)
    assert "messages" not in flat and "videos" not in flat
    edge, _ = _record_row({**REC, "frame_indices": [2, 19], "frame_paths": ["a", "b"]}, _kf(), "flat", False)
    assert edge["trigger_seconds"] == [2.0, 6.0, 11.0, 19.0]


def test_key_frames_only_keeps_the_first_frame_and_the_key_frames():
    kf = _kf(keyframes=(4.0, 9.0, 15.0))  # no key frame at or before the clip's first frame
    row, _ = _record_row({**REC, "frame_indices": [2, 3, 5, 8, 12]}, kf, "messages", keyframes_only=True)
    assert row["frame_seconds"] == [2.0, 5.0, 12.0]  # frame 2 kept as the first although no key frame
    assert row["is_keyframe"] == [False, True, True]
    assert row["frame_paths"] == [REC["frame_paths"][0], REC["frame_paths"][2], REC["frame_paths"][4]]
    assert row["videos"] == [row["frame_paths"]]
    assert row["frame_drop_ratio"] == [float(np.float32(x)) for x in (0.2, 0.5, 0.2)]
    assert row["clip_drop_ratio"] == sum(row["frame_drop_ratio"][1:]) / 3


def test_unscored_clip_frames_are_a_reason():
    row, reason = _record_row({**REC, "frame_indices": [1, 30, 40]}, _kf(), "flat", keyframes_only=False)
    assert row is None and reason == "unscored_frames: 2 clip frame(s) have no DTD score (first at 30 s)"


def test_split_and_plans_are_pure_and_stable():
    assert video_split("coin", "v", 0.0) == "train" and video_split("coin", "v", 0.999999) == "validation"
    splits = [video_split("coin", f"v{i}", 0.3) for i in range(400)]
    assert 0.2 < splits.count("validation") / 400 < 0.4
    assert plan_shards([], 100) == []
    # 3 shards cut nearest to 33.3 and 66.7 bytes hold 30, 40, 30 (> 35); 4 cut nearest to 25, 50, 75
    # (the lower boundary on a tie) hold 20, 30, 20, 30
    assert plan_shards([10] * 10, 35) == [(0, 2), (2, 5), (5, 7), (7, 10)]
    assert plan_shards([10] * 10, 1000, min_shards=3) == [(0, 3), (3, 7), (7, 10)]
    assert plan_shards([500, 1, 1], 100) == [(0, 1), (1, 2), (2, 3)]


def test_the_split_is_the_documented_hash_so_other_tools_can_repeat_it():
    # the first 8 bytes of sha256("source/video_id"), big-endian, over 2**64, against the fraction
    for i in range(200):
        source, video_id = ("coin", "hirest")[i % 2], f"v{i}"
        h = int.from_bytes(hashlib.sha256(f"{source}/{video_id}".encode()).digest()[:8], "big") / 2**64
        for fraction in (0.05, 0.5):
            assert video_split(source, video_id, fraction) == ("validation" if h < fraction else "train")


@pytest.mark.parametrize(
    "text, size",
    [
        ("1000000", 1_000_000),
        ("500B", 500),
        ("7b", 7),
        ("1k", 1_000),
        ("1KB", 1_000),
        ("2.5MB", 2_500_000),
        ("3m", 3_000_000),
        ("500MB", 500_000_000),
        ("2GB", 2_000_000_000),
        ("1.5 G", 1_500_000_000),
        (" 4 gb ", 4_000_000_000),
    ],
)
def test_sizes_are_powers_of_ten_in_any_case(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "1TB", "-1MB", "1,5GB", "1e9", "2 GiB", "GB2"])
def test_what_is_not_a_size_is_refused_with_examples(text):
    from tc139k.errors import UsageError

    with pytest.raises(UsageError, match=f"^{re.escape(repr(text))} is not a size such as 500MB, 2GB or 1000000$"):
        parse_size(text)


def test_row_groups_are_bounded_by_bytes_and_rows():
    assert plan_row_groups([10] * 10, 35, 100) == [3, 3, 3, 1]
    assert plan_row_groups([10] * 10, 1000, 4) == [4, 4, 2]
    assert plan_row_groups([50, 1, 1, 1], 20, 100) == [1, 3]  # a row larger than the bound stands alone
    assert plan_row_groups([], 10, 10) == []
    assert plan_row_groups([10] * 6, 30, 100) == [3, 3]  # a group filled to exactly the bound, twice


def test_a_shard_plan_at_scale_is_balanced_and_quick():
    # many rows a little smaller than a shard's share: cutting greedily left the remainder to
    # the last shard, which then overflowed at every shard count up to one row per shard
    rows = [3_000_000 + (i * 7919) % 2_000_000 for i in range(20_000)]  # 3 to 5 MB each
    ranges = plan_shards(rows, 500_000_000)
    sizes = [sum(rows[a:b]) for a, b in ranges]
    assert ranges[0][0] == 0 and ranges[-1][1] == len(rows) and all(x[1] == y[0] for x, y in zip(ranges, ranges[1:]))
    assert max(sizes) <= 500_000_000 and len(ranges) <= sum(rows) // 500_000_000 + 3  # 160 at the least
    assert max(sizes) - min(sizes) <= 2 * max(rows)  # each within about a row of the mean


def test_plans_at_their_bounds():
    assert plan_shards([10] * 10, 50) == [(0, 5), (5, 10)]  # shards of exactly the largest size are kept
    assert plan_shards([10, 10], 100) == [(0, 2)]  # one shard unless more are asked for
    # two shards would put both large rows together (180 > 100): three, each within the bound
    assert plan_shards([10, 10, 90, 90], 100) == [(0, 2), (2, 3), (3, 4)]
    # a row larger than the bound stands alone wherever it is, without splitting the others further
    assert plan_shards([100] * 6 + [1000], 700) == [(0, 5), (5, 6), (6, 7)]
    # the nearer boundary, also after the first row: 75 bytes is nearer 40 than 140
    assert plan_shards([40, 100, 10], 1000, min_shards=2) == [(0, 1), (1, 3)]
    # cuts that fall on the same boundary move on by one row each, leaving rows for the rest
    assert plan_shards([1, 1000, 1, 1, 1], 10_000, min_shards=4) == [(0, 1), (1, 2), (2, 3), (3, 5)]
    # a first shard one byte over the bound (26 + 25 > 50) is not kept
    assert plan_shards([26, 25, 49], 50) == [(0, 1), (1, 2), (2, 3)]
    assert video_split("coin", "v", 1.0) == "validation"  # every hash lies below 1


def _rows(n: int) -> list[dict]:
    out = []
    for i in range(n):
        row, reason = _record_row({**REC, "record_id": f"r{i}", "question": f"Q{i}?"}, _kf(), "messages", False)
        assert reason is None
        out.append(row)
    return out


def test_a_shard_file_holds_its_rows_in_planned_row_groups(tmp_path):
    import json

    import pyarrow.parquet as pq

    rows = _rows(5)
    path = tmp_path / "s.parquet"
    _write_shard(rows, shard_schema("messages", False), path, {"b": 1, "a": [2]}, False, tmp_path, [2, 1, 2])
    f = pq.ParquetFile(path)
    assert [f.metadata.row_group(i).num_rows for i in range(f.num_row_groups)] == [2, 1, 2]
    assert [r["record_id"] for r in f.read().to_pylist()] == ["r0", "r1", "r2", "r3", "r4"]
    back = f.read().to_pylist()
    for r in (*rows, *back):  # stored as float32
        r["clip_drop_ratio"] = float(np.float32(r["clip_drop_ratio"]))
    assert back == rows
    assert f.schema_arrow.metadata[b"tc139k"] == json.dumps({"a": [2], "b": 1}).encode()  # sorted: stable bytes
    # no min/max statistics: over lists of paths and text they only grow the footer
    assert not any(f.metadata.row_group(0).column(j).is_stats_set for j in range(f.metadata.num_columns))
    codecs = {f.metadata.row_group(0).column(j).compression for j in range(f.metadata.num_columns)}
    assert codecs == {"ZSTD"}


def test_embedded_frames_are_each_rows_own_files_and_not_recompressed(tmp_path):
    import pyarrow.parquet as pq

    rows = _rows(3)
    for i, r in enumerate(rows):  # every frame of every row its own bytes
        r["frame_paths"] = [f"coin/v{i}/{j:06d}.jpg" for j in range(len(r["frame_paths"]))]
        for j, p in enumerate(r["frame_paths"]):
            (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / p).write_bytes(b"\xff\xd8" + bytes([i, j]) * 50)
    path = tmp_path / "e.parquet"
    _write_shard(rows, shard_schema("messages", True), path, {}, True, tmp_path, [1, 2])
    f = pq.ParquetFile(path)
    back = f.read().to_pylist()
    for i, r in enumerate(back):
        assert [x["path"] for x in r["frames"]] == r["frame_paths"] == rows[i]["frame_paths"]
        assert [x["bytes"] for x in r["frames"]] == [(tmp_path / p).read_bytes() for p in r["frame_paths"]]
    md = f.metadata.row_group(0)
    codecs = {md.column(j).path_in_schema.split(".")[0]: md.column(j).compression for j in range(md.num_columns)}
    assert [md.column(j).path_in_schema for j in range(md.num_columns) if md.column(j).compression != "ZSTD"] == [
        "frames.list.element.bytes",
        "frames.list.element.path",
    ]
    assert {c: k for c, k in codecs.items() if k != "ZSTD"} == {"frames": "UNCOMPRESSED"}  # nested columns too
