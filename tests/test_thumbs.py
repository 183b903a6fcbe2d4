"""tc139k/keyframes/thumbs.py: a whole video's reduction in one call is pixel for pixel each
frame's own `cv2.resize(..., INTER_AREA)`, for every kind of size: a whole factor on both
axes (the one-call path), a factor that is whole on one axis only or on neither (a block of
the tall image would straddle two frames), an enlargement, grey and colour frames, one frame
and none."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tc139k.keyframes.thumbs import area_resize, convert, halve


def _frames(t: int, h: int, w: int, channels: int | None) -> np.ndarray:
    rng = np.random.default_rng(t * 1000 + h * 10 + w)
    shape = (t, h, w) if channels is None else (t, h, w, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize(
    "h, w, size",
    [
        (224, 224, (56, 56)),  # whole factor 4 on both axes
        (96, 64, (32, 48)),  # whole factors 2 and 2 with other shapes
        (100, 90, (30, 45)),  # whole on the width only: 90 / 45, 100 / 30 is not
        (90, 100, (45, 30)),  # whole on the height only
        (100, 100, (30, 30)),  # whole on neither
        (28, 28, (56, 56)),  # an enlargement: 28 % 56 == 28
        (30, 60, (60, 15)),  # enlarged on one axis, reduced by a whole factor on the other
    ],
)
@pytest.mark.parametrize("channels", [None, 3])
def test_area_resize_equals_each_frame_resized_on_its_own(h, w, size, channels):
    frames = _frames(5, h, w, channels)
    got = area_resize(frames, size)
    want = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(got, want)


def test_one_frame_and_no_frame():
    one = _frames(1, 64, 48, 3)
    assert np.array_equal(area_resize(one, (24, 32))[0], cv2.resize(one[0], (24, 32), interpolation=cv2.INTER_AREA))
    none = area_resize(np.zeros((0, 64, 48, 3), dtype=np.uint8), (24, 32))
    assert none.shape == (0, 32, 24, 3) and none.dtype == np.uint8
    grey = convert(np.zeros((0, 8, 8, 3), dtype=np.uint8), cv2.COLOR_RGB2GRAY)
    assert grey.shape == (0, 8, 8) and grey.dtype == np.uint8
    assert convert(np.zeros((0, 8, 8, 3), dtype=np.uint8), cv2.COLOR_RGB2HSV).shape == (0, 8, 8, 3)


def test_halve_keeps_the_aspect_of_frames_that_are_not_square():
    frames = _frames(3, 64, 96, 3)
    got = halve(frames)
    assert got.shape == (3, 32, 48, 3)
    assert np.array_equal(got[1], cv2.resize(frames[1], (48, 32), interpolation=cv2.INTER_AREA))


def test_convert_is_each_frame_converted():
    frames = _frames(4, 20, 30, 3)
    got = convert(frames, cv2.COLOR_RGB2HSV)
    assert np.array_equal(got, np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2HSV) for f in frames]))
    grey = convert(frames, cv2.COLOR_RGB2GRAY)
    assert grey.shape == (4, 20, 30)
