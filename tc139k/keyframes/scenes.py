"""Scene starts in a 1 fps frame sequence: candidate cuts checked against what a camera take keeps.

The detectors are fed the already decoded frames one by one (`process_frame` with a
`FrameTimecode(i, fps=1.0)`, i = position in the sequence), so no second decode happens.
Detector defaults for 1 fps, where consecutive frames are a second apart:

- content:    ContentDetector, threshold 27 (HSV difference score), edges off.
- adaptive:   AdaptiveDetector, adaptive_threshold 3.0 (ratio to the +/-2 frame rolling mean),
              min_content_val 15. Its window delays decisions by 2 frames, so a cut in the last
              2 frames of a video is never reported.
- histogram:  HistogramDetector, threshold 0.2 (1 - correlation of 128-bin luma histograms).
- transnetv2: TransNetV2, a pretrained shot-boundary network (`transnet.py`; optional extra),
              threshold 0.5 on its per-frame probability.

Rule "combined" (the default). At 1 fps a second of motion lies between two frames: a pan, a
shake, a zoom or a car passing close to the camera changes as many pixels and colours as a
cut. What a cut does that they do not: nothing of the old picture is left anywhere, and it
is a step between two steady stretches, where motion goes on. So a candidate frame t (the
detector's cut, run with no minimum scene length on half-size frames, or any frame that no
common shift explains: a cut between two dark shots moves few HSV levels) is weighed on:

1. how much t - 1 explains t (`motion.py`): one common shift (a pan, a tilt, shake), local
   shifts (a zoom, a drift), cells unchanged in place (what a passing object leaves
   uncovered), key points under one affine motion (a large zoom, a rotation), the palette;
2. the same for t - 2 (an object crossing the frame in two steps changes each half in turn;
   the last frame of a fast pan and the first new frame are one boundary, not two);
3. how steady the stretches around it are (t - 2 -> t - 1 and t -> t + 1): a cut joins two
   takes that each hold together; a whip pan, a run with a handheld camera or a flight at
   speed never settles, and there a big change is motion, not a cut;
4. whether something passed by (`passes_by`): part of a fixed view stays in place at t and
   all of it is back within 3 s (a car, a van or a runner close to the camera); a cut away
   and back (a reaction shot) leaves nothing in place, so it still counts.

`cutmodel.py` weighs the 20 figures of 1-3 (a logistic model whose signs are the physics, fitted
on the tuning half of a corpus of real footage) into P(cut) (`is_cut` computes the costly figures,
local shifts and key points, only while the decision depends on them); t is a scene start when P >= 0.5,
nothing passed by (4), and it is not inside a gradual transition (`transitions.py`: a fade through black or a
dissolve is one scene start, at its first clean frame of the new shot; a flash that lights
the same view again is none). `Checks` switches each piece of evidence off, for measuring.

Minimum scene length (default 1 s, i.e. none at 1 fps): with a longer minimum, cuts closer
than it are resolved by strength (transitions first, then the most probable cut), never by
order, so a weak cut cannot hide a strong one after it.

Rule "detector": the detector's decisions alone (PySceneDetect's own minimum-length handling).
With the transnetv2 detector, "combined" keeps the network's boundaries outside fades, dips to
black and flashes, and records the gradual transitions as above.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import UsageError
from . import cutmodel
from .evidence import CellView
from .motion import PAIR_FIGURES, FrameView, frame_views, pair_figure, phase_response
from .thumbs import convert, halve
from .transitions import Transition, find_transitions, thumbnails

DETECTORS = ("content", "adaptive", "histogram", "transnetv2")
RULES = ("combined", "detector")
DEFAULT_THRESHOLDS = {"content": 27.0, "adaptive": 3.0, "histogram": 0.2, "transnetv2": 0.5}
DEFAULT_MIN_SCENE_SECONDS = 1.0
FPS = 1.0


@dataclass(frozen=True)
class SceneParams:
    detector: str = "content"
    threshold: float | None = None  # None: the detector's 1 fps default
    min_scene_seconds: float = DEFAULT_MIN_SCENE_SECONDS
    rule: str = "combined"
    # where a network detector (transnetv2) runs: auto, cpu or cuda; the stage's --device,
    # not a scene parameter, so to_dict (the scenes' record) leaves it out
    device: str = "auto"

    def resolved(self) -> SceneParams:
        if self.detector not in DETECTORS:
            raise UsageError(f"unknown scene detector {self.detector!r}; choose one of {', '.join(DETECTORS)}")
        if self.rule not in RULES:
            raise UsageError(f"unknown scene rule {self.rule!r}; choose one of {', '.join(RULES)}")
        if self.min_scene_seconds < 0:
            raise UsageError(f"minimum scene length must be >= 0 s, got {self.min_scene_seconds}")
        t = DEFAULT_THRESHOLDS[self.detector] if self.threshold is None else float(self.threshold)
        return SceneParams(self.detector, t, float(self.min_scene_seconds), self.rule, self.device)

    @property
    def min_scene_frames(self) -> int:
        return int(round(self.min_scene_seconds * FPS))

    def to_dict(self) -> dict:
        d = asdict(self.resolved())
        del d["device"]
        return d


@dataclass
class Scenes:
    cuts: np.ndarray  # positions (1..T-1, ascending) that start a scene
    transitions: list[Transition] = field(default_factory=list)
    motion_novelty: np.ndarray | None = None  # float32 (T,): see `motion_novelty`


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
    """The detector's scene starts (1..T-1, ascending) over the frames."""
    if params.detector == "transnetv2":
        from .transnet import transnet_cuts

        return transnet_cuts(frames_rgb, params.resolved().threshold, params.device)
    return _detector_cuts_rgb(frames_rgb, params, min_scene_frames)


def _detector_cuts_rgb(frames_rgb: np.ndarray, params: SceneParams, min_scene_frames: int | None) -> np.ndarray:
    """`detector_cuts` of a PySceneDetect detector, the content detector without a minimum
    scene length worked out for the whole video at once (`content_scores`)."""
    import cv2

    p = params.resolved()
    m = p.min_scene_frames if min_scene_frames is None else min_scene_frames
    if p.detector == "content" and m <= 1:
        # with a minimum of one frame ContentDetector's flash filter reports every frame whose
        # score reaches the threshold (the last frame above it is always at least one frame back)
        cuts = np.flatnonzero(content_scores(frames_rgb) >= p.threshold)
        return cuts[cuts > 0].astype(np.int64)
    bgr = (cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames_rgb)  # 5x faster than a reversed numpy copy
    return _detector_cuts_bgr(bgr, len(frames_rgb), params, min_scene_frames)


CONTENT_CHUNK = 256  # frames per step of `content_scores`: bounded temporary memory


def content_scores(frames_rgb: np.ndarray) -> np.ndarray:
    """PySceneDetect ContentDetector's frame score (default weights: the mean of the mean
    absolute differences of hue, saturation and value to the frame before; 0 for the first
    frame), float64 (T,), bit for bit as its `process_frame` computes it one frame at a time:
    the same HSV conversion (OpenCV's RGB and BGR orders share one routine), exact integer sums
    of the differences, then its float steps in its order. One OpenCV call per step for many
    frames instead of a dozen small numpy calls per frame."""
    import cv2

    t = len(frames_rgb)
    scores = np.zeros(t, dtype=np.float64)
    if t < 2:
        return scores
    h, w = frames_rgb.shape[1:3]
    pixels = float(h * w)
    for lo in range(0, t - 1, CONTENT_CHUNK):
        hsv = convert(frames_rgb[lo : lo + CONTENT_CHUNK + 1], cv2.COLOR_RGB2HSV)
        k = len(hsv) - 1
        diff = cv2.absdiff(hsv[1:].reshape(k * h, w, 3), hsv[:-1].reshape(k * h, w, 3))
        # per frame and channel: sums of at most 255 x H x W, exact in float64 (and 10x faster
        # than cv2.reduce or numpy on the three interleaved channels)
        sums = np.array([cv2.sumElems(d)[:3] for d in diff.reshape(k, h, w, 3)], dtype=np.int64).reshape(k, 3)
        hue, sat, lum = (sums[:, c] / pixels for c in range(3))
        # ContentDetector: sum(component * weight) / sum(|weight|), edges weighted 0
        scores[lo + 1 : lo + 1 + k] = (hue * 1.0 + sat * 1.0 + lum * 1.0 + 0.0 * 0.0) / 3.0
    return scores


def _detector_cuts_bgr(frames_bgr: Iterable[np.ndarray], n: int, params: SceneParams, min_scene_frames: int | None):
    """`detector_cuts` of a PySceneDetect detector over `n` BGR frames (the detectors' order)."""
    from scenedetect import FrameTimecode

    detector = make_detector(params, min_scene_frames)
    cuts: set[int] = set()
    for i, bgr in enumerate(frames_bgr):
        for tc in detector.process_frame(FrameTimecode(i, fps=FPS), bgr):
            cuts.add(int(tc.frame_num))
    if n:
        for tc in detector.post_process(FrameTimecode(n - 1, fps=FPS)):
            cuts.add(int(tc.frame_num))
    return np.asarray(sorted(c for c in cuts if 0 < c < n), dtype=np.int64)


@dataclass(frozen=True)
class Checks:
    """The evidence of the combined rule (module docstring); each piece can be switched off
    (its figures then take their mean over the fitting set: no information either way), to
    measure what it brings (the benchmark's ablation, the tests)."""

    shift: bool = True  # one common shift: a pan, a tilt, shake
    local: bool = True  # local shifts: a zoom, a drift, a partly covered frame
    still: bool = True  # cells unchanged in place: what a passing object leaves uncovered
    features: bool = True  # key points under one affine motion
    palette: bool = True  # the colours stayed
    two_back: bool = True  # t - 2 against t
    steady: bool = True  # t - 2 against t - 1, t against t + 1
    passing: bool = True  # part of the view stays and all of it comes back: something passed by
    transitions: bool = True  # fades and dissolves

    def neutral_columns(self) -> list[int]:
        """Columns of `cut_features` that this switch-set replaces by their mean."""
        cols: list[int] = []
        for k, name in enumerate(PAIR_FIGURES):
            if not getattr(self, name):
                cols += [g * len(PAIR_FIGURES) + k for g in range(len(cutmodel.GROUPS))]
        for name, groups in (("two_back", ["two_back"]), ("steady", ["before", "after"])):
            if not getattr(self, name):
                for g in groups:
                    i = cutmodel.GROUPS.index(g) * len(PAIR_FIGURES)
                    cols += list(range(i, i + len(PAIR_FIGURES)))
        return sorted(set(cols))


SHIFT_CANDIDATE = 0.3  # frames that no common shift explains this well are candidates too
STILL = PAIR_FIGURES.index("still")
STAYS_IN_PLACE = 0.25  # a quarter of the view's cells unchanged in place: the camera is still there
PARTLY_STILL = 0.15  # a passing object leaves this share of the view's cells in place
RETURN_STILL = 0.8  # and, once gone, nearly all of them
RETURN_FRAMES = 3  # seconds an object may take to pass
UNKNOWN = np.full(len(PAIR_FIGURES), np.nan)  # before the first or after the last frame: no information


def detect_scenes(frames_rgb: np.ndarray, params: SceneParams, checks: Checks = Checks()) -> Scenes:
    """Scene starts and gradual transitions of one video. `frames_rgb`: uint8 (T, H, W, 3)."""
    p = params.resolved()
    views = _Views(frames_rgb)
    if p.rule == "detector":
        return Scenes(detector_cuts(frames_rgb, p), motion_novelty=motion_novelty(views))
    n = len(frames_rgb)
    transitions, quiet = ([], [])
    if checks.transitions and n >= 3:
        transitions, quiet = find_transitions(thumbnails(frames_rgb), views.cells)
    strength: dict[int, float] = {t.end: 2.0 for t in transitions if t.new_scene}
    if p.detector == "transnetv2":
        accepted = {c: 1.0 for c in detector_cuts(frames_rgb, p).tolist()}
    else:
        accepted, neutral = {}, checks.neutral_columns()
        for c in candidates(views, p):
            if any(a < c <= b for a, b in quiet) or (checks.passing and passes_by(views, c)):
                continue  # decided without the model: its figures are not needed
            if p.min_scene_frames <= 1:  # every accepted cut is kept: only the decision counts
                if is_cut(views, c, neutral):
                    accepted[c] = 1.0
                continue
            probability = cutmodel.probability(cut_features(views, c), neutral)
            if probability >= cutmodel.CUT_PROBABILITY:
                accepted[c] = probability
    for c, score in accepted.items():
        if not any(a < c <= b for a, b in quiet):
            strength[c] = max(strength.get(c, 0.0), score)
    return Scenes(_keep_apart(strength, p.min_scene_frames), transitions, motion_novelty(views))


def motion_novelty(views: _Views) -> np.ndarray:
    """Per frame, the share of the picture that one common shift of the frame before does not
    explain: 1 - the phase-correlation peak, in [0, 1] (1 for the first frame). Shake and a pan
    move the picture without making it new; what a pan reveals, an object brings or a cut
    replaces is new. The key-frame rule takes the smaller of this and the DTD novelty."""
    n = len(views.frames)
    out = np.ones(n, dtype=np.float32)
    for t in range(1, n):
        out[t] = 1.0 - min(max(views.shift(t - 1, t)[0], 0.0), 1.0)
    return out


def candidates(views: _Views, params: SceneParams) -> list[int]:
    """The detector's cuts (no minimum length, on half-size frames) and the frames that no
    common shift explains (a cut between two dark or two grey shots moves few HSV levels)."""
    proposed = set(_detector_cuts_rgb(views.half(), params, min_scene_frames=1).tolist())
    proposed |= {t for t in range(1, len(views.frames)) if views.shift(t - 1, t)[0] < SHIFT_CANDIDATE}
    return sorted(proposed)


def passes_by(views: _Views, t: int) -> bool:
    """Something passed in front of a fixed view at t: a good part of the view (as it was at
    t - 1 or t - 2: an object may take two frames to cross) is still in place at t
    (STAYS_IN_PLACE of its cells), or some of it is (PARTLY_STILL) and the whole of it is back
    within RETURN_FRAMES (RETURN_STILL). A cut leaves nothing in place but a logo or a caption
    box, and a cut away and back (a reaction shot) leaves nothing in place at t."""
    n = len(views.frames)
    for before in (t - 1, t - 2):
        if before < 0:
            continue
        in_place = views.figure(before, t, STILL)
        if in_place >= STAYS_IN_PLACE:
            return True
        if in_place >= PARTLY_STILL and any(
            views.figure(before, t + k, STILL) >= RETURN_STILL for k in range(1, RETURN_FRAMES + 1) if t + k < n
        ):
            return True
    return False


def cut_features(views: _Views, t: int) -> np.ndarray:
    """The evidence about a cut at t: PAIR_FIGURES for each of cutmodel.GROUPS, in order; NaN
    where a pair does not exist (the model takes the figure's mean there)."""
    return np.concatenate([UNKNOWN if p is None else views.pair(*p) for p in _pairs_of(t, len(views.frames))])


def _pairs_of(t: int, n: int) -> list[tuple[int, int] | None]:
    """The frame pairs of cutmodel.GROUPS for a candidate at t (None: no such pair)."""
    return [
        (t - 1, t),
        (t - 2, t) if t >= 2 else (t - 1, t),
        (t - 2, t - 1) if t >= 2 else None,
        (t, t + 1) if t + 1 < n else None,
    ]


LOCAL, FEATURES = PAIR_FIGURES.index("local"), PAIR_FIGURES.index("features")
COSTLY = (LOCAL, FEATURES)  # the figures worth skipping (a cell search; ORB key points, matching, RANSAC)
MARGIN = 1e-9  # of the model's log-odds: bounds this far from the threshold decide, whatever rounding


def is_cut(views: _Views, t: int, neutral: list[int] = ()) -> bool:
    """`cutmodel.probability(cut_features(views, t), neutral) >= CUT_PROBABILITY`, computing
    the costly figures (COSTLY: local shifts, key points) only while the decision depends on
    them. Every figure is on a 0..1 scale and the model is linear in them, so with the cheap
    figures known the log-odds lie between the sums of the costly ones' negative and positive
    weights: once that interval is clear of the threshold the decision is made, exactly as with
    every figure (a cut between two steady shots is decided by its shifts, cells in place and
    palette alone). Which figures get computed, and in which order, changes no decision, only
    the time it takes."""
    cols = len(PAIR_FIGURES)
    pairs = _pairs_of(t, len(views.frames))
    x = cutmodel.MEANS.copy()  # what stays unknown or neutral takes its mean, as in `probability`
    open_: list[int] = []  # costly columns whose weight matters, not yet computed
    for g, pair in enumerate(pairs):
        for k in range(cols):
            col = g * cols + k
            if pair is None or col in neutral or cutmodel.WEIGHTS[col] == 0.0:
                continue
            if k in COSTLY:
                open_.append(col)
            else:
                x[col] = views.figure(*pair, k)
    # local shifts first (a quarter of the cost of key points), each kind by the size of its weight
    open_.sort(key=lambda col: (col % cols != LOCAL, -abs(float(cutmodel.WEIGHTS[col])), col))
    threshold = float(np.log(cutmodel.CUT_PROBABILITY / (1.0 - cutmodel.CUT_PROBABILITY)))
    while open_:
        w = cutmodel.WEIGHTS[open_]
        known = cutmodel.BIAS + float(cutmodel.WEIGHTS @ x) - float(w @ x[open_])
        if known + float(np.minimum(w, 0.0).sum()) > threshold + MARGIN:
            return True
        if known + float(np.maximum(w, 0.0).sum()) < threshold - MARGIN:
            return False
        col = open_.pop(0)
        x[col] = views.figure(*pairs[col // cols], col % cols)
    # every figure that counts is known: the same log-odds as `cut_features` gives (a column of
    # weight 0 adds 0 whatever its value)
    return cutmodel.probability(x, neutral) >= cutmodel.CUT_PROBABILITY


class _Views:
    """Per-frame views and pair figures of one video, each computed once. The small views (the
    half-size frames of the candidate detector, the thumbnails of `FrameView`) are made for
    all frames at once, on first use, each from the one before it."""

    def __init__(self, frames: np.ndarray):
        self.frames = frames
        self._views: list[FrameView] | None = None
        self._cells: dict[int, CellView] = {}
        self._shift: dict[tuple[int, int], tuple[float, tuple[float, float]]] = {}
        self._pairs: dict[tuple[int, int], np.ndarray] = {}
        self._half: np.ndarray | None = None

    def view(self, i: int) -> FrameView:
        if self._views is None:
            self._views = frame_views(self.frames, self._halved())
        return self._views[i]

    def cells(self, i: int) -> CellView:
        if i not in self._cells:
            self._cells[i] = CellView(self.frames[i])
        return self._cells[i]

    def shift(self, a: int, b: int) -> tuple[float, tuple[float, float]]:
        if (a, b) not in self._shift:
            self._shift[a, b] = phase_response(self.view(a), self.view(b))
        return self._shift[a, b]

    def figure(self, a: int, b: int, k: int) -> float:
        """Figure PAIR_FIGURES[k] of the pair a -> b, computed on first use."""
        figures = self._pairs.get((a, b))
        if figures is None:
            figures = self._pairs[a, b] = np.full(len(PAIR_FIGURES), np.nan)
        if np.isnan(figures[k]):
            figures[k] = pair_figure(self.view(a), self.view(b), k, self.shift(a, b))
        return float(figures[k])

    def pair(self, a: int, b: int) -> np.ndarray:
        """All PAIR_FIGURES of the pair a -> b (`motion.pair_figures`)."""
        for k in range(len(PAIR_FIGURES)):
            self.figure(a, b, k)
        return self._pairs[a, b].copy()

    def _halved(self) -> np.ndarray | None:
        """The frames area-reduced to half size (None when they are below 64 px)."""
        if self._half is None and min(self.frames.shape[1:3]) >= 64:
            self._half = halve(self.frames)
        return self._half

    def half(self) -> np.ndarray:
        """The frames at half size for the candidate detector (its score is a mean: the size
        barely moves it, and it costs a quarter)."""
        half = self._halved()
        return self.frames if half is None else half

    def half_bgr(self) -> np.ndarray:
        """`half()` in the detector's BGR order, converted in one call."""
        import cv2

        return convert(self.half(), cv2.COLOR_RGB2BGR)


def _keep_apart(strength: dict[int, float], min_frames: int) -> np.ndarray:
    """The strongest cuts first; a cut closer than `min_frames` to a kept one (or to the
    video's first frame) is dropped."""
    kept: list[int] = [0]
    for c in sorted(strength, key=lambda c: (-strength[c], c)):
        if all(abs(c - k) >= min_frames for k in kept):
            kept.append(c)
    return np.asarray(sorted(kept[1:]), dtype=np.int64)


def detect_cuts(frames_rgb: np.ndarray, params: SceneParams, checks: Checks = Checks()) -> np.ndarray:
    """Positions (1..T-1, ascending) of the frames that start a new scene."""
    return detect_scenes(frames_rgb, params, checks).cuts


def scene_ids(n_frames: int, cuts: np.ndarray) -> np.ndarray:
    """Scene number of each frame, from 0, given the positions that start a scene."""
    ids = np.zeros(n_frames, dtype=np.int32)
    for c in np.asarray(cuts, dtype=np.int64):
        ids[c:] += 1
    return ids
