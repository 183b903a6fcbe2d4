"""The gradual-transition rules of tc139k/keyframes/transitions.py, one side and one bound at
a time, on drawn frames and on thumbnails of known levels.

- Fade through black: a run of black frames extended backwards over the frames whose mean luma
  falls into it (the fade-out) and forwards over those that rise out of it (the fade-in); a
  step belongs to a ramp when it moves more than RAMP_MARGIN + RAMP_RELATIVE x the level.
  `start` is the last clean frame of the old shot, `end` the first clean frame of the new one.
  Each side is walked on its own: a fade-out alone, a fade-in alone, ramps of different
  lengths; a ramp that goes the other way (brightening into the black run, dimming out of it)
  is no part of the fade.
- Black: at most 2 % of the thumbnail's pixels reach DARK_P98 and the mean is below BLACK_MEAN.
- Flash: at most FLASH_FRAMES frames, the first FLASH_RISE above the frame before it, a
  washed-out frame among them, then a frame back FLASH_RISE / 2 below the brightest level.
- Dissolve: every frame between the ends a blend alpha * a + (1 - alpha) * b with alpha
  strictly falling and strictly inside ALPHA_RANGE."""

from __future__ import annotations

import numpy as np
import pytest
from drawn import light, stack, view, world

from tc139k.keyframes import transitions as tr
from tc139k.keyframes.evidence import CellView
from tc139k.keyframes.transitions import (
    ALPHA_RANGE,
    BLACK_MEAN,
    DARK_P98,
    FLASH_FRAMES,
    FLASH_RISE,
    RAMP_MARGIN,
    RAMP_RELATIVE,
    WASHED_STD,
    Transition,
    find_transitions,
    thumbnails,
)

PIXELS = tr.THUMB * tr.THUMB


@pytest.fixture(scope="module")
def shots():
    """Two textured shots of different worlds (uint8 RGB 224 x 224)."""
    return view(world(11), 360, 360), view(world(12), 300, 420)


def _black(like: np.ndarray) -> np.ndarray:
    return np.zeros_like(like)


def _find(frames: list[np.ndarray]) -> list[Transition]:
    frames = stack(frames)
    found, _ = find_transitions(thumbnails(frames), lambda i: CellView(frames[i]))
    return found


def _fades(frames: list[np.ndarray]) -> list[tuple[int, int]]:
    return [(a, b) for a, b, kind in tr._fade_spans(thumbnails(stack(frames))) if kind == "fade"]


def _down(shot, steps: int) -> list[np.ndarray]:
    """A fade-out of `steps` frames: the shot dimming towards black, each step a share of it."""
    return [light(shot, 1 - k / (steps + 1)) for k in range(1, steps + 1)]


def _up(shot, steps: int) -> list[np.ndarray]:
    return _down(shot, steps)[::-1]


# ---- fades: each side on its own ---------------------------------------------------------


def test_a_fade_out_alone_starts_at_the_last_frame_at_full_level(shots):
    a, b = shots
    frames = [a] * 6 + _down(a, 3) + [_black(a)] * 2 + [b] * 6  # a cut in from black
    # 0-5 a, 6-8 dimming, 9-10 black, 11- b
    assert _fades(frames) == [(5, 11)]
    assert _find(frames) == [Transition(5, 11, "fade", new_scene=True)]


def test_a_fade_in_alone_ends_at_the_first_frame_at_full_level(shots):
    a, b = shots
    frames = [a] * 6 + [_black(a)] * 2 + _up(b, 3) + [b] * 6  # a cut to black, then a fade-in
    # 0-5 a, 6-7 black, 8-10 brightening, 11- b
    assert _fades(frames) == [(5, 11)]
    assert _find(frames) == [Transition(5, 11, "fade", new_scene=True)]


@pytest.mark.parametrize("out_steps, in_steps", [(1, 4), (4, 1), (2, 5)])
def test_ramps_of_different_lengths_on_each_side(shots, out_steps, in_steps):
    a, b = shots
    frames = [a] * 5 + _down(a, out_steps) + [_black(a)] * 3 + _up(b, in_steps) + [b] * 5
    end = 5 + out_steps + 3 + in_steps
    assert _fades(frames) == [(4, end)]
    assert _find(frames) == [Transition(4, end, "fade", new_scene=True)]


def test_a_video_that_closes_on_a_fade_out_has_no_new_scene(shots):
    a, _ = shots
    frames = [a] * 6 + _down(a, 3) + [_black(a)] * 3
    n = len(frames)
    assert _fades(frames) == [(5, n - 1)]
    assert _find(frames) == [Transition(5, n - 1, "fade", new_scene=False)]


def test_a_video_that_opens_with_a_fade_in_has_no_new_scene(shots):
    _, b = shots
    frames = [_black(b)] * 2 + _up(b, 3) + [b] * 6
    assert _fades(frames) == [(0, 5)]
    assert _find(frames) == [Transition(0, 5, "fade", new_scene=False)]


def test_brightening_into_the_black_run_is_no_fade_out(shots):
    a, b = shots
    frames = [light(a, 0.4)] * 3 + [light(a, 0.6), light(a, 0.8), a] + [_black(a)] * 2 + [b] * 5
    # 0-2 dim a, 3-4 brightening, 5 a, 6-7 black, 8- b: the walk back stops at frame 5
    assert _fades(frames) == [(5, 8)]


def test_dimming_out_of_the_black_run_is_no_fade_in(shots):
    a, b = shots
    frames = [a] * 5 + [_black(a)] * 2 + [b, light(b, 0.8), light(b, 0.6)] + [light(b, 0.4)] * 3
    # 0-4 a, 5-6 black, 7 b, 8-9 dimming: the walk forward stops at frame 7
    assert _fades(frames) == [(4, 7)]


def _levels(values) -> np.ndarray:
    """Flat grey thumbnails, one per luma level (R = G = B)."""
    return np.repeat(np.asarray(values, dtype=np.float32)[:, None], PIXELS * 3, axis=1)


def test_a_ramp_step_must_move_more_than_the_margin_and_the_relative_share():
    level = 100.0
    bound = RAMP_MARGIN + RAMP_RELATIVE * level  # the smallest move from `level` that counts
    for step, taken in ((bound + 0.05, True), (bound - 0.05, False)):
        # fade-out side: 0-1 level, 2 level - step, 3 at 30, 4-5 black, 6-7 level
        out = _levels([level, level, level - step, 30, 0, 0, level, level])
        assert tr._fade_spans(out) == [(1 if taken else 2, 6, "fade")], step
        # fade-in side: 0-1 level, 2-3 black, 4 at 30, 5 level - step, 6-7 level
        into = _levels([level, level, 0, 0, 30, level - step, level, level])
        assert tr._fade_spans(into) == [(1, 6 if taken else 5, "fade")], step


# ---- black ---------------------------------------------------------------------------------


def _night(bright_share: float, bright: float = DARK_P98 + 8) -> np.ndarray:
    """A very dark thumbnail (level 2) with `bright_share` of its pixels at `bright`."""
    luma = np.full(PIXELS, 2.0, dtype=np.float32)
    luma[: int(round(bright_share * PIXELS))] = bright
    return np.repeat(luma, 3)


def test_black_allows_under_two_percent_of_pixels_at_the_dark_level():
    few, many = _night(0.01), _night(0.03)
    assert few.mean() < BLACK_MEAN and many.mean() < BLACK_MEAN  # the mean alone would take both
    assert tr._dark(np.stack([few, many])).tolist() == [True, False]


def test_black_needs_a_mean_below_black_mean():
    under = np.full(PIXELS * 3, BLACK_MEAN - 0.5, dtype=np.float32)
    over = np.full(PIXELS * 3, BLACK_MEAN + 0.5, dtype=np.float32)  # every pixel still under DARK_P98
    assert tr._dark(np.stack([under, over])).tolist() == [True, False]


# ---- flash ---------------------------------------------------------------------------------


def _picture(mean: float) -> np.ndarray:
    """A thumbnail with a picture in it: half the pixels 20 levels under `mean`, half above
    (luma spread 20, above WASHED_STD)."""
    luma = np.where(np.arange(PIXELS) % 2 == 0, mean - 20, mean + 20).astype(np.float32)
    return np.repeat(luma, 3)


def _washed(mean: float) -> np.ndarray:
    return np.full(PIXELS * 3, mean, dtype=np.float32)


def _flash(base: float, flash: list[np.ndarray], after: np.ndarray | None = None) -> np.ndarray:
    after = _picture(base) if after is None else after
    return np.stack([_picture(base)] * 3 + flash + [after] * 3)


def test_the_spread_of_the_drawn_flash_frames_is_what_the_rule_reads():
    luma = np.stack([_picture(80), _washed(200)]).reshape(2, -1, 3) @ tr._LUMA
    assert luma.std(axis=1)[0] > WASHED_STD > luma.std(axis=1)[1]


@pytest.mark.parametrize("length", [1, FLASH_FRAMES])
def test_a_flash_of_up_to_flash_frames_is_one_span(length):
    thumbs = _flash(80, [_washed(230)] * length)
    assert tr._flash_spans(thumbs) == [(2, 3 + length, "flash")]  # the frame before, the first after


def test_a_light_that_stays_longer_than_flash_frames_is_no_flash():
    assert tr._flash_spans(_flash(80, [_washed(230)] * (FLASH_FRAMES + 1))) == []


def _means(thumbs: np.ndarray) -> list[float]:
    return ((thumbs.reshape(len(thumbs), -1, 3) @ tr._LUMA).mean(axis=1)).tolist()


def test_a_rise_of_exactly_flash_rise_and_a_fall_to_exactly_half_of_it_is_a_flash():
    thumbs = _flash(100.0, [_washed(140.0)], after=_picture(120.0))
    means = _means(thumbs)
    assert (means[3] - means[2], means[3] - means[4]) == (FLASH_RISE, FLASH_RISE / 2)  # levels exact in float32
    assert tr._flash_spans(thumbs) == [(2, 4, "flash")]


def test_the_rise_must_reach_flash_rise():
    base = 80.0
    assert tr._flash_spans(_flash(base, [_washed(base + FLASH_RISE + 0.05)])) == [(2, 4, "flash")]
    assert tr._flash_spans(_flash(base, [_washed(base + FLASH_RISE - 0.05)])) == []


def test_the_light_must_fall_back_half_a_flash_rise_below_the_peak():
    base, peak = 80.0, 200.0
    back = _picture(peak - FLASH_RISE / 2 - 0.05)
    stays = _picture(peak - FLASH_RISE / 2 + 0.05)
    assert tr._flash_spans(_flash(base, [_washed(peak)], after=back)) == [(2, 4, "flash")]
    assert tr._flash_spans(_flash(base, [_washed(peak)], after=stays)) == []


def test_a_bright_shot_that_keeps_its_picture_is_no_flash():
    assert tr._flash_spans(_flash(80, [_picture(230)])) == []
    assert tr._flash_spans(_flash(80, [_picture(230), _washed(230)])) == [(2, 5, "flash")]


# ---- dissolve ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ends(shots):
    return thumbnails(stack(list(shots))).astype(np.float64).astype(np.float32)


def _blend_run(ends, alphas) -> np.ndarray:
    a, b = ends
    return np.stack([a, *[np.float32(x) * a + np.float32(1 - x) * b for x in alphas], b])


@pytest.mark.parametrize(
    "alphas, blend",
    [
        ([0.75, 0.5, 0.25], True),
        ([0.5], True),
        ([ALPHA_RANGE[1] - 0.01, 0.5], True),
        ([ALPHA_RANGE[1] + 0.01, 0.5], False),  # the first mix is nearly all a: a is no clean end
        ([0.5, ALPHA_RANGE[0] + 0.01], True),
        ([0.5, ALPHA_RANGE[0] - 0.01], False),  # the last mix is nearly all b
        ([0.25, 0.5, 0.75], False),  # alpha rising: going back towards a
        ([0.6, 0.6], False),  # not strictly falling
        ([0.7, 0.3, 0.4], False),
    ],
)
def test_a_blend_needs_alpha_strictly_falling_inside_alpha_range(ends, alphas, blend):
    run = _blend_run(ends, alphas)
    assert tr._is_blend(run, 0, len(run) - 1) is blend


def test_a_dissolve_span_runs_from_the_last_clean_frame_to_the_first(ends):
    a, b = ends
    thumbs = np.stack([a] * 4 + list(_blend_run(ends, [0.75, 0.5, 0.25])[1:-1]) + [b] * 4)
    assert tr._dissolve_spans(thumbs) == [(3, 7, "dissolve")]
