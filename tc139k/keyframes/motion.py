"""What stays the same between two frames of one shot: the scene rule's evidence against a cut.

Inside one camera take, a second later, the new frame is mostly the old one seen from a moved
camera (a pan, a tilt, shake: a shift of the whole picture; a zoom or a drift: a shift that
varies across the frame), with parts covered by something passing, or with its light changed.
After a cut nothing of the old picture is there, wherever one looks. So each test below asks
"is the new frame explained by the old one under some camera motion?", and a frame pair that
any test explains is not a cut:

- `phase_response`: phase correlation of the two 56 x 56 luma thumbnails (each normalised to
  zero mean and unit variance, so a dark or a brightened picture counts like any other). Its
  peak is the share of the picture that one common shift explains: high for a pan, a tilt or
  shake whatever its size (up to half the frame), near zero across a cut.
- `local_share`: the share of the informative cells of the new frame (4 x 4 cells of 14 px)
  found in the old frame within `SEARCH` px of where the global shift puts them (normalised
  cross-correlation >= `CELL_MATCH`): a zoom, a drift, a reframing or parallax moves each
  region by its own small shift; a passing object leaves the other cells in place.
- `feature_inliers`: ORB key points of the frames halved to 112 px (histogram-equalised, so
  dark film keeps its corners) matched and checked by RANSAC against one affine motion; the
  share of key points that agree. By chance 0.02 to 0.04 of them agree across a cut; any true
  common view gives several times that. It catches a large zoom, a rotation and strong parallax.
  It is the costliest test (about 1 ms a frame at 112 px).
- `still_share`: the share of informative cells left exactly as they were, in place (normalised
  cross-correlation >= `STILL_MATCH`, mean level within `STILL_LEVELS`): with a fixed camera,
  what a passing object or a person does not cover; across a cut only a channel logo or a
  caption box stays, one cell or two.
- `palette_similarity`: overlap of the two frames' colour distributions (hue x saturation and
  value histograms of a 28 x 28 thumbnail). Camera motion and objects keep a scene's palette;
  a cut nearly always changes it. It is motion-blind evidence, so it is used as support, not
  alone.

Each figure is computed from a `FrameView`, made once per frame; ORB key points only when asked.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field

import numpy as np

from . import thumbs

THUMB = 56  # luma thumbnail: 224 / 4, an exact area reduction
CELLS = 4
SEARCH = 5  # px of the 56 px thumbnail (9 % of the frame) around the global shift
CELL_TEXTURE = 3.0  # luma standard deviation (0-255) above which a cell is informative
CELL_MATCH = 0.7
STD_DOUBT = 1e-3  # float32 and float64 standard deviations of a cell differ far less than this
STILL_MATCH = 0.95
STILL_LEVELS = 8.0
PALETTE_SIZE = 28
HUE_BINS, SAT_BINS, VALUE_BINS = 12, 4, 8
ORB_FEATURES = 200
ORB_SIZE = 112  # key points are found on the frame halved down to this size
RANSAC_PX = 2.0
MIN_FEATURES = 12  # fewer key points than this in either frame: no verdict (flat or black)

_WINDOW: np.ndarray | None = None
_ORB = None


def _window() -> np.ndarray:
    global _WINDOW
    if _WINDOW is None:
        import cv2

        _WINDOW = cv2.createHanningWindow((THUMB, THUMB), cv2.CV_32F)
    return _WINDOW


@dataclass
class FrameView:
    """The per-frame figures the tests need. `frame`: uint8 RGB (H, W, 3). `gray` and `hsv`,
    when given, are the frame's thumbnails already made (`frame_views` makes them for a whole
    video at once): the luma of the THUMB x THUMB thumbnail and the HSV of the palette one."""

    frame: np.ndarray
    gray: InitVar[np.ndarray | None] = None  # uint8 (THUMB, THUMB)
    hsv: InitVar[np.ndarray | None] = None  # uint8 (PALETTE_SIZE, PALETTE_SIZE, 3)
    luma: np.ndarray = field(init=False)  # float32 (THUMB, THUMB), 0-255
    normalised: np.ndarray = field(init=False)  # zero mean, unit variance (or zero when flat)
    palette: np.ndarray = field(init=False)  # concatenated, each histogram sums to 1
    _features: tuple | None = field(init=False, default=None)
    _textured: list | None = field(init=False, default=None)

    def __post_init__(self, gray: np.ndarray | None, hsv: np.ndarray | None) -> None:
        import cv2

        if gray is None or hsv is None:
            small = _thumbnails(self.frame[None])[0]
            tiny = cv2.resize(small, (PALETTE_SIZE, PALETTE_SIZE), interpolation=cv2.INTER_AREA)
            gray, hsv = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), cv2.cvtColor(tiny, cv2.COLOR_RGB2HSV)
        self.luma = gray.astype(np.float32)
        std = float(self.luma.std())
        self.normalised = (self.luma - float(self.luma.mean())) / std if std > 0.5 else np.zeros_like(self.luma)
        self.palette = _palette(hsv)

    @classmethod
    def _made(cls, frame: np.ndarray, luma: np.ndarray, normalised: np.ndarray, palette: np.ndarray) -> FrameView:
        """A view whose figures `frame_views` computed for the whole video at once."""
        view = cls.__new__(cls)
        view.frame, view.luma, view.normalised, view.palette = frame, luma, normalised, palette
        view._features = view._textured = None
        return view

    def textured_cells(self) -> list[tuple[int, int]]:
        """(row, column) of the CELLS x CELLS cells of `luma` whose standard deviation reaches
        CELL_TEXTURE, computed once. All cells in one float64 step; a cell within STD_DOUBT of
        the threshold is decided by its own float32 `std()`, as each cell was before."""
        if self._textured is None:
            c = THUMB // CELLS
            blocks = self.luma.reshape(CELLS, c, CELLS, c).transpose(0, 2, 1, 3).reshape(CELLS, CELLS, c * c)
            std = blocks.std(axis=-1, dtype=np.float64)
            self._textured = [
                (i, j)
                for i in range(CELLS)
                for j in range(CELLS)
                if (float(blocks[i, j].std()) if abs(std[i, j] - CELL_TEXTURE) < STD_DOUBT else std[i, j])
                >= CELL_TEXTURE
            ]
        return self._textured

    def features(self) -> tuple:
        """(points (N, 2) float32, ORB descriptors or None), computed once."""
        if self._features is None:
            import cv2

            global _ORB
            if _ORB is None:
                _ORB = cv2.ORB_create(nfeatures=ORB_FEATURES, fastThreshold=10, edgeThreshold=15, patchSize=15)
            gray = cv2.cvtColor(self.frame, cv2.COLOR_RGB2GRAY)
            while min(gray.shape) >= 2 * ORB_SIZE:  # halvings: exact and fast
                gray = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2), interpolation=cv2.INTER_AREA)
            keypoints, descriptors = _ORB.detectAndCompute(cv2.equalizeHist(gray), None)
            points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
            self._features = (points, descriptors)
        return self._features


def _thumbnails(frames: np.ndarray, half: np.ndarray | None = None) -> np.ndarray:
    """(T, THUMB, THUMB, 3): each frame halved (exact, fast area reductions) while at least
    2 x THUMB, then area-resized to THUMB x THUMB. `half`: the frames halved already."""
    small = frames
    if half is not None and min(frames.shape[1:3]) >= 2 * THUMB:
        small = half  # the first halving
    while min(small.shape[1:3]) >= 2 * THUMB:
        small = thumbs.halve(small)
    if small.shape[1:3] != (THUMB, THUMB):
        small = thumbs.area_resize(small, (THUMB, THUMB))
    return small


def _palette(hsv: np.ndarray) -> np.ndarray:
    import cv2

    hs = cv2.calcHist([hsv], [0, 1], None, [HUE_BINS, SAT_BINS], [0, 180, 0, 256]).ravel()
    v = cv2.calcHist([hsv], [2], None, [VALUE_BINS], [0, 256]).ravel()
    return np.concatenate([hs / max(hs.sum(), 1.0), v / max(v.sum(), 1.0)]).astype(np.float32)


def frame_views(frames: np.ndarray, half: np.ndarray | None = None) -> list[FrameView]:
    """`FrameView` of every frame of (T, H, W, 3), the same figures as one by one, with the
    thumbnails made for the whole video at once (`thumbs.py`). `half`: the frames already
    halved (`thumbs.halve`), reused as the first reduction."""
    import cv2

    if len(frames) == 0:
        return []
    small = _thumbnails(frames, half)
    gray = thumbs.convert(small, cv2.COLOR_RGB2GRAY)
    hsv = thumbs.convert(thumbs.area_resize(small, (PALETTE_SIZE, PALETTE_SIZE)), cv2.COLOR_RGB2HSV)
    # each frame's mean and std as FrameView takes them: numpy reduces each frame's contiguous
    # pixels in the same pairwise order whether one frame or a stack of them is reduced
    luma = gray.astype(np.float32)
    mean = luma.mean(axis=(1, 2), keepdims=True)
    std = luma.std(axis=(1, 2), keepdims=True)
    textured = std > 0.5
    normalised = np.zeros_like(luma)
    if textured.any():
        k = textured.ravel()
        normalised[k] = (luma[k] - mean[k]) / std[k]
    palettes = _palettes(hsv)
    return [FrameView._made(f, g, n, p) for f, g, n, p in zip(frames, luma, normalised, palettes)]


_BINS: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _bins() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bin `_palette`'s histograms put each 8-bit hue, saturation and value in (-1: out of
    range), asked of OpenCV's calcHist value by value, so that `_palettes` bins as it does."""
    global _BINS
    if _BINS is None:
        import cv2

        out = []
        for bins, high in ((HUE_BINS, 180), (SAT_BINS, 256), (VALUE_BINS, 256)):
            lut = np.full(256, -1, dtype=np.int64)
            for v in range(256):
                h = cv2.calcHist([np.full((1, 1), v, np.uint8)], [0], None, [bins], [0, high]).ravel()
                if h.any():
                    lut[v] = int(np.argmax(h))
            out.append(lut)
        _BINS = (out[0], out[1], out[2])
    return _BINS


def _palettes(hsv: np.ndarray) -> np.ndarray:
    """`_palette` of every frame of (T, H, W, 3) HSV thumbnails: the same counts (bincount with
    calcHist's bins), the same float32 steps."""
    t = len(hsv)
    hue, sat, value = _bins()
    h, s, v = hue[hsv[..., 0]].reshape(t, -1), sat[hsv[..., 1]].reshape(t, -1), value[hsv[..., 2]].reshape(t, -1)
    frame = np.arange(t)[:, None]
    inside = (h >= 0) & (s >= 0)
    hs = np.bincount((frame * (HUE_BINS * SAT_BINS) + h * SAT_BINS + s)[inside], minlength=t * HUE_BINS * SAT_BINS)
    vs = np.bincount((frame * VALUE_BINS + v)[v >= 0], minlength=t * VALUE_BINS)
    hs = hs.reshape(t, -1).astype(np.float32)
    vs = vs.reshape(t, -1).astype(np.float32)
    hs = hs / np.maximum(hs.sum(axis=1, keepdims=True), np.float32(1.0))
    vs = vs / np.maximum(vs.sum(axis=1, keepdims=True), np.float32(1.0))
    return np.concatenate([hs, vs], axis=1).astype(np.float32)


def phase_response(a: FrameView, b: FrameView) -> tuple[float, tuple[float, float]]:
    """(peak response, shift (dx, dy) in thumbnail px) of b against a."""
    import cv2

    if not a.normalised.any() or not b.normalised.any():
        return 0.0, (0.0, 0.0)
    (dx, dy), response = cv2.phaseCorrelate(a.normalised, b.normalised, _window())
    return float(response), (float(dx), float(dy))


def local_share(a: FrameView, b: FrameView, shift: tuple[float, float] = (0.0, 0.0)) -> float:
    """Share of b's informative cells found in a near their place moved by `shift` (0 when b
    has no informative cell)."""
    import cv2

    cells = b.textured_cells()
    if not cells:
        return 0.0
    c = THUMB // CELLS
    dx, dy = shift
    pad = SEARCH + int(np.ceil(max(abs(dx), abs(dy))))
    padded = cv2.copyMakeBorder(a.luma, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    span = c + 2 * SEARCH
    found = 0
    for i, j in cells:
        block = b.luma[i * c : (i + 1) * c, j * c : (j + 1) * c]
        y0 = min(max(int(round(i * c - dy)) + pad - SEARCH, 0), padded.shape[0] - span)
        x0 = min(max(int(round(j * c - dx)) + pad - SEARCH, 0), padded.shape[1] - span)
        region = padded[y0 : y0 + span, x0 : x0 + span]
        found += cv2.minMaxLoc(cv2.matchTemplate(region, block, cv2.TM_CCOEFF_NORMED))[1] >= CELL_MATCH
    return found / len(cells)


def still_share(a: FrameView, b: FrameView) -> float:
    """Share of the cells textured in a or b that are unchanged in place (0 when none is)."""
    c = THUMB // CELLS

    def cells(luma: np.ndarray) -> np.ndarray:
        return luma.reshape(CELLS, c, CELLS, c).transpose(0, 2, 1, 3).reshape(CELLS * CELLS, c * c)

    x, y = cells(a.luma), cells(b.luma)
    xc, yc = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
    sx, sy = np.sqrt((xc**2).mean(axis=1)), np.sqrt((yc**2).mean(axis=1))
    informative = (sx >= CELL_TEXTURE) | (sy >= CELL_TEXTURE)
    if not informative.any():
        return 0.0
    ncc = (xc * yc).mean(axis=1) / np.maximum(sx * sy, 1e-6)
    still = (ncc >= STILL_MATCH) & (np.abs(x.mean(axis=1) - y.mean(axis=1)) <= STILL_LEVELS)
    return float((still & informative).sum()) / float(informative.sum())


def feature_inliers(a: FrameView, b: FrameView) -> float | None:
    """Share of key points consistent with one affine motion from a to b; None when either
    frame has too few key points to tell (flat, black or blurred)."""
    import cv2

    pa, da = a.features()
    pb, db = b.features()
    n = min(len(pa), len(pb))
    if da is None or db is None or n < MIN_FEATURES:
        return None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(da, db)
    if len(matches) < 6:
        return 0.0
    src = pa[[m.queryIdx for m in matches]]
    dst = pb[[m.trainIdx for m in matches]]
    _, mask = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX)
    return float(mask.sum()) / n if mask is not None else 0.0


def palette_similarity(a: FrameView, b: FrameView) -> float:
    """Histogram intersection in [0, 1] (1: the same colour distribution)."""
    return float(np.minimum(a.palette, b.palette).sum()) / 2.0


PAIR_FIGURES = ("shift", "local", "still", "features", "palette")
FEATURES_CHANCE = 0.02  # the share of key points that agree by chance: "no verdict"
FEATURES_CAP = 0.2  # beyond it a common view is certain; x 5 puts it on the others' 0..1 scale


def pair_figure(a: FrameView, b: FrameView, k: int, phase: tuple[float, tuple[float, float]]) -> float:
    """Figure PAIR_FIGURES[k] of b explained by a, on its 0..1 scale, given the pair's
    `phase_response` (the scene rule computes the cheap figures first and a costly one only
    when the decision still depends on it)."""
    name = PAIR_FIGURES[k]
    if name == "shift":
        return max(phase[0], 0.0)
    if name == "local":
        return local_share(a, b, phase[1])
    if name == "still":
        return still_share(a, b)
    if name == "features":
        inliers = feature_inliers(a, b)
        return min(FEATURES_CHANCE if inliers is None else inliers, FEATURES_CAP) / FEATURES_CAP
    return palette_similarity(a, b)


def pair_figures(a: FrameView, b: FrameView, phase: tuple[float, tuple[float, float]] | None = None) -> np.ndarray:
    """float64 (5,): how much b is explained by a, per test, each on a 0..1 scale (PAIR_FIGURES)."""
    phase = phase_response(a, b) if phase is None else phase  # `phase`: already measured
    return np.array([pair_figure(a, b, k, phase) for k in range(len(PAIR_FIGURES))])
