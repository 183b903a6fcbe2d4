"""The combined scene rule on drawn footage of each hard class, and each piece of its evidence.

Every class the rule must handle is drawn with the physics that makes it hard at 1 fps (a
second of camera motion between frames, an object covering part of the frame, a flash, dark
film), and every piece of evidence has a case that goes wrong when `Checks` switches it off.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from drawn import SIZE, WORLD, blend, grain, light, paste, stack, view, world

from tc139k.keyframes import cutmodel
from tc139k.keyframes.motion import (
    PAIR_FIGURES,
    FrameView,
    feature_inliers,
    local_share,
    palette_similarity,
    phase_response,
    still_share,
)
from tc139k.keyframes.scenes import Checks, SceneParams, detect_cuts, detect_scenes

A, B, C = world(1), world(2), world(3)
SAME = ((40, 60, 80), (200, 190, 170))  # one palette for three different scenes


def cuts(frames: np.ndarray, **off: bool) -> list[int]:
    return detect_cuts(frames, SceneParams(), Checks(**off)).tolist()


def handheld(
    w: np.ndarray, n: int, amplitude: float, seed: int, x: float = 360, y: float = 360, turn: float = 0.0
) -> list[np.ndarray]:
    """A handheld camera: each second the view jumps by up to `amplitude` px of a 320 px view
    and turns by up to `turn` degrees."""
    r = np.random.default_rng(seed)
    jumps = [
        (r.uniform(-amplitude, amplitude), r.uniform(-amplitude, amplitude), r.uniform(-turn, turn)) for _ in range(n)
    ]
    return [grain(view(w, x + dx, y + dy, 320, angle), seed + i) for i, (dx, dy, angle) in enumerate(jumps)]


def two_region_world() -> np.ndarray:
    """Green land on the left, a pale sky-like region on the right: a pan changes the palette."""
    left, right = world(21, ((10, 40, 20), (90, 160, 70))), world(22, ((120, 110, 150), (250, 240, 255)))
    ramp = np.clip((np.arange(WORLD) - 260) / 200.0, 0, 1)[None, :, None]
    return left * (1 - ramp) + right * ramp


# ---- the classes ----------------------------------------------------------------------------


def test_handheld_shake_is_no_cut():
    assert cuts(stack(handheld(two_region_world(), 16, 45, seed=3, turn=3))) == []


def test_a_pan_across_changing_colours_is_no_cut():
    w = two_region_world()
    assert cuts(stack([grain(view(w, 170 + 60 * i, 360), i) for i in range(7)])) == []


def test_a_zoom_and_a_roll_are_no_cut():
    assert cuts(stack([grain(view(A, 360, 360, 320 * 0.8**i), i) for i in range(8)])) == []
    assert cuts(stack([grain(view(A, 360, 360, 320, 12 * i), i) for i in range(10)])) == []


def test_an_object_passing_close_to_the_camera_for_three_seconds_is_no_cut():
    still = [grain(view(A, 360, 360), i) for i in range(14)]
    lorry = np.ascontiguousarray(view(C, 300, 300, 200)[:120, :, ::-1])  # another palette, half the frame
    frames = [
        paste(f, lorry, x, 104) if x is not None else f
        for f, x in zip(still, [None] * 5 + [-150, -20, 100] + [None] * 6)
    ]
    assert cuts(stack(frames)) == []


def test_a_flash_inside_a_shot_is_no_cut_and_one_hiding_a_cut_is_one():
    shot = [grain(view(A, 360, 360), i) for i in range(14)]
    flash = [
        light(f, g, o) for f, (g, o) in zip(shot, [(1, 0)] * 5 + [(2.5, 90), (1.6, 40), (1.15, 10)] + [(1, 0)] * 6)
    ]
    assert cuts(stack(flash)) == []
    other = [grain(view(B, 360, 360), i) for i in range(14)]
    hidden = stack(shot[:5] + [light(shot[5], 2.5, 90)] + other[6:])
    assert cuts(hidden) == [6]  # one scene start, at the first clean frame of the new shot


def dark_cuts() -> np.ndarray:
    night = [light(f, 0.12) for f in handheld(A, 6, 6, seed=3)]
    green = [light(f, 0.15, 0, (0.3, 1.0, 0.4)) for f in handheld(B, 6, 6, seed=4)]
    brown = [light(f, 0.14, 0, (1.0, 0.6, 0.3)) for f in handheld(C, 6, 6, seed=5)]
    return stack(night + green + brown)


def test_cuts_between_dark_low_contrast_shots_are_found():
    frames = dark_cuts()
    assert float(frames.mean()) < 20  # near-black film, a few grey levels of picture
    assert cuts(frames) == [6, 12]
    assert detect_scenes(frames, SceneParams()).transitions == []  # dark film is no fade through black


def pan_then_cut(step: int = 90) -> np.ndarray:
    """A handheld shot, a fast pan (3 s), then a cut to a shot on a tripod."""
    pan = [grain(view(A, 360 + step * k, 360), k) for k in (1, 2, 3)]
    return stack(handheld(A, 4, 4, seed=9) + pan + [grain(view(B, 360, 360), 20 + i) for i in range(6)])


def test_the_last_frame_of_a_pan_and_the_first_new_frame_are_one_boundary():
    assert cuts(pan_then_cut()) == [7]


def handheld_cuts() -> np.ndarray:
    """Three scenes, each filmed handheld, one after the other."""
    return stack(handheld(A, 6, 8, seed=1) + handheld(B, 6, 8, seed=2) + handheld(C, 6, 8, seed=3))


def test_cuts_between_handheld_scenes_are_found():
    assert cuts(handheld_cuts()) == [6, 12]


# ---- each piece of evidence -----------------------------------------------------------------


def test_features_tell_a_pan_into_shade_from_a_cut():
    frames = [grain(view(A, 300 + 30 * i, 360), i) for i in range(12)]
    frames = stack([f if i < 6 else light(f, 0.7, 0, (0.8, 0.9, 1.3)) for i, f in enumerate(frames)])
    assert cuts(frames) == []
    assert cuts(frames, features=False) == [6]


def test_palette_finds_the_dark_cuts():
    assert cuts(dark_cuts(), palette=False) == []


def test_steadiness_finds_a_cut_after_a_pan():
    assert cuts(pan_then_cut(), steady=False) == []


def test_shift_local_figures_and_two_frames_back_find_cuts_between_handheld_scenes():
    for off in ("shift", "local", "two_back"):
        assert cuts(handheld_cuts(), **{off: False}) == [12], off


def test_cells_left_in_place_find_a_cut_after_a_fast_pan():
    frames = stack(handheld(A, 4, 3, seed=13) + [grain(view(A, 510, 360), 50)] + handheld(B, 6, 3, seed=14))
    assert cuts(frames) == [5]
    assert cuts(frames, still=False) == []


def test_transitions_keep_a_flash_from_making_cuts():
    shot = [grain(view(A, 360, 360), i) for i in range(14)]
    flash = stack(
        [light(f, g, o) for f, (g, o) in zip(shot, [(1, 0)] * 5 + [(2.5, 90), (1.6, 40), (1.15, 10)] + [(1, 0)] * 6)]
    )
    assert cuts(flash, transitions=False) == [5, 7]


# ---- the figures ----------------------------------------------------------------------------


def test_figures_of_a_moved_camera_and_of_a_cut():
    a = FrameView(grain(view(A, 360, 360), 1))
    moved = FrameView(grain(view(A, 400, 380), 2))
    other = FrameView(grain(view(B, 360, 360), 3))
    response, shift = phase_response(a, moved)
    assert response > 0.5 and abs(shift[0] + 40 * 56 / 320) < 1.5 and abs(shift[1] + 20 * 56 / 320) < 1.5
    assert phase_response(a, other)[0] < 0.3
    assert local_share(a, moved, shift) >= 0.7 > 0.4 > local_share(a, other, phase_response(a, other)[1])
    assert feature_inliers(a, moved) > 0.1 > 0.04 > feature_inliers(a, other)
    assert still_share(a, a) == 1.0 and still_share(a, moved) < 0.3
    assert palette_similarity(a, a) == pytest.approx(1.0) and palette_similarity(a, other) < 0.9


def test_flat_frames_give_no_verdict():
    black = FrameView(np.zeros((SIZE, SIZE, 3), np.uint8))
    a = FrameView(grain(view(A, 360, 360), 1))
    assert phase_response(black, a) == (0.0, (0.0, 0.0))
    assert feature_inliers(black, a) is None
    assert still_share(black, black) == 0.0 and local_share(black, black) == 0.0


def test_the_model_keeps_the_physics_signs_and_takes_the_mean_for_what_is_unknown():
    k = len(PAIR_FIGURES)
    signs = {"now": -1, "two_back": -1, "before": 1, "after": 1}
    for g, group in enumerate(cutmodel.GROUPS):
        assert (cutmodel.WEIGHTS[g * k : (g + 1) * k] * signs[group] >= 0).all(), group
    x = np.linspace(0, 1, len(cutmodel.WEIGHTS))
    unknown = x.copy()
    unknown[-k:] = np.nan
    mean = x.copy()
    mean[-k:] = cutmodel.MEANS[-k:]
    assert cutmodel.probability(unknown) == cutmodel.probability(mean)
    assert cutmodel.probability(x, list(range(k))) == cutmodel.probability(np.r_[cutmodel.MEANS[:k], x[k:]])
    # a steady shot on both sides of an unexplained frame is a cut; the same frame explained is none
    cut = np.r_[np.zeros(2 * k), np.ones(2 * k)]
    assert cutmodel.probability(cut) > 0.9 > 0.1 > cutmodel.probability(np.ones(4 * k))
    # P(cut) is the logistic function of bias + weights . figures
    for figures in (cut, np.ones(4 * k), x, np.zeros(4 * k)):
        z = cutmodel.BIAS + float(np.dot(cutmodel.WEIGHTS, figures))
        assert cutmodel.probability(figures) == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-12)


def test_a_dissolve_between_shots_of_one_palette_is_one_scene_start():
    a, b = handheld(world(11, SAME), 6, 3, seed=1), handheld(world(12, SAME), 6, 3, seed=2)
    frames = stack(a + [blend(a[-1], b[0], 2 / 3), blend(a[-1], b[0], 1 / 3)] + b)
    starts = detect_cuts(frames, SceneParams()).tolist()
    assert len(starts) == 1 and 6 <= starts[0] <= 8


# ---- novelty inside a shot ----------------------------------------------------------------


def test_motion_novelty_is_what_a_shift_reveals():
    from tc139k.keyframes.dtd import frame_drop_ratio
    from tc139k.keyframes.scorer_pixel import pixel_scores

    shake = stack(handheld(two_region_world(), 30, 30, seed=5, turn=1))
    novelty = detect_scenes(shake, SceneParams()).motion_novelty
    dtd_novelty = 1.0 - frame_drop_ratio(pixel_scores(shake, 28)[0], "pixel_mad", 0.05)
    # jumps of up to 9 % of the frame each way reveal at most about a third of it
    assert novelty[0] == 1.0 and float(novelty[1:].mean()) < 0.3 < float(dtd_novelty[1:].mean())
    assert detect_scenes(pan_then_cut(), SceneParams()).motion_novelty[7] > 0.6  # a cut is all new


def test_key_frames_inside_a_shaking_shot_are_fewer_with_motion_novelty():
    from tc139k.keyframes.build import select_keyframes
    from tc139k.keyframes.dtd import frame_drop_ratio
    from tc139k.keyframes.scorer_pixel import pixel_scores

    shake = stack(handheld(two_region_world(), 30, 30, seed=5, turn=1))
    drop = frame_drop_ratio(pixel_scores(shake, 28)[0], "pixel_mad", 0.05)
    seconds, none = np.arange(30.0), np.zeros(0, np.int64)
    motion = detect_scenes(shake, SceneParams()).motion_novelty
    dtd_only = select_keyframes(seconds, drop, none, 1.5, 2.0)
    capped = select_keyframes(seconds, drop, none, 1.5, 2.0, motion)
    assert len(capped) < len(dtd_only)
    still = stack([grain(view(A, 360, 360), i) for i in range(30)])
    still_drop = frame_drop_ratio(pixel_scores(still, 28)[0], "pixel_mad", 0.05)
    assert (
        len(select_keyframes(seconds, still_drop, none, 1.5, 2.0, detect_scenes(still, SceneParams()).motion_novelty))
        == 1
    )
