"""A Hub-compatible HTTP server for tests: serves folders as dataset repositories.

It answers the calls huggingface_hub makes when listing and downloading a dataset repo:
`GET /api/datasets/<repo>[/revision/<rev>]`, `GET /api/datasets/<repo>/tree/<rev>[/<path>]`
(cursor pagination through a `Link` header) and `HEAD`/`GET /datasets/<repo>/resolve/<rev>/<path>`
(ETag, X-Repo-Commit, Content-Length, byte ranges). Errors carry `X-Error-Code` like the Hub's.

Files matching `lfs_patterns` are served as LFS files (listing gives their sha256, the ETag is
the sha256); others as plain git files (the ETag is the git blob id). The commit id is derived
from the folder's content, so the same folder always gives the same commit.

Switches for failure injection: `drop_after` (close the connection after N bytes of a file),
`corrupt` (serve a file with one byte flipped while the listing keeps the true hash),
`gated_token` (resolve requires that bearer token), `throttle` (bytes per second for a file),
`ignore_range` (answer 200 with the whole file to a Range request), `page_size`.
`faults[kind]` ("info", "tree", "resolve") is a queue of answers given, one per request of
that kind, instead of the normal one: an int status (a Hub-style JSON error), `STALL` (no
answer for `stall_s` seconds or until `reset()`/`stop()`, then the connection is closed) or
`Raw(status, content_type, body, headers)`. `stall_after` (path -> [bytes, times]) sends that
many bytes of a file, then stalls like `STALL`.
Every request is recorded in `log`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_PATTERNS = ("*.tar.gz", "*.tar.gz.*", "*.jsonl")


STALL = "stall"


@dataclass
class Raw:
    """An answer given as is, e.g. a proxy's HTML page with status 200."""

    status: int
    content_type: str
    body: bytes
    headers: dict | None = None


@dataclass
class ServedFile:
    path: str
    size: int
    blob_id: str
    sha256: str | None  # set for LFS files
    pointer_size: int | None


@dataclass
class LoggedRequest:
    method: str
    kind: str  # "info" | "tree" | "resolve" | "other"
    repo: str | None
    revision: str | None
    path: str | None
    range: str | None
    status: int
    body_bytes: int
    authorized: bool


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


class ServedRepo:
    def __init__(self, folder: Path, lfs_patterns=LFS_PATTERNS):
        self.folder = Path(folder)
        self.lfs_patterns = lfs_patterns
        self.files: dict[str, ServedFile] = {}
        self.commit = ""
        self.refresh()

    def refresh(self) -> None:
        files = {}
        for p in sorted(self.folder.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(self.folder).as_posix()
            data = p.read_bytes()
            if any(fnmatch.fnmatch(p.name, pat) for pat in self.lfs_patterns):
                sha = hashlib.sha256(data).hexdigest()
                pointer = _lfs_pointer(sha, len(data))
                files[rel] = ServedFile(rel, len(data), git_blob_id(pointer), sha, len(pointer))
            else:
                files[rel] = ServedFile(rel, len(data), git_blob_id(data), None, None)
        self.files = files
        h = hashlib.sha1()
        for rel, f in files.items():
            h.update(f"{rel}\x00{f.blob_id}\n".encode())
        self.commit = h.hexdigest()

    def folders(self) -> list[str]:
        out = set()
        for rel in self.files:
            parts = rel.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                out.add("/".join(parts[:i]))
        return sorted(out)


class HubServer:
    """Start with `with HubServer({"owner/name": folder}) as hub:`; `hub.endpoint` is the URL."""

    def __init__(self, repos: dict[str, Path], lfs_patterns=LFS_PATTERNS):
        self.repos = {rid: ServedRepo(folder, lfs_patterns) for rid, folder in repos.items()}
        self.log: list[LoggedRequest] = []
        self.drop_after: dict[str, list[int]] = {}  # path -> [bytes, times left]
        self.corrupt: set[str] = set()
        self.gated_token: str | None = None
        self.throttle: dict[str, int] = {}  # path -> bytes per second
        self.ignore_range = False
        self.page_size = 1000
        self.faults: dict[str, list] = {}  # kind -> answers to give instead, in order
        self._release = threading.Event()  # ends the stalls
        self.stall_s = 10.0  # a stall's longest duration: a client without a timeout is not stuck forever
        self.stall_after: dict[str, list[int]] = {}  # path -> [bytes, times left]: then stall mid-body
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----
    def start(self) -> HubServer:
        server = self

        class Handler(_Handler):
            hub = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ---- test helpers ----
    def reset(self) -> None:
        with self._lock:
            self.log.clear()
            self.drop_after.clear()
            self.corrupt.clear()
            self.throttle.clear()
            self.gated_token = None
            self.ignore_range = False
            self.page_size = 1000
            self.faults.clear()
            self.stall_after.clear()
            self._release.set()
            self._release = threading.Event()

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def requests(self, kind: str) -> list[LoggedRequest]:
        return [e for e in self.log if e.kind == kind]

    def content_requests(self) -> list[LoggedRequest]:
        """GET requests on file content (resolve URLs)."""
        return [e for e in self.log if e.kind == "resolve" and e.method == "GET"]


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    # ---- plumbing ----
    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict | None = None,
        kind="other",
        repo=None,
        revision=None,
        path=None,
    ) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._log(kind, repo, revision, path, status, 0 if self.command == "HEAD" else len(body))

    def _log(self, kind, repo, revision, path, status, n) -> None:
        self.hub.record(
            LoggedRequest(
                method=self.command,
                kind=kind,
                repo=repo,
                revision=revision,
                path=path,
                range=self.headers.get("Range"),
                status=status,
                body_bytes=n,
                authorized=self.headers.get("Authorization") is not None,
            )
        )

    def _json(self, obj, status=200, headers=None, **log) -> None:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        self._send(status, json.dumps(obj).encode(), h, **log)

    def _error(self, status: int, code: str | None, message: str, **log) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._json({"error": message}, status=status, headers=headers, **log)

    def _split(self, rest: str) -> tuple[str | None, list[str]]:
        """`owner/name/...` -> repo id (if served) and the remaining raw components."""
        parts = rest.split("/")
        if len(parts) < 2:
            return None, []
        return "/".join(unquote(p) for p in parts[:2]), parts[2:]

    def _repo(self, repo_id: str, kind: str, revision: str | None):
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found", kind=kind, repo=repo_id, revision=revision)
            return None
        if revision is not None and revision not in ("main", repo.commit):
            self._error(
                404, "RevisionNotFound", f"Invalid rev id: {revision}", kind=kind, repo=repo_id, revision=revision
            )
            return None
        return repo

    def _authorized(self) -> bool:
        token = self.hub.gated_token
        return token is None or self.headers.get("Authorization") == f"Bearer {token}"

    def _fault(self, kind: str, repo: str | None, revision: str | None = None, path: str | None = None) -> bool:
        """Give the next injected answer for `kind`, if any; True when one was given."""
        with self.hub._lock:
            queue = self.hub.faults.get(kind)
            fault = queue.pop(0) if queue else None
            release = self.hub._release
        if fault is None:
            return False
        log = {"kind": kind, "repo": repo, "revision": revision, "path": path}
        if fault == STALL:
            self._log(kind, repo, revision, path, 0, 0)
            release.wait(self.hub.stall_s)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif isinstance(fault, Raw):
            self._send(fault.status, fault.body, {"Content-Type": fault.content_type, **(fault.headers or {})}, **log)
        else:
            self._error(int(fault), None, f"injected HTTP {fault}", **log)
        return True

    # ---- routes ----
    def do_HEAD(self):
        self._route()

    def do_GET(self):
        self._route()

    def _route(self) -> None:
        url = urlsplit(self.path)
        raw = url.path
        if raw.startswith("/api/datasets/"):
            repo_id, rest = self._split(raw[len("/api/datasets/") :])
            if repo_id is None:
                return self._error(404, None, "Not found")
            if not rest:
                return self._info(repo_id, None)
            if rest[0] == "revision" and len(rest) >= 2:
                return self._info(repo_id, unquote("/".join(rest[1:])))
            if rest[0] == "tree" and len(rest) >= 2:
                return self._tree(repo_id, unquote(rest[1]), unquote("/".join(rest[2:])), url.query)
        if raw.startswith("/datasets/"):
            repo_id, rest = self._split(raw[len("/datasets/") :])
            if repo_id is not None and len(rest) >= 3 and rest[0] == "resolve":
                return self._resolve(repo_id, unquote(rest[1]), unquote("/".join(rest[2:])))
        self._error(404, None, "Not found")

    def _info(self, repo_id: str, revision: str | None) -> None:
        if self._fault("info", repo_id, revision):
            return
        repo = self._repo(repo_id, "info", revision)
        if repo is None:
            return
        self._json(
            {
                "id": repo_id,
                "author": repo_id.split("/")[0],
                "sha": repo.commit,
                "private": False,
                "gated": "manual" if self.hub.gated_token else False,
                "disabled": False,
                "siblings": [{"rfilename": p} for p in repo.files],
            },
            kind="info",
            repo=repo_id,
            revision=revision,
        )

    def _tree(self, repo_id: str, revision: str, prefix: str, query: str) -> None:
        if self._fault("tree", repo_id, revision, prefix):
            return
        repo = self._repo(repo_id, "tree", revision)
        if repo is None:
            return
        params = parse_qs(query)
        recursive = params.get("recursive", ["false"])[0].lower() == "true"
        cursor = int(params.get("cursor", ["0"])[0])
        entries = []
        base = prefix.strip("/")
        for d in repo.folders():
            if self._listed(d, base, recursive):
                entries.append({"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d})
        for rel, f in repo.files.items():
            if self._listed(rel, base, recursive):
                e = {"type": "file", "oid": f.blob_id, "size": f.size, "path": rel}
                if f.sha256:
                    e["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
                entries.append(e)
        entries.sort(key=lambda e: e["path"])
        page = entries[cursor : cursor + self.hub.page_size]
        headers = {}
        if cursor + self.hub.page_size < len(entries):
            nxt = (
                f"{self.hub.endpoint}/api/datasets/{repo_id}/tree/{quote(revision, safe='')}"
                f"{'/' + quote(base) if base else ''}?recursive={str(recursive).lower()}"
                f"&expand=false&cursor={cursor + self.hub.page_size}"
            )
            headers["Link"] = f'<{nxt}>; rel="next"'
        self._json(page, headers=headers, kind="tree", repo=repo_id, revision=revision, path=base)

    @staticmethod
    def _listed(path: str, base: str, recursive: bool) -> bool:
        if base:
            if not path.startswith(base + "/"):
                return False
            path = path[len(base) + 1 :]
        return recursive or "/" not in path

    def _resolve(self, repo_id: str, revision: str, path: str) -> None:
        log = {"kind": "resolve", "repo": repo_id, "revision": revision, "path": path}
        if self._fault("resolve", repo_id, revision, path):
            return
        repo = self._repo(repo_id, "resolve", revision)
        if repo is None:
            return
        if not self._authorized():
            return self._error(
                401,
                "GatedRepo",
                f"Access to dataset {repo_id} is restricted. You must have access to "
                "it and be authenticated to access it. Please log in.",
                **log,
            )
        f = repo.files.get(path)
        if f is None:
            return self._error(
                404,
                "EntryNotFound",
                f'{path} does not exist on "{revision}"',
                headers={"X-Repo-Commit": repo.commit},
                **log,
            )
        headers = {
            "ETag": f'"{f.sha256 or f.blob_id}"',
            "X-Repo-Commit": repo.commit,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        data = (repo.folder / path).read_bytes()  # the current bytes, even if changed since listing
        size = len(data)
        start, end = 0, size - 1
        status = 200
        rng = self.headers.get("Range")
        if rng and not self.hub.ignore_range:
            spec = rng.strip().removeprefix("bytes=")
            a, _, b = spec.partition("-")
            start = int(a) if a else 0
            end = min(int(b), size - 1) if b else size - 1
            if start >= size or start > end:
                return self._error(
                    416, None, "Range not satisfiable", headers={"Content-Range": f"bytes */{size}"}, **log
                )
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return self._log(log["kind"], repo_id, revision, path, status, 0)

        if path in self.hub.corrupt:
            i = len(data) // 2
            data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
        body = data[start : end + 1]
        limit = len(body)
        with self.hub._lock:
            drop = self.hub.drop_after.get(path)
            if drop is not None and drop[1] > 0:
                drop[1] -= 1
                limit = max(0, min(limit, drop[0] - start))
            stall = self.hub.stall_after.get(path)
            stalled = stall is not None and stall[1] > 0
            if stalled:
                stall[1] -= 1
                limit = max(0, min(limit, stall[0] - start))
            release = self.hub._release
        rate = self.hub.throttle.get(path)
        sent = 0
        try:
            step = 64 * 1024
            while sent < limit:
                chunk = body[sent : min(limit, sent + step)]
                self.wfile.write(chunk)
                sent += len(chunk)
                if rate:
                    self.wfile.flush()
                    time.sleep(len(chunk) / rate)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self._log(log["kind"], repo_id, revision, path, status, sent)
        if stalled:
            release.wait(self.hub.stall_s)  # the headers and some bytes were sent: now silence
        if limit < len(body):
            # a dropped connection mid-body: the client sees fewer bytes than Content-Length
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
