"""The feature method on Qwen2.5-VL's own visual tokens (`--encoder qwen2.5-vl`): DTD as the
authors measure it, one merged token per 28 x 28 px region after the 2 x 2 patch merger.

What one DTD frame is. Qwen2.5-VL's patch embedding spans two consecutive frames: raw
frames 2k and 2k + 1 of the decoded sequence (1 fps, so seconds 2k and 2k + 1 when no frame
is missing) make temporal patch k, and the tower gives one token per 28 x 28 px region of
it. Temporal patch k is DTD frame k: each of its tokens is compared (cosine) with the token
at the same position of patch k - 1 and is redundant when the cosine is above tau; patch 0
is never dropped. A video of T frames has ceil(T / 2) DTD frames; an odd last frame forms its
patch with a copy of itself, as Qwen's processor pads it.

What is stored per raw frame. The key-frame stage keeps one row of scores per decoded frame
(its `frame_seconds`, scene ids, key frames and trigger times are raw frames), so both raw
frames of a patch carry that patch's scores: row 2k = row 2k + 1 = DTD frame k's scores, and
frame seconds keep meaning the raw frames' times. Hence the token-weighted drop ratio of a
video equals the authors' ratio over its DTD frames (each counted twice; with an odd T the
last one counts once), the per-frame curve steps every two seconds, and frame 1, the second
half of patch 0, carries its never-dropped level (like frame 0, it is never a trigger time).

Frames are decoded at one working size for the whole run: a 16:9 frame resized by Qwen's
rule within the pixel budget (qwen_frames.py: by default 224 x 420 px, an 8 x 15 token grid);
frames of another shape are resized whole to it, as the open_clip path squares them.

Encoder batches hold `batch_size` raw frames rounded up to an even number (a pair never
splits), start at the video's first frame and never mix videos; the last DTD frame of a
batch is carried to the next, so a video's scores do not depend on its neighbours or on the
engine, as with open_clip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..errors import UsageError
from . import dtd, qwen_frames
from .scorer import Scorer


def encode_pairs(frames: np.ndarray, tower, batch_size: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """Quantised cosine scores uint8 (T, N) of one video's raw frames (module docstring), the
    frames resized to `size` (height, width) by the tower."""
    import torch

    step = tower.temporal * max(1, -(-batch_size // tower.temporal))  # whole temporal patches
    chunks, prev = [], None
    for lo in range(0, len(frames), step):
        tokens = tower(frames[lo : lo + step], size)  # (patches, N, D)
        sim = dtd.cosine_to_previous(tokens if prev is None else torch.cat([prev[None], tokens]))
        chunks.append(dtd.quantize((sim if prev is None else sim[1:]).cpu().numpy(), "cosine"))
        prev = tokens[-1]
    per_patch = np.concatenate(chunks)
    return np.repeat(per_patch, tower.temporal, axis=0)[: len(frames)]


@dataclass
class QwenScorer(Scorer):
    name: ClassVar[str] = "feature"
    score_kind: ClassVar[str] = "cosine"
    default_threshold: ClassVar[float] = 0.5
    threshold_range: ClassVar[tuple[float, float]] = dtd.TAU_RANGES["cosine"]
    scores_while_decoding: ClassVar[bool] = False
    frames_per_step: ClassVar[int] = 2  # a temporal patch

    source: object  # qwen_checkpoint.QwenSource
    device: str
    precision: str
    batch_size: int
    min_pixels: int
    max_pixels: int
    frame_size: tuple[int, int]
    _tower: object = field(default=None, repr=False, compare=False)

    @classmethod
    def create(
        cls,
        *,
        model=None,
        pretrained=None,
        device="auto",
        batch_size=32,
        min_pixels=qwen_frames.MIN_PIXELS,
        max_pixels=qwen_frames.MAX_PIXELS,
        **_,
    ) -> QwenScorer:
        from .encoder import pick_device
        from .qwen_checkpoint import resolve_checkpoint
        from .qwen_tower import cuda_dtype_name, import_transformers

        import_transformers()  # the missing extra is named before anything else is checked
        if model is not None:
            raise UsageError(
                "--model names an open_clip architecture; the qwen2.5-vl encoder takes its architecture from "
                "the checkpoint's config.json (give --pretrained only)"
            )
        if not 0 < min_pixels <= max_pixels:
            raise UsageError(f"--min-pixels ({min_pixels}) must be > 0 and at most --max-pixels ({max_pixels})")
        precision = cuda_dtype_name() if pick_device(device).startswith("cuda") else "fp32"
        source = resolve_checkpoint(pretrained)
        h, w = qwen_frames.smart_resize(*qwen_frames.NOMINAL_SOURCE, source.factor, min_pixels, max_pixels)
        return cls(source, device, precision, batch_size, min_pixels, max_pixels, (w, h))

    def __getstate__(self):
        return {**self.__dict__, "_tower": None}  # the weights are loaded where the scoring runs

    @property
    def tower(self):
        self.load()
        return self._tower

    @property
    def grid(self) -> tuple[int, int]:
        w, h = self.frame_size
        return h // self.source.factor, w // self.source.factor

    def provenance(self) -> dict:
        rule = qwen_frames.resize_rule(self.min_pixels, self.max_pixels, self.source.factor)
        return {
            "model": {
                **self.source.to_dict(),
                "precision": self.precision,
                "resize": rule,
                "dtd_frame": "one temporal patch of 2 raw frames; both raw frames carry its scores",
            },
            "batch_size": self.batch_size,
            "pixel_cell": None,
        }

    def load(self) -> None:
        if self._tower is None:
            from .qwen_tower import QwenTower

            self._tower = QwenTower(self.source, self.device, self.min_pixels, self.max_pixels)

    def score(self, frames: np.ndarray) -> np.ndarray:
        return encode_pairs(frames, self.tower, self.batch_size, self.frame_size[::-1])
