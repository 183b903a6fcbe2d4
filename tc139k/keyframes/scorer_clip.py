"""The feature scorer: open_clip patch tokens (encoder.py). The score of a patch is the cosine
of its last-layer token to the token at the same position of the previous frame; a patch is
redundant when the cosine is above tau (the authors' rule).

Encoder batches start at the video's first frame and never mix videos: floating-point results
depend slightly on how a batch is composed, so aligning batches on videos makes a video's
scores independent of its neighbours, of the batching of videos into files, of sharding and
of the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from . import dtd
from .scorer import Scorer

MIN_FRAME_SIZE = 224  # frames are decoded at least this large so scene detection sees detail


def encode_scores(frames: np.ndarray, encoder, batch_size: int) -> np.ndarray:
    """Quantised cosine scores uint8 (T, N) of one video, `batch_size` frames per encoder call."""
    chunks, prev = [], None
    for lo in range(0, len(frames), batch_size):
        tokens = encoder(frames[lo : lo + batch_size])
        sim = dtd.cosine_to_previous(tokens if prev is None else _cat(prev, tokens))
        chunks.append(dtd.quantize((sim if prev is None else sim[1:]).cpu().numpy(), "cosine"))
        prev = tokens[-1]
    return np.concatenate(chunks)


def _cat(prev, tokens):
    import torch

    return torch.cat([prev[None], tokens])


@dataclass
class ClipScorer(Scorer):
    name: ClassVar[str] = "feature"
    score_kind: ClassVar[str] = "cosine"
    default_threshold: ClassVar[float] = 0.5
    threshold_range: ClassVar[tuple[float, float]] = dtd.TAU_RANGES["cosine"]
    scores_while_decoding: ClassVar[bool] = False

    source: object  # encoder.ModelSource
    device: str
    precision: str
    batch_size: int
    frame_size: tuple[int, int]
    _encoder: object = field(default=None, repr=False, compare=False)

    @classmethod
    def create(cls, *, model=None, pretrained=None, device="auto", batch_size=32, **_) -> ClipScorer:
        from .encoder import pick_device, resolve_model

        precision = "fp16" if pick_device(device).startswith("cuda") else "fp32"  # checks the device first
        source = resolve_model(model, pretrained)
        h, w = source.image_size
        return cls(source, device, precision, batch_size, (max(w, MIN_FRAME_SIZE), max(h, MIN_FRAME_SIZE)))

    def __getstate__(self):
        return {**self.__dict__, "_encoder": None}  # the weights are loaded where the scoring runs

    @property
    def encoder(self):
        self.load()
        return self._encoder

    @property
    def grid(self) -> tuple[int, int]:
        return self.encoder.grid

    def provenance(self) -> dict:
        return {
            "model": {**self.source.to_dict(), "precision": self.precision},
            "batch_size": self.batch_size,
            "pixel_cell": None,
        }

    def load(self) -> None:
        if self._encoder is None:
            from .encoder import Encoder

            self._encoder = Encoder(self.source, self.device)

    def score(self, frames: np.ndarray) -> np.ndarray:
        return encode_scores(frames, self.encoder, self.batch_size)
