"""The scene rule's small views made for a whole video at once equal those made frame by frame,
bit for bit (the rule's decisions must not depend on how they were computed)."""

from __future__ import annotations

import numpy as np
import pytest

from tc139k.keyframes import thumbs
from tc139k.keyframes.motion import FrameView, frame_views
from tc139k.keyframes.scenes import SceneParams, _Views, detect_scenes, detector_cuts
from tc139k.keyframes.transitions import thumbnails

SHAPES = [(224, 224), (336, 336), (120, 160), (225, 223), (448, 252), (60, 60), (112, 112)]


def _frames(h: int, w: int, n: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + h * 7 + w)
    smooth = np.linspace(0, 200, h * w * 3).reshape(h, w, 3)
    return np.clip(smooth + rng.integers(0, 56, (n, h, w, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("h, w", SHAPES)
def test_area_reductions_of_a_stack_equal_those_of_each_frame(h, w):
    import cv2

    frames = _frames(h, w)
    for size in [(32, 32), (w // 2, h // 2), (56, 56), (28, 28)]:
        one_by_one = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
        assert np.array_equal(thumbs.area_resize(frames, size), one_by_one), size
    assert np.array_equal(
        thumbs.convert(frames, cv2.COLOR_RGB2BGR), np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames])
    )
    assert thumbs.area_resize(frames[:0], (32, 32)).shape == (0, 32, 32, 3)


@pytest.mark.parametrize("h, w", SHAPES)
def test_frame_views_of_a_video_equal_each_frames_own(h, w):
    frames = _frames(h, w)
    views = _Views(frames)
    for i, f in enumerate(frames):
        alone, batched = FrameView(f), views.view(i)
        assert np.array_equal(alone.luma, batched.luma)
        assert np.array_equal(alone.normalised, batched.normalised)
        assert np.array_equal(alone.palette, batched.palette)
    assert len(frame_views(frames[:0])) == 0


def test_the_candidate_detector_sees_the_same_half_size_frames():
    import cv2

    frames = _frames(224, 224, n=12)
    half = np.stack([cv2.resize(f, (112, 112), interpolation=cv2.INTER_AREA) for f in frames])
    views = _Views(frames)
    assert np.array_equal(views.half(), half)
    assert np.array_equal(views.half_bgr(), half[..., ::-1])
    small = _frames(48, 64)
    assert _Views(small).half() is small  # below 64 px: the frames as they are
    assert np.array_equal(
        thumbnails(frames),
        np.stack([cv2.resize(f, (32, 32), interpolation=cv2.INTER_AREA) for f in frames]).reshape(12, -1),
    )
    params = SceneParams().resolved()
    assert detector_cuts(half, params, 1).tolist() == detector_cuts(views.half(), params, 1).tolist()


def test_scene_decisions_equal_those_on_views_made_frame_by_frame(sample, monkeypatch):
    """The rule on the sample's decoded frames decides the same with every view made one
    frame at a time, as before the views were made for the whole video at once."""
    import cv2

    from tc139k.keyframes import scenes
    from tc139k.keyframes.frames import decode, list_frame_videos

    def one_by_one_half(frames):
        size = (frames.shape[2] // 2, frames.shape[1] // 2)
        return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])

    def one_by_one_thumbnails(frames):
        return np.stack([cv2.resize(f, (32, 32), interpolation=cv2.INTER_AREA).reshape(-1) for f in frames]).astype(
            np.float32
        )

    videos = [decode(spec, (224, 224)).frames for spec in list_frame_videos(sample.frames)[:3]]
    fast = [detect_scenes(frames, SceneParams()) for frames in videos]
    monkeypatch.setattr(scenes, "frame_views", lambda frames, half=None: [FrameView(f) for f in frames])
    monkeypatch.setattr(scenes, "halve", one_by_one_half)
    monkeypatch.setattr(scenes, "thumbnails", one_by_one_thumbnails)
    slow = [detect_scenes(frames, SceneParams()) for frames in videos]
    for a, b in zip(fast, slow):
        assert a.cuts.tolist() == b.cuts.tolist() and a.transitions == b.transitions
    assert sum(len(a.cuts) for a in fast) > 0
