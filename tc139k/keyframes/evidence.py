"""What changed between two frames, measured on an 8 x 8 grid of cells (the scene rule's evidence).

A new shot replaces the content of nearly every part of the frame; a passing object, a flash
or a camera shake leaves part of it, or brings it back a second later. `change_share` tells
them apart: the share of *informative* cells that changed, where

- a cell changed when its mean absolute RGB difference exceeds `CHANGE_MAD` (0.05 of full
  scale, the pixel DTD operating point), or when it is textured in both frames and the
  normalised cross-correlation of its luma is below `SAME_STRUCTURE` (the picture in it is
  different even if it is as dark as before: dark film, where a cut moves few grey levels),
  or when it is textured in one frame only;
- a cell is informative when it changed or is textured in either frame. Flat unchanged
  cells (letterbox bars, a plain sky in both shots) say nothing about a cut and are left out.

`structure_only=True` drops the brightness test: a global fade or exposure change then counts
as no change, which is what the dissolve and fade checks need for their end frames.
"""

from __future__ import annotations

import numpy as np

GRID = 8
CHANGE_MAD = 0.05
TEXTURE_STD = 4.0  # luma standard deviation (0-255) above which a cell has structure
SAME_STRUCTURE = 0.6
SAMPLE_STEP = 2  # frames with cells of at least 16 px are read every other pixel
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class CellView:
    """The per-cell figures of one frame the comparisons need, computed once."""

    __slots__ = ("rgb", "centred", "norm", "textured")

    def __init__(self, frame: np.ndarray):
        if min(frame.shape[:2]) >= GRID * SAMPLE_STEP * 8:
            frame = frame[::SAMPLE_STEP, ::SAMPLE_STEP]  # every other pixel: 4x less work, same cells
        h, w = frame.shape[0] // GRID * GRID, frame.shape[1] // GRID * GRID
        if h == 0 or w == 0:
            raise ValueError(f"a {frame.shape[1]}x{frame.shape[0]} frame is smaller than the {GRID}x{GRID} grid")
        ch, cw = h // GRID, w // GRID
        rgb = frame[:h, :w].astype(np.float32)
        self.rgb = rgb.reshape(GRID, ch, GRID, cw, 3).transpose(0, 2, 1, 3, 4).reshape(GRID, GRID, ch * cw * 3)
        luma = (rgb @ _LUMA).reshape(GRID, ch, GRID, cw).transpose(0, 2, 1, 3).reshape(GRID, GRID, ch * cw)
        self.centred = luma - luma.mean(axis=-1, keepdims=True)
        self.norm = np.sqrt((self.centred**2).sum(axis=-1))
        self.textured = self.norm / np.sqrt(ch * cw) > TEXTURE_STD


def changed_cells(a: CellView, b: CellView, structure_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(changed, informative) boolean 8 x 8 grids for frames a -> b."""
    both = a.textured & b.textured
    ncc = (a.centred * b.centred).sum(axis=-1) / np.maximum(a.norm * b.norm, 1e-6)
    changed = (both & (ncc < SAME_STRUCTURE)) | (a.textured ^ b.textured)
    if not structure_only:
        changed |= np.abs(a.rgb - b.rgb).mean(axis=-1) / 255.0 > CHANGE_MAD
    return changed, changed | a.textured | b.textured


def change_share(a: CellView, b: CellView, structure_only: bool = False) -> float:
    """Share of informative cells that changed from a to b (0 when none is informative)."""
    changed, informative = changed_cells(a, b, structure_only)
    n = int(informative.sum())
    return float(changed.sum()) / n if n else 0.0
