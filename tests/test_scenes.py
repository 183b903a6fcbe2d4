"""PySceneDetect over the sample's 1 fps frames against the generator's cuts."""

from __future__ import annotations

import numpy as np
import pytest

from tc139k.errors import UsageError
from tc139k.keyframes.compare import match_count, prf
from tc139k.keyframes.frames import decode, list_frame_videos
from tc139k.keyframes.scenes import (
    DEFAULT_MIN_SCENE_SECONDS,
    Checks,
    SceneParams,
    detect_cuts,
    detect_scenes,
    detector_cuts,
    scene_ids,
)


@pytest.fixture(scope="module")
def decoded(sample):
    # native 160 x 120: the scene detector is independent of the working size
    return [decode(spec, (160, 120)) for spec in list_frame_videos(sample.frames)]


@pytest.mark.parametrize("detector", ["content", "adaptive", "histogram"])
def test_cuts_within_one_second_of_ground_truth(decoded, sample, detector):
    matched = n_pred = n_ref = 0
    for video in decoded:
        cuts = detect_cuts(video.frames, SceneParams(detector))
        pred = video.seconds[cuts].tolist()
        ref = sample.truth[video.spec.video_id]["scene_cuts"]
        matched += match_count(pred, ref, 1.0)
        n_pred += len(pred)
        n_ref += len(ref)
        gaps = np.diff([0, *cuts.tolist()])
        assert (gaps >= DEFAULT_MIN_SCENE_SECONDS).all(), f"{detector}: scene shorter than the minimum"
    precision, recall, f1 = prf(matched, n_pred, n_ref)
    assert n_ref > 50
    assert f1 >= 0.95, f"{detector}: P={precision:.3f} R={recall:.3f} F1={f1:.3f}"


def test_threshold_controls_sensitivity(decoded):
    video = max(decoded, key=lambda v: v.n_frames)
    loose = detect_cuts(video.frames, SceneParams("content", threshold=5.0))
    strict = detect_cuts(video.frames, SceneParams("content", threshold=120.0))
    default = detect_cuts(video.frames, SceneParams("content"))
    assert len(strict) <= len(default) <= len(loose)
    assert len(loose) > len(strict)


def test_min_scene_length_in_seconds(decoded):
    video = max(decoded, key=lambda v: v.n_frames)
    cuts = detect_cuts(video.frames, SceneParams("content", threshold=5.0, min_scene_seconds=20.0))
    assert (np.diff([0, *cuts.tolist()]) >= 20).all()


def test_scene_ids_count_from_zero():
    assert scene_ids(7, np.array([2, 5])).tolist() == [0, 0, 1, 1, 1, 2, 2]
    assert scene_ids(3, np.array([], dtype=np.int64)).tolist() == [0, 0, 0]


def test_unknown_detector_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown scene detector"):
        SceneParams("magic").resolved()


# ---- drawn footage: gradual transitions and a large moving object ---------------------------

SIZE = 224


def _shot(seed: int) -> np.ndarray:
    """A textured picture (stripes, blobs, grain) in a random palette, float32 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    base = rng.uniform(60, 200, 3).astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(8, 20)
    img = np.broadcast_to(base, (SIZE, SIZE, 3)).copy()
    img += (40 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period))[..., None]
    for _ in range(8):
        cx, cy, r = rng.uniform(0, SIZE), rng.uniform(0, SIZE), rng.uniform(15, 45)
        w = np.clip(1 - np.hypot(xx - cx, yy - cy) / r, 0, 1)[..., None]
        img = img * (1 - w) + rng.uniform(0, 255, 3).astype(np.float32) * w
    return img + rng.normal(0, 3, img.shape).astype(np.float32)


def _frames(pictures) -> np.ndarray:
    """uint8 frames from float pictures, each with its own sensor grain."""
    rng = np.random.default_rng(7)
    return np.stack([np.clip(p + rng.normal(0, 2, p.shape), 0, 255).astype(np.uint8) for p in pictures])


def _cuts_and_transitions(frames, **kw):
    found = detect_scenes(frames, SceneParams(**kw))
    return found.cuts.tolist(), [(t.start, t.end, t.kind, t.new_scene) for t in found.transitions]


@pytest.mark.parametrize("ramp", [2, 4])
def test_fade_through_black_is_one_scene_start(ramp):
    a, b = _shot(1), _shot(2)
    pictures = [a] * 10
    pictures += [a * (1 - k / (ramp + 1)) for k in range(1, ramp + 1)]  # fade out
    pictures += [np.zeros_like(a)] * 3
    pictures += [b * (k / (ramp + 1)) for k in range(1, ramp + 1)]  # fade in
    pictures += [b] * 10
    frames = _frames(pictures)
    first_b = 10 + ramp + 3 + ramp
    cuts, transitions = _cuts_and_transitions(frames)
    assert cuts == [first_b]
    assert transitions == [(9, first_b, "fade", True)]
    # PySceneDetect alone reports the way into black and the way out as two (or more) cuts
    assert len(detector_cuts(frames, SceneParams(), 1)) >= 2


@pytest.mark.parametrize("blend_frames", [1, 2, 3, 5])
def test_dissolve_over_one_to_five_frames_is_one_scene_start(blend_frames):
    a, b = _shot(3), _shot(4)
    mix = [a * (1 - k / (blend_frames + 1)) + b * (k / (blend_frames + 1)) for k in range(1, blend_frames + 1)]
    frames = _frames([a] * 8 + mix + [b] * 8)
    first_b = 8 + blend_frames
    cuts, transitions = _cuts_and_transitions(frames)
    assert cuts == [first_b]
    assert transitions == [(7, first_b, "dissolve", True)]


def test_a_global_dimming_inside_a_shot_is_no_transition():
    a = _shot(5)
    frames = _frames([a * (1 - 0.08 * k) for k in range(8)] + [a * 0.44] * 6)
    assert _cuts_and_transitions(frames) == ([], [])


def test_dip_to_black_and_back_to_the_same_picture_is_no_scene():
    a = _shot(6)
    frames = _frames([a] * 6 + [np.zeros_like(a)] * 2 + [a] * 6)
    assert _cuts_and_transitions(frames) == ([], [])


def _with_object(picture: np.ndarray, x0: int, x1: int, seed: int = 9) -> np.ndarray:
    """A large vehicle-like object close to the camera: a textured block over columns x0..x1."""
    out = picture.copy()
    body = _shot(seed)[:, : x1 - x0]
    out[20:210, x0:x1] = body[20:210] * 0.6 + np.array([230, 200, 30], np.float32) * 0.4  # a yellow taxi
    return out


@pytest.mark.parametrize("crossing", ["one frame", "two frames"])
def test_large_moving_object_is_not_a_cut_and_hides_no_cut_after_it(crossing):
    street, other = _shot(10), _shot(11)
    pictures = [street] * 6
    if crossing == "one frame":
        pictures += [_with_object(street, 0, 130)]  # covers over half of the frame for a second
    else:
        pictures += [_with_object(street, 0, 120), _with_object(street, 104, 224)]
    obj_frames = list(range(6, len(pictures)))
    pictures += [street] * (8 - len(pictures))  # the street again (if time allows), then
    true_cut = len(pictures)  # a real cut 2 s after the object appeared
    pictures += [other] * 8
    frames = _frames(pictures)
    raw = detector_cuts(frames, SceneParams(), 1).tolist()
    assert set(obj_frames) & set(raw), "the drawn object must fool the detector alone"
    assert true_cut in raw
    cuts, transitions = _cuts_and_transitions(frames)
    assert cuts == [true_cut]
    assert transitions == []
    if crossing == "one frame":  # what tells it apart: part of the street stays in place, and it comes back
        assert set(detect_cuts(frames, SceneParams(), Checks(passing=False)).tolist()) & set(obj_frames)
    # the detector's own 3 s minimum scene length swallowed the real cut behind the false one
    assert true_cut not in detector_cuts(frames, SceneParams(min_scene_seconds=3.0, rule="detector")).tolist()


def test_a_longer_minimum_keeps_the_stronger_cut():
    a, b, c = _shot(12), _shot(13), _shot(14)
    # b keeps a's bottom row of cells: the cut a -> b changes less of the frame than b -> c
    b[196:] = a[196:]
    frames = _frames([a] * 5 + [b] * 2 + [c] * 5)
    assert _cuts_and_transitions(frames)[0] == [5, 7]
    assert _cuts_and_transitions(frames, min_scene_seconds=3.0)[0] == [7]


def test_unknown_rule_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown scene rule"):
        SceneParams(rule="magic").resolved()


def test_bench_protocol_counts_a_transition_once():
    """scripts/bench_scenes.py's protocol C: greedy one-to-one, 1 s tolerance, a transition
    matched by a cut inside its span +- 1 s, and only by one."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "bench_scenes.py"
    spec = importlib.util.spec_from_file_location("bench_scenes", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # two cuts inside the fade, one just after the dissolve's span, one 1.5 s from a hard cut
    r = bench.match([10.2, 114.0, 121.0, 148.4, 31.5], [10.0, 30.0], [[109.4, 124.9], [142.4, 147.5]])
    assert (r["tp"], r["n_pred"], r["n_true"]) == (3, 5, 4)
    assert r["false"] == [121.0, 31.5] and r["missed"] == [30.0]
    assert bench.prf(3, 5, 4) == {"precision": 0.6, "recall": 0.75, "f1": 0.667}
    # a false cut is charged to each hard-negative class whose span +- 1 s holds it, else to "other"
    negatives = [("passing_object", 118.0, 120.5), ("flash", 119.0, 119.5), ("static", 0.0, 5.0)]
    assert bench.false_by_class([121.0, 31.5], negatives) == {"passing_object": 1, "other": 1}
