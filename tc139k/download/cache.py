"""Copies of the repository's files that this machine already holds: the Hugging Face hub cache.

`hf download`, `hf_hub_download` and `snapshot_download` keep a dataset repository under
`<hub cache>/datasets--<owner>--<name>/` (the hub cache is `HF_HUB_CACHE`, else
`HF_HOME/hub`, else `~/.cache/huggingface/hub`): `blobs/<etag>` holds each file once, named
by the hash the Hub publishes for it (sha256 for LFS files, the git blob id otherwise),
`snapshots/<commit>/<path>` links to the blobs, and `refs/<branch>` holds the commit a
branch pointed to.

- `HubCache.find(f)` returns a cached copy of a listed file whose size matches: the pinned
  commit's snapshot entry, else the blob named by the file's published hash. A copy is a
  candidate only: the caller hashes what it reads and uses it only if the hash matches, so a
  damaged cache file is never used. Nothing here ever writes into the cache.
- `copy_verified` copies a local file into a partial file while hashing it.
- `snapshot_commit(folder)` is the commit of a snapshot folder (its name), and
  `CacheSnapshotSource` reads such a folder as a mirror whose files' hashes are the names of
  the blobs they link to.
- `OfflineSource` is a repository known only from a listing kept on this machine (the
  manifest of an earlier download, or the cache's `trees/<commit>.json` / snapshot): it never
  makes a network call.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

from ..errors import DownloadError
from .hub import HEX40, HEX64, ContentHasher, MirrorSource, RemoteFile, check_repo_path, file_reader, resumable_fetch

CHUNK = 1 << 20


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps its cache, from the environment at call time."""
    env = os.environ
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(name):
            return Path(env[name]).expanduser()
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def repo_cache_folder(repo_id: str, cache_dir: Path | None = None) -> Path:
    return (cache_dir or hub_cache_dir()) / f"datasets--{repo_id.replace('/', '--')}"


def cached_commit(repo_id: str, revision: str | None, cache_dir: Path | None = None) -> str | None:
    """The commit the cache knows for `revision` (a branch via `refs/`, or a commit id whose
    snapshot is there); None when the cache does not know it."""
    folder = repo_cache_folder(repo_id, cache_dir)
    rev = revision or "main"
    if HEX40.match(rev):
        return rev if (folder / "snapshots" / rev).is_dir() else None
    ref = folder / "refs" / rev
    try:
        commit = ref.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return commit if HEX40.match(commit) and (folder / "snapshots" / commit).is_dir() else None


def snapshot_commit(folder: str | os.PathLike) -> str | None:
    """The commit of a hub cache snapshot folder (`.../datasets--o--n/snapshots/<commit>`)."""
    p = Path(folder).expanduser().resolve()
    if HEX40.match(p.name) and p.parent.name == "snapshots" and "--" in p.parent.parent.name:
        return p.name
    return None


def _blob_hashes(path: Path) -> tuple[str | None, str | None]:
    """(sha256, blob id) named by the blob a snapshot entry links to."""
    try:
        name = Path(os.readlink(path)).name if path.is_symlink() else ""
    except OSError:
        return None, None
    return (name if HEX64.match(name) else None), (name if HEX40.match(name) else None)


class HubCache:
    """Lookups of one repository's files at one commit in the hub cache (read only)."""

    def __init__(self, repo_id: str, commit: str | None, cache_dir: Path | None = None):
        self.folder = repo_cache_folder(repo_id, cache_dir)
        self.snapshot = self.folder / "snapshots" / commit if commit else None

    def find(self, f: RemoteFile) -> Path | None:
        """A cached file that should hold `f` (same size; verify its hash when reading it)."""
        if not (f.sha256 or f.blob_id):
            return None  # nothing published to verify a copy against
        candidates = [self.snapshot / f.path] if self.snapshot else []
        candidates += [self.folder / "blobs" / h for h in (f.sha256, f.blob_id) if h]
        for p in candidates:
            try:
                st = p.stat()  # follows the snapshot's link into blobs/
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_size == f.size:
                return p
        return None

    def snapshot_listing(self) -> list[RemoteFile]:
        """The files of the snapshot folder, with the hashes their blobs are named by: only
        those fetched into the cache, not necessarily all of the commit's."""
        return CacheSnapshotSource(self.snapshot).list_files() if self.snapshot and self.snapshot.is_dir() else []

    def tree_listing(self) -> list[RemoteFile] | None:
        """Every file of the commit, from `trees/<commit>.json`; None when it is missing or
        unreadable (a huggingface_hub that keeps none, or a cache filled file by file)."""
        if self.snapshot is None:
            return None
        try:
            tree = json.loads((self.folder / "trees" / f"{self.snapshot.name}.json").read_text())
            return [
                RemoteFile(path, int(e["size"]), e.get("lfs_sha256"), e.get("blob_id"))
                for path, e in tree["files"].items()
            ]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


def copy_verified(f: RemoteFile, src: Path, partial: Path, on_bytes: Callable[[int], None]) -> ContentHasher:
    """Copy `src` into `partial` (resuming a partial copy) and return the hash of the bytes;
    the caller compares it with the published one before using the copy."""

    return resumable_fetch(f, partial, file_reader(src), (), on_bytes, 0, 0.0, str(src))


class CacheSnapshotSource(MirrorSource):
    """A hub cache snapshot folder used as --mirror: its commit is the folder's name and each
    file's published hash is the name of the blob it links to."""

    def resolve(self) -> str | None:
        return snapshot_commit(self.root) or super().resolve()

    def _published_hashes(self) -> dict[str, tuple[str | None, str | None, str | None]]:
        out = super()._published_hashes()
        commit = snapshot_commit(self.root)
        for dirpath, _, filenames in os.walk(self.root):
            for name in filenames:
                p = Path(dirpath) / name
                sha, blob = _blob_hashes(p)
                if sha or blob:
                    out.setdefault(p.relative_to(self.root).as_posix(), (sha, blob, commit))
        return out


class OfflineSource:
    """A repository known from a listing on this machine; every transfer is refused."""

    kind = "hub"

    def __init__(self, repo_id: str, commit: str, listing: list[RemoteFile], where: str):
        self.repo_id = self.location = repo_id
        self.commit = commit
        self.listing = [RemoteFile(check_repo_path(f.path), f.size, f.sha256, f.blob_id) for f in listing]
        self.where = where  # where the listing came from, for messages

    def resolve(self) -> str:
        return self.commit

    def list_files(self) -> list[RemoteFile]:
        return sorted(self.listing, key=lambda f: f.path)

    def fetch(self, f: RemoteFile, partial: Path, on_bytes: Callable[[int], None]) -> ContentHasher:
        raise DownloadError(
            f"{f.path} is neither in the local folder nor in the HF cache, and offline mode "
            "(HF_HUB_OFFLINE or --offline) forbids fetching it; go online to fetch it"
        )

    def stream_path(self, f: RemoteFile) -> Path | None:
        return None
