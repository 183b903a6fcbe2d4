"""DTD and the key-frame rule at their edges: the exact threshold, rounding, which frames are
triggers, and the calibration's vectorised count against the per-video rule.

Each test pins a value a plausible slip would change (`>=` for `>`, truncation for rounding,
frame 0 among the triggers, a count that forgets `min_gap`); counts alone would not see them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tc139k.keyframes import dtd
from tc139k.keyframes.build import (
    TRIGGER_SHARE,
    VideoCurve,
    _AllVideos,
    calibrate_level,
    mean_interval,
    select_keyframes,
    trigger_positions,
)

LEVELS = np.arange(dtd.N_LEVELS)

# ---- the threshold is strict -------------------------------------------------------------


@pytest.mark.parametrize("kind", dtd.SCORE_KINDS)
def test_a_score_equal_to_tau_is_kept_at_every_level(kind):
    values = dtd.dequantize(LEVELS, kind)
    for level in range(dtd.N_LEVELS):
        tau = float(values[level])
        dropped = dtd.dropped_levels(kind, tau)
        # cosine drops above tau, pixel_mad below; the level sitting exactly on tau stays
        want = LEVELS > level if kind == "cosine" else LEVELS < level
        assert np.array_equal(dropped, want), (kind, level)


def test_strict_threshold_through_the_per_frame_ratio():
    q = np.array([[0, 0, 0, 0], [255, 204, 204, 128]], dtype=np.uint8)
    at_level = float(dtd.dequantize(204, "cosine"))  # 0.6 as stored
    assert dtd.frame_drop_ratio(q, "cosine", at_level).tolist() == [0.0, 0.25]
    assert dtd.frame_drop_ratio(q, "cosine", 1.0).tolist() == [0.0, 0.0]  # identical tokens at tau = 1: kept
    assert dtd.frame_drop_ratio(q, "cosine", np.nextafter(at_level, -1)).tolist() == [0.0, 0.75]
    p = np.array([[255, 255], [0, 13]], dtype=np.uint8)
    assert dtd.frame_drop_ratio(p, "pixel_mad", 0.0).tolist() == [0.0, 0.0]  # no change at tau = 0: kept
    assert dtd.frame_drop_ratio(p, "pixel_mad", float(dtd.dequantize(13, "pixel_mad"))).tolist() == [0.0, 0.5]


def test_histogram_sweep_is_strict_too():
    q = np.array([[0, 0, 0], [204, 205, 203]], dtype=np.uint8)
    tau = float(dtd.dequantize(204, "cosine"))
    hist = dtd.level_histogram(q)
    assert hist[0] == 3 and hist[203] == hist[204] == hist[205] == 1 and hist.sum() == 6
    assert dtd.sweep_from_histogram(hist, "cosine", [tau, -1.0, 1.0]).tolist() == [1, 3, 0]


# ---- quantisation rounds -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "scale", "offset"),
    [("cosine", 127.5, -1.0), ("pixel_mad", 255.0, 0.0)],
)
def test_quantisation_rounds_to_the_nearest_level(kind, scale, offset):
    raw = np.array([100.3, 100.7, 0.4, 254.6, 17.2, 17.8])
    scores = raw / scale + offset
    assert dtd.quantize(scores, kind).tolist() == [100, 101, 0, 255, 17, 18]
    # every level survives a round trip; out-of-range scores are clipped, not wrapped
    assert np.array_equal(dtd.quantize(dtd.dequantize(LEVELS, kind), kind), LEVELS)
    assert dtd.quantize([offset - 0.5, offset + 300 / scale], kind).tolist() == [0, 255]
    assert dtd.quantize(scores, kind).dtype == np.uint8


def test_dequantize_scales():
    assert dtd.dequantize([0, 255], "cosine").tolist() == [-1.0, 1.0]
    assert dtd.dequantize([0, 51, 255], "pixel_mad").tolist() == pytest.approx([0.0, 0.2, 1.0])
    with pytest.raises(ValueError, match="unknown score kind 'l2'"):
        dtd.quantize([0.0], "l2")
    with pytest.raises(ValueError, match="unknown score kind"):
        dtd.dequantize([0], "l2")


def test_scores_to_the_previous_frame_have_the_exact_values():
    tokens = torch.tensor([[[1.0, 0.0], [0.0, 2.0]], [[3.0, 3.0], [0.0, -1.0]], [[3.0, 3.0], [5.0, 0.0]]])
    sim = dtd.cosine_to_previous(tokens)
    assert sim.dtype == torch.float32
    assert np.allclose(sim.numpy(), [[-1.0, -1.0], [2**-0.5, -1.0], [1.0, 0.0]], rtol=0, atol=1e-6)
    assert dtd.cosine_to_previous(tokens[:1]).tolist() == [[-1.0, -1.0]]

    frames = np.zeros((2, 5, 7, 3), dtype=np.uint8)
    frames[1, :2, :2] = 51  # the top-left 2 x 2 cell changes by 51 / 255 = 0.2
    frames[1, 4, 6] = 255  # a remainder pixel: outside every cell, ignored
    mad = dtd.pixel_mad_to_previous(frames, 2)
    assert mad.shape == (2, 2, 3) and mad.dtype == np.float32
    assert mad[0].tolist() == [[1.0] * 3] * 2
    assert np.allclose(mad[1], [[0.2, 0.0, 0.0], [0.0, 0.0, 0.0]], rtol=0, atol=1e-7)
    frames[1, 2, 4, 0] = 120  # one channel of one pixel in the last cell: 120 / 255 / 12
    assert dtd.pixel_mad_to_previous(frames, 2)[1, 1, 2] == pytest.approx(120 / 255 / 12)
    with pytest.raises(ValueError, match="smaller than one 8 px cell"):
        dtd.pixel_mad_to_previous(frames, 8)


# ---- trigger frames: the actual frames, never frame 0 --------------------------------------


def test_trigger_frames_are_the_lowest_ratios_after_frame_zero():
    r = np.array(
        [0.0, 0.9, 0.5, 0.1, 0.95, 0.3, 0.8, 0.05, 0.7, 0.6, 0.4, 0.2, 0.85, 0.9, 0.6, 0.3, 0.75, 0.65, 0.9, 0.8, 0.15]
    )
    # frame 0 has the lowest ratio (it has no previous frame) and is still never a trigger
    assert dtd.trigger_frames(r).tolist() == [3, 7]  # 20 frames after frame 0: 10 % is 2
    assert dtd.trigger_frames(r, 0.25).tolist() == [3, 5, 7, 11, 20]
    assert trigger_positions(r).tolist() == dtd.trigger_frames(r, TRIGGER_SHARE).tolist()


def test_trigger_frames_skip_the_whole_first_dtd_frame():
    # a DTD frame of two raw frames (Qwen's temporal patch): frames 0 and 1 both carry its
    # never-dropped level, and neither is a trigger
    r = np.array([0.0, 0.0, 0.5, 0.5, 0.1, 0.1, 0.9, 0.9, 0.3, 0.3, 0.2, 0.2])
    assert dtd.trigger_frames(r, 0.2).tolist() == [1, 4]
    assert dtd.trigger_frames(r, 0.2, first=2).tolist() == [4, 5]  # 10 frames after the first two: 2
    assert trigger_positions(r, 2).tolist() == [4]  # 10 % of 10 frames
    assert dtd.trigger_frames(r[:2], first=2).tolist() == [] and dtd.trigger_frames(r[:3], first=2).tolist() == [2]


def test_trigger_frames_ties_small_videos_and_order():
    assert dtd.trigger_frames(np.array([0.0, 0.5, 0.2, 0.2, 0.2, 0.9]), 0.4).tolist() == [2, 3]  # ties: by index
    assert dtd.trigger_frames(np.array([0.0, 0.7, 0.3, 0.6])).tolist() == [2]  # at least one
    assert dtd.trigger_frames(np.array([0.0, 0.4])).tolist() == [1]
    assert dtd.trigger_frames(np.array([0.0])).tolist() == []
    assert dtd.trigger_frames(np.array([])).tolist() == []
    got = dtd.trigger_frames(np.array([0.0, 0.9, 0.1, 0.8, 0.0, 0.7, 0.2, 0.6, 0.3, 0.5, 0.4]), 0.3)
    assert got.tolist() == [2, 4, 6] and got.dtype == np.int64


# ---- the key-frame rule and the calibration's vectorised count ------------------------------


def _curves(seed: int, n_videos: int = 10) -> list[VideoCurve]:
    rng = np.random.default_rng(seed)
    curves = []
    for _ in range(n_videos):
        n = int(rng.integers(2, 120))
        # frame times with gaps (unreadable frames are left out), so min_gap is about seconds
        seconds = np.cumsum(rng.choice([1.0, 1.0, 1.0, 2.0, 3.0], size=n)) + float(rng.integers(0, 5))
        k = int(rng.integers(0, min(5, n - 1) + 1))
        cuts = np.sort(rng.choice(np.arange(1, n), size=k, replace=False)) if k else np.zeros(0, dtype=np.int64)
        drop = rng.uniform(0.0, 1.0, n)
        drop[rng.random(n) < 0.2] = 1.0  # static frames: zero novelty
        curves.append(VideoCurve(seconds, drop, cuts))
    return curves


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_count_equals_the_per_video_rule(seed):
    curves = _curves(seed)
    everything = _AllVideos.of(curves)
    for min_gap in (0.0, 1.0, 2.5, 4.0, 9.0):
        for level in (0.0, 0.2, 0.7, 1.0, 2.5, 6.0, 1000.0):
            per_video = sum(len(select_keyframes(c.seconds, c.drop_ratio, c.cuts, level, min_gap)) for c in curves)
            assert everything.count(level, min_gap) == per_video, (min_gap, level)


def test_vectorised_count_with_empty_videos_and_min_gap_only():
    drop = np.zeros(40)  # every frame fully new: only min_gap spaces the key frames
    curves = [VideoCurve(np.arange(40.0), drop, np.array([20])), VideoCurve(np.zeros(0), np.zeros(0), np.zeros(0))]
    assert select_keyframes(np.arange(40.0), drop, np.array([20]), 0.0, 5.0).tolist() == [0, 5, 10, 15, 20, 25, 30, 35]
    assert _AllVideos.of(curves).count(0.0, 5.0) == 8
    assert _AllVideos.of(curves).count(0.0, 0.0) == 40
    assert _AllVideos.of([]).count(1.0, 2.0) == 0


def test_rule_by_hand_with_gaps_in_the_frame_times():
    seconds = np.array([0.0, 1.0, 2.0, 5.0, 6.0, 7.0, 8.0, 12.0, 13.0])
    drop = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.0, 0.0])  # novelty 1 1 1 0 .5 .5 1 1 after frame 0
    none = np.zeros(0, dtype=np.int64)
    assert select_keyframes(seconds, drop, none, 1.0, 0.0).tolist() == [0, 1, 2, 3, 6, 7, 8]
    # min_gap counts seconds, not frames: by position the last pick (t = 12 s after t = 8 s) would be missed
    assert select_keyframes(seconds, drop, none, 1.0, 3.0).tolist() == [0, 3, 6, 7]
    assert select_keyframes(seconds, drop, none, 2.0, 0.0).tolist() == [0, 2, 6, 8]
    assert select_keyframes(seconds, drop, np.array([4]), 2.0, 3.0).tolist() == [0, 3, 4, 7]  # a cut is always kept
    # a sum of zero never qualifies, even at level 0 and no gap
    static = np.array([0.0, 1.0, 1.0, 0.25, 1.0])
    assert select_keyframes(np.arange(5.0), static, none, 0.0, 0.0).tolist() == [0, 3]
    empty = select_keyframes(np.zeros(0), np.zeros(0), none, 1.0, 0.0)
    assert empty.tolist() == [] and empty.dtype == np.int64  # used to index frame times


def test_calibration_reports_the_per_video_interval():
    curves = _curves(5, n_videos=8)
    span = sum(c.span for c in curves)
    for target in (3.0, 6.0, 12.0):
        level, achieved = calibrate_level(curves, target, 3.0)
        assert achieved == mean_interval(curves, level, 3.0)
        n = sum(len(select_keyframes(c.seconds, c.drop_ratio, c.cuts, level, 3.0)) for c in curves)
        assert achieved == span / n
    # a target below what level 0 gives: level 0; above what scene starts alone give: the top
    assert calibrate_level(curves, 0.01, 3.0)[0] == 0.0
    top, at_top = calibrate_level(curves, 1e6, 3.0)
    assert at_top == span / sum(1 + len(c.cuts) for c in curves) and top > 0
    assert calibrate_level([], 7.0, 2.0) == (0.0, 0.0)


# ---- shapes, types and bounds the stored figures rely on --------------------------------------


def test_cosine_is_clamped_to_its_range_and_needs_only_two_frames():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 7, generator=g)
    same = dtd.cosine_to_previous(torch.stack([x, x]))  # rounding puts some dot products past 1
    opposite = dtd.cosine_to_previous(torch.stack([x, -x]))
    assert same[1].max().item() == 1.0 and opposite[1].min().item() == -1.0
    assert (same[1] >= 0.999999).all() and (opposite[1] <= -0.999999).all()
    one_patch = dtd.cosine_to_previous(torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]]))  # T = 2, N = 1
    assert one_patch.tolist() == [[-1.0], [0.0]]


def test_quantised_level_does_not_depend_on_the_input_precision():
    # scores come as float32; the same score given as float64 lands on the same level
    for kind, v in (("cosine", 0.7372548020310687), ("pixel_mad", 0.7666666612262355)):
        assert dtd.quantize(np.float64(v), kind) == dtd.quantize(np.float32(v), kind)
        assert dtd.quantize([v], kind).tolist() == dtd.quantize(np.array([v], dtype=np.float32), kind).tolist()
    assert dtd.dequantize([3], "cosine").dtype == np.float32 and dtd.dequantize([3], "pixel_mad").dtype == np.float32


def test_drop_ratio_with_one_patch_or_none():
    one = dtd.frame_drop_ratio(np.array([[0], [255], [0]], dtype=np.uint8), "cosine", 0.5)
    assert one.tolist() == [0.0, 1.0, 0.0] and one.dtype == np.float32
    none = dtd.frame_drop_ratio(np.zeros((3, 0), dtype=np.uint8), "cosine", 0.5)
    assert none.tolist() == [0.0, 0.0, 0.0] and none.dtype == np.float32
    grid = dtd.frame_drop_ratio(np.full((2, 2, 3), 255, dtype=np.uint8), "cosine", 0.5)  # (T, H, W)
    assert grid.tolist() == [1.0, 1.0]


def test_pixel_grid_of_one_row_or_column_and_too_small_frames():
    frames = np.zeros((2, 8, 16, 3), dtype=np.uint8)
    frames[1, :, 8:] = 255
    assert dtd.pixel_mad_to_previous(frames, 8)[1].tolist() == [[0.0, 1.0]]  # one row of cells
    assert dtd.pixel_mad_to_previous(frames.transpose(0, 2, 1, 3), 8)[1].tolist() == [[0.0], [1.0]]  # one column
    for h, w in ((4, 16), (16, 4)):  # no full cell in one direction
        with pytest.raises(ValueError, match=f"frames of {w}x{h} px are smaller than one 8 px cell"):
            dtd.pixel_mad_to_previous(np.zeros((2, h, w, 3), dtype=np.uint8), 8)


def test_trigger_share_counts_the_frames_after_frame_zero():
    r = np.linspace(1.0, 0.0, 20)  # 19 frames after frame 0: 10 % of them is one frame
    assert dtd.trigger_frames(r).tolist() == [19]
    assert dtd.trigger_frames(np.array([0.5])).dtype == np.int64


def test_vectorised_count_with_float32_ratios_list_cuts_and_an_empty_first_video():
    # drop ratios read back from Parquet are float32; sums of their novelties must be taken
    # in float64 like the per-video rule does, or counts drift at levels the sums reach exactly
    rng = np.random.default_rng(0)
    curves = [VideoCurve(np.zeros(0), np.zeros(0, dtype=np.float32), [])]  # an empty video first
    for _ in range(6):
        n = int(rng.integers(5, 80))
        drop = rng.choice(np.float32([0.9, 0.8, 0.7, 0.6, 0.3]), size=n)
        curves.append(VideoCurve(np.arange(float(n)), drop, [] if n % 2 else [n // 2]))  # cuts as plain lists
    everything = _AllVideos.of(curves)
    for level in (0.2, 0.3, 0.4, 0.6, 0.7, 0.9, 1.0, 1.2, 2.0):
        per_video = sum(len(select_keyframes(c.seconds, c.drop_ratio, c.cuts, level, 0.0)) for c in curves)
        assert everything.count(level, 0.0) == per_video, level


@pytest.mark.parametrize("seed", [3, 4])
def test_calibration_picks_the_closest_achievable_interval(seed):
    curves = _curves(seed, n_videos=6)
    levels = np.linspace(0.0, 40.0, 801)
    achievable = np.array([mean_interval(curves, float(lv), 1.0) for lv in levels])
    for target in np.linspace(achievable.min() * 0.9, achievable.max() * 1.1, 23):
        level, achieved = calibrate_level(curves, float(target), 1.0)
        # no level on the grid comes closer to the target than the calibrated one
        assert abs(achieved - target) <= np.abs(achievable - target).min() + 1e-12, target


def test_mean_interval_of_nothing_is_zero():
    assert mean_interval([], 1.0, 2.0) == 0.0
    assert mean_interval([VideoCurve(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))], 1.0, 2.0) == 0.0
    c = VideoCurve(np.array([3.0, 4.0, 5.0]), np.ones(3), np.zeros(0, dtype=np.int64))
    assert c.span == 3.0 and mean_interval([c], 1.0, 0.0) == 3.0  # one key frame over 3 s
