"""The DTD scorer interface: what turns a video's frames into per-patch redundancy scores.

One file per implementation (`scorer_pixel.py`: no model; `scorer_clip.py`: open_clip patch
tokens; `scorer_qwen.py`: Qwen2.5-VL's merged visual tokens); the key-frame stage and the Ray
engine only talk to this interface, so another method is one new file plus a line in
`SCORERS`, another encoder of the feature method one new file plus a line in `ENCODERS`.

A scorer is plain, picklable data (it travels to Ray workers); `load()` loads its model, if
any, in the process that scores, and is never pickled. `score(frames)` takes uint8 RGB
frames (T, H, W, 3) of one whole video, decoded at `frame_size`, and returns the quantised
per-patch scores uint8 (T, grid_h * grid_w) (dtd.quantize for `score_kind`; frame 0 gets
the never-dropped level). Scores of a video never depend on other videos.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from .qwen_frames import MAX_PIXELS, MIN_PIXELS

if TYPE_CHECKING:  # the key-frame config reads ENCODERS: no numpy at its import
    import numpy as np

DEFAULT_ENCODER = "open_clip"


class Scorer(ABC):
    name: ClassVar[str]  # the --method value
    score_kind: ClassVar[str]  # dtd.SCORE_KINDS: how scores are quantised, which side is redundant
    default_threshold: ClassVar[float]  # tau when none is given
    threshold_range: ClassVar[tuple[float, float]]  # the values tau can take
    # True: cheap and model-free, so it runs where frames are decoded (background threads,
    # Ray CPU tasks) and the pixels are freed right after; False: on the model's device
    scores_while_decoding: ClassVar[bool]
    # raw frames per DTD frame: each of them stores that DTD frame's scores (the first ones
    # the never-dropped level, so none of them can be a trigger time)
    frames_per_step: ClassVar[int] = 1

    frame_size: tuple[int, int]  # (width, height) the frames are decoded at

    @property
    @abstractmethod
    def grid(self) -> tuple[int, int]:
        """(grid_h, grid_w) of the patches scored; for a model, known once loaded."""

    @abstractmethod
    def provenance(self) -> dict:
        """What the scores depend on besides the frames, recorded with them:
        {"model": dict | None, "batch_size": int | None, "pixel_cell": int | None}."""

    def load(self) -> None:  # noqa: B027  (optional: a model-free scorer has nothing to load)
        """Load the model, if any, in this process (idempotent)."""

    @abstractmethod
    def score(self, frames: np.ndarray) -> np.ndarray:
        """Quantised per-patch scores uint8 (T, grid_h * grid_w) of one video's frames."""


def scorer_class(method: str, encoder: str = DEFAULT_ENCODER) -> type[Scorer]:
    """The Scorer class of `method` (a name in SCORERS; for the feature method, of `encoder`,
    a name in ENCODERS); its class attributes (score kind, default tau and its range) are
    known before any model is resolved."""
    import importlib

    from ..errors import UsageError

    if method not in SCORERS:
        raise UsageError(f"unknown method {method!r}; choose {' or '.join(SCORERS)}")
    if method == "feature" and encoder not in ENCODERS:
        raise UsageError(f"unknown encoder {encoder!r}; choose {' or '.join(ENCODERS)}")
    module, name = ENCODERS[encoder] if method == "feature" else SCORERS[method]
    return getattr(importlib.import_module(module, __package__), name)


def make_scorer(
    method: str,
    *,
    encoder: str = DEFAULT_ENCODER,
    model: str | None = None,
    pretrained: str | None = None,
    device: str = "auto",
    batch_size: int = 32,
    cell: int = 28,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
) -> Scorer:
    """The scorer of `method` (and `encoder`), given the stage's options (each takes those it
    needs); a model is resolved (its weights located) here and loaded by `load()`."""
    return scorer_class(method, encoder).create(
        model=model,
        pretrained=pretrained,
        device=device,
        batch_size=batch_size,
        cell=cell,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
    )


# method -> (module, class); imported on demand, so the pixel method never imports torch
SCORERS = {
    "feature": (".scorer_clip", "ClipScorer"),
    "pixel": (".scorer_pixel", "PixelScorer"),
}
# the feature method's encoders -> (module, class); transformers is imported only by qwen2.5-vl
ENCODERS = {
    "open_clip": (".scorer_clip", "ClipScorer"),
    "qwen2.5-vl": (".scorer_qwen", "QwenScorer"),
}
