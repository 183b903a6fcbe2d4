"""Drawn 1 fps footage for the scene rule's tests: a camera looking at textured worlds.

A world is a large picture with structure at several scales (blurred noise octaves mapped
through a palette), so that it has corners, edges and smooth parts like a real scene. Frames
are views of a world: a crop at a position and size (pan, shake, zoom), optionally with an
object pasted over part of it, a light change, or a blend with another view. Every helper
returns uint8 RGB (224, 224, 3).
"""

from __future__ import annotations

import cv2
import numpy as np

SIZE = 224
WORLD = 720


def world(seed: int, palette: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None) -> np.ndarray:
    """A WORLD x WORLD float32 RGB picture in 0..255 with structure at several scales."""
    rng = np.random.default_rng(seed)
    field = np.zeros((WORLD, WORLD), np.float32)
    for octave, weight in ((8, 1.0), (24, 0.6), (72, 0.4), (180, 0.25)):
        small = rng.standard_normal((octave, octave)).astype(np.float32)
        field += weight * cv2.resize(small, (WORLD, WORLD), interpolation=cv2.INTER_CUBIC)
    field = (field - field.min()) / (field.max() - field.min())
    if palette is None:
        lo = rng.uniform(20, 120, 3)
        hi = rng.uniform(140, 250, 3)
    else:
        lo, hi = np.asarray(palette[0], np.float32), np.asarray(palette[1], np.float32)
    return (lo[None, None] + field[..., None] * (hi - lo)[None, None]).astype(np.float32)


def view(w: np.ndarray, x: float, y: float, size: float = 320.0, angle: float = 0.0) -> np.ndarray:
    """The camera's frame: a size x size crop centred at (x, y) of the world, rotated by
    `angle` degrees, resampled to SIZE x SIZE."""
    scale = SIZE / size
    m = cv2.getRotationMatrix2D((x, y), angle, scale)
    m[:, 2] += (SIZE / 2 - x, SIZE / 2 - y)
    out = cv2.warpAffine(w, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.clip(out, 0, 255).astype(np.uint8)


def grain(frame: np.ndarray, seed: int, sigma: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frame.astype(np.float32) + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)


def light(frame: np.ndarray, gain: float, offset: float = 0.0, tint=(1.0, 1.0, 1.0)) -> np.ndarray:
    """A global light change: per-channel gain (tint), overall gain and offset."""
    f = frame.astype(np.float32) * gain * np.asarray(tint, np.float32)[None, None] + offset
    return np.clip(f, 0, 255).astype(np.uint8)


def paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> np.ndarray:
    """`patch` over `frame` with its top-left corner at (x, y), clipped to the frame."""
    out = frame.copy()
    h, w = patch.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, SIZE), min(y + h, SIZE)
    if x0 < x1 and y0 < y1:
        out[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]
    return out


def blend(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    return np.clip(alpha * a.astype(np.float32) + (1 - alpha) * b.astype(np.float32), 0, 255).astype(np.uint8)


def stack(frames: list[np.ndarray]) -> np.ndarray:
    return np.stack(frames).astype(np.uint8)
