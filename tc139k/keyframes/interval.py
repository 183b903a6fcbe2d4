"""The mean key-frame interval: one definition for every report (keyframes, stats, pipeline).

    mean interval = total span of the videos / total number of key frames
    span of a video = last frame time - first frame time + one frame step (1 s at 1 fps)

This is the figure the key-frame level is calibrated to and the one compared with the
published 7.14 s. It is not the mean gap between consecutive key frames (the gaps of a video
miss the time after its last key frame, so their mean is shorter); reports that show gaps
name them as gaps.
"""

from __future__ import annotations

import numpy as np

FRAME_STEP_SECONDS = 1.0  # frames are sampled at 1 fps
DEFINITION = "total video span / key frames (span = last - first frame time + 1 s)"


def video_span(seconds) -> float:
    """Seconds a video's frames cover: last - first frame time + one frame step (0 if none)."""
    s = np.asarray(seconds, dtype=np.float64)
    return float(s[-1] - s[0] + FRAME_STEP_SECONDS) if len(s) else 0.0


def mean_interval(total_span: float, n_keyframes: int) -> float | None:
    """Seconds of video per key frame; None when there is no key frame."""
    return total_span / n_keyframes if n_keyframes else None
