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


def test_frame_views_of_flat_and_saturated_frames_equal_each_frames_own():
    """Black, white and flat frames (no texture: normalised to zero) and every hue, saturation
    and value level (the palette's bins at their edges) give each frame's own view."""
    import cv2

    levels = np.arange(224 * 224 * 3, dtype=np.int64).reshape(224, 224, 3) % 256
    every_hsv = cv2.cvtColor(((levels * 180) // 256).astype(np.uint8), cv2.COLOR_HSV2RGB)
    frames = np.stack([np.zeros((224, 224, 3), np.uint8), np.full((224, 224, 3), 255, np.uint8), every_hsv])
    frames = np.concatenate([frames, np.full((1, 224, 224, 3), 77, np.uint8), levels[None].astype(np.uint8)])
    for f, batched in zip(frames, frame_views(frames)):
        alone = FrameView(f)
        assert np.array_equal(alone.normalised, batched.normalised) and alone.normalised.dtype == np.float32
        assert np.array_equal(alone.palette, batched.palette) and alone.palette.dtype == np.float32


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


def test_content_scores_equal_the_detectors_own_bit_for_bit():
    """The candidate detector's scores worked out for the whole video at once are PySceneDetect
    ContentDetector's, frame by frame, and so are its cuts at a minimum of one frame."""
    import cv2
    from scenedetect import FrameTimecode
    from scenedetect.detectors import ContentDetector

    from tc139k.keyframes import scenes

    rng = np.random.default_rng(5)
    frames = _frames(112, 112, n=20)
    frames[7:] = np.roll(frames[7:], 40, axis=2)  # a few big steps, so some frames pass 27
    frames[13:] = 255 - frames[13:]
    frames[16] = rng.integers(0, 256, frames[16].shape)
    for video in (frames, frames[:1], frames[:2], frames[:0]):
        detector = ContentDetector(threshold=27.0, min_scene_len=1)
        own = []
        for i, f in enumerate(video):
            detector.process_frame(FrameTimecode(i, fps=1.0), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
            own.append(detector._frame_score)
        assert np.array_equal(scenes.content_scores(video), np.asarray(own, dtype=np.float64))
    bgr = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames]
    for threshold in (5.0, 27.0, 60.0):
        params = SceneParams(threshold=threshold)
        looped = scenes._detector_cuts_bgr(bgr, len(bgr), params, 1).tolist()
        assert scenes._detector_cuts_rgb(frames, params, 1).tolist() == looped
    assert len(scenes._detector_cuts_rgb(frames, SceneParams(), 1)) > 0


def test_bounded_decisions_equal_those_with_every_figure(sample):
    """`is_cut` skips the costly figures only when they cannot change the decision: on the
    sample's candidates it decides as the model does with every figure, whichever checks are on."""
    from tc139k.keyframes import cutmodel, scenes
    from tc139k.keyframes.frames import decode, list_frame_videos

    decided = 0
    for spec in list_frame_videos(sample.frames)[:4]:
        views = scenes._Views(decode(spec, (224, 224)).frames)
        for checks in (scenes.Checks(), scenes.Checks(features=False), scenes.Checks(steady=False)):
            neutral = checks.neutral_columns()
            for c in scenes.candidates(views, SceneParams().resolved()):
                full = cutmodel.probability(scenes.cut_features(views, c), neutral) >= cutmodel.CUT_PROBABILITY
                bounded = scenes.is_cut(scenes._Views(views.frames), c, neutral)
                assert bounded == full, (spec.video_id, c, checks)
                decided += 1
    assert decided > 20


def _local_share_cell_by_cell(a, b, shift):
    """`motion.local_share` as it was written first: every cell's own float32 std, then its search."""
    import cv2

    from tc139k.keyframes import motion as m

    c = m.THUMB // m.CELLS
    dx, dy = shift
    pad = m.SEARCH + int(np.ceil(max(abs(dx), abs(dy))))
    padded = cv2.copyMakeBorder(a.luma, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    span = c + 2 * m.SEARCH
    found = informative = 0
    for i in range(m.CELLS):
        for j in range(m.CELLS):
            block = b.luma[i * c : (i + 1) * c, j * c : (j + 1) * c]
            if float(block.std()) < m.CELL_TEXTURE:
                continue
            informative += 1
            y0 = min(max(int(round(i * c - dy)) + pad - m.SEARCH, 0), padded.shape[0] - span)
            x0 = min(max(int(round(j * c - dx)) + pad - m.SEARCH, 0), padded.shape[1] - span)
            score = cv2.matchTemplate(padded[y0 : y0 + span, x0 : x0 + span], block, cv2.TM_CCOEFF_NORMED)
            found += float(score.max()) >= m.CELL_MATCH
    return found / informative if informative else 0.0


def test_local_shifts_equal_the_cell_by_cell_search():
    """The textured cells found for all cells at once (float64, a cell near the threshold by its
    own std) and the search give what the cell-by-cell loop gave, on frames whose cells straddle
    the texture threshold."""
    from tc139k.keyframes.motion import CELL_TEXTURE, THUMB, FrameView, local_share, phase_response

    rng = np.random.default_rng(3)
    frames = _frames(224, 224, n=6)
    flat = np.full((224, 224, 3), 120, np.uint8)
    # cells whose luma spread sits just around CELL_TEXTURE on the 56 px thumbnail
    for k, level in enumerate(np.linspace(CELL_TEXTURE * 0.9, CELL_TEXTURE * 1.1, 16)):
        i, j = divmod(k, 4)
        y, x = i * 56, j * 56
        noise = rng.normal(0, level, (14, 14, 1)).repeat(4, axis=0).repeat(4, axis=1)  # 4 px: one thumbnail px
        flat[y : y + 56, x : x + 56] = np.clip(120 + noise, 0, 255).astype(np.uint8)
    videos = [FrameView(f) for f in [*frames, flat, np.roll(flat, 9, axis=1)]]
    c = THUMB // 4
    straddling = 0
    for v in videos:
        own = [
            (i, j)
            for i in range(4)
            for j in range(4)
            if float(v.luma[i * c : (i + 1) * c, j * c : (j + 1) * c].std()) >= CELL_TEXTURE
        ]
        assert v.textured_cells() == own
        straddling += 0 < len(own) < 16
    assert straddling >= 1
    for a in videos:
        for b in videos:
            shift = phase_response(a, b)[1]
            assert local_share(a, b, shift) == _local_share_cell_by_cell(a, b, shift)


def test_dissolve_differences_from_whole_levels_equal_the_float_means():
    """The dissolve finder's mean absolute differences from OpenCV's integer sums equal numpy's
    float32 means of the thumbnails bit for bit; thumbnails that are not whole levels take the
    float path."""
    from tc139k.keyframes import transitions

    rng = np.random.default_rng(11)
    videos = [thumbnails(_frames(224, 224, n=9)), rng.integers(0, 256, (12, 3072)).astype(np.float32)]
    videos.append(np.r_[np.zeros((4, 3072), np.float32), np.full((4, 3072), 255, np.float32)])
    for small in videos:
        levels = transitions._whole_levels(small)
        assert levels is not None
        for w in range(1, 7):
            fast = transitions._mean_abs_diffs(small, levels, w)
            assert fast.dtype == np.float32 and np.array_equal(fast, np.abs(small[w:] - small[:-w]).mean(axis=1))
    assert transitions._whole_levels(videos[0] + 0.5) is None
