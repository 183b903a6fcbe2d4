"""Safe streaming extraction of the frame archives.

A source's archive is either `<Name>.tar.gz` or byte-wise parts `<Name>.tar.gz.000`, `.001`, ...
of one gzip stream. The parts are read in order through one reader (`PartsReader`) into a
tar stream reader: no joined copy is ever written. Each regular member whose name ends in
`<video_id>/<NNNNNN>.jpg` becomes `frames/<source>/<video_id>/<NNNNNN>.jpg`, whatever the
archive's own prefix; directories and other files are skipped and counted.

Archives are hostile until checked. A member with an absolute name, a `..` component, a
link, a device or fifo, a size above the cap, an unsafe video id, or a frame already given
by an earlier member (`v/000001.jpg` twice, whatever the prefixes: refused rather than
letting the last copy silently win; members of videos not selected are passed over unread,
so only the frames extracted are compared) stops the extraction with a HostileArchiveError naming
the archive, the member and the reason. The archive's whole expansion is bounded too: the
tar stream may not exceed `max_expansion_ratio` times the compressed size (at least
EXPANSION_FLOOR, as tar's block padding inflates tiny archives) nor `max_extract_bytes`;
frame archives hold JPEGs, which barely compress, so real ones stay near 1:1. Frames are
written under a staging folder inside the local folder and moved into place, one video
folder at a time, only once the whole archive has been read: a failure leaves no partial
video behind. Every folder written to is checked against links leading outside
(`localdir.inside`).

Decompression runs in a background thread (zlib and hashlib release the GIL), so reading,
hashing and inflating overlap with parsing the tar stream and writing files.
"""

from __future__ import annotations

import io
import os
import queue
import re
import shutil
import tarfile
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import DownloadError, HostileArchiveError, IntegrityError
from ..paths import is_safe_name, source_key
from .localdir import WORK_DIR, inside, work_dir

ARCHIVE_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*?)\.tar\.gz(?:\.(?P<part>\d{3,}))?$")
FRAME_FILE_RE = re.compile(r"^\d{6}\.jpg$")
DEFAULT_MAX_MEMBER_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_EXPANSION_RATIO = 10.0  # tar bytes per compressed byte; JPEG archives are near 1
EXPANSION_FLOOR = 16 * 1024 * 1024  # small archives may always expand this far (tar padding)
READ_SIZE = 1 << 20
OUT_MAX = 4 << 20  # decompressed bytes per zlib call
TAR_BUFSIZE = 64 * 1024  # tarfile re-joins its buffer on every read: keep it small


def expansion_limit(compressed_bytes: int, max_ratio: float, max_total_bytes: int | None = None) -> int:
    """The most bytes an archive of `compressed_bytes` may expand to (its tar stream)."""
    limit = max(int(compressed_bytes * max_ratio), EXPANSION_FLOOR)
    return limit if max_total_bytes is None else min(limit, max_total_bytes)


class ExpansionExceeded(Exception):
    """The decompressed stream passed its bound (raised by the inflating thread)."""


@dataclass
class FrameArchive:
    """One source's frame archive as listed in the repository."""

    name: str  # as on the Hub, e.g. "Youcook2"
    source: str  # lower-case, as in frame paths
    parts: list[str]  # repository paths in reading order (one for a single archive)

    @property
    def label(self) -> str:
        if len(self.parts) == 1:
            return self.parts[0]
        return f"{self.parts[0]}..{self.parts[-1].rsplit('.', 1)[-1]}"


def group_archives(paths: Iterable[str]) -> tuple[dict[str, FrameArchive], list[str]]:
    """Split repository paths into frame archives (by source) and the other files."""
    singles: dict[str, str] = {}
    parts: dict[str, dict[int, str]] = {}
    names: dict[str, set[str]] = {}
    others = []
    for path in paths:
        m = ARCHIVE_RE.match(path)  # top level only: a `/` never matches
        if not m:
            others.append(path)
            continue
        name = m.group("name")
        src = source_key(name)
        names.setdefault(src, set()).add(name)
        if m.group("part") is None:
            singles[src] = path
        else:
            parts.setdefault(src, {})[int(m.group("part"))] = path
    archives = {}
    for src, found in sorted(names.items()):
        if len(found) > 1:
            raise DownloadError(f"archives {sorted(found)} map onto the same source {src!r}")
        name = found.pop()
        if src in singles and src in parts:
            raise DownloadError(
                f"source {src!r} has both {singles[src]} and split parts; cannot tell which one holds the frames"
            )
        if src in singles:
            archives[src] = FrameArchive(name, src, [singles[src]])
            continue
        numbers = sorted(parts[src])
        if numbers != list(range(len(numbers))):
            missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
            raise DownloadError(
                f"split archive {name}.tar.gz is missing part(s) " + ", ".join(f"{n:03d}" for n in missing)
            )
        archives[src] = FrameArchive(name, src, [parts[src][n] for n in numbers])
    return archives, others


class PartsReader(io.RawIOBase):
    """The concatenation of several files, read in order; optionally hashes each part."""

    def __init__(self, paths: list[Path], hashers: list | None = None, on_bytes: Callable[[int], None] | None = None):
        self.paths = list(paths)
        self.hashers = hashers
        self.on_bytes = on_bytes
        self._i = -1
        self._fh = None
        self.sizes = [0] * len(self.paths)
        self._next()

    def _next(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._i += 1
        self._fh = open(self.paths[self._i], "rb", buffering=0) if self._i < len(self.paths) else None

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._fh is not None:
            n = self._fh.readinto(b)
            if n:
                if self.hashers is not None:
                    self.hashers[self._i].update(memoryview(b)[:n])
                self.sizes[self._i] += n
                if self.on_bytes:
                    self.on_bytes(n)
                return n
            self._next()
        return 0

    def drain(self) -> None:
        """Read to the end (so that every part is fully hashed)."""
        buf = bytearray(READ_SIZE)
        while self.readinto(buf):
            pass

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        super().close()


class _Inflater(io.RawIOBase):
    """Gzip-decompresses `raw` in a background thread; reads return the decompressed bytes.

    Accepts multi-member gzip streams (concatenated .gz files) as gzip(1) does, and raises
    EOFError for a stream that ends inside a member (a truncated archive)."""

    def __init__(self, raw: io.RawIOBase, depth: int = 8, limit: int | None = None):
        self._limit = limit  # decompressed bytes allowed; past it ExpansionExceeded is raised
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._buf = memoryview(b"")
        self._done = False
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(raw,), daemon=True)
        self._t.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, raw) -> None:
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            in_member = False
            total_in = total_out = 0
            while not self._stop.is_set():
                chunk = raw.read(READ_SIZE)
                if not chunk:
                    break
                total_in += len(chunk)
                while True:
                    if not in_member:
                        if not chunk.strip(b"\x00"):
                            break  # nothing, or zero padding after the last member
                        in_member = True
                    # bounded output per call: a few compressed bytes can inflate to gigabytes
                    out = d.decompress(chunk, OUT_MAX)
                    total_out += len(out)
                    if self._limit is not None and total_out > self._limit:
                        # checked before handing the bytes over: also stops a bomb hidden
                        # after the tar end marker, which only drain() would inflate
                        raise ExpansionExceeded(total_out)
                    if out and not self._put(out):
                        return
                    if d.eof:  # next gzip member, if any
                        chunk = d.unused_data
                        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        in_member = False
                    elif d.unconsumed_tail:
                        chunk = d.unconsumed_tail
                    elif len(out) == OUT_MAX:
                        chunk = b""  # output may still be pending inside the decompressor
                    else:
                        break
            if self._stop.is_set():
                return
            if total_in == 0:
                raise EOFError("the archive is empty")
            if in_member:
                raise EOFError("the compressed stream ends inside a gzip member (truncated archive)")
            self._put(None)
        except BaseException as e:  # handed over to the reading thread
            self._put(e)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            if self._done:
                return 0
            item = self._q.get()
            if item is None:
                self._done = True
                return 0
            if isinstance(item, BaseException):
                self._done = True
                raise item
            self._buf = memoryview(item)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def drain(self) -> None:
        """Decompress to the end: checks the gzip trailer (CRC, length) of the last member."""
        buf = bytearray(READ_SIZE)
        while self.readinto(buf):
            pass

    def close(self) -> None:
        self._stop.set()
        self._t.join(timeout=10)
        super().close()


# ---- members -------------------------------------------------------------------------------------


def member_problem(m: tarfile.TarInfo, max_member_bytes: int) -> str | None:
    """Why a member must not be extracted, or None when it is safe to look at."""
    name = m.name
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "'..' in its path"
    if m.issym():
        return f"symbolic link (to {m.linkname!r})"
    if m.islnk():
        return f"hard link (to {m.linkname!r})"
    if m.ischr() or m.isblk():
        return "device file"
    if m.isfifo():
        return "fifo"
    if m.issparse():
        return "sparse file"
    if not (m.isreg() or m.isdir()):
        return f"unsupported member type {m.type!r}"
    if m.isreg() and m.size > max_member_bytes:
        return f"{m.size} bytes, above the {max_member_bytes}-byte cap per member"
    return None


def frame_tail(name: str) -> tuple[str, str] | None:
    """(video_id, `NNNNNN.jpg`) when `name` ends in `<video_id>/<NNNNNN>.jpg`, else None."""
    parts = [p for p in name.split("/") if p]
    if len(parts) < 2 or not FRAME_FILE_RE.match(parts[-1]):
        return None
    return parts[-2], parts[-1]


@dataclass
class ExtractResult:
    source: str
    archive: str
    videos: dict[str, int] = field(default_factory=dict)  # video id -> frames put in place
    members: int = 0
    skipped_dirs: int = 0
    skipped_other: int = 0
    skipped_unselected: int = 0
    bytes_written: int = 0
    part_sizes: list[int] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return sum(self.videos.values())

    def to_dict(self) -> dict:
        return {**asdict(self), "frames": self.frames}


def _write_new(path: Path, data: bytes) -> bool:
    """Write a new file; False (nothing written) when it already exists: a duplicate member."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        return False
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return True


def extract_frames(
    parts: list[Path],
    *,
    source: str,
    label: str,
    local_dir: str | os.PathLike,
    video_ids: set[str] | None = None,
    skip_video_ids: Iterable[str] = (),
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    max_expansion_ratio: float = DEFAULT_MAX_EXPANSION_RATIO,
    max_extract_bytes: int | None = None,
    hashers: list | None = None,
    on_member: Callable[[int], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> ExtractResult:
    """Extract the frames of one source's archive (`parts` in order) into
    `<local_dir>/frames/<source>/<video_id>/`.

    `video_ids` limits extraction to those videos; `skip_video_ids` are left alone (already in
    place). `hashers` (a `ContentHasher` per part) are fed the compressed bytes; a mismatch
    raises IntegrityError before anything is moved into place. The tar stream may expand to
    `expansion_limit(compressed size, max_expansion_ratio, max_extract_bytes)` bytes at most."""
    if not is_safe_name(source):
        raise HostileArchiveError(f"{label}: unsafe source name {source!r}")
    root = Path(local_dir).resolve()
    target_root = inside(root, "frames", source)
    staging = work_dir(root, "staging") / f"{source}.{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    skip = set(skip_video_ids)
    result = ExtractResult(source=source, archive=label)
    made: set[str] = set()
    try:
        sizes = [os.stat(p).st_size for p in parts]
    except OSError as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise DownloadError(f"{label}: cannot read {e.filename}: {e.strerror}") from None
    compressed = sum(sizes)
    limit = expansion_limit(compressed, max_expansion_ratio, max_extract_bytes)

    def too_large(member: str | None) -> HostileArchiveError:
        what = f"refusing member {member!r}: the archive" if member else "refusing the archive: it"
        cap = f" and the {max_extract_bytes}-byte cap" if max_extract_bytes is not None else ""
        return HostileArchiveError(
            f"{label}: {what} expands past {limit} bytes, the bound set by {max_expansion_ratio:g}x its "
            f"{compressed} compressed bytes{cap} (frame archives hold JPEGs and expand about 1:1); "
            "if you trust it, raise --max-expansion-ratio or --max-extract-gb"
        )

    reader = PartsReader(parts, hashers, on_bytes)
    inflater = _Inflater(reader, limit=limit)
    try:
        try:
            tar = tarfile.open(fileobj=inflater, mode="r|", bufsize=TAR_BUFSIZE)
            while (m := tar.next()) is not None:
                tar.members.clear()  # stream mode would keep every header in memory
                result.members += 1
                problem = member_problem(m, max_member_bytes)
                if problem:
                    raise HostileArchiveError(f"{label}: refusing member {m.name!r}: {problem}")
                if m.offset_data + m.size > limit:  # known from the header, before any data
                    raise too_large(m.name)
                if m.isdir():
                    result.skipped_dirs += 1
                    continue
                tail = frame_tail(m.name)
                if tail is None:
                    result.skipped_other += 1
                    continue
                video_id, fname = tail
                if not is_safe_name(video_id):
                    raise HostileArchiveError(f"{label}: refusing member {m.name!r}: unsafe video id {video_id!r}")
                if video_id in skip or (video_ids is not None and video_id not in video_ids):
                    result.skipped_unselected += 1
                    continue
                data = tar.extractfile(m).read()
                if len(data) != m.size:
                    raise EOFError(f"member {m.name!r} is cut short")
                vdir = staging / video_id
                if video_id not in made:
                    vdir.mkdir()
                    made.add(video_id)
                    result.videos[video_id] = 0
                if not _write_new(vdir / fname, data):
                    raise HostileArchiveError(
                        f"{label}: refusing member {m.name!r}: duplicate frame, {video_id}/{fname} was "
                        "already given by an earlier member (which copy is right cannot be told)"
                    )
                result.videos[video_id] += 1
                result.bytes_written += len(data)
                if on_member:
                    on_member(1)
            inflater.drain()
        except ExpansionExceeded:
            raise too_large(None) from None
        except (tarfile.TarError, zlib.error, EOFError) as e:
            inflater.close()
            if hashers is not None:
                reader.drain()  # finish hashing: a damaged file is the likelier cause
                _check_hashes(hashers, label)
            raise IntegrityError(
                f"{label} is not a readable tar.gz archive ({e}){_damaged_part(parts, sizes)}"
            ) from None
        if hashers is not None:
            _check_hashes(hashers, label)
        result.part_sizes = list(reader.sizes)
        _move_into_place(staging, target_root, sorted(made), root)
        return result
    finally:
        inflater.close()
        reader.close()
        shutil.rmtree(staging, ignore_errors=True)


def _damaged_part(parts: list[Path], sizes: list[int]) -> str:
    """The part of a split archive that is plainly damaged, for the error message: an empty
    part, or a part that is not the last and is shorter than the others (`split -b` cuts
    equal parts, so a short one was cut off). A part damaged inside is named by its hash,
    when the hashes are known (_check_hashes)."""
    how = "delete it and rerun `tc139k download` to fetch it again"
    empty = [p for p, n in zip(parts, sizes) if n == 0]
    if empty:
        return f"; part {empty[0].name} is empty (0 bytes): {how}"
    if len(parts) < 3:
        return ""  # one part before the last: nothing to compare it with
    usual = max(sizes[:-1])
    short = [(k, p, n) for k, (p, n) in enumerate(zip(parts[:-1], sizes[:-1])) if n < usual]
    if not short:
        return ""
    k, p, n = short[0]
    return f"; part {k + 1} of {len(parts)}, {p.name}, has {n} bytes where the others have {usual}: {how}"


def _check_hashes(hashers: list, label: str) -> None:
    bad = [(h, msg) for h in hashers if (msg := h.mismatch())]
    if bad:
        detail = "; ".join(f"{h.file.path}: {msg}" for h, msg in bad)
        raise IntegrityError(f"{label}: damaged archive ({detail})")


def _move_into_place(staging: Path, target_root: Path, videos: list[str], root: Path) -> None:
    """Rename each staged video folder onto its final place (replacing an older copy)."""
    target_root.mkdir(parents=True, exist_ok=True)
    inside(root, target_root.relative_to(root).as_posix())  # a link planted meanwhile
    trash = inside(root, WORK_DIR, "trash", uuid.uuid4().hex[:12])
    try:
        for vid in videos:
            dst = target_root / vid
            if dst.exists() or dst.is_symlink():
                trash.mkdir(parents=True, exist_ok=True)
                os.replace(dst, trash / vid)  # renames a planted link itself, never its target
            os.replace(staging / vid, dst)
    finally:
        shutil.rmtree(trash, ignore_errors=True)
