"""The DTD rule on stored one-byte levels: the one definition the key-frame stage, the shards,
`stats redundancy` and the training collate (`tc139k.data`) all apply.

- Levels: a score s is stored as q in 0..255. kind "cosine" (feature mode):
  q = round((s + 1) / 2 * 255), s in [-1, 1], a token is dropped when s_hat > tau; kind
  "pixel_mad" (pixel mode): q = round(d * 255), d in [0, 1], dropped when d_hat < tau.
  `dropped_levels(kind, tau)` is the table of the 256 decisions; every drop decision is made
  on the level, so figures recomputed from stored levels equal the stored figures.
- `NEVER_DROPPED[kind]`: the level of a frame without a previous frame (0 for cosine, 255
  for pixel_mad), never dropped at any tau of the kind's range.
- Relative mode (`relative_dropped`): each frame drops its `int(N * tau)` most similar
  tokens (highest cosine, lowest pixel difference), ties broken by token index.
- `gap_bound(steps, kind)`: when a frame is compared with an earlier frame that is not its
  direct predecessor (a clip that skips seconds), only the scores of the seconds in between
  are stored. The bound is a level that DTD drops at a tau only if the direct comparison
  would be dropped too, at every tau: never a token the model keeps. It follows from the
  triangle inequality (of angles between token vectors for cosine, of absolute pixel
  differences for pixel_mad) over each stored level's widest unquantised value. Dropping a
  token when every second of the gap says "unchanged" is not safe: a slow drift is small
  in every second and large over the gap.
- `cell_cover(src, dst)`: which cells of a grid of `src` rows (or columns) overlap each cell
  of a grid of `dst`, both spanning the same frame: a mask on one grid becomes a mask on
  another by keeping a token when any cell it overlaps is kept.

numpy only; no other module of tc139k but errors, so the training side can import it.
"""

from __future__ import annotations

import numpy as np

from .errors import UsageError

# per score kind, the values tau can take: a cosine, or a mean absolute difference of [0, 1] pixels
TAU_RANGES = {"cosine": (-1.0, 1.0), "pixel_mad": (0.0, 1.0)}
SCORE_KINDS = tuple(TAU_RANGES)
N_LEVELS = 256
NEVER_DROPPED = {"cosine": 0, "pixel_mad": 255}
MODES = ("absolute", "relative")
# floating-point slack in the bounds (scores are float32): far below a level's width
_SLACK = 1e-4


def check_kind(kind: str) -> None:
    if kind not in SCORE_KINDS:
        raise ValueError(f"unknown score kind {kind!r}; expected one of {SCORE_KINDS}")


def check_tau(kind: str, tau: float, mode: str = "absolute") -> float:
    """tau as a float inside the range of `kind` (absolute mode) or [0, 1] (relative mode)."""
    check_kind(kind)
    lo, hi = TAU_RANGES[kind] if mode == "absolute" else (0.0, 1.0)
    if not lo <= float(tau) <= hi:
        what = f"{kind} scores" if mode == "absolute" else "the relative mode (a share of each frame's tokens)"
        raise UsageError(f"DTD tau {tau} is outside [{lo:g}, {hi:g}], the range of {what}")
    return float(tau)


def quantize(scores, kind: str) -> np.ndarray:
    check_kind(kind)
    s = np.asarray(scores, dtype=np.float32)
    v = (s + 1.0) * 127.5 if kind == "cosine" else s * 255.0
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def dequantize(q, kind: str) -> np.ndarray:
    check_kind(kind)
    q = np.asarray(q, dtype=np.float32)
    return q / 127.5 - 1.0 if kind == "cosine" else q / 255.0


def decide(values: np.ndarray, kind: str, tau: float) -> np.ndarray:
    """The authors' comparison direction: redundant above tau (cosine), below it (pixel_mad)."""
    return values > tau if kind == "cosine" else values < tau


def dropped_levels(kind: str, tau: float) -> np.ndarray:
    """Boolean table over the 256 levels: True where a token is dropped at tau."""
    return decide(dequantize(np.arange(N_LEVELS), kind), kind, tau)


def relative_dropped(levels: np.ndarray, kind: str, share: float) -> np.ndarray:
    """Relative mode: per row of `levels` (F, N), the `int(N * share)` most similar tokens
    are True (dropped); among equal levels the lower token index goes first."""
    levels = np.asarray(levels, dtype=np.int16)
    f, n = levels.shape
    k = int(n * share)
    out = np.zeros((f, n), dtype=bool)
    if k:
        key = -levels if kind == "cosine" else levels  # most similar first
        order = np.argsort(key, axis=1, kind="stable")[:, :k]
        np.put_along_axis(out, order, True, axis=1)
    return out


def gap_bound(steps: np.ndarray, kind: str) -> np.ndarray:
    """A level per token (uint8, N) for the comparison of frame k with frame 0 from the stored
    levels `steps` (k, N) of frames 1..k, each against its predecessor (module docstring).

    cosine: each step's angle is at most arccos of the smallest cosine its level rounds
    from; the direct angle is at most their sum; the level is rounded down from the cosine
    of that sum. pixel_mad: each step's difference is at most its level + 0.5; the direct
    difference at most their sum; the level is rounded up. Both move the level towards
    "changed", so a drop of the bound is a drop of the direct comparison."""
    check_kind(kind)
    q = np.asarray(steps, dtype=np.float64)
    if kind == "cosine":
        lowest = np.clip((q - 0.5) / 127.5 - 1.0 - _SLACK, -1.0, 1.0)
        angle = np.minimum(np.arccos(lowest).sum(axis=0), np.pi)
        level = np.floor((np.cos(angle) + 1.0) * 127.5 - _SLACK)
    else:
        level = np.ceil((q + 0.5).sum(axis=0) + _SLACK)
    return np.clip(level, 0, 255).astype(np.uint8)


def cell_cover(src: int, dst: int) -> np.ndarray:
    """bool (dst, src): source cell i overlaps destination cell r when the intervals
    [i / src, (i + 1) / src) and [r / dst, (r + 1) / dst) of the frame intersect."""
    i = np.arange(src)[None, :]
    r = np.arange(dst)[:, None]
    return (i * dst < (r + 1) * src) & ((i + 1) * dst > r * src)
