"""Differential Token Drop (DTD): per-patch redundancy between consecutive frames.

The authors' rule: for every frame t >= 1 and every patch position j, compare frame t with
the *full* previous frame at the same position; the token is dropped when the cosine
similarity is above tau (feature mode), or when the mean absolute pixel difference of the
region is below tau (pixel mode). Frame 0 is always kept but counted in the total.

Scores are stored quantised to one byte per patch so that the drop ratio at any threshold
can be recomputed later without the model:

- kind "cosine":    q = round((s + 1) / 2 * 255), s in [-1, 1]; dropped when s_hat > tau.
- kind "pixel_mad": q = round(d * 255),           d in [0, 1];  dropped when d_hat < tau.

Every drop decision, including the one behind the stored per-frame drop ratio, is made on
the quantised value, so figures recomputed from stored scores equal the stored figures.
Frame 0 gets the score that is never dropped (q = 0 for cosine, q = 255 for pixel_mad).
The level rule itself (quantise, dequantise, which levels are dropped) is defined once in
`tc139k.dtdlevels` and imported here, so the training collate applies the same one.
"""

from __future__ import annotations

import math

import numpy as np

from ..dtdlevels import (  # noqa: F401  (the level rule has one definition, shared with tc139k.data)
    N_LEVELS,
    SCORE_KINDS,
    TAU_RANGES,
    dequantize,
    dropped_levels,
    quantize,
)

TRIGGER_SHARE = 0.10  # the share of frames that are trigger times


def cosine_to_previous(tokens):
    """Cosine similarity of each patch token with the same position in the previous frame.

    `tokens`: torch tensor (T, N, D) on any device. Returns a float32 tensor (T, N) on the
    same device, row 0 set to -1 (no previous frame)."""
    import torch
    import torch.nn.functional as F

    t = F.normalize(tokens.float(), dim=-1)
    sim = torch.full(t.shape[:2], -1.0, dtype=torch.float32, device=t.device)
    if t.shape[0] > 1:
        sim[1:] = (t[1:] * t[:-1]).sum(-1).clamp_(-1.0, 1.0)
    return sim


def pixel_mad_to_previous(frames: np.ndarray, cell: int) -> np.ndarray:
    """Mean absolute RGB difference in [0, 1] per `cell` x `cell` region with the previous frame.

    `frames`: uint8 array (T, H, W, 3). The right and bottom remainders smaller than a cell
    are ignored. Returns float32 (T, H // cell, W // cell), row 0 set to 1 (never dropped).

    The sum of each region's differences is exact (integers); the float32 steps after it,
    sum / (cell * cell * 3) / 255, are those of a float32 mean, so the quantised scores are
    those of the plain numpy formula (tests/test_dtd.py checks it)."""
    t, h, w, _ = frames.shape
    gh, gw = h // cell, w // cell
    if gh == 0 or gw == 0:
        raise ValueError(f"frames of {w}x{h} px are smaller than one {cell} px cell")
    out = np.ones((t, gh, gw), dtype=np.float32)
    if t > 1:
        sums = _cell_sums_of_differences(frames[:, : gh * cell, : gw * cell], cell)
        out[1:] = sums.astype(np.float32) / np.float32(cell * cell * 3) / np.float32(255.0)
    return out


def _cell_sums_of_differences(frames: np.ndarray, cell: int) -> np.ndarray:
    """int64 (T - 1, gh, gw): per cell, the sum of |frame[t] - frame[t - 1]| over its pixels
    and channels, exact (OpenCV's absolute difference of uint8 and its integer row sums)."""
    import cv2

    t, h, w, c = frames.shape
    gh, gw = h // cell, w // cell
    x = np.ascontiguousarray(frames)  # a view unless the frames were cropped to whole cells
    rows = x.reshape(t * h, w * c)
    diff = cv2.absdiff(rows[h:], rows[:-h])  # ((T - 1) * H, W * 3) uint8
    # the sum of each cell's row segment (cell * 3 values), then of the cell's rows
    seg = cv2.reduce(diff.reshape(-1, cell * c), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
    return seg.reshape(t - 1, gh, cell, gw).sum(axis=2, dtype=np.int64)


def dropped_mask(q: np.ndarray, kind: str, tau: float) -> np.ndarray:
    """Which stored patches DTD drops at tau (same shape as `q`)."""
    return dropped_levels(kind, tau)[np.asarray(q, dtype=np.uint8)]


def frame_drop_ratio(q: np.ndarray, kind: str, tau: float) -> np.ndarray:
    """Per-frame share of dropped patches. `q`: uint8 (T, N) or (T, H, W)."""
    q = np.asarray(q, dtype=np.uint8).reshape(len(q), -1)
    if q.shape[1] == 0:
        return np.zeros(len(q), dtype=np.float32)
    return dropped_mask(q, kind, tau).mean(axis=1).astype(np.float32)


def level_histogram(q: np.ndarray) -> np.ndarray:
    """Counts of each of the 256 levels: enough to sweep any number of thresholds."""
    return np.bincount(np.asarray(q, dtype=np.uint8).ravel(), minlength=N_LEVELS).astype(np.int64)


def sweep_from_histogram(hist: np.ndarray, kind: str, thresholds) -> np.ndarray:
    """Number of dropped patches at each threshold, from a level histogram (..., 256)."""
    hist = np.asarray(hist)
    masks = np.stack([dropped_levels(kind, float(t)) for t in thresholds])  # (K, 256)
    return hist @ masks.T.astype(np.int64)


def trigger_frames(drop_ratio: np.ndarray, share: float = TRIGGER_SHARE, first: int = 1) -> np.ndarray:
    """Indices of the frames with the lowest drop ratio (the authors' "trigger times":
    the 10 % lowest), the frames before `first` excluded: they have no previous DTD frame
    (frame 0; frames 0 and 1 when a DTD frame spans two frames). Ties broken by index."""
    r = np.asarray(drop_ratio, dtype=np.float64)
    if len(r) <= first:
        return np.zeros(0, dtype=np.int64)
    k = max(1, int(math.floor((len(r) - first) * share)))
    order = np.lexsort((np.arange(first, len(r)), r[first:]))[:k] + first
    return np.sort(order)
