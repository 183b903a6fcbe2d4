"""`tc139k download`: fetch the annotations and frame archives, verify them, extract the frames.

Entry point: `run_download(...) -> DownloadResult`.

The repository is listed once. Annotation files (every file that is not a frame archive)
land under `<local_dir>/`; each source's archive is fetched (or, from a mirror, read in
place), checked against the hash the source publishes, and extracted into
`<local_dir>/frames/<source>/<video_id>/`. What is done is recorded in
`<local_dir>/tc139k-manifest.json`, written atomically after every file and every source,
so that a rerun fetches and extracts only what is missing (nothing at all when everything
is present) and an interrupted run resumes: finished files are kept, a partly transferred
file continues from its last byte.

With video ids and no explicit sources, the annotations are fetched first and read for the
sources that hold those videos (`locate.locate_videos`); only their archives are fetched.

Copies already on this machine are used before the network (`cache`): a file in the local
folder or in the Hugging Face hub cache at the pinned commit (or its blob, named by its hash)
whose hash matches the published one is copied (annotations, kept archives) or read in place
(archives to extract); a cache copy that does not match is passed over and the file fetched.
Offline (`HF_HUB_OFFLINE` or `offline=True`) nothing goes to the network: the listing kept in
the manifest (or a cached snapshot) says what the repository holds, and what is neither in the
local folder nor in the cache is reported missing.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

from ..atomic import read_json, write_json
from ..errors import DiskFullError, DownloadError, IntegrityError, UsageError
from ..hubenv import hub_offline
from ..paths import is_safe_name, source_key
from ..progress import progress
from .cache import CacheSnapshotSource, HubCache, OfflineSource, cached_commit, copy_verified
from .cache import snapshot_commit as cache_snapshot_commit
from .extract import (
    ARCHIVE_RE,
    DEFAULT_MAX_EXPANSION_RATIO,
    DEFAULT_MAX_MEMBER_BYTES,
    WORK_DIR,
    FrameArchive,
    expansion_limit,
    extract_frames,
    group_archives,
)
from .hub import (
    DEFAULT_MAX_WAIT,
    DEFAULT_REPO,
    DEFAULT_TIMEOUT,
    MANIFEST_NAME,
    ContentHasher,
    HubSource,
    MirrorSource,
    RemoteFile,
    RepoSource,
    hash_file,
)
from .localdir import inside
from .locate import locate_videos

DEFAULT_LOCAL_DIR = "./TimeChat-Online-139K"
MANIFEST_FORMAT = 1
RESERVED_TOP = {"frames", MANIFEST_NAME, WORK_DIR}  # our own names in the local folder
LOG = logging.getLogger("tc139k.download")


@dataclass
class DownloadResult:
    repo: str
    origin: str  # "hub" or "mirror"
    mirror: str | None
    requested_revision: str | None
    resolved_commit: str | None
    local_dir: str
    manifest: str
    dry_run: bool = False
    verify_only: bool = False
    up_to_date: bool = False
    available_sources: list[str] = field(default_factory=list)
    selected_sources: list[str] = field(default_factory=list)
    files_fetched: list[str] = field(default_factory=list)
    bytes_fetched: int = 0  # bytes really transferred, bytes sent twice counted twice
    files_present: list[str] = field(default_factory=list)
    files_streamed: list[str] = field(default_factory=list)
    files_unverified: list[str] = field(default_factory=list)  # no published hash to check against
    sources_extracted: dict[str, dict] = field(default_factory=dict)
    sources_up_to_date: list[str] = field(default_factory=list)
    archives_deleted: list[str] = field(default_factory=list)
    bytes_deleted: int = 0
    # archives that were in the local folder before tc139k knew them (e.g. from `hf download
    # --local-dir`): extracted from, never deleted
    archives_kept: list[str] = field(default_factory=list)
    offline: bool = False
    listing_from: str | None = None  # offline: "manifest", "hf-cache" (its tree) or "hf-cache-snapshot"
    hf_cache: str | None = None  # the hub cache folder of the repository, when it was looked in
    files_from_cache: list[str] = field(default_factory=list)  # copied or read in place from it
    bytes_from_cache: int = 0
    missing_files: list[str] = field(default_factory=list)  # offline: in neither place
    missing_video_ids: list[str] = field(default_factory=list)
    requested_video_ids: int = 0
    # with video ids and no --sources: each located id's sources (from the annotations), or
    # None when the annotations were not at hand (a dry run before they are fetched)
    video_sources: dict[str, list[str]] | None = None
    videos_total: int = 0
    frames_total: int = 0
    plan: list[dict] = field(default_factory=list)
    bytes_to_fetch: int = 0
    bytes_needed: int = 0
    # the frames' size is estimated as their archives' size; extraction refuses an archive
    # that expands past its bound: this many bytes in all at most
    frames_bytes_limit: int = 0
    free_bytes: int = 0
    verify_problems: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


# ---- manifest ------------------------------------------------------------------------------------


class Manifest:
    """`<local_dir>/tc139k-manifest.json`: what is in the local folder and where it came from."""

    def __init__(self, path: Path, data: dict):
        self.path = path
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        if not path.is_file():
            return None
        try:
            data = read_json(path)
        except (OSError, ValueError):
            return None  # unreadable: every local file is checked again by hashing it
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            return None
        data.setdefault("files", {})
        data.setdefault("sources", {})
        return cls(path, data)

    @property
    def files(self) -> dict:
        return self.data["files"]

    @property
    def sources(self) -> dict:
        return self.data["sources"]

    def set_file(
        self, f: RemoteFile, kind: str, hasher: ContentHasher | None, present: bool, found: bool = False
    ) -> None:
        with self._lock:
            found = found or bool((self.files.get(f.path) or {}).get("found") and present)
            self.files[f.path] = {
                "kind": kind,
                "size": f.size,
                "identity": f.identity,
                "sha256": f.sha256 or (hasher.hexdigest() if hasher and not hasher.git else None),
                "blob_id": f.blob_id,
                "verified": bool(f.sha256 or f.blob_id),
                "present": present,
                **({"found": True} if found else {}),  # put there by someone else: never deleted
            }
            self.save()

    def set_present(self, path: str, present: bool) -> None:
        with self._lock:
            if path in self.files:
                self.files[path]["present"] = present
                self.save()

    def save(self) -> None:
        write_json(self.path, self.data)


# ---- planning ------------------------------------------------------------------------------------


@dataclass
class SourceJob:
    archive: FrameArchive
    files: list[RemoteFile]  # the parts, in order
    extract: bool
    stream: bool  # read the parts in place from the mirror
    video_ids: set[str] | None  # extract only these (None: all)
    skip_video_ids: set[str]  # already in place
    replaces: dict[str, int]  # videos recorded from an older archive, to drop if not re-extracted
    stream_from: list[Path] | None = None  # the parts in the HF cache, read in place


def _file_is_current(manifest: Manifest | None, f: RemoteFile, root: Path, need_present: bool) -> bool:
    if manifest is None:
        return False
    rec = manifest.files.get(f.path)
    if not rec or rec.get("identity") != f.identity or rec.get("size") != f.size:
        return False
    if not need_present:
        return True
    p = root / f.path
    return bool(rec.get("present")) and p.is_file() and p.stat().st_size == f.size


def _local_action(manifest: Manifest | None, f: RemoteFile, root: Path, cache: HubCache | None = None) -> str:
    """ "present" (recorded and on disk), "check" (on disk, hash it first), "cache" (copy it
    from the HF cache, hashing it) or "fetch"."""
    if _file_is_current(manifest, f, root, need_present=True):
        return "present"
    p = root / f.path
    if p.is_file() and p.stat().st_size == f.size and (f.sha256 or f.blob_id):
        return "check"
    if cache is not None and cache.find(f) is not None:
        return "cache"
    return "fetch"


def read_video_ids(spec: str | os.PathLike | Iterable[str] | None) -> set[str] | None:
    """Video ids from a file (one per line, `#` comments) or an iterable of ids."""
    if spec is None:
        return None
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise UsageError(f"cannot read the video id file {path}: {e.strerror}") from None
        where = str(path)
    else:
        lines, where = [str(x) for x in spec], "video ids"
    ids = set()
    for n, line in enumerate(lines, 1):
        vid = line.split("#", 1)[0].strip()
        if not vid:
            continue
        if not is_safe_name(vid):
            raise UsageError(f"{where}:{n}: {vid!r} is not a valid video id")
        ids.add(vid)
    if not ids:
        raise UsageError(f"{where}: no video ids")
    return ids


def _select_sources(archives: dict[str, FrameArchive], sources, where: str) -> list[str]:
    available = sorted(archives)
    if sources is None:
        return available
    names = [s for s in (sources.split(",") if isinstance(sources, str) else sources)]
    wanted = [source_key(s) for s in names if s.strip()]
    if not wanted:
        raise UsageError("--sources is empty")
    unknown = sorted({w for w in wanted} - set(available))
    if unknown:
        raise UsageError(
            f"unknown source(s) {', '.join(unknown)}; {where} has: {', '.join(available) or 'no frame archives'}"
        )
    return sorted(set(wanted))


def _free_bytes(path: Path) -> int:
    p = path
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


@contextlib.contextmanager
def disk_full_as_error(root: Path):
    try:
        yield
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(
                f"disk full while writing {e.filename or root} ({_free_bytes(root)} bytes free); "
                "free some space and rerun the same command to resume"
            ) from None
        raise


# ---- the run -------------------------------------------------------------------------------------


class _Stopped(Exception):
    """Raised inside a transfer when another one failed or the user interrupted."""


class _Run:
    """State shared by the steps of one download."""

    def __init__(
        self, root: Path, source: RepoSource, manifest: Manifest, result: DownloadResult, bars: bool, max_workers: int
    ):
        self.root = root
        self.source = source
        self.manifest = manifest
        self.result = result
        self.bars = bars
        self.max_workers = max(1, max_workers)
        self.lock = threading.Lock()
        self.bytes_bar = None
        self.stop = threading.Event()  # set on the first failure or an interrupt
        self.cache: HubCache | None = None

    def dest(self, f: RemoteFile) -> Path:
        inside(self.root, *f.path.split("/")[:-1])
        return self.root / f.path

    def partial(self, f: RemoteFile) -> Path:
        tag = hashlib.sha1(f.identity.encode()).hexdigest()[:16]
        return inside(self.root, WORK_DIR, "partial", f"{quote(f.path, safe='')}.{tag}.part")

    def get_file(self, f: RemoteFile, kind: str) -> None:
        """Make `<local_dir>/<f.path>` hold the verified bytes of `f`."""
        dest = self.dest(f)
        if dest.is_file() and dest.stat().st_size == f.size and (f.sha256 or f.blob_id):
            if not hash_file(dest, f).mismatch():  # a copy the manifest does not know yet
                # not a copy tc139k has on record as present: someone else put it there
                found = not (self.manifest.files.get(f.path) or {}).get("present")
                self.manifest.set_file(f, kind, None, present=True, found=found)
                with self.lock:
                    self.result.files_present.append(f.path)
                return
        if self._copy_from_cache(f, kind, dest):
            return
        partial = self.partial(f)
        with disk_full_as_error(self.root):
            hasher = self.source.fetch(f, partial, self._on_bytes)
        problem = hasher.mismatch()
        if problem:
            partial.unlink(missing_ok=True)
            raise IntegrityError(
                f"{f.path} from {self.source.location}: {problem}; the damaged "
                "copy was deleted, rerun to fetch it again"
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, dest)
        self.manifest.set_file(f, kind, hasher, present=True)
        with self.lock:
            self.result.files_fetched.append(f.path)
            # not `size - bytes held before`: a range ignored or a restart sends more
            self.result.bytes_fetched += hasher.received
            if not (f.sha256 or f.blob_id):
                self.result.files_unverified.append(f.path)

    def _copy_from_cache(self, f: RemoteFile, kind: str, dest: Path) -> bool:
        """Copy `f` from the HF cache when a copy with the published hash is there."""
        cached = self.cache.find(f) if self.cache else None
        if cached is None:
            return False
        partial = self.partial(f)
        with disk_full_as_error(self.root):
            hasher = copy_verified(f, cached, partial, lambda n: None)
        problem = hasher.mismatch()
        if problem:
            partial.unlink(missing_ok=True)
            LOG.warning("the HF cache copy %s of %s does not match (%s); fetching it instead", cached, f.path, problem)
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, dest)
        self.manifest.set_file(f, kind, hasher, present=True)
        LOG.debug("%s: copied from the HF cache (%s)", f.path, cached)
        with self.lock:
            self.result.files_from_cache.append(f.path)
            self.result.bytes_from_cache += f.size
        return True

    def _on_bytes(self, n: int) -> None:
        if self.stop.is_set():  # another transfer failed: stop this one too (its part file stays)
            raise _Stopped()
        if self.bytes_bar is not None:
            with self.lock:
                self.bytes_bar.update(n)

    def get_files(self, items: list[tuple[RemoteFile, str]]) -> None:
        """Fetch several files, `max_workers` at a time; the first error stops the rest."""
        if not items:
            return
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(items))) as pool:
            futures = [pool.submit(self.get_file, f, kind) for f, kind in items]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
            finally:  # also on Ctrl-C: let the running transfers end quickly
                if not all(f.done() and f.exception() is None for f in futures):
                    self.stop.set()
                for fut in futures:
                    fut.cancel()
                wait(futures)
            errors = [f.exception() for f in futures if not f.cancelled() and f.exception()]
            errors.sort(key=lambda e: isinstance(e, _Stopped))  # the cause first
            if errors:
                raise errors[0]

    def run_source(self, job: SourceJob, limits: dict, keep_archives: bool) -> None:
        src = job.archive.source
        if not job.stream:
            self.get_files(
                [(f, "archive") for f in job.files if _local_action(self.manifest, f, self.root) != "present"]
            )
        if not job.extract:
            return
        hashers = None
        if job.stream:
            parts = job.stream_from or [self.source.stream_path(f) for f in job.files]
            hashers = [ContentHasher(f) for f in job.files]
        else:
            parts = [self.root / f.path for f in job.files]
        bar = progress(None, desc=f"extract {src}", unit="frame", enabled=self.bars)
        try:
            with disk_full_as_error(self.root):
                res = extract_frames(
                    parts,
                    source=src,
                    label=job.archive.label,
                    local_dir=self.root,
                    video_ids=job.video_ids,
                    skip_video_ids=job.skip_video_ids,
                    **limits,  # max_member_bytes, max_expansion_ratio, max_extract_bytes
                    hashers=hashers,
                    on_member=bar.update,
                )
        except IntegrityError as e:
            if not job.stream_from or isinstance(self.source, OfflineSource):
                raise
            # a damaged cache copy: nothing was extracted from it; fetch the archive instead
            LOG.warning("the HF cache copy of %s does not match (%s); fetching it instead", job.archive.label, e)
            job.stream, job.stream_from = False, None
            return self.run_source(job, limits, keep_archives)
        finally:
            bar.close()
        self._record_source(job, res)
        if job.stream:
            for f, h in zip(job.files, hashers):
                self.manifest.set_file(f, "archive", h, present=False)
                self.result.files_streamed.append(f.path)
                if job.stream_from:
                    self.result.files_from_cache.append(f.path)
                    self.result.bytes_from_cache += f.size
                if not (f.sha256 or f.blob_id):
                    self.result.files_unverified.append(f.path)
        elif not keep_archives:
            for f in job.files:
                if (self.manifest.files.get(f.path) or {}).get("found"):
                    self.result.archives_kept.append(f.path)  # not ours to delete
                    continue
                (self.root / f.path).unlink(missing_ok=True)
                self.manifest.set_present(f.path, False)
                self.result.archives_deleted.append(f.path)
                self.result.bytes_deleted += f.size

    def _record_source(self, job: SourceJob, res) -> None:
        src = job.archive.source
        old = self.manifest.sources.get(src) or {}
        same = old.get("identity") == [f.identity for f in job.files]
        videos = dict(old.get("videos", {})) if same else {}
        for vid in job.replaces:  # frames of an older archive that this one no longer holds
            if vid not in res.videos and not same:
                shutil.rmtree(self.root / "frames" / src / vid, ignore_errors=True)
        videos.update(res.videos)
        self.manifest.sources[src] = {
            "archive": job.archive.label,
            "parts": [f.path for f in job.files],
            "identity": [f.identity for f in job.files],
            "complete": job.video_ids is None or (same and bool(old.get("complete"))),
            "videos": dict(sorted(videos.items())),
            "frames": sum(videos.values()),
        }
        with self.manifest._lock:
            self.manifest.save()
        self.result.sources_extracted[src] = {
            "archive": job.archive.label,
            "videos": len(res.videos),
            "frames": res.frames,
            "members": res.members,
            "skipped_dirs": res.skipped_dirs,
            "skipped_other": res.skipped_other,
            "skipped_unselected": res.skipped_unselected,
        }


@contextlib.contextmanager
def _exclusive(root: Path):
    """One download at a time per local folder."""
    import fcntl

    lock_path = inside(root, WORK_DIR, "lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    inside(root, WORK_DIR, "lock")  # a link planted while the folder was made
    with open(lock_path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(f"another tc139k download is writing to {root}") from None
        yield


def run_download(
    *,
    repo: str = DEFAULT_REPO,
    revision: str | None = None,
    local_dir: str | os.PathLike = DEFAULT_LOCAL_DIR,
    mirror: str | os.PathLike | None = None,
    annotations_only: bool = False,
    sources: str | Iterable[str] | None = None,
    video_ids: str | os.PathLike | Iterable[str] | None = None,
    no_extract: bool = False,
    keep_archives: bool = False,
    max_workers: int = 4,
    dry_run: bool = False,
    verify: bool = False,
    token: str | bool | None = None,
    endpoint: str | None = None,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    max_expansion_ratio: float = DEFAULT_MAX_EXPANSION_RATIO,
    max_extract_bytes: int | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = DEFAULT_TIMEOUT,
    max_wait: float = DEFAULT_MAX_WAIT,
    show_progress: bool = True,
    offline: bool | None = None,
    use_hf_cache: bool = True,
) -> DownloadResult:
    """Download (or update, or verify) a local copy of the dataset. See the module docstring.

    `token` is handed to huggingface_hub (None: `HF_TOKEN` or the stored login); it is never
    printed or written. `endpoint` defaults to `HF_ENDPOINT`. `offline` (None: `HF_HUB_OFFLINE`)
    forbids every network call; `use_hf_cache` looks for verified copies in the hub cache."""
    t0 = time.perf_counter()
    if annotations_only and (sources is not None or video_ids is not None):
        raise UsageError("--annotations-only cannot be combined with --sources or --video-ids")
    if no_extract and video_ids is not None:
        raise UsageError("--video-ids selects frames to extract; it cannot be used with --no-extract")
    if mirror is not None and revision is not None:
        raise UsageError("--revision applies to the Hub; a mirror folder holds a single revision")
    if verify and dry_run:
        raise UsageError("--verify and --dry-run cannot be combined")
    if max_workers < 1:
        raise UsageError("--max-workers must be at least 1")
    if max_member_bytes < 1:
        raise UsageError("the member size cap must be positive")
    if not max_expansion_ratio >= 1:
        raise UsageError(f"--max-expansion-ratio must be at least 1, not {max_expansion_ratio}")
    if max_extract_bytes is not None and max_extract_bytes < 1:
        raise UsageError("--max-extract-gb must be positive")
    limits = {
        "max_member_bytes": max_member_bytes,
        "max_expansion_ratio": max_expansion_ratio,
        "max_extract_bytes": max_extract_bytes,
    }
    wanted_ids = read_video_ids(video_ids)
    root = Path(local_dir).expanduser().resolve()
    manifest_path = inside(root, MANIFEST_NAME)

    if verify:
        return _verify(root, manifest_path, repo, t0)
    if mirror is not None:
        mirror_root = Path(mirror).expanduser().resolve()
        if root == mirror_root or mirror_root in root.parents:
            raise UsageError(f"--local-dir {root} must not be the mirror folder or inside it")

    offline = hub_offline() if offline is None else offline
    manifest = Manifest.load(manifest_path)
    src: RepoSource
    listing_from = None
    try:
        if mirror is not None:  # a cache snapshot folder knows its commit and its files' hashes
            mirror_cls = CacheSnapshotSource if cache_snapshot_commit(mirror) else MirrorSource
            src = mirror_cls(mirror, retries=retries, backoff=backoff)
        elif offline:
            src, listing_from = _offline_source(repo, revision, manifest, root)
        else:
            src = HubSource(
                repo,
                revision,
                token=token,
                endpoint=endpoint,
                retries=retries,
                backoff=backoff,
                timeout=timeout,
                max_wait=max_wait,
            )
        commit = src.resolve()
        listing = src.list_files()
    except OSError as e:
        raise DownloadError(f"cannot read {e.filename}: {e.strerror}") from None
    by_path = {f.path: f for f in listing}
    archives, others = group_archives(by_path)
    for p in others:
        if p.split("/", 1)[0] in RESERVED_TOP:
            raise DownloadError(
                f"repository file {p!r} collides with tc139k's own {p.split('/', 1)[0]!r} in the local folder"
            )
    where = src.location
    if listing_from == "hf-cache-snapshot" and not annotations_only:
        _snapshot_only(repo, commit, src.where, sorted(archives))
    selected = [] if annotations_only else _select_sources(archives, sources, where)

    if manifest is not None and manifest.data.get("repo") != repo:
        raise UsageError(
            f"{root} holds a download of {manifest.data.get('repo')!r}, not {repo!r}; choose another --local-dir"
        )

    result = DownloadResult(
        repo=repo,
        origin=src.kind,
        mirror=str(src.location) if mirror is not None else None,
        requested_revision=revision,
        resolved_commit=commit,
        local_dir=str(root),
        manifest=str(manifest_path),
        dry_run=dry_run,
        available_sources=sorted(archives),
        selected_sources=selected,
        requested_video_ids=len(wanted_ids or ()),
        offline=bool(offline and mirror is None),
        listing_from=listing_from,
    )
    cache = None
    if mirror is None and use_hf_cache:
        cache = HubCache(repo, commit)
        result.hf_cache = str(cache.folder) if cache.folder.is_dir() else None
        cache = cache if result.hf_cache else None

    annotation_items = _plan_annotations(result, by_path, others, manifest, root, cache)
    execution = _Execution(root, src, result, repo, revision, commit, show_progress, max_workers, limits, keep_archives)
    execution.cache = cache
    execution.listing = listing if src.kind == "hub" else None
    if wanted_ids is not None and sources is None:
        # only the archives of the sources that hold the wanted videos: the annotations say
        # which, so they come first
        _offline_missing(result, dry_run)
        annotation_items = _without(annotation_items, result.missing_files)
        if annotation_items and not dry_run:
            _check_disk(result, root, [], keep_archives or no_extract)
            manifest = execution.execute(manifest_path, manifest, annotation_items, [])
            for entry in result.plan:
                if entry["kind"] == "annotation" and entry["action"] != "present":
                    entry["action"] = "fetched"
            annotation_items = []
        if not annotation_items:
            located = locate_videos([root / p for p in sorted(others) if p.endswith(".jsonl")], wanted_ids)
            result.video_sources = {v: sorted(located[v]) for v in sorted(located)}
            holding = set().union(*located.values())
            result.selected_sources = selected = [s for s in selected if s in holding]
    jobs = _plan_sources(result, by_path, archives, manifest, root, src, no_extract, keep_archives, wanted_ids, cache)
    _offline_missing(result, dry_run)
    annotation_items = _without(annotation_items, result.missing_files)  # documents only: data stopped the run
    frames_est = _disk_needs(result, jobs, keep_archives or no_extract, root)
    result.frames_bytes_limit = sum(
        expansion_limit(sum(f.size for f in j.files), max_expansion_ratio, max_extract_bytes) for j in jobs if j.extract
    )
    if dry_run:
        result.elapsed_s = round(time.perf_counter() - t0, 3)
        return result
    _check_disk(result, root, jobs, keep_archives or no_extract, frames_est)
    manifest = execution.execute(manifest_path, manifest, annotation_items, jobs)

    if wanted_ids is not None and not no_extract:
        found = {v for s in selected for v in manifest.sources.get(s, {}).get("videos", {})}
        result.missing_video_ids = sorted(wanted_ids - found)
    _totals(result, manifest)
    for name in (
        "files_fetched",
        "files_present",
        "files_streamed",
        "files_unverified",
        "archives_deleted",
        "archives_kept",
        "files_from_cache",
    ):
        getattr(result, name).sort()  # transfers finish in any order
    result.up_to_date = not (
        result.files_fetched or result.sources_extracted or result.archives_deleted or result.files_from_cache
    )
    result.elapsed_s = round(time.perf_counter() - t0, 3)
    return result


def _offline_source(repo: str, revision: str | None, manifest: Manifest | None, root: Path):
    """The repository as this machine knows it: the listing an earlier download kept in the
    manifest, else the hub cache's snapshot of the revision. Never a network call."""
    d = manifest.data if manifest is not None else {}
    commit = d.get("resolved_commit")
    if (
        d.get("repo") == repo
        and d.get("origin") == "hub"
        and commit
        and revision in (None, commit, d.get("requested_revision"))
    ):
        entries = d.get("listing") or [dict(path=p, **r) for p, r in d["files"].items() if r.get("verified")]
        listing = [RemoteFile(e["path"], e["size"], e.get("sha256"), e.get("blob_id")) for e in entries]
        return OfflineSource(repo, commit, listing, str(manifest.path)), "manifest"
    commit = cached_commit(repo, revision)
    if commit is not None:
        cache = HubCache(repo, commit)
        tree = cache.tree_listing()
        if tree is not None:
            return OfflineSource(repo, commit, tree, str(cache.snapshot)), "hf-cache"
        return OfflineSource(repo, commit, cache.snapshot_listing(), str(cache.snapshot)), "hf-cache-snapshot"
    at = f" at {revision!r}" if revision else ""
    raise DownloadError(
        f"offline mode (HF_HUB_OFFLINE or --offline): {root} holds no download of {repo}{at} and the HF cache "
        f"({HubCache(repo, None).folder}) has no snapshot of it; go online to download it"
    )


def _snapshot_only(repo: str, commit: str, where: str, archives: list[str]) -> None:
    """Offline from a cache snapshot without the commit's tree listing: the files known are
    those fetched into the cache, not necessarily all the repository's. No frame archive among
    them stops the run (it would otherwise look complete); some is a warning naming them."""
    if not archives:
        raise DownloadError(
            f"offline (HF_HUB_OFFLINE or --offline): the HF cache's snapshot of {repo} @ {commit[:12]} ({where}) "
            "holds no frame archive, and the cache keeps no list of the commit's files (trees/"
            f"{commit}.json), so which archives the repository has is unknown. Go online to download "
            "the frames, or pass --annotations-only"
        )
    LOG.warning(
        "offline: the file list is the HF cache snapshot's own files (%s); the cache keeps no list of "
        "the commit's files, so frame archives never fetched into it are not known. Sources known: %s",
        where,
        ", ".join(archives),
    )


def _without(items: list, paths: list[str]) -> list:
    """The (file, kind) work items but those of `paths` (offline: files not to be had)."""
    gone = set(paths)
    return [(f, kind) for f, kind in items if f.path not in gone]


def _is_data(path: str) -> bool:
    """An annotation file or a frame archive: what the toolkit's later stages read (not the
    repository's LICENSE, README.md or .gitattributes)."""
    return path.endswith(".jsonl") or ARCHIVE_RE.match(path.rsplit("/", 1)[-1]) is not None


def _offline_missing(result: DownloadResult, dry_run: bool) -> None:
    """Offline, what would be fetched is missing: say which files, and stop (but a dry run)
    when one of them is data; a missing document (LICENSE, README.md) is a warning."""
    if not result.offline:
        return
    for e in result.plan:
        if e["action"] == "fetch":
            e["action"] = "missing"
            result.missing_files.append(e["path"])
    needed = [p for p in result.missing_files if _is_data(p)]
    documents = [p for p in result.missing_files if not _is_data(p)]
    if documents and not dry_run:
        LOG.warning(
            "offline: %s not in the local folder nor in the HF cache; no later stage reads them (go online "
            "to fetch them)",
            ", ".join(documents),
        )
    if needed and not dry_run:
        shown = ", ".join(needed[:10])
        more = f" and {len(needed) - 10} more" if len(needed) > 10 else ""
        size = sum(e["size"] for e in result.plan if e["action"] == "missing" and _is_data(e["path"]))
        raise DownloadError(
            f"offline (HF_HUB_OFFLINE or --offline): the local copy of {result.repo} @ "
            f"{(result.resolved_commit or '')[:12]} is incomplete: {len(needed)} file(s) "
            f"({human_bytes(size)}) are neither in {result.local_dir} nor in the HF cache: {shown}{more}. "
            "Go online to fetch them, or ask for less (--annotations-only, --sources)"
        )


class _Execution:
    """Runs planned work under the local folder's lock, updating the manifest."""

    cache: HubCache | None = None
    listing: list[RemoteFile] | None = None  # the repository's files, kept for offline runs

    def __init__(
        self,
        root: Path,
        src: RepoSource,
        result: DownloadResult,
        repo: str,
        revision: str | None,
        commit: str | None,
        show_progress: bool,
        max_workers: int,
        limits: dict,
        keep_archives: bool,
    ):
        self.root, self.src, self.result = root, src, result
        self.repo, self.revision, self.commit = repo, revision, commit
        self.show_progress, self.max_workers = show_progress, max_workers
        self.limits, self.keep_archives = limits, keep_archives

    def execute(
        self, manifest_path: Path, manifest: Manifest | None, annotation_items: list, jobs: list[SourceJob]
    ) -> Manifest:
        root, result = self.root, self.result
        root.mkdir(parents=True, exist_ok=True)
        with _exclusive(root):
            for stale in ("staging", "trash"):  # left by a killed run; never holds finished work
                shutil.rmtree(root / WORK_DIR / stale, ignore_errors=True)
            if manifest is None:
                manifest = Manifest(manifest_path, {"format": MANIFEST_FORMAT, "files": {}, "sources": {}})
            from .. import __version__

            manifest.data.update(
                {
                    "tool": "tc139k",
                    "tool_version": __version__,
                    "repo": self.repo,
                    "origin": self.src.kind,
                    "mirror": result.mirror,
                    "requested_revision": self.revision,
                    "resolved_commit": self.commit,
                }
            )
            if self.listing is not None:
                manifest.data["listing"] = [
                    {"path": f.path, "size": f.size, "sha256": f.sha256, "blob_id": f.blob_id} for f in self.listing
                ]
            run = _Run(root, self.src, manifest, result, self.show_progress, self.max_workers)
            run.cache = self.cache
            run.bytes_bar = progress(
                result.bytes_to_fetch or None,
                desc="download",
                unit="B",
                enabled=self.show_progress,
                unit_scale=True,
                unit_divisor=1024,
            )
            try:
                with disk_full_as_error(root):
                    run.get_files(annotation_items)
                    for job in jobs:
                        run.run_source(job, self.limits, self.keep_archives)
                    manifest.save()
            except OSError as e:
                raise DownloadError(f"{e.filename or root}: {e.strerror}") from None
            finally:
                run.bytes_bar.close()
            shutil.rmtree(root / WORK_DIR / "partial", ignore_errors=True)  # every transfer finished
        return manifest


def _check_disk(
    result: DownloadResult, root: Path, jobs: list[SourceJob], keep_all: bool, frames_est: int | None = None
) -> None:
    if frames_est is None:  # the annotations alone
        frames_est = _disk_needs(result, jobs, keep_all, root)
    if result.bytes_needed > result.free_bytes:
        raise DiskFullError(
            f"{root} has {human_bytes(result.free_bytes)} free but this download needs about "
            f"{human_bytes(result.bytes_needed)} ({human_bytes(result.bytes_to_fetch)} to fetch"
            + (f", about {human_bytes(frames_est)} of frames" if frames_est else "")
            + "); free some space or pick fewer --sources"
        )


def _plan_annotations(
    result: DownloadResult,
    by_path: dict,
    others: list[str],
    manifest: Manifest | None,
    root: Path,
    cache: HubCache | None = None,
) -> list:
    """Decide what to do with every annotation file; fills `result.plan`."""
    annotation_items = []
    for p in sorted(others):
        f = by_path[p]
        action = _local_action(manifest, f, root, cache)
        result.plan.append({"path": p, "size": f.size, "kind": "annotation", "source": None, "action": action})
        if action == "present":
            result.files_present.append(p)
        else:
            annotation_items.append((f, "annotation"))
    return annotation_items


def _plan_sources(
    result: DownloadResult,
    by_path: dict,
    archives: dict,
    manifest: Manifest | None,
    root: Path,
    src: RepoSource,
    no_extract: bool,
    keep_archives: bool,
    wanted_ids: set[str] | None,
    cache: HubCache | None = None,
) -> list[SourceJob]:
    """Decide what to do with every selected source's archives; fills `result.plan` and
    returns the work to do."""
    jobs = []
    for s in result.selected_sources:
        job = _plan_source(archives[s], by_path, manifest, root, src, no_extract, keep_archives, wanted_ids, cache)
        actions = []
        for f in job.files:
            if job.stream:
                action = "stream"
            elif job.extract or no_extract:
                action = _local_action(manifest, f, root, cache)
            else:
                action = "up to date"  # frames in place; the archive is not needed
            actions.append(action)
            entry = {"path": f.path, "size": f.size, "kind": "archive", "source": s, "action": action}
            if job.stream_from:
                entry["from"] = "hf-cache"
            result.plan.append(entry)
        if job.extract or any(a in ("fetch", "check", "cache") for a in actions):
            jobs.append(job)
        else:
            result.sources_up_to_date.append(s)
    return jobs


def _disk_needs(result: DownloadResult, jobs: list[SourceJob], keep_all: bool, root: Path) -> int:
    """Bytes to fetch, disk needed at the peak, free disk; returns the frames' estimated size.

    Sources are done one after the other and (unless kept) an archive is deleted once
    extracted, so only the largest one needs room at a time."""
    plan = result.plan
    annot = sum(e["size"] for e in plan if e["kind"] == "annotation" and e["action"] == "fetch")
    per_source = [
        sum(e["size"] for e in plan if e["source"] == s and e["action"] == "fetch") for s in result.selected_sources
    ]
    copied = [e for e in plan if e["action"] == "cache"]  # from the HF cache: disk, no network
    annot_disk = annot + sum(e["size"] for e in copied if e["kind"] == "annotation")
    per_source_disk = [
        n + sum(e["size"] for e in copied if e["source"] == s) for n, s in zip(per_source, result.selected_sources)
    ]
    frames = sum(f.size for j in jobs if j.extract for f in j.files)  # JPEGs barely compress
    result.bytes_to_fetch = annot + sum(per_source)
    result.bytes_needed = annot_disk + frames + (sum(per_source_disk) if keep_all else max(per_source_disk, default=0))
    result.free_bytes = _free_bytes(root)
    return frames


def _plan_source(
    archive: FrameArchive,
    by_path: dict,
    manifest: Manifest | None,
    root: Path,
    src: RepoSource,
    no_extract: bool,
    keep_archives: bool,
    wanted_ids: set[str] | None,
    cache: HubCache | None = None,
) -> SourceJob:
    files = [by_path[p] for p in archive.parts]
    rec = (manifest.sources.get(archive.source) if manifest else None) or {}
    same = rec.get("identity") == [f.identity for f in files]
    done = set(rec.get("videos", {})) if same else set()
    complete = same and bool(rec.get("complete"))
    if no_extract:
        extract = False
    elif wanted_ids is None:
        extract = not complete
    else:
        extract = not complete and bool(wanted_ids - done)
    current = all(_file_is_current(manifest, f, root, need_present=True) for f in files)
    stream_from = None
    if extract and not keep_archives and cache is not None and src.kind != "mirror" and not current:
        # read in place from the cache when no part is in the local folder already
        if all(_local_action(manifest, f, root) == "fetch" for f in files):
            found = [cache.find(f) for f in files]
            stream_from = found if all(found) else None
    stream = extract and not keep_archives and not current and (src.kind == "mirror" or stream_from is not None)
    return SourceJob(
        archive=archive,
        files=files,
        extract=extract,
        stream=stream,
        video_ids=None if wanted_ids is None else wanted_ids - done,
        skip_video_ids=done,
        replaces={} if same else dict(rec.get("videos", {})),
        stream_from=stream_from,
    )


def _totals(result: DownloadResult, manifest: Manifest) -> None:
    result.videos_total = sum(len(r.get("videos", {})) for r in manifest.sources.values())
    result.frames_total = sum(r.get("frames", 0) for r in manifest.sources.values())


def _verify(root: Path, manifest_path: Path, repo: str, t0: float) -> DownloadResult:
    """Re-check the files and frames the manifest lists; mark what failed so a rerun repairs it."""
    manifest = Manifest.load(manifest_path)
    if manifest is None:
        raise UsageError(f"no readable {MANIFEST_NAME} in {root}: nothing to verify (download first)")
    d = manifest.data
    result = DownloadResult(
        repo=d.get("repo", repo),
        origin=d.get("origin", "hub"),
        mirror=d.get("mirror"),
        requested_revision=d.get("requested_revision"),
        resolved_commit=d.get("resolved_commit"),
        local_dir=str(root),
        manifest=str(manifest_path),
        verify_only=True,
        selected_sources=sorted(manifest.sources),
    )
    problems = result.verify_problems
    for path, rec in sorted(manifest.files.items()):
        if not rec.get("present"):
            continue
        p = root / path
        if not p.is_file():
            problems.append(f"{path}: missing")
            rec["present"] = False
            continue
        if p.stat().st_size != rec["size"]:
            problems.append(f"{path}: {p.stat().st_size} bytes, expected {rec['size']}")
            rec["identity"] = "damaged"
            continue
        f = RemoteFile(path, rec["size"], rec.get("sha256"), rec.get("blob_id"))
        problem = hash_file(p, f).mismatch()
        if problem:
            problems.append(f"{path}: {problem}")
            rec["identity"] = "damaged"
        else:
            result.files_present.append(path)
    for s, rec in sorted(manifest.sources.items()):
        for vid, n in sorted(rec.get("videos", {}).items()):
            vdir = root / "frames" / s / vid
            got = sum(1 for x in vdir.glob("*.jpg") if x.is_file()) if vdir.is_dir() else 0
            if got != n:
                problems.append(f"frames/{s}/{vid}: {got} frames, expected {n}")
                del rec["videos"][vid]
                rec["complete"] = False
        rec["frames"] = sum(rec.get("videos", {}).values())
    _totals(result, manifest)
    result.elapsed_s = round(time.perf_counter() - t0, 3)
    if problems:
        manifest.save()
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise IntegrityError(
            f"{len(problems)} problem(s) in {root}: {shown}. Rerun `tc139k download` "
            "with the same options to repair them"
        )
    return result


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
