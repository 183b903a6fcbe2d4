"""The DTD columns of a shard row (`shards build --dtd-scores`): from the key-frame run's stored
per-patch scores, the level per visual token of each token frame of the clip, so that a
trainer decides which tokens DTD keeps at any tau without running the vision tower.

Token frames are the model's: one per clip frame, or for qwen2.5-vl one per temporal patch
(clip frames 2j and 2j + 1; an odd last frame with a copy of itself, as Qwen's processor
pads it). The key-frame run stored, for every scored frame of the video, the score of its
token frame against the previous one (for qwen2.5-vl, both frames of the run's patch k,
positions 2k and 2k + 1, carry patch k's score). A clip's token frame j therefore gets:

- span 0, j = 0: the never-dropped level (the first frame keeps every token, as the authors');
- span 1: it is the run's step right after the clip's previous token frame: the stored
  level, exactly what the model computes on the clip;
- span k > 1: the clip skips k - 1 of the run's steps (seconds, or qwen patches): the gap
  bound (`dtdlevels.gap_bound`) of the k stored levels, which DTD drops at a tau only when
  the direct comparison would be dropped too, so no token the model keeps is dropped;
- span -1: no stored comparison is the model's (a qwen2.5-vl pair of clip frames that is not
  one of the run's pairs, since the tower encodes the pair together; frames out of order):
  the never-dropped level, every token kept.

Positions are the run's scored-frame positions (a frame it could not read is no step), so
"consecutive" means consecutive in what the run scored.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..dtdlevels import NEVER_DROPPED, gap_bound

SPAN_CASES = ("first", "consecutive", "gap", "unaligned")  # spans 0, 1, > 1, -1


def token_frame_ids(positions: list[int], per_token: int, n_frames: int) -> list[int | None]:
    """For each token frame of the clip, the run's token frame it is (the run's step index),
    or None when its clip frames are not exactly one of the run's token frames."""
    ids = []
    for j in range(0, len(positions), per_token):
        group = positions[j : j + per_token]
        k = group[0] // per_token
        run_group = list(range(k * per_token, min((k + 1) * per_token, n_frames)))
        ids.append(k if group == run_group else None)
    return ids


def clip_levels(positions: list[int], scores: np.ndarray, per_token: int, kind: str) -> tuple[bytes, list[int]]:
    """`dtd_levels` (bytes, token frames x cells) and `dtd_span` of one clip, from the clip
    frames' positions in the run and the run's scores uint8 (n_frames, cells)."""
    ids = token_frame_ids(positions, per_token, len(scores))
    out = np.full((len(ids), scores.shape[1]), NEVER_DROPPED[kind], dtype=np.uint8)
    spans = [0] * len(ids)
    for j in range(1, len(ids)):
        prev, cur = ids[j - 1], ids[j]
        if prev is None or cur is None or cur <= prev:
            spans[j] = -1
            continue
        steps = scores[[m * per_token for m in range(prev + 1, cur + 1)]]
        spans[j] = cur - prev
        out[j] = steps[0] if len(steps) == 1 else gap_bound(steps, kind)
    return out.tobytes(), spans


def span_counts(spans_of_rows) -> dict:
    """How many token frames fall in each case, and the gaps by length (in the run's steps)."""
    cases, gaps = Counter(), Counter()
    for spans in spans_of_rows:
        for s in spans:
            cases[SPAN_CASES[0] if s == 0 else SPAN_CASES[1] if s == 1 else SPAN_CASES[3] if s < 0 else "gap"] += 1
            if s > 1:
                gaps[s] += 1
    return {
        "token_frames": {c: cases[c] for c in SPAN_CASES},
        "gap_lengths": {str(k): gaps[k] for k in sorted(gaps)},
    }
