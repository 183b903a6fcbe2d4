"""The common mistakes in the folders users pass, recognised before any work starts.

`check_frames_root` stops a `--frames-root` that is not `<source>/<video_id>/<NNNNNN>.jpg`
but one of the folders next to it: the download folder (it has `frames/` inside), a source
folder (its children are video folders of JPEGs), one video's folder (JPEGs at the top), or a
folder of video files. `check_mirror` stops a `--mirror` that is the folder above the
repository copy. `check_outside` stops an output written inside the frames root (its files
would be taken for a source of videos by every later run). Each raises UsageError saying what
was meant. Only a few entries of a few
folders are looked at, so a root of 11,000 videos is checked in milliseconds; a layout none
of the rules recognise passes (the caller reports what it finds).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .paths import FRAME_NAME_RE, VIDEO_EXTENSIONS

# Containers decord reads; kept here (not in keyframes.frames) so every stage may use them.
REPO_FILE_SUFFIXES = (".jsonl",)  # annotation files at the top of the dataset repository
PEEK_ENTRIES = 256  # entries read per folder: enough to see what a folder holds
PEEK_CHILDREN = 4  # child folders looked into


@dataclass
class _Peek:
    frames: int = 0  # NNNNNN.jpg files
    videos: list[str] = field(default_factory=list)  # video file names
    repo_files: int = 0  # annotation files or frame archives of the dataset repository
    dirs: list[Path] = field(default_factory=list)  # child folders, not hidden


def _peek(folder: Path) -> _Peek:
    seen = _Peek()
    try:
        with os.scandir(folder) as it:
            for n, e in enumerate(it):
                if n >= PEEK_ENTRIES:
                    break
                if e.name.startswith("."):
                    continue
                if e.is_dir():
                    seen.dirs.append(Path(e.path))
                elif FRAME_NAME_RE.match(e.name):
                    seen.frames += 1
                elif e.name.lower().endswith(VIDEO_EXTENSIONS):
                    seen.videos.append(e.name)
                elif e.name.endswith(REPO_FILE_SUFFIXES) or ".tar" in e.name:
                    seen.repo_files += 1
    except OSError:
        pass
    seen.dirs.sort()
    return seen


def _holds_video_folders(folder: Path) -> bool:
    """Some child folder of `folder` holds frame files (it is a source folder)."""
    return any(_peek(c).frames for c in _peek(folder).dirs[:PEEK_CHILDREN])


def is_frames_root(folder: Path) -> bool:
    """`folder` looks like <source>/<video_id>/<NNNNNN>.jpg (a few entries are looked at)."""
    return any(_holds_video_folders(c) for c in _peek(folder).dirs[:PEEK_CHILDREN])


def check_frames_root(root: str | os.PathLike, option: str = "--frames-root") -> None:
    """UsageError when `root` is recognisably not a frames root (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{option} {root} is not a folder")
    top = _peek(root)
    expected = "expected <source>/<video_id>/<NNNNNN>.jpg under it"
    if (root / "frames").is_dir() and is_frames_root(root / "frames"):
        raise UsageError(
            f"{option} {root} is a download folder ({expected}, and they are in {root / 'frames'}); "
            f"did you mean {option} {root / 'frames'}?"
        )
    if top.frames:
        raise UsageError(
            f"{option} {root} holds frame files itself: it is one video's folder ({expected}); "
            f"use the folder two levels up: {option} {root.resolve().parent.parent}"
        )
    if any(_peek(c).frames for c in top.dirs[:PEEK_CHILDREN]):
        raise UsageError(
            f"{option} {root} is one source's folder (its children are video folders of JPEGs; {expected}); "
            f"use its parent: {option} {root.resolve().parent}"
        )
    if top.videos and not any(_holds_video_folders(c) for c in top.dirs[:PEEK_CHILDREN]):
        names = ", ".join(top.videos[:3]) + (", ..." if len(top.videos) > 3 else "")
        raise UsageError(
            f"{option} {root} holds video files ({names}), not frame folders; "
            f"use --video FILE (once per file) to decode video files"
        )


def check_outside(out: str | os.PathLike, frames_root: str | os.PathLike, option: str = "--out") -> None:
    """UsageError when `out` is the frames root or inside it (links followed)."""
    o, r = Path(out).resolve(), Path(frames_root).resolve()
    if o == r or r in o.parents:
        raise UsageError(
            f"{option} {out} is inside the frames root {frames_root}: every later run would take what is "
            f"written there for a source of videos; write it outside, e.g. {option} {r.parent / o.name}"
        )


def check_mirror(mirror: str | os.PathLike) -> None:
    """UsageError when `mirror` does not exist, or holds no repository files at its top but
    one of its child folders does (the folder above the repository copy)."""
    mirror = Path(mirror)
    if not mirror.is_dir():
        raise UsageError(f"--mirror {mirror} does not exist or is not a folder")
    top = _peek(mirror)
    if top.repo_files:
        return
    inside = [c for c in top.dirs if _peek(c).repo_files]
    if inside:
        raise UsageError(
            f"--mirror {mirror} holds no annotation files (*.jsonl) or frame archives at its top, but "
            f"{inside[0]} does; did you mean --mirror {inside[0]}? (the mirror is the repository's own folder)"
        )


def missing_keyframes_hint(folder: str | os.PathLike, pattern: str) -> str:
    """What to do when `folder` holds no key-frame files (`pattern`): name a child folder that
    does (the run folder given instead of its keyframes/), or, for a folder of frames, the
    command that builds key frames from it into a folder of their own."""
    folder = Path(folder)
    holders = [c for c in _peek(folder).dirs if any(c.glob(pattern))]
    if holders:
        return f"did you mean {holders[0]}?"
    frames = folder / "frames" if is_frames_root(folder / "frames") else folder if is_frames_root(folder) else None
    if frames is not None:
        return (
            f"{folder} holds frames, not key frames: build them with `tc139k keyframes build --frames-root "
            f"{frames} --out keyframes` and give that folder"
        )
    return "give the --out folder of `tc139k keyframes build` (run it first if there is none)"
