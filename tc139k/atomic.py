"""Atomic writes, completion markers and file hashes.

Every output is written to a temporary file in the destination folder and renamed into
place, so a killed run never leaves a truncated file under a final name. A finished unit of
work leaves a marker (a small JSON file) so that a rerun can skip it; a marker given the
file it vouches for records its size and sha256, and a rerun trusts the file only while
both still match (a truncated or overwritten output is redone, not read).

`output_lock(folder, command)` holds an output folder for one run: a second run writing
to the same folder at the same time stops at once instead of deleting the first one's
temporaries as stale (a shared hold lets sharded jobs write one folder together).

A full disk (ENOSPC, or a quota: EDQUOT) inside `atomic_path` becomes a DiskFullError that
names the file and the free space; the temporary file is removed, the final name is left
as it was, so the message can honestly say "rerun to resume".
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import DiskFullError, FolderBusyError, NotWritableError

TMP_SUFFIX = ".tmp"
_UMASK = os.umask(0)
os.umask(_UMASK)


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)


def free_bytes(path: str | os.PathLike) -> int | None:
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def disk_full_error(path: str | os.PathLike, e: OSError | None = None) -> DiskFullError:
    """The DiskFullError for a write into `path` that ran out of space."""
    free = free_bytes(Path(path).parent)
    where = f"{free / 1e6:.1f} MB free on its disk" if free is not None else "its disk is full"
    what = "quota exceeded" if e is not None and e.errno == errno.EDQUOT else "disk full"
    return DiskFullError(
        f"{what} while writing {path} ({where}); nothing half-written was kept: "
        "free some space and rerun the same command to resume"
    )


NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def is_not_writable(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in NOT_WRITABLE


def not_writable_error(e: OSError) -> NotWritableError:
    """The NotWritableError for an access the system refused (a read-only disk, another user's
    folder or file)."""
    if e.errno == errno.EROFS:
        return NotWritableError(
            f"cannot write {e.filename or 'the output folder'}: its disk is read-only; choose an output folder "
            "on a writable disk (--out, --local-dir) and rerun"
        )
    return NotWritableError(
        f"permission denied: {e.filename or 'a file of the run'}; choose an output folder you can write to "
        "(--out, --local-dir), or make the file or folder accessible to you, and rerun"
    )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` if the block succeeds.
    Running out of space anywhere in the block raises DiskFullError naming `path`."""
    path = Path(path)
    tmp_path = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; finished files get the usual mode
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as e:
        if is_disk_full(e):
            raise disk_full_error(path, e) from None
        raise
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> str:
    """Stable JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, dumps_json(obj))


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete temporary files a killed run left in `folder` (not recursive)."""
    n = 0
    folder = Path(folder)
    if folder.is_dir():
        for p in folder.glob(f".*{TMP_SUFFIX}"):
            p.unlink(missing_ok=True)
            n += 1
    return n


class Markers:
    """Completion markers kept in `<root>/.done/<key>.json`."""

    def __init__(self, root: str | os.PathLike):
        self.dir = Path(root) / ".done"

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def get(self, key: str) -> dict | None:
        p = self.path(key)
        if not p.exists():
            return None
        try:
            return read_json(p)
        except (OSError, ValueError):
            return None  # a marker we cannot read counts as absent: the work is redone

    def is_done(
        self,
        key: str,
        params: dict | None = None,
        file: str | os.PathLike | None = None,
        adopt: Callable[[Path], bool] | None = None,
    ) -> bool:
        """True when the marker exists with these params and, given `file`, the file still
        has the size and sha256 the marker recorded. A marker without them (written before
        markers recorded files) is not done, unless `adopt(file)` vouches for the file: then
        its size and hash are recorded now, so that work finished by an older version is
        not redone."""
        got = self.get(key)
        if got is None:
            return False
        if params is not None and got.get("params") != params:
            return False
        if file is None:
            return True
        if got.get("file") is None and adopt is not None and Path(file).is_file() and adopt(Path(file)):
            self.mark(
                key, got.get("params"), file=file, **{k: v for k, v in got.items() if k not in ("params", "file")}
            )
            return True
        return file_matches(file, got.get("file"))

    def mark(self, key: str, params: dict | None = None, file: str | os.PathLike | None = None, **info: Any) -> None:
        """Record `key` as done; with `file`, also the file's size and sha256."""
        if file is not None:
            info["file"] = file_record(file)
        write_json(self.path(key), {"params": params, **info})


def file_record(path: str | os.PathLike) -> dict:
    """What a marker keeps of a file so that a later run can tell it is unchanged."""
    return {"bytes": os.stat(path).st_size, "sha256": sha256_file(path)}


def file_matches(path: str | os.PathLike, record: dict | None, hash_it: bool = True) -> bool:
    """Whether `path` has the size (and, with hash_it, the sha256) recorded in `record`."""
    if not isinstance(record, dict):
        return False
    try:
        if os.stat(path).st_size != record.get("bytes"):
            return False
        return not hash_it or sha256_file(path) == record.get("sha256")
    except OSError:
        return False


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike | None, command: str, shared: bool = False) -> Iterator[None]:
    """Hold `folder` (created when missing; None: nothing to hold) while the block runs.

    An advisory flock on the folder itself: nothing is written into it, and the kernel lets
    go when the process ends however it ends, so a killed run never leaves a stale lock.
    `shared`: held together with other shared holders (jobs of one sharded run), never with
    an exclusive one. A file system without flock (some network mounts) runs unlocked."""
    if folder is None:
        yield
        return
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusyError(
                f"another {command} is writing to {folder}; wait for it to finish, or write elsewhere (--out)"
            ) from None
        except OSError as e:
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise
        yield
    finally:
        os.close(fd)
