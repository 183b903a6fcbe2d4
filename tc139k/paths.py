"""Frame paths: parsing the `<source>/<video_id>/<NNNNNN>.jpg` tail and building local paths.

Paths in the annotations carry the authors' machine prefix
(`timechatonline/timeit-v2/frames/...`) and archives use a prefix of their own, so nothing
here assumes a prefix: only the last three components count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AUTHORS_PREFIX = "timechatonline/timeit-v2/frames/"
# `\Z`, not `$`: `$` also matches before a final newline ("000001.jpg\n")
FRAME_NAME_RE = re.compile(r"^(\d{6})\.jpg\Z")
# Video files that `keyframes build --video` decodes (and that a frames root must not hold)
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".flv", ".mpg", ".mpeg", ".ts")
# A name component that is safe to use as a folder name: no separators, not `.` or `..`.
SAFE_NAME_RE = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.\-]{1,128}\Z")


class FramePathError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class FrameRef:
    source: str  # lower-case source dataset name, e.g. "youcook2"
    video_id: str
    index: int  # frame index = second at 1 fps

    @property
    def relpath(self) -> str:
        """Path relative to the frames root."""
        return frame_relpath(self.source, self.video_id, self.index)


def is_safe_name(name: str) -> bool:
    return bool(SAFE_NAME_RE.match(name))


def source_key(name: str) -> str:
    """Canonical source name: lower-case, as used in frame paths (`Youcook2` -> `youcook2`)."""
    return name.strip().lower()


def frame_relpath(source: str, video_id: str, index: int) -> str:
    return f"{source}/{video_id}/{index:06d}.jpg"


def parse_frame_path(path: str) -> FrameRef:
    """Parse any path ending in `<source>/<video_id>/<NNNNNN>.jpg`, whatever its prefix."""
    if "\\" in path or "\x00" in path:
        raise FramePathError(f"unexpected character in frame path {path!r}")
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3:
        raise FramePathError(f"frame path {path!r} does not end in <source>/<video_id>/<NNNNNN>.jpg")
    source, video_id, name = parts[-3:]
    m = FRAME_NAME_RE.match(name)
    if not m:
        raise FramePathError(f"frame file name {name!r} in {path!r} is not <6 digits>.jpg")
    if ".." in parts:
        raise FramePathError(f"frame path {path!r} contains '..'")
    if not is_safe_name(source) or not is_safe_name(video_id):
        raise FramePathError(f"unsafe source or video id in frame path {path!r}")
    return FrameRef(source_key(source), video_id, int(m.group(1)))
