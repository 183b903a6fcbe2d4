"""The frames-on-disk check of `validate --frames-root`, and what a partial download holds.

After `tc139k download --sources ...` or `--video-ids ...`, its manifest
(`tc139k-manifest.json` in the download folder, next to `frames/`) lists, per source that
was extracted, the videos it extracted and whether the whole archive was. With the scope
"downloaded", a video the manifest does not list (nor its source as complete) was not
downloaded: its records get `not_downloaded`, apart from real defects; a video it lists
must be on disk with every referenced frame (`missing_frame` otherwise). With the scope
"all", every referenced frame must be on disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .. import qa
from ..errors import UsageError
from ..paths import frame_relpath

MANIFEST_NAME = "tc139k-manifest.json"  # written by `tc139k download` in its folder
SCOPES = ("downloaded", "all")


def manifest_path(frames_root: Path) -> Path:
    """Where the download manifest of a frames root (`<download>/frames`) lies: beside the
    path as the user named it, made absolute but not resolved, since `frames` may be a link
    to another disk, where no manifest is."""
    return Path(os.path.abspath(frames_root)).parent / MANIFEST_NAME


def find_manifest(frames_root: Path) -> Path | None:
    """The download manifest next to the frames root, if any (see `manifest_path`)."""
    path = manifest_path(frames_root)
    return path if path.is_file() else None


def downloaded_videos(manifest: Path) -> tuple[frozenset, frozenset]:
    """(sources extracted whole, (source, video_id) pairs extracted) from a manifest."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        sources = data["sources"]
        whole = frozenset(s for s, info in sources.items() if info.get("complete"))
        videos = frozenset((s, v) for s, info in sources.items() for v in info.get("videos", {}))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(
            f"the download manifest {manifest} is not readable ({e}); rerun `tc139k download` "
            "to rewrite it, or use --frames-scope all"
        ) from None
    return whole, videos


class FramesOnDisk:
    """Frame indices present per video, one directory listing per video for the whole run
    (instead of one stat per path per record). `scope`: None (every video must be there) or
    the `downloaded_videos()` of a manifest."""

    def __init__(self, root: str | Path, scope: tuple[frozenset, frozenset] | None = None):
        self.root = Path(root)
        self.scope = scope
        self.cache: dict = {}  # (source, video_id) -> _existing()

    def _existing(self, video: tuple[str, str]):
        """The sorted frame numbers of a video on disk (numpy int32), None when absent."""
        import numpy as np  # (not at import time: the stage imports this module before it starts workers)

        if video not in self.cache:
            found = None
            try:
                with os.scandir(self.root / video[0] / video[1]) as it:
                    found = [i for e in it if (i := qa.frame_index(e.name)) is not None and e.is_file()]
                found = np.array(sorted(found), dtype=np.int32)
            except (FileNotFoundError, NotADirectoryError):
                pass
            self.cache[video] = found
        return self.cache[video]

    def downloaded(self, video: tuple[str, str]) -> bool:
        if self.scope is None:
            return True
        whole, videos = self.scope
        return video[0] in whole or video in videos

    def problems(self, clips: list) -> list[qa.Problem]:
        """missing_frame and not_downloaded of one record from its sound clips, each
        (source, video_id) and its frame indices."""
        import numpy as np

        missing = total = 0
        first = None
        absent = []
        for video, indices in clips:
            if not self.downloaded(video):
                absent.append(video)
                continue
            have = self._existing(video)
            idx = np.asarray(indices, dtype=np.int32)
            total += len(idx)
            gone = np.ones(len(idx), dtype=bool) if have is None else ~np.isin(idx, have)
            if gone.any():
                missing += int(gone.sum())
                if first is None:
                    first = frame_relpath(*video, int(idx[gone.argmax()]))
        out = []
        if missing:
            out.append(("missing_frame", f"{missing} of {total} frame(s) missing under {self.root} (first: {first})"))
        if absent:
            names = ", ".join(f"{s}/{v}" for s, v in sorted(set(absent)))
            out.append(("not_downloaded", f"video {names} was not downloaded (see {MANIFEST_NAME})"))
        return out
