"""Gradual transitions in 1 fps frames: fades through black and dissolves.

At 1 fps a transition is a run of frames, each a mix of the old shot, the new shot and black,
so a frame-to-frame detector either misses it (every step is small) or reports several cuts
inside it. Both kinds are found here from 32 x 32 thumbnails (whole-frame colour, cheap), and
each becomes one `Transition(start, end)`: `start` is the last clean frame of the old shot,
`end` the first clean frame of the new one, which starts the new scene.

- Fade through black: a run of black frames (98th percentile of the thumbnail's luma below
  `DARK_P98` and its mean below `BLACK_MEAN`: a fade reaches black; a dark night shot, whose
  picture is still there at a few grey levels, is no fade), extended on both sides by the
  frames whose mean luma falls into the run (the fade-out) and rises out of it (the fade-in).
  A cut to black and back counts the same way.
- Flash: a run of at most `FLASH_FRAMES` frames whose mean luma jumps by `FLASH_RISE` above
  the frame before it and falls back, with a washed-out frame in it (its thumbnail's luma
  spread under `WASHED_STD`: an explosion, a photographer's flash, lightning, a white-out). The
  light, not the picture, changed: no cut inside it; one scene start after it when the view
  after it differs from the view before it (a cut hidden by the flash), none otherwise. A
  bright shot keeps its picture and is no flash (a trailer's cut to a bright shot and away).
- Dissolve: frames a and b = a + 2 .. a + 1 + `MAX_DISSOLVE_FRAMES` whose thumbnails differ
  (mean absolute difference >= `MIN_CHANGE`), no single step between them carrying more than
  `MAX_STEP_SHARE` of that difference (else it is a hard cut), and every frame between them a
  blend of the two: thumbnail ~ alpha * a + (1 - alpha) * b with a small residual, alpha
  falling strictly and staying inside `ALPHA_RANGE` (the end frames are clean). Motion never
  looks like that: a moved object is not a mix of two pictures.

Either kind must change the view: its clean end frames differ in the structure of most of
the frame (`evidence.change_share(...) >= VIEW_CHANGE`); a dip to black
that comes back to the same view, or a global dimming inside a shot, is no transition. Spans
that touch are merged into one (a fade to dark grey is a dissolve into dark and one out of it).
A dip that keeps the view still suppresses the cuts inside it (`quiet`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .evidence import CellView, change_share
from .thumbs import area_resize

THUMB = 32
DARK_P98 = 32.0
BLACK_MEAN = 8.0
FLASH_RISE = 40.0  # mean luma (0-255) a flash adds at its peak over the frame before it
FLASH_FRAMES = 4
WASHED_STD = 12.0
RAMP_MARGIN = 1.0  # luma (0-255) a ramp frame must move, plus RAMP_RELATIVE of its level
RAMP_RELATIVE = 0.02
MAX_DISSOLVE_FRAMES = 5
MIN_CHANGE = 8.0
MAX_STEP_SHARE = 0.6
ALPHA_RANGE = (0.05, 0.95)
MAX_RESIDUAL = 0.05  # blend residual energy / energy of the difference of the end frames
VIEW_CHANGE = 0.8
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Transition:
    start: int  # last clean frame of the old shot (0 when the video opens with it)
    end: int  # first clean frame of the new shot (n - 1 when the video closes with it)
    kind: str  # "fade" or "dissolve"
    new_scene: bool  # end starts a scene (False at the very start or end of the video)


def thumbnails(frames: np.ndarray) -> np.ndarray:
    """(T, THUMB * THUMB * 3) float32, area-averaged (all frames in one call: `thumbs.py`)."""
    return area_resize(frames, (THUMB, THUMB)).reshape(len(frames), THUMB * THUMB * 3).astype(np.float32)


def find_transitions(
    thumbs: np.ndarray, cells: Callable[[int], CellView]
) -> tuple[list[Transition], list[tuple[int, int]]]:
    """(transitions, quiet spans): quiet spans are (start, end) pairs inside which no cut is
    reported; they include every transition and the dips to black and flashes that keep the view."""
    n = len(thumbs)
    if n < 3:
        return [], []
    spans = _fade_spans(thumbs) + _dissolve_spans(thumbs) + _flash_spans(thumbs)
    spans = _merge(spans)
    dark = _dark(thumbs)
    found, quiet = [], []
    for a, b, kind in spans:
        quiet.append((a, b))
        if (a == 0 and dark[0]) or (b == n - 1 and dark[-1]):
            # the video opens or closes with it: no picture on one side, no new scene
            found.append(Transition(a, b, kind, new_scene=False))
        elif change_share(cells(a), cells(b)) >= VIEW_CHANGE:
            found.append(Transition(a, b, kind, new_scene=True))
    return found, quiet


def _dark(thumbs: np.ndarray) -> np.ndarray:
    """Black frames: at most 2 % of the pixels reach DARK_P98 and the mean is below BLACK_MEAN."""
    luma = thumbs.reshape(len(thumbs), -1, 3) @ _LUMA
    return ((luma >= DARK_P98).mean(axis=1) < 0.02) & (luma.mean(axis=1) < BLACK_MEAN)


def _flash_spans(thumbs: np.ndarray) -> list[tuple[int, int, str]]:
    """(a, b): a the last frame before the flash, b the first frame after it that is neither
    washed out nor still near the flash's brightest level."""
    n = len(thumbs)
    luma = thumbs.reshape(n, -1, 3) @ _LUMA
    mean, washed = luma.mean(axis=1), luma.std(axis=1) < WASHED_STD
    spans = []
    t = 1
    while t < n:
        if mean[t] - mean[t - 1] < FLASH_RISE:
            t += 1
            continue
        peak = mean[t]
        b = None
        for k in range(t + 1, min(t + FLASH_FRAMES + 1, n)):
            peak = max(peak, mean[k - 1])
            if not washed[k] and mean[k] <= peak - FLASH_RISE / 2:
                b = k
                break
        if b is None or not washed[t:b].any():
            t += 1  # the light stayed, or the picture did: a cut to a brighter shot, not a flash
            continue
        spans.append((t - 1, b, "flash"))
        t = b + 1
    return spans


def _fade_spans(thumbs: np.ndarray) -> list[tuple[int, int, str]]:
    n = len(thumbs)
    dark = _dark(thumbs)
    mean = (thumbs.reshape(n, -1, 3) @ _LUMA).mean(axis=1)

    def ramps(x: float, y: float) -> bool:  # moving from level x to y belongs to a fade
        return x > y + RAMP_MARGIN + RAMP_RELATIVE * x

    spans = []
    i = 0
    while i < n:
        if not dark[i]:
            i += 1
            continue
        s = i
        while i + 1 < n and dark[i + 1]:
            i += 1
        e = i
        a = max(s - 1, 0)
        while a > 0 and ramps(mean[a - 1], mean[a]):
            a -= 1
        b = min(e + 1, n - 1)
        while b + 1 < n and ramps(mean[b + 1], mean[b]):
            b += 1
        spans.append((a, b, "fade"))
        i = e + 1
    return spans


def _mean_abs_diffs(thumbs: np.ndarray, levels: np.ndarray | None, w: int) -> np.ndarray:
    """`np.abs(thumbs[w:] - thumbs[:-w]).mean(axis=1)`, bit for bit. With `levels`, the
    thumbnails' whole 8-bit levels (`thumbnails` makes them so), from OpenCV's exact integer
    sums of the differences: every float32 partial sum of numpy's mean is then a whole number
    below 2 ** 24, so exact, and the one division after it is the one numpy's mean does. Ten
    times faster than the float passes, which matters as it runs for six offsets."""
    if levels is None:
        return np.abs(thumbs[w:] - thumbs[:-w]).mean(axis=1)
    import cv2

    sums = cv2.reduce(cv2.absdiff(levels[w:], levels[:-w]), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
    means = sums.ravel().astype(np.float32)
    return np.true_divide(means, np.intp(thumbs.shape[1]), out=means, casting="unsafe")  # as numpy's _mean


def _whole_levels(thumbs: np.ndarray) -> np.ndarray | None:
    """The thumbnails as uint8 when every value is a whole level 0..255 (None otherwise)."""
    if thumbs.dtype != np.float32 or thumbs.ndim != 2 or thumbs.shape[1] * 255 >= 2**24 or len(thumbs) < 2:
        return None
    levels = thumbs.astype(np.uint8)
    return levels if np.array_equal(levels, thumbs) else None


def _dissolve_spans(thumbs: np.ndarray) -> list[tuple[int, int, str]]:
    n = len(thumbs)
    levels = _whole_levels(thumbs)
    step = _mean_abs_diffs(thumbs, levels, 1)
    found = []
    for w in range(2, MAX_DISSOLVE_FRAMES + 2):
        if n <= w:
            break
        ends = _mean_abs_diffs(thumbs, levels, w)  # (n - w,), index a
        biggest_step = np.lib.stride_tricks.sliding_window_view(step, w).max(axis=1)
        for a in np.flatnonzero((ends >= MIN_CHANGE) & (biggest_step <= MAX_STEP_SHARE * ends)):
            a = int(a)
            if _is_blend(thumbs, a, a + w):
                found.append((float(ends[a]), a, a + w))
    # overlapping windows describe one dissolve: keep the one whose ends differ most (clean ends)
    kept: list[tuple[int, int, str]] = []
    for _, a, b in sorted(found, key=lambda x: (-x[0], x[1])):
        if all(b <= ka or a >= kb for ka, kb, _ in kept):
            kept.append((a, b, "dissolve"))
    return sorted(kept)


def _is_blend(thumbs: np.ndarray, a: int, b: int) -> bool:
    diff = thumbs[a] - thumbs[b]
    energy = float(diff @ diff)
    if energy <= 0:
        return False
    mid = thumbs[a + 1 : b] - thumbs[b]
    alpha = mid @ diff / energy
    residual = ((mid - alpha[:, None] * diff[None]) ** 2).sum(axis=1) / energy
    lo, hi = ALPHA_RANGE
    return bool(
        (residual <= MAX_RESIDUAL).all() and (alpha > lo).all() and (alpha < hi).all() and (np.diff(alpha) < 0).all()
    )


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Spans sorted and joined where they touch or overlap; a fade wins the kind."""
    out: list[list] = []
    for a, b, kind in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
            out[-1][2] = "fade" if "fade" in (kind, out[-1][2]) else kind
        else:
            out.append([a, b, kind])
    return [(a, b, k) for a, b, k in out]
