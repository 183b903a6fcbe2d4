"""Whether two frames show another view, measured on an 8 x 8 grid of cells (the check of a
gradual transition's end frames, transitions.py).

A new view replaces the structure of nearly every part of the frame; a dip to black or a
global dimming that comes back to the same view leaves it. `change_share` is the share of
*informative* cells whose structure changed, where

- a cell changed when it is textured in both frames and the normalised cross-correlation of
  its luma is below `SAME_STRUCTURE` (the picture in it is different even if it is as dark as
  before), or when it is textured in one frame only; brightness alone is no change, so a
  fade or an exposure change counts as none;
- a cell is informative when it is textured in either frame (every changed cell is). Flat
  cells in both frames (letterbox bars, a plain sky in both shots) say nothing and are left out.
"""

from __future__ import annotations

import numpy as np

GRID = 8
TEXTURE_STD = 4.0  # luma standard deviation (0-255) above which a cell has structure
SAME_STRUCTURE = 0.6
SAMPLE_STEP = 2  # frames with cells of at least 16 px are read every other pixel
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class CellView:
    """The per-cell figures of one frame the comparisons need, computed once."""

    __slots__ = ("centred", "norm", "textured")

    def __init__(self, frame: np.ndarray):
        if min(frame.shape[:2]) >= GRID * SAMPLE_STEP * 8:
            frame = frame[::SAMPLE_STEP, ::SAMPLE_STEP]  # every other pixel: 4x less work, same cells
        h, w = frame.shape[0] // GRID * GRID, frame.shape[1] // GRID * GRID
        if h == 0 or w == 0:
            raise ValueError(f"a {frame.shape[1]}x{frame.shape[0]} frame is smaller than the {GRID}x{GRID} grid")
        ch, cw = h // GRID, w // GRID
        rgb = frame[:h, :w].astype(np.float32)
        luma = (rgb @ _LUMA).reshape(GRID, ch, GRID, cw).transpose(0, 2, 1, 3).reshape(GRID, GRID, ch * cw)
        self.centred = luma - luma.mean(axis=-1, keepdims=True)
        self.norm = np.sqrt((self.centred**2).sum(axis=-1))
        self.textured = self.norm / np.sqrt(ch * cw) > TEXTURE_STD


def changed_cells(a: CellView, b: CellView) -> tuple[np.ndarray, np.ndarray]:
    """(changed, informative) boolean 8 x 8 grids for frames a -> b."""
    both = a.textured & b.textured
    ncc = (a.centred * b.centred).sum(axis=-1) / np.maximum(a.norm * b.norm, 1e-6)
    changed = (both & (ncc < SAME_STRUCTURE)) | (a.textured ^ b.textured)
    return changed, a.textured | b.textured  # a changed cell is textured in one frame at least


def change_share(a: CellView, b: CellView) -> float:
    """Share of informative cells whose structure changed from a to b (0 when none is informative)."""
    changed, informative = changed_cells(a, b)
    n = int(informative.sum())
    return float(changed.sum()) / n if n else 0.0
