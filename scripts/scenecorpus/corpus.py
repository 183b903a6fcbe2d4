"""The scene-cut evaluation corpus: clips of real footage from public repositories, with truth.

`clips.json` (beside this file) holds, for each clip, where its source file comes from
(repository, commit, path, sha256), the span of it that is used, the slow-down factor, the
truth (hard cuts, gradual transitions, hard-negative stretches with their class) and its split.
The media never enter the project: `build.py` fetches them into a folder outside it.

Frames of a clip: native times span_start + i / slow for i = 0, 1, ... up to span_end, each
taken from the decoder frame whose start time is nearest (ties: the earlier one), decoded
at the working size as `tc139k keyframes build` decodes. Frame i stands at evaluation time i
s (the clip as if slowed `slow` times and sampled at 1 fps); truth is converted the same way.

Split: by clip, fixed by the clip id alone (`split_of`), so that no one chooses which clip is
held out and adding clips never moves another one: the first 8 hex digits of sha256(id) even
-> tune, odd -> heldout.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CLIPS = HERE / "clips.json"
DEFAULT_MEDIA = HERE.parent.parent.parent / "scenecorpus" / "media"  # beside the project folder
HARD_NEGATIVE_CLASSES = ("handheld_shake", "camera_motion", "passing_object", "flash", "dark", "static")


def split_of(clip_id: str) -> str:
    return "tune" if int(hashlib.sha256(clip_id.encode()).hexdigest()[:8], 16) % 2 == 0 else "heldout"


@dataclass
class Clip:
    id: str
    repo: str
    commit: str
    path: str
    sha256: str
    span_s: tuple[float, float]
    slow: int
    cuts_s: list[float]
    gradual_s: list[list[float]]
    hard_negatives: list[dict] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    content: str = ""

    @property
    def split(self) -> str:
        return split_of(self.id)

    def media_path(self, media: Path) -> Path:
        return media / self.repo.replace("/", "+") / self.path

    def to_eval(self, t: float) -> float:
        """Native seconds -> evaluation seconds (frame index units)."""
        return (t - self.span_s[0]) * self.slow

    def truth(self, native: np.ndarray | None = None) -> tuple[list[float], list[list[float]]]:
        """(hard cuts, gradual spans) in evaluation seconds. With the frames' native times, a
        cut is placed at the first frame that shows the new shot (a frame's decoder time may
        lie up to half a native frame after the time it was taken for)."""
        a, b = self.span_s
        cuts = [self.to_eval(c) for c in self.cuts_s if a < c <= b]
        if native is not None:
            first = np.searchsorted(native, np.asarray([c for c in self.cuts_s if a < c <= b]) - 1e-3)
            cuts = [float(min(x, f)) for x, f in zip(cuts, first)]
        spans = [[self.to_eval(x), self.to_eval(y)] for x, y in self.gradual_s if a < y and x < b]
        return cuts, spans

    def negative_spans(self) -> list[tuple[str, float, float]]:
        return [(h["class"], self.to_eval(h["span_s"][0]), self.to_eval(h["span_s"][1])) for h in self.hard_negatives]


def load_clips(path: Path = CLIPS) -> list[Clip]:
    data = json.loads(Path(path).read_text())
    out = []
    for c in data["clips"]:
        out.append(
            Clip(
                id=c["id"],
                repo=c["repo"],
                commit=c["commit"],
                path=c["path"],
                sha256=c["sha256"],
                span_s=tuple(c["span_s"]),
                slow=int(c.get("slow", 1)),
                cuts_s=list(c.get("cuts_s", [])),
                gradual_s=[list(g) for g in c.get("gradual_s", [])],
                hard_negatives=list(c.get("hard_negatives", [])),
                classes=list(c.get("classes", [])),
                content=c.get("content", ""),
            )
        )
    return out


def frame_positions(starts: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each time, the decoder frame whose start is nearest (ties: the earlier)."""
    right = np.clip(np.searchsorted(starts, times, side="left"), 0, len(starts) - 1)
    left = np.clip(right - 1, 0, len(starts) - 1)
    return np.where(np.abs(starts[left] - times) <= np.abs(starts[right] - times), left, right)


def decode_clip(clip: Clip, media: Path, size: tuple[int, int] = (224, 224)) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 RGB (T, H, W, 3) evaluation frames of a clip, their native start times)."""
    import decord

    reader = decord.VideoReader(str(clip.media_path(media)), ctx=decord.cpu(0), width=size[0], height=size[1])
    starts = reader.get_frame_timestamp(np.arange(len(reader)))[:, 0]
    a, b = clip.span_s
    b = min(b, float(starts[-1]))
    times = a + np.arange(0, int(np.floor((b - a) * clip.slow + 1e-6)) + 1) / clip.slow
    pos = frame_positions(starts, times)
    return reader.get_batch(pos.tolist()).asnumpy(), starts[pos]
