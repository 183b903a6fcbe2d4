"""Scene starts in a 1 fps frame sequence: PySceneDetect's candidates checked against what changed.

The detectors are fed the already decoded frames one by one (`process_frame` with a
`FrameTimecode(i, fps=1.0)`, i = position in the sequence), so no second decode happens.
Detector defaults for 1 fps, where consecutive frames are a second apart:

- content:   ContentDetector, threshold 27 (HSV difference score), edges off.
- adaptive:  AdaptiveDetector, adaptive_threshold 3.0 (ratio to the +/-2 frame rolling mean),
             min_content_val 15. Its window delays decisions by 2 frames, so a cut in the last
             2 frames of a video is never reported.
- histogram: HistogramDetector, threshold 0.2 (1 - correlation of 128-bin luma histograms).

Rule "combined" (the default). At 1 fps a car passing close to the camera changes half the
frame and colours as much as a cut does, so the detector's word (run with no minimum scene
length) only proposes a candidate frame t. It becomes a scene start when

1. the picture changed almost everywhere: `evidence.change_share` >= CUT_SHARE (0.8 of the
   informative 8 x 8 cells) from t - 1 to t and from t - 2 to t (a passing object changes a
   part of the frame, and an object crossing it in two seconds changes each half in turn), and
2. the old picture does not come back at t + 1 (`change_share(t - 1, t + 1) >= RETURN_SHARE`):
   a flash or an object crossing in one frame; the return at t + 1 then fails test 1, and
3. it is not inside a gradual transition (`transitions.py`: a fade through black or a
   dissolve is one scene start, at its first clean frame of the new shot).

Minimum scene length (default 1 s, i.e. none at 1 fps): checked cuts need no suppression
window, and a window only ever hid true cuts behind false ones. With a longer minimum, cuts
closer than it are resolved by strength (transitions first, then the larger change share),
never by order, so a weak cut cannot hide a strong one after it.

Rule "detector": PySceneDetect's decisions alone (its own minimum-length handling), as before.

Measured and not used: whole-frame HSV and luma histogram distances separate cuts from
motion worse than the detector's score does (dark film: 0.11 at a cut, 0.2 inside a fade).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import UsageError
from .evidence import CellView, change_share
from .transitions import Transition, find_transitions, thumbnails

DETECTORS = ("content", "adaptive", "histogram")
RULES = ("combined", "detector")
DEFAULT_THRESHOLDS = {"content": 27.0, "adaptive": 3.0, "histogram": 0.2}
DEFAULT_MIN_SCENE_SECONDS = 1.0
CUT_SHARE = 0.8
RETURN_SHARE = 0.5
FPS = 1.0


@dataclass(frozen=True)
class SceneParams:
    detector: str = "content"
    threshold: float | None = None  # None: the detector's 1 fps default
    min_scene_seconds: float = DEFAULT_MIN_SCENE_SECONDS
    rule: str = "combined"

    def resolved(self) -> SceneParams:
        if self.detector not in DETECTORS:
            raise UsageError(f"unknown scene detector {self.detector!r}; choose one of {', '.join(DETECTORS)}")
        if self.rule not in RULES:
            raise UsageError(f"unknown scene rule {self.rule!r}; choose one of {', '.join(RULES)}")
        if self.min_scene_seconds < 0:
            raise UsageError(f"minimum scene length must be >= 0 s, got {self.min_scene_seconds}")
        t = DEFAULT_THRESHOLDS[self.detector] if self.threshold is None else float(self.threshold)
        return SceneParams(self.detector, t, float(self.min_scene_seconds), self.rule)

    @property
    def min_scene_frames(self) -> int:
        return int(round(self.min_scene_seconds * FPS))

    def to_dict(self) -> dict:
        return asdict(self.resolved())


@dataclass
class Scenes:
    cuts: np.ndarray  # positions (1..T-1, ascending) that start a scene
    transitions: list[Transition] = field(default_factory=list)


def make_detector(params: SceneParams, min_scene_frames: int | None = None):
    from scenedetect.detectors import AdaptiveDetector, ContentDetector, HistogramDetector

    p = params.resolved()
    m = p.min_scene_frames if min_scene_frames is None else min_scene_frames
    if p.detector == "content":
        return ContentDetector(threshold=p.threshold, min_scene_len=m)
    if p.detector == "adaptive":
        return AdaptiveDetector(adaptive_threshold=p.threshold, min_scene_len=m, window_width=2, min_content_val=15.0)
    return HistogramDetector(threshold=p.threshold, bins=128, min_scene_len=m)


def detector_cuts(frames_rgb: np.ndarray, params: SceneParams, min_scene_frames: int | None = None) -> np.ndarray:
    """PySceneDetect's scene starts (1..T-1, ascending) over the frames."""
    import cv2
    from scenedetect import FrameTimecode

    detector = make_detector(params, min_scene_frames)
    cuts: set[int] = set()
    n = len(frames_rgb)
    for i in range(n):
        bgr = cv2.cvtColor(frames_rgb[i], cv2.COLOR_RGB2BGR)  # 5x faster than a reversed numpy copy
        for tc in detector.process_frame(FrameTimecode(i, fps=FPS), bgr):
            cuts.add(int(tc.frame_num))
    if n:
        for tc in detector.post_process(FrameTimecode(n - 1, fps=FPS)):
            cuts.add(int(tc.frame_num))
    return np.asarray(sorted(c for c in cuts if 0 < c < n), dtype=np.int64)


def detect_scenes(frames_rgb: np.ndarray, params: SceneParams) -> Scenes:
    """Scene starts and gradual transitions of one video. `frames_rgb`: uint8 (T, H, W, 3)."""
    p = params.resolved()
    if p.rule == "detector":
        return Scenes(detector_cuts(frames_rgb, p))
    n = len(frames_rgb)
    candidates = detector_cuts(frames_rgb, p, min_scene_frames=1)
    views: dict[int, CellView] = {}

    def cells(i: int) -> CellView:
        if i not in views:
            views[i] = CellView(frames_rgb[i])
        return views[i]

    transitions, quiet = find_transitions(thumbnails(frames_rgb), cells) if n >= 3 else ([], [])
    strength: dict[int, float] = {t.end: 2.0 for t in transitions if t.new_scene}
    for c in candidates.tolist():
        if any(a < c <= b for a, b in quiet):
            continue
        # against the frame before and the one before that: an object crossing the frame in
        # two steps changes each half in turn, and never the whole picture against c - 2
        share = min(change_share(cells(p), cells(c)) for p in (c - 1, c - 2) if p >= 0)
        if share < CUT_SHARE:
            continue
        if c + 1 < n and change_share(cells(c - 1), cells(c + 1)) < RETURN_SHARE:
            continue  # the old picture is back at c + 1 (and c + 1 then fails the test above)
        strength[c] = max(strength.get(c, 0.0), share)
    return Scenes(_keep_apart(strength, p.min_scene_frames), transitions)


def _keep_apart(strength: dict[int, float], min_frames: int) -> np.ndarray:
    """The strongest cuts first; a cut closer than `min_frames` to a kept one (or to the
    video's first frame) is dropped."""
    kept: list[int] = [0]
    for c in sorted(strength, key=lambda c: (-strength[c], c)):
        if all(abs(c - k) >= min_frames for k in kept):
            kept.append(c)
    return np.asarray(sorted(kept[1:]), dtype=np.int64)


def detect_cuts(frames_rgb: np.ndarray, params: SceneParams) -> np.ndarray:
    """Positions (1..T-1, ascending) of the frames that start a new scene."""
    return detect_scenes(frames_rgb, params).cuts


def scene_ids(n_frames: int, cuts: np.ndarray) -> np.ndarray:
    """Scene number of each frame, from 0, given the positions that start a scene."""
    ids = np.zeros(n_frames, dtype=np.int32)
    for c in np.asarray(cuts, dtype=np.int64):
        ids[c:] += 1
    return ids
