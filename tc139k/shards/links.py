"""Where embedded frames really come from: the frames a build read through a symbolic link
that leaves the frames root.

The policy, the same in every command. Reading follows links wherever they point: a frames
root that is a link farm onto shared storage is common, and a link to something that is no
frame (`/etc/passwd`) fails the frame checks like any damaged file (`bad_frames` in the
shards' quarantine, a failed video in key frames). Writing paths (shards without embedded
frames, `export swift`) writes them under the frames root as the user named it, never
resolved. Publishing bytes is where a link matters: `shards build --embed-frames` records
how many embedded frames were read through a link leaving the frames root (the manifest's
`frames_outside_root`), and `shards push` refuses to publish such shards unless asked
(`--allow-frames-outside-root`), so a stray link never puts a private file on the Hub.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

EXAMPLES = 5


class OutsideRoot:
    """Counts the frames, given as paths relative to the frames root, whose real path is not
    under the frames root's real path. A video folder's real path is worked out once; a frame
    costs one lstat, and a realpath only when it is itself a link."""

    def __init__(self, frames_root: str | os.PathLike):
        self.root = Path(frames_root)
        self.real_root = os.path.realpath(self.root)
        self._folders: dict[str, bool] = {}  # "source/video_id" -> its real path leaves the root
        self._seen: set[str] = set()
        self.count = 0
        self.examples: list[str] = []

    def _leaves(self, real: str) -> bool:
        return os.path.commonpath([self.real_root, real]) != self.real_root

    def add(self, paths: list[str]) -> None:
        for rel in paths:
            if rel in self._seen:
                continue
            self._seen.add(rel)
            folder = rel.rsplit("/", 1)[0]
            leaves = self._folders.get(folder)
            if leaves is None:
                leaves = self._folders[folder] = self._leaves(os.path.realpath(self.root / folder))
            if not leaves:
                try:
                    is_link = stat.S_ISLNK(os.lstat(self.root / rel).st_mode)
                except OSError:
                    is_link = False
                leaves = is_link and self._leaves(os.path.realpath(self.root / rel))
            if leaves:
                self.count += 1
                if len(self.examples) < EXAMPLES:
                    self.examples.append(rel)

    def record(self) -> dict:
        """The manifest's `frames_outside_root`."""
        return {"count": self.count, "examples": sorted(self.examples)}
