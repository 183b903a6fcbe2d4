"""Which sources hold which videos, read from the frame paths in annotation files.

Frames come in one archive (or one split archive) per source, so fetching some videos'
frames means fetching their sources' archives, and a video's source is only written in the
annotations: `videos` of each record lists paths ending in `<source>/<video_id>/NNNNNN.jpg`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec

from ..paths import FramePathError, parse_frame_path


class _Clips(msgspec.Struct):
    videos: list[list[str]] = []


_DECODE = msgspec.json.Decoder(_Clips).decode


def locate_videos(paths: Iterable[str | Path], video_ids: set[str]) -> dict[str, set[str]]:
    """video id -> the sources whose frame paths name it, for the ids in `video_ids` that
    the JSON Lines files `paths` mention. Lines that are not records with `videos` are
    passed over: checking records is `validate`'s job, not this lookup's."""
    found: dict[str, set[str]] = {}
    for path in paths:
        with open(path, "rb") as f:
            for line in f:
                try:
                    clips = _DECODE(line).videos
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue
                for clip in clips:
                    if not clip:
                        continue
                    try:
                        ref = parse_frame_path(clip[0])
                    except FramePathError:
                        continue
                    if ref.video_id in video_ids:
                        found.setdefault(ref.video_id, set()).add(ref.source)
    return found
