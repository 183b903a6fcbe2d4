"""Scene cuts with PySceneDetect over a 1 fps frame sequence.

The detectors are fed the already decoded frames one by one (`process_frame` with a
`FrameTimecode(i, fps=1.0)`, i = position in the sequence), so no second decode happens.
Defaults are chosen for 1 fps, where consecutive frames are a second apart and motion within
a scene changes a frame far more than at 25 fps:

- content:   ContentDetector, threshold 27 (HSV difference score), edges off.
- adaptive:  AdaptiveDetector, adaptive_threshold 3.0 (ratio to the +/-2 frame rolling mean),
             min_content_val 15. Its window delays decisions by 2 frames, so a cut in the last
             2 frames of a video is never reported.
- histogram: HistogramDetector, threshold 0.2 (1 - correlation of 128-bin luma histograms).

Minimum scene length: 3 s (3 frames at 1 fps) for every detector; the content detector
merges cuts closer than that (flash filter), the others suppress them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import UsageError

DETECTORS = ("content", "adaptive", "histogram")
DEFAULT_THRESHOLDS = {"content": 27.0, "adaptive": 3.0, "histogram": 0.2}
DEFAULT_MIN_SCENE_SECONDS = 3.0
FPS = 1.0


@dataclass(frozen=True)
class SceneParams:
    detector: str = "content"
    threshold: float | None = None  # None: the detector's 1 fps default
    min_scene_seconds: float = DEFAULT_MIN_SCENE_SECONDS

    def resolved(self) -> SceneParams:
        if self.detector not in DETECTORS:
            raise UsageError(f"unknown scene detector {self.detector!r}; choose one of {', '.join(DETECTORS)}")
        if self.min_scene_seconds < 0:
            raise UsageError(f"minimum scene length must be >= 0 s, got {self.min_scene_seconds}")
        t = DEFAULT_THRESHOLDS[self.detector] if self.threshold is None else float(self.threshold)
        return SceneParams(self.detector, t, float(self.min_scene_seconds))

    @property
    def min_scene_frames(self) -> int:
        return int(round(self.min_scene_seconds * FPS))

    def to_dict(self) -> dict:
        return asdict(self.resolved())


def make_detector(params: SceneParams):
    from scenedetect.detectors import AdaptiveDetector, ContentDetector, HistogramDetector

    p = params.resolved()
    if p.detector == "content":
        return ContentDetector(threshold=p.threshold, min_scene_len=p.min_scene_frames)
    if p.detector == "adaptive":
        return AdaptiveDetector(
            adaptive_threshold=p.threshold, min_scene_len=p.min_scene_frames, window_width=2, min_content_val=15.0
        )
    return HistogramDetector(threshold=p.threshold, bins=128, min_scene_len=p.min_scene_frames)


def detect_cuts(frames_rgb: np.ndarray, params: SceneParams) -> np.ndarray:
    """Positions (1..T-1, ascending) of the frames that start a new scene.

    `frames_rgb`: uint8 (T, H, W, 3), consecutive frames of one video at 1 fps."""
    from scenedetect import FrameTimecode

    detector = make_detector(params)
    cuts: set[int] = set()
    n = len(frames_rgb)
    for i in range(n):
        bgr = np.ascontiguousarray(frames_rgb[i, :, :, ::-1])
        for tc in detector.process_frame(FrameTimecode(i, fps=FPS), bgr):
            cuts.add(int(tc.frame_num))
    if n:
        for tc in detector.post_process(FrameTimecode(n - 1, fps=FPS)):
            cuts.add(int(tc.frame_num))
    return np.asarray(sorted(c for c in cuts if 0 < c < n), dtype=np.int64)


def scene_ids(n_frames: int, cuts: np.ndarray) -> np.ndarray:
    """Scene number of each frame, from 0, given the positions that start a scene."""
    ids = np.zeros(n_frames, dtype=np.int32)
    for c in np.asarray(cuts, dtype=np.int64):
        ids[c:] += 1
    return ids
