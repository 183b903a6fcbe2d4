"""PySceneDetect over the sample's 1 fps frames against the generator's cuts."""

from __future__ import annotations

import numpy as np
import pytest

from tc139k.errors import UsageError
from tc139k.keyframes.compare import match_count, prf
from tc139k.keyframes.frames import decode, list_frame_videos
from tc139k.keyframes.scenes import DEFAULT_MIN_SCENE_SECONDS, SceneParams, detect_cuts, scene_ids


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
