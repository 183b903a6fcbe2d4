"""Values exactly on a bound, where `<` and `<=` part ways, each taken from the contract in
the module's docstring:

- tc139k/stats/dataset.py: a time equal to the end of the video on disk is not past it,
  start equal to end is not "start after end", a time exactly 1 s outside the clip is not
  outside it; example lists stop at MAX_EXAMPLES while the counts go on;
- tc139k/stats/redundancy.py: a length bucket's lower bound is inclusive (a 300 s video is
  5-10 min); per-frame drop ratios of 0.5 and 1.0 fall in the bins that start there and the
  last bin; a threshold on the kind's range bound is accepted, one beyond it refused; a range
  START:STOP:STEP holds STOP;
- tc139k/params.py: a closed bound takes its own value, an open one refuses it, in numbers
  and in a tuple's items; a job's share index runs up to num_shards - 1;
- tc139k/keyframes/listing.py: a key frame or trigger exactly at a scene's start is in that
  scene; the last scene ends 1 s after its last frame;
- tc139k/keyframes/frames.py: in 1 fps sampling a second halfway between two frames takes
  the earlier frame."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from tc139k.errors import UsageError
from tc139k.keyframes import store as kfio
from tc139k.keyframes.frames import one_fps_positions
from tc139k.keyframes.listing import scenes_of
from tc139k.params import check, check_shard, param
from tc139k.stats.dataset import MAX_EXAMPLES, dataset_stats
from tc139k.stats.redundancy import LENGTH_BUCKETS, RANGES, check_thresholds, parse_thresholds, redundancy_stats

QA = "time_chat_online_139k_train_flt.jsonl"


# ---- stats dataset -----------------------------------------------------------------------------


def _record(frames, start=None, end=None, question="<video>\nQ?") -> dict:
    rec = {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": "A."}]}
    rec.update(videos=[[f"x/coin/vid1/{i:06d}.jpg" for i in frames]], start_time=start, end_time=end)
    return rec


def _dataset(tmp_path, records, n_frames=40, extra_lines=()):
    video = tmp_path / "frames" / "coin" / "vid1"
    video.mkdir(parents=True)
    for i in range(n_frames):
        (video / f"{i:06d}.jpg").write_bytes(b"")
    lines = [json.dumps(r) + "\n" for r in records] + [x + "\n" for x in extra_lines]
    (tmp_path / QA).write_text("".join(lines))
    return dataset_stats(tmp_path, show_progress=False)


def test_a_time_at_the_end_of_the_video_is_not_past_it(tmp_path):
    """40 frames at 1 fps: the video lasts 40 s, so 40 is its end and 40.5 is past it."""
    s = _dataset(tmp_path, [_record([38, 39], 39, 40), _record([38, 39], 39, 40.5), _record([38, 39], 41, 40)])
    assert s.video_duration_seconds.max == 40
    assert s.times["after_video_end"] == 2  # 40.5, and the start of 41


def test_start_equal_to_end_is_not_start_after_end(tmp_path):
    s = _dataset(tmp_path, [_record([5, 6], 5, 5), _record([5, 6], 6, 5.5), _record([5, 6], "7", "7.0")])
    assert s.times["start_after_end"] == 1
    assert (s.span_seconds.min, s.span_seconds.max) == (-0.5, 0.0)


def test_one_second_outside_the_clip_is_inside_and_more_is_outside(tmp_path):
    """Clip frames 10..20: starts 9 and 21 lie exactly 1 s outside (counted as inside);
    8.999 and 21.001 do not."""
    recs = [_record([10, 20], 9, 21), _record([10, 20], 8.999, 20), _record([10, 20], 10, 21.001)]
    recs += [_record([10, 20], 21, 21), _record([10, 20], 9, 9)]
    t = _dataset(tmp_path, recs).times
    assert (t["start_outside_clip"], t["end_outside_clip"]) == (1, 1)


def test_example_lists_stop_at_their_cap_and_the_counts_do_not(tmp_path):
    n = MAX_EXAMPLES + 3
    bad_paths = [dict(_record([1]), videos=[[f"../bad{i}.jpg"]]) for i in range(n)]
    missing = [_record([100 + i]) for i in range(n)]  # frames past the 40 on disk
    s = _dataset(tmp_path, bad_paths + missing, extra_lines=[f"not json {i}" for i in range(n)])
    assert s.bad_lines == n and len(s.bad_line_examples) == MAX_EXAMPLES
    assert [e["line"] for e in s.bad_line_examples] == list(range(2 * n + 1, 2 * n + 1 + MAX_EXAMPLES))
    assert s.bad_frame_paths == n and len(s.bad_frame_path_examples) == MAX_EXAMPLES
    assert s.bad_frame_path_examples[-1] == f"line {MAX_EXAMPLES}: ../bad{MAX_EXAMPLES - 1}.jpg"
    assert s.missing["references"] == n and len(s.missing_examples) == MAX_EXAMPLES
    assert s.missing_examples[0] == f"line {n + 1}: coin/vid1/000100.jpg"


def test_exactly_max_examples_are_all_kept(tmp_path):
    s = _dataset(tmp_path, [_record([1])], extra_lines=["{"] * MAX_EXAMPLES)
    assert s.bad_lines == len(s.bad_line_examples) == MAX_EXAMPLES


# ---- stats redundancy --------------------------------------------------------------------------


def _row(video_id, q, seconds, kind="cosine", threshold=0.5):
    from tc139k.keyframes import dtd

    q = np.asarray(q, dtype=np.uint8)
    n, cells = q.shape
    return {
        "video_id": video_id,
        "source": "coin",
        "status": "ok",
        "error": None,
        "n_frames": n,
        "frame_seconds": [float(s) for s in seconds],
        "bad_frames": [],
        "scene_id": [0] * n,
        "scene_cut_seconds": [],
        "score_kind": kind,
        "grid_h": 1,
        "grid_w": cells,
        "patch_scores": q.tobytes(),
        "threshold": threshold,
        "drop_ratio": dtd.frame_drop_ratio(q, kind, threshold).tolist(),
        "keyframe_seconds": [float(seconds[0])],
        "trigger_seconds": [],
    }


@pytest.fixture(scope="module")
def spans(tmp_path_factory):
    """Videos of two frames whose spans (last - first + 1 s) sit on each bucket bound."""
    folder = tmp_path_factory.mktemp("kf-bounds")
    lengths = (299, 300, 599, 600, 1199, 1200)
    rows = [_row(f"v{n}", [[0], [0]], [0, n - 1]) for n in lengths]
    kfio.write_keyframes_file(rows, folder / "keyframes-00000.parquet", {"test": True})
    return folder, lengths


def test_a_video_on_a_length_bound_is_in_the_bucket_that_starts_there(spans):
    folder, lengths = spans
    s = redundancy_stats(folder, by="length", show_progress=False)
    expected = {
        label: sum(1 for n in lengths if n >= lo and (hi is None or n < hi)) for label, lo, hi in LENGTH_BUCKETS
    }
    assert expected == {"<5 min": 1, "5-10 min": 2, "10-20 min": 2, ">=20 min": 1}
    assert {label: g.videos for label, g in s.by_length.items()} == expected


def test_frame_drop_ratios_on_bin_edges(tmp_path):
    """Grid 1x2 at the authors' 0.5: frames dropping 0, 1 and 2 of 2 patches have ratios 0,
    0.5 and 1; of 20 bins over [0, 1], 0.5 opens bin 10 and 1 closes the last one."""
    q = [[0, 0], [255, 0], [255, 255], [255, 255]]  # cosine -1 is kept, +1 dropped
    kfio.write_keyframes_file([_row("a", q, range(4))], tmp_path / "keyframes-00000.parquet", {})
    s = redundancy_stats(tmp_path, threshold=0.5, show_progress=False)
    hist = s.frame_drop_ratio_histogram
    assert len(hist) == 20 and sum(hist) == 4
    assert (hist[0], hist[10], hist[19]) == (1, 1, 2)
    assert s.frame_drop_ratio.max == 1.0 and s.frame_drop_ratio.min == 0.0


@pytest.mark.parametrize("kind", sorted(RANGES))
def test_thresholds_on_the_range_bounds_are_taken(kind):
    lo, hi = RANGES[kind]
    assert check_thresholds([hi, lo], kind) == (lo, hi)
    for beyond in (lo - 0.001, hi + 0.001):
        with pytest.raises(UsageError, match=rf"must lie in \[{lo:g}, {hi:g}\] for score kind"):
            check_thresholds([beyond], kind)
    with pytest.raises(UsageError, match="must lie in"):
        check_thresholds([math.nan], kind)


def test_a_threshold_range_holds_its_stop():
    assert parse_thresholds("0.5:0.5:0.1") == (0.5,)
    assert parse_thresholds("0.1:0.3:0.1") == (0.1, 0.2, 0.3)
    assert parse_thresholds("0.1:0.35:0.1") == (0.1, 0.2, 0.3)
    assert parse_thresholds("-1:1:1") == (-1.0, 0.0, 1.0)
    for bad in ("0.5:0.4:0.1", "0.1:0.5:0", "0.1:0.5:-0.1"):
        with pytest.raises(UsageError, match="START:STOP:STEP"):
            parse_thresholds(bad)


# ---- params ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Bounded:
    closed: float = param(1.0, help="[0, 10]", min=0, max=10)
    open_: float = param(1.0, help="(0, 10)", min=0, max=10, min_open=True, max_open=True)
    count: int = param(1, help=">= 1", min=1)
    below: float = param(0.0, help="< 1", max=1, max_open=True)
    items: tuple[float, ...] = param((), help="each in (0, 1]", min=0, min_open=True, max=1)


@pytest.mark.parametrize("key, value", [("closed", 0), ("closed", 10), ("closed", 0.0), ("count", 1), ("below", -5)])
def test_a_closed_bound_takes_its_own_value(key, value):
    assert getattr(check(Bounded, {key: value}, "k"), key) == value


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("open_", 0, r"k\.open_: must be a finite number in \(0, 10\), got 0"),
        ("open_", 10, r"k\.open_: must be a finite number in \(0, 10\), got 10"),
        ("closed", -1e-9, r"k\.closed: must be a finite number in \[0, 10\], got -1e-09"),
        ("closed", 10.000001, r"k\.closed: must be a finite number in \[0, 10\], got 10\.000001"),
        ("count", 0, r"k\.count: must be an integer >= 1, got 0"),
        ("below", 1, r"k\.below: must be a finite number < 1, got 1"),
        ("items", [0.5, 0], r"k\.items: must be a finite number in \(0, 1\], got 0"),
        ("items", [1.5], r"k\.items: must be a finite number in \(0, 1\], got 1\.5"),
    ],
)
def test_an_open_bound_refuses_its_own_value(key, value, message):
    with pytest.raises(UsageError, match=message):
        check(Bounded, {key: value}, "k")


def test_a_tuple_item_on_a_closed_bound_is_taken():
    assert check(Bounded, {"items": [1, 0.001]}, "k").items == (1.0, 0.001)


@pytest.mark.parametrize("n, i", [(1, 0), (2, 1), (5, 4), (5, 0)])
def test_a_share_index_up_to_num_shards_minus_one(n, i):
    check_shard(n, i)


@pytest.mark.parametrize("n, i", [(1, 1), (5, 5), (0, 0), (5, -1)])
def test_a_share_index_at_num_shards_is_refused(n, i):
    with pytest.raises(UsageError, match=rf"got --num-shards {n}, --shard-index {i}"):
        check_shard(n, i)


# ---- keyframes list ----------------------------------------------------------------------------


def test_events_on_a_scene_start_belong_to_that_scene():
    row = {
        "status": "ok",
        "frame_seconds": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        "scene_id": [0, 0, 0, 1, 1, 2],
        "transitions": [[2.0, 3.0]],
        "keyframe_seconds": [0.0, 2.0, 3.0, 5.0],
        "trigger_seconds": [2.999, 3.0, 4.0, 5.0],
    }
    scenes = scenes_of(row)
    assert [(s.start, s.end, s.n_frames, s.starts_with) for s in scenes] == [
        (0.0, 3.0, 3, "video"),
        (3.0, 5.0, 2, "transition"),
        (5.0, 6.0, 1, "cut"),  # the last frame stands for the second that follows it
    ]
    assert [s.keyframes for s in scenes] == [[0.0, 2.0], [3.0], [5.0]]
    assert [s.trigger_times for s in scenes] == [[2.999], [3.0, 4.0], [5.0]]
    assert scenes[1].transition == [2.0, 3.0] and scenes[2].transition is None


# ---- 1 fps sampling ----------------------------------------------------------------------------


def test_a_second_halfway_between_two_frames_takes_the_earlier():
    # second 1 lies 0.25 s from the frames at 0.75 and 1.25; second 2 is a frame's own start
    assert one_fps_positions(np.array([0.0, 0.75, 1.25, 2.0])).tolist() == [0, 1, 3]
    # second 1 at 0.5 s from both neighbours, second 2 likewise
    assert one_fps_positions(np.array([0.0, 0.5, 1.5, 2.5])).tolist() == [0, 1, 2]
    # a frame just nearer than halfway wins
    assert one_fps_positions(np.array([0.0, 0.74, 1.25, 2.0])).tolist() == [0, 2, 3]


# ---- export swift --split ----------------------------------------------------------------------


def test_export_val_fraction_zero_is_taken_and_one_refused(sample, tmp_path):
    """--val-fraction in [0, 1): 0 puts every record in train; 1 would leave none to train on."""
    from tc139k.export.swift import run_export_swift
    from tc139k.validate.run import run_validate

    run_validate([sample.qa], frames_root=sample.frames, out_dir=tmp_path / "v")
    qa = tmp_path / "v" / "valid.parquet"
    res = run_export_swift(qa, sample.frames, tmp_path / "s.jsonl", split=True, val_fraction=0.0)
    assert res.rows == {"train": res.records, "validation": 0} and res.records > 0
    with pytest.raises(UsageError, match=r"--val-fraction must be in \[0, 1\), not 1\.0"):
        run_export_swift(qa, sample.frames, tmp_path / "t.jsonl", split=True, val_fraction=1.0)
