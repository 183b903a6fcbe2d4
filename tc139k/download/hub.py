"""Where the dataset's files come from: the Hugging Face Hub or a mirror folder.

Both answer the same questions behind one interface (`RepoSource`): which commit
(`resolve`), which files with their sizes and hashes (`list_files`), and the bytes of one
file (`fetch`, resumable: bytes already in the partial file are kept and the rest is
requested with a byte range; the hash it returns counts in `received` the bytes that really
came, the whole file again when the other side ignored the range). A mirror can also hand
out a file's path so that an archive is read in place instead of copied (`stream_path`).

Hub access goes through huggingface_hub (its HTTP session, auth headers from `HF_TOKEN` or
the stored login, `HF_ENDPOINT`, error types). Files are fetched with huggingface_hub's
`http_stream_backoff` into a partial file we keep across runs: `hf_hub_download` deletes its
temporary file when a transfer fails, which would restart a multi-gigabyte archive from
zero after every interruption.

Every Hub request (repository information, each page of the tree listing, each file) has a
connect and read timeout (`timeout`, seconds) and is retried with exponential backoff on
429, 5xx, timeouts and dropped connections; when the retries run out the error names the
host, the timeout and what to do. A 429 or 5xx that says how long to wait (`Retry-After`, the
Hub's rate-limit reset) is waited for, up to `max_wait` seconds in total per request; a longer
wait stops the run at once with what answered and how long it asked. A host name that does not
resolve stops the run before any retry (not behind a proxy, which resolves names itself).
Errors are translated by tc139k.huberrors, as in every command that talks to the Hub.

The two JSON calls are made here rather than through `HfApi`, whose `dataset_info` neither
retries nor takes a timeout for the tree listing: an answer that is not the JSON expected (a
proxy's HTML page, a captive portal) is reported with the URL, the status, the content type and
its first bytes. The listing's next-page links must stay on the endpoint, so the token is never
sent to another host.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from ..errors import DownloadError, IntegrityError, UsageError
from ..hubenv import name_lookup_failure
from ..huberrors import RETRY_STATUS, HubErrors, longer_than_allowed, name_not_resolved, retry_after_s

LOG = logging.getLogger("tc139k.download")
DEFAULT_REPO = "yaolily/TimeChat-Online-139K"
MANIFEST_NAME = "tc139k-manifest.json"
CHUNK = 1 << 20
HEX64 = re.compile(r"^[0-9a-f]{64}$")
HEX40 = re.compile(r"^[0-9a-f]{40}$")
DEFAULT_TIMEOUT = 30.0  # seconds to connect, and to wait for the next bytes of an answer
DEFAULT_MAX_WAIT = 300.0  # seconds one request may spend waiting as a busy server asks


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative, `/`-separated
    size: int
    sha256: str | None = None  # LFS files on the Hub; any file whose mirror publishes it
    blob_id: str | None = None  # git blob id, the only hash the Hub gives for non-LFS files
    stat_key: str | None = None  # mirror files without a published hash: notices changes

    @property
    def identity(self) -> str:
        """What names this exact content; a local copy with the same identity is the same file."""
        if self.sha256:
            return f"sha256:{self.sha256}"
        if self.blob_id:
            return f"git:{self.blob_id}"
        return f"stat:{self.stat_key or self.size}"


class ContentHasher:
    """Hashes a file the way its source names it: sha256 (LFS, mirrors) or git blob sha1."""

    def __init__(self, f: RemoteFile):
        self.file = f
        self.git = f.sha256 is None and f.blob_id is not None
        self._h = hashlib.sha1(b"blob %d\x00" % f.size) if self.git else hashlib.sha256()
        self.received = 0  # bytes transferred by the fetch that returned this hash

    def update(self, data) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    @property
    def expected(self) -> str | None:
        return self.file.blob_id if self.git else self.file.sha256

    @property
    def kind(self) -> str:
        return "git blob sha1" if self.git else "sha256"

    def mismatch(self) -> str | None:
        """A description of the mismatch, or None when the digest is as expected (or unknown)."""
        got = self.hexdigest()
        if self.expected is not None and got != self.expected:
            return f"{self.kind} is {got}, expected {self.expected}"
        return None


def hash_file(path: Path, f: RemoteFile, on_bytes: Callable[[int], None] | None = None) -> ContentHasher:
    h = ContentHasher(f)
    with open(path, "rb") as src:
        while chunk := src.read(CHUNK):
            h.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return h


def check_repo_path(path: str) -> str:
    """Refuse a repository path that could land outside the local folder."""
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(p in ("", ".", "..") for p in parts)
        or re.match(r"^[A-Za-z]:", path)
    ):
        raise DownloadError(f"refusing unsafe path {path!r} in the repository listing")
    return path


class RepoSource(Protocol):
    kind: str  # "hub" or "mirror"
    location: str  # repo id or mirror folder

    def resolve(self) -> str | None: ...

    def list_files(self) -> list[RemoteFile]: ...

    def fetch(self, f: RemoteFile, partial: Path, on_bytes: Callable[[int], None]) -> ContentHasher: ...

    def stream_path(self, f: RemoteFile) -> Path | None: ...


# ---- resumable transfer shared by both sources -----------------------------------------------


def file_reader(src: Path) -> Callable[[int], Iterator]:
    """An `open_at` for `resumable_fetch` over a local file: its offset, then its bytes from there."""

    def open_at(at: int) -> Iterator:
        with open(src, "rb") as fh:
            fh.seek(at)
            yield at
            while chunk := fh.read(CHUNK):
                yield chunk

    return open_at


def resumable_fetch(
    f: RemoteFile,
    partial: Path,
    open_at: Callable[[int], Iterator],
    transient: tuple[type[BaseException], ...],
    on_bytes: Callable[[int], None],
    retries: int,
    backoff: float,
    describe: str,
    explain: Callable[[BaseException], str] | None = None,
) -> ContentHasher:
    """Fill `partial` with the bytes of `f` and return their hash.

    `open_at(offset)` yields first the offset it really starts at (0 if the other side
    ignored the range) and then chunks. Bytes already in `partial` are kept. A transient
    error resumes at the current size; `retries` consecutive failures without progress give
    up with a DownloadError (the partial file stays for the next run), worded by `explain`.
    The hash's `received` is every byte `open_at` yielded, those of a start over included."""
    partial.parent.mkdir(parents=True, exist_ok=True)
    have = partial.stat().st_size if partial.exists() else 0
    if have > f.size:
        partial.unlink()
        have = 0
    hasher = ContentHasher(f)
    if have:
        with open(partial, "rb") as src:
            while chunk := src.read(CHUNK):
                hasher.update(chunk)
        on_bytes(have)
    try:
        return _fill(f, partial, have, hasher, open_at, transient, on_bytes, retries, backoff, describe, explain)
    except BaseException:
        if partial.exists() and partial.stat().st_size == 0:
            partial.unlink()  # nothing arrived: leave no empty file behind
        raise


def _fill(f, partial, have, hasher, open_at, transient, on_bytes, retries, backoff, describe, explain):
    failures = received = 0
    with open(partial, "ab", buffering=CHUNK) as out:
        while have < f.size:
            stream = open_at(have)
            try:
                start = next(stream)
                if start != have:  # the range was ignored: start over
                    out.flush()
                    out.truncate(0)
                    on_bytes(-have)
                    hasher = ContentHasher(f)
                    have = 0
                for chunk in stream:
                    received += len(chunk)
                    if have + len(chunk) > f.size:
                        have += len(chunk)
                        break
                    out.write(chunk)
                    hasher.update(chunk)
                    have += len(chunk)
                    on_bytes(len(chunk))
                    failures = 0
                if have != f.size:  # a complete answer of the wrong length: the file differs
                    out.close()
                    partial.unlink()
                    raise IntegrityError(
                        f"{describe}: size differs from the {f.size} bytes listed "
                        f"({'more' if have > f.size else f'only {have}'} received); "
                        "the partial file was deleted, rerun to fetch it again"
                    )
            except transient as e:
                failures += 1
                if failures > retries:
                    out.flush()
                    why = explain(e) if explain else f"{e.__class__.__name__}: {e}"
                    raise DownloadError(
                        f"{describe}: transfer failed after {retries} retries ({why}); "
                        f"kept {have} of {f.size} bytes, rerun to resume"
                    ) from None
                time.sleep(min(8.0, backoff * 2 ** (failures - 1)))
            finally:
                stream.close()
        out.flush()
        os.fsync(out.fileno())
    hasher.received = received
    return hasher


# ---- the Hub ----------------------------------------------------------------------------------


class HubSource:
    kind = "hub"

    def __init__(
        self,
        repo_id: str = DEFAULT_REPO,
        revision: str | None = None,
        token: str | bool | None = None,
        endpoint: str | None = None,
        retries: int = 5,
        backoff: float = 1.0,
        timeout: float = DEFAULT_TIMEOUT,
        max_wait: float = DEFAULT_MAX_WAIT,
    ):
        from huggingface_hub import constants
        from huggingface_hub.utils import HFValidationError, validate_repo_id

        try:
            validate_repo_id(repo_id)  # it becomes part of every URL
        except HFValidationError as e:
            raise UsageError(f"--repo: {e}") from None
        if not timeout > 0:
            raise UsageError(f"the timeout must be a positive number of seconds, not {timeout}")
        if not max_wait >= 0:
            raise UsageError(f"--max-wait must be zero or more seconds, not {max_wait}")
        self.repo_id = repo_id
        self.location = repo_id
        self.revision = revision
        self.token = token  # passed through to huggingface_hub, never printed or stored
        # read at call time so that HF_ENDPOINT set after import still counts
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.timeout = float(timeout)
        self.max_wait = float(max_wait)
        self.host = urlsplit(self.endpoint).netloc or self.endpoint
        self.commit: str | None = None

    def _headers(self) -> dict:
        from huggingface_hub.utils import build_hf_headers

        from .. import __version__

        return build_hf_headers(token=self.token, library_name="tc139k", library_version=__version__)

    def _errors(self, doing: str) -> HubErrors:
        return HubErrors(
            doing,
            repo_id=self.repo_id,
            endpoint=self.endpoint,
            revision=self.revision,
            commit=self.commit,
            attempts=self.retries + 1,
            timed_out=self._timed_out,
            login_hint="if it is private, set HF_TOKEN to a token that can read it",
        )

    def _get_json(self, url: str, params: dict | None = None):
        """GET a JSON answer, retried; returns (decoded JSON, response)."""
        import httpx2
        from huggingface_hub.utils import hf_raise_for_status, http_backoff

        waited = 0.0
        for attempt in range(self.retries + 1):
            # Statuses are retried here, not inside http_backoff, which sleeps as long as a
            # Retry-After header says (a day, from a proxy) without any bound.
            r = http_backoff(
                "GET",
                url,
                params=params,
                headers=self._headers(),
                timeout=httpx2.Timeout(self.timeout),
                max_retries=self.retries,
                base_wait_time=self.backoff,
                max_wait_time=8.0,
                retry_on_exceptions=(httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError),
                retry_on_status_codes=(),
            )
            if r.status_code not in RETRY_STATUS or attempt == self.retries:
                break
            waited += self._pause(r, attempt, waited)
        hf_raise_for_status(r)
        try:
            return r.json(), r
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            raise self._unexpected(r, "is not JSON") from None

    def _pause(self, r, attempt: int, waited: float) -> float:
        """Wait before retrying a 408/429/5xx answer: as long as the server asks (Retry-After),
        else with exponential backoff; stop when the total would pass `max_wait`."""
        asked = retry_after_s(r.headers, r.status_code)
        wait = min(8.0, self.backoff * 2**attempt) if asked is None else asked + 1.0  # +1: rounding
        if waited + wait > self.max_wait:
            raise longer_than_allowed(str(r.url), r.status_code, wait, waited, self.max_wait)
        LOG.warning("%s answered HTTP %d; retrying in %.0f s", r.url, r.status_code, wait)
        time.sleep(wait)
        return wait

    def _check_name(self) -> None:
        """Fail at once when the endpoint's name does not resolve: retries cannot fix that."""
        why = name_lookup_failure(self.endpoint)
        if why:
            raise DownloadError(f"{name_not_resolved(self.endpoint, why)}, then rerun") from None

    def _unexpected(self, r, what: str) -> DownloadError:
        ctype = r.headers.get("content-type") or "no content type"
        return DownloadError(
            f"{r.url} answered HTTP {r.status_code} ({ctype}, {len(r.content)} bytes) that {what}; first bytes: "
            f"{r.content[:80]!r}. Is {self.endpoint} a Hugging Face Hub (check HF_ENDPOINT and any proxy)?"
        )

    def resolve(self) -> str:
        self._check_name()  # the first request of a run: a name that does not resolve stops it here
        url = f"{self.endpoint}/api/datasets/{self.repo_id}"
        if self.revision is not None:
            url += f"/revision/{quote(self.revision, safe='')}"
        with self._errors("reading the repository information"):
            info, r = self._get_json(url)
        sha = info.get("sha") if isinstance(info, dict) else None
        if not isinstance(sha, str) or not HEX40.match(sha):
            raise self._unexpected(r, f"gives no commit id for {self.repo_id}")
        self.commit = sha
        return self.commit

    def list_files(self) -> list[RemoteFile]:
        assert self.commit, "resolve() first"
        out = []
        url: str | None = f"{self.endpoint}/api/datasets/{self.repo_id}/tree/{quote(self.commit, safe='')}"
        params: dict | None = {"recursive": "true", "expand": "false"}
        seen: set[str] = set()
        with self._errors("listing the repository"):
            while url is not None:
                seen.add(url)
                page, r = self._get_json(url, params)
                if not isinstance(page, list):
                    raise self._unexpected(r, "is not a list of files")
                out += [f for entry in page if (f := self._entry(entry, r)) is not None]
                url, params = r.links.get("next", {}).get("url"), None
                if url is not None and (urlsplit(url).netloc != self.host or url in seen):
                    raise DownloadError(
                        f"{r.url}: the next page of the listing is at {url!r}, "
                        f"{'not on ' + self.host if url not in seen else 'a page already read'}; refusing to follow it"
                    )
        return sorted(out, key=lambda f: f.path)

    def _entry(self, e, r) -> RemoteFile | None:
        """One listing entry as a RemoteFile (None for a folder); anything malformed is refused."""
        if isinstance(e, dict) and e.get("type") == "directory":
            return None
        lfs = e.get("lfs") if isinstance(e, dict) else None
        if (
            not isinstance(e, dict)
            or e.get("type") != "file"
            or not isinstance(e.get("path"), str)
            or not isinstance(e.get("size"), int)
            or e["size"] < 0
            or not isinstance(e.get("oid"), str)
            or not (lfs is None or (isinstance(lfs, dict) and isinstance(lfs.get("oid"), str)))
        ):
            raise self._unexpected(r, f"holds an entry tc139k cannot read: {json.dumps(e)[:200]}")
        return RemoteFile(check_repo_path(e["path"]), e["size"], lfs["oid"] if lfs else None, e["oid"])

    def fetch(self, f: RemoteFile, partial: Path, on_bytes: Callable[[int], None]) -> ContentHasher:
        import httpx2
        from huggingface_hub import hf_hub_url

        url = hf_hub_url(self.repo_id, f.path, repo_type="dataset", revision=self.commit, endpoint=self.endpoint)
        headers = self._headers()
        headers["Accept-Encoding"] = "identity"  # sizes and ranges are about the stored bytes
        with self._errors(f"downloading {f.path}"):
            return resumable_fetch(
                f,
                partial,
                lambda at: self._stream(url, headers, at),
                (httpx2.TransportError,),
                on_bytes,
                self.retries,
                self.backoff,
                f"{self.repo_id}/{f.path}",
                self._explain,
            )

    def _explain(self, e: BaseException) -> str:
        import httpx2

        if isinstance(e, httpx2.TimeoutException):
            return self._timed_out(e)
        return f"{e.__class__.__name__}: {e}"

    def _timed_out(self, e: BaseException) -> str:
        import httpx2

        what = "could not connect to" if isinstance(e, httpx2.ConnectTimeout) else "no data from"
        return f"{what} {self.host} within the {self.timeout:g} s timeout"

    def _stream(self, url: str, headers: dict, at: int) -> Iterator:
        import httpx2
        from huggingface_hub.utils import hf_raise_for_status, http_stream_backoff

        h = dict(headers)
        if at:
            h["Range"] = f"bytes={at}-"
        waited = 0.0
        for attempt in range(self.retries + 1):
            # Transport errors are retried by resumable_fetch (with a range); letting
            # http_stream_backoff catch them too would retry from inside its own `yield`.
            # Statuses are retried here, with waits bounded by max_wait (see _get_json).
            with http_stream_backoff(
                "GET",
                url,
                headers=h,
                timeout=httpx2.Timeout(self.timeout),
                max_retries=self.retries,
                base_wait_time=self.backoff,
                max_wait_time=8.0,
                retry_on_exceptions=(),
                retry_on_status_codes=(),
            ) as r:
                if r.status_code not in RETRY_STATUS or attempt == self.retries:
                    hf_raise_for_status(r)
                    yield at if r.status_code == 206 else 0
                    yield from r.iter_bytes()
                    return
                answer = _Answer(r.status_code, r.headers, r.url)
            waited += self._pause(answer, attempt, waited)  # after the connection is closed

    def stream_path(self, f: RemoteFile) -> Path | None:
        return None


@dataclass(frozen=True)
class _Answer:
    """What _pause reads of an answer, kept after its connection is closed."""

    status_code: int
    headers: object
    url: object


# ---- a mirror folder ----------------------------------------------------------------------------

# Paths in a mirror that are not repository files: our own outputs and tools' metadata.
MIRROR_SKIP_TOP = {"frames", MANIFEST_NAME}


class MirrorSource:
    """A local or network-mounted copy of the repository, in the Hub layout.

    Expected hashes come, when present, from a tc139k manifest in the mirror (a folder made by
    `tc139k download --keep-archives`) or from the metadata `hf download --local-dir` leaves in
    `.cache/huggingface/download/`. Files with neither are hashed while copied and recorded."""

    kind = "mirror"

    def __init__(self, root: str | os.PathLike, retries: int = 5, backoff: float = 1.0):
        self.root = Path(root).expanduser().resolve()
        self.location = str(self.root)
        self.retries = retries
        self.backoff = backoff
        if not self.root.is_dir():
            raise DownloadError(f"mirror folder {self.root} does not exist")
        self._published = self._published_hashes()

    def _published_hashes(self) -> dict[str, tuple[str | None, str | None, str | None]]:
        """path -> (sha256, blob id, commit) as the mirror's metadata states them."""
        out: dict[str, tuple[str | None, str | None, str | None]] = {}
        hf_meta = self.root / ".cache" / "huggingface" / "download"
        if hf_meta.is_dir():
            for m in hf_meta.rglob("*.metadata"):
                try:
                    commit, etag = m.read_text().splitlines()[:2]
                except (OSError, ValueError):
                    continue
                rel = m.relative_to(hf_meta).as_posix()[: -len(".metadata")]
                etag = etag.strip().strip('"')
                out[rel] = (
                    etag if HEX64.match(etag) else None,
                    etag if HEX40.match(etag) else None,
                    commit.strip() if HEX40.match(commit.strip()) else None,
                )
        manifest = self.root / MANIFEST_NAME
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text())
                commit = data.get("resolved_commit")
                for rel, rec in data.get("files", {}).items():
                    if rec.get("verified"):
                        out[rel] = (rec.get("sha256"), rec.get("blob_id"), commit)
            except (OSError, ValueError, AttributeError) as e:
                raise DownloadError(f"cannot read the mirror's manifest {manifest}: {e}") from None
        return out

    def resolve(self) -> str | None:
        commits = {c for _, _, c in self._published.values() if c}
        return commits.pop() if len(commits) == 1 else None

    def list_files(self) -> list[RemoteFile]:
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            top = rel_dir == "."
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (top and d in MIRROR_SKIP_TOP))
            for name in sorted(filenames):
                if name.startswith(".") or (top and name in MIRROR_SKIP_TOP):
                    continue
                rel = name if top else f"{rel_dir}/{name}"
                p = Path(dirpath) / name
                try:
                    st = p.stat()  # follows a symlink: the mirror may be a cache snapshot of links
                except OSError:
                    continue
                if not p.is_file():
                    continue
                sha, blob, _ = self._published.get(rel, (None, None, None))
                out.append(
                    RemoteFile(
                        check_repo_path(rel),
                        st.st_size,
                        sha,
                        blob,
                        None if (sha or blob) else f"{st.st_size}:{st.st_mtime_ns}",
                    )
                )
        return sorted(out, key=lambda f: f.path)

    def stream_path(self, f: RemoteFile) -> Path:
        return self.root / f.path

    def fetch(self, f: RemoteFile, partial: Path, on_bytes: Callable[[int], None]) -> ContentHasher:
        src = self.stream_path(f)
        # reading a network mount can fail transiently; the partial file makes that resumable
        transient = (TimeoutError, ConnectionError, InterruptedError)
        return resumable_fetch(f, partial, file_reader(src), transient, on_bytes, self.retries, self.backoff, str(src))
