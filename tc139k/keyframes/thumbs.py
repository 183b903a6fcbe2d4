"""Area reductions of a whole video's frames in one OpenCV call, pixel for pixel the same as
reducing each frame on its own.

The frames are laid one above the other as one tall image. When the reduction factor is a
whole number on both axes, every output pixel averages one block of one frame (no block
straddles two frames) and OpenCV takes the same fixed-factor path for the tall image as for
a single frame; otherwise each frame is reduced on its own. One call instead of one per frame
saves the per-call overhead and lets OpenCV spread the work over its threads.
"""

from __future__ import annotations

import numpy as np


def area_resize(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`cv2.resize(f, size, interpolation=cv2.INTER_AREA)` of every frame of `frames`
    (T, H, W[, C]), `size` = (width, height); returns (T, height, width[, C])."""
    import cv2

    t, h, w = frames.shape[:3]
    out_w, out_h = size
    rest = frames.shape[3:]
    if t == 0:
        return np.zeros((0, out_h, out_w, *rest), dtype=frames.dtype)
    if h % out_h == 0 and w % out_w == 0 and h >= out_h and w >= out_w:
        tall = np.ascontiguousarray(frames).reshape(t * h, w, *rest)
        small = cv2.resize(tall, (out_w, t * out_h), interpolation=cv2.INTER_AREA)
        return small.reshape(t, out_h, out_w, *rest)
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


def halve(frames: np.ndarray) -> np.ndarray:
    """Each frame area-reduced to (W // 2, H // 2), as `cv2.resize` does it."""
    return area_resize(frames, (frames.shape[2] // 2, frames.shape[1] // 2))


def convert(frames: np.ndarray, code: int) -> np.ndarray:
    """`cv2.cvtColor(f, code)` of every frame of (T, H, W, 3) uint8 frames, in one call (a
    conversion of each pixel on its own, so the same either way)."""
    import cv2

    t, h, w = frames.shape[:3]
    if t == 0:  # the converted shape and type, from one pixel
        probe = cv2.cvtColor(np.zeros((1, 1, frames.shape[3]), dtype=frames.dtype), code)
        return np.zeros((0, h, w, *probe.shape[2:]), dtype=probe.dtype)
    out = cv2.cvtColor(np.ascontiguousarray(frames).reshape(t * h, w, frames.shape[3]), code)
    return out.reshape(t, h, w, *out.shape[2:])
