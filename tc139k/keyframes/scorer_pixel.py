"""The pixel scorer: no model. The mean absolute RGB difference of each `cell` x `cell` px
cell of the 224 x 224 frame to the same cell of the previous frame (the authors' 28 px
regions: an 8 x 8 grid); a patch is redundant when its difference is below tau."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import dtd
from .scorer import Scorer

FRAME_SIZE = 224
CELL = 28  # the authors' region size
CHUNK = 64  # frames per difference step: bounded temporary memory


def pixel_scores(frames: np.ndarray, cell: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Quantised pixel-mode DTD scores (T, grid_h * grid_w), computed in chunks."""
    t, h, w, _ = frames.shape
    grid = (h // cell, w // cell)
    out = np.empty((t, grid[0] * grid[1]), dtype=np.uint8)
    for lo in range(0, t, CHUNK):
        start = max(0, lo - 1)  # one frame of overlap gives the previous frame
        mad = dtd.pixel_mad_to_previous(frames[start : lo + CHUNK], cell)
        if start < lo:
            mad = mad[1:]
        out[lo : lo + len(mad)] = dtd.quantize(mad.reshape(len(mad), -1), "pixel_mad")
    return out, grid


@dataclass
class PixelScorer(Scorer):
    name: ClassVar[str] = "pixel"
    score_kind: ClassVar[str] = "pixel_mad"
    default_threshold: ClassVar[float] = 0.05
    threshold_range: ClassVar[tuple[float, float]] = dtd.TAU_RANGES["pixel_mad"]
    scores_while_decoding: ClassVar[bool] = True

    cell: int = CELL
    frame_size: tuple[int, int] = (FRAME_SIZE, FRAME_SIZE)

    @classmethod
    def create(cls, *, cell: int = CELL, **_) -> PixelScorer:
        return cls(cell=cell)

    @property
    def grid(self) -> tuple[int, int]:
        return (self.frame_size[1] // self.cell, self.frame_size[0] // self.cell)

    def provenance(self) -> dict:
        return {"model": None, "batch_size": None, "pixel_cell": self.cell}

    def score(self, frames: np.ndarray) -> np.ndarray:
        return pixel_scores(frames, self.cell)[0]
