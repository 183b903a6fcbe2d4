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
`ignore_range` (answer 200 with the whole file to a Range request), `gzip` (compress a whole
file's answer with `Content-Encoding: gzip` when the request accepts it, as CDNs do), `page_size`.
`faults[kind]` ("info", "tree", "resolve") is a queue of answers given, one per request of
that kind, instead of the normal one: an int status (a Hub-style JSON error), `STALL` (no
answer for `stall_s` seconds or until `reset()`/`stop()`, then the connection is closed) or
`Raw(status, content_type, body, headers)`. `stall_after` (path -> [bytes, times]) sends that
many bytes of a file, then stalls like `STALL`.
Every request is recorded in `log`.

Uploads (`_UploadRoutes`, `store`): the calls huggingface_hub's `create_repo`, `create_branch`
and `create_commit` make on the LFS path (HF_HUB_DISABLE_XET=1; the Xet storage protocol is not
emulated): `POST /api/repos/create`, `/api/validate-yaml`, `/api/datasets/<repo>/preupload/<rev>`,
`/api/datasets/<repo>/branch/<name>`, `/datasets/<repo>.git/info/lfs/objects/batch`, `PUT` of
each LFS object and its verify call, and `/api/datasets/<repo>/commit/<rev>[?create_pr=1]`
(ndjson). A commit becomes a folder served like the others, under its branch, `refs/pr/<n>`
and its commit id; `store.write_token` makes writes require that bearer token.
"""

from __future__ import annotations

import fnmatch
import gzip
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
    accept_encoding: str | None = None


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
        self.gzip = False
        self.page_size = 1000
        self.store = UploadStore()  # pushes: see _UploadRoutes
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
            self.gzip = False
            self.page_size = 1000
            self.faults.clear()
            self.stall_after.clear()
            self._release.set()
            self._release = threading.Event()

    def record(self, entry: LoggedRequest) -> LoggedRequest:
        with self._lock:
            self.log.append(entry)
        return entry

    def requests(self, kind: str) -> list[LoggedRequest]:
        return [e for e in self.log if e.kind == kind]

    def content_requests(self) -> list[LoggedRequest]:
        """GET requests on file content (resolve URLs)."""
        return [e for e in self.log if e.kind == "resolve" and e.method == "GET"]


# ---- uploads: what huggingface_hub's create_commit calls (LFS path) -----------------------------


class UploadStore:
    """Server-side state of pushes: LFS objects by sha256, branches and pull-request refs as
    materialised folders, the write token, private flags and every commit received."""

    def __init__(self):
        import shutil
        import tempfile
        import weakref

        self.root = Path(tempfile.mkdtemp(prefix="hubserver-push-"))
        weakref.finalize(self, shutil.rmtree, str(self.root), True)
        self.lfs: dict[str, bytes] = {}
        self.refs: dict[tuple[str, str], ServedRepo] = {}  # (repo, branch / refs/pr/N / commit)
        self.prs: dict[str, int] = {}
        self.private: dict[str, bool] = {}
        self.commits: list[dict] = []  # {"repo", "revision", "create_pr", "operations", "oid"}
        self.write_token: str | None = None  # when set, writes need `Authorization: Bearer <it>`
        self.fail_commits = 0  # answer this many commit calls with HTTP 500 (after the uploads)
        self.lock = threading.Lock()
        self._n = 0

    def new_folder(self, base: ServedRepo | None) -> Path:
        import shutil

        with self.lock:
            self._n += 1
            folder = self.root / f"tree-{self._n}"
        if base is not None and base.folder.is_dir():
            shutil.copytree(base.folder, folder)
        else:
            folder.mkdir(parents=True)
        return folder


PUSH_LFS_PATTERNS = LFS_PATTERNS + ("*.parquet",)


class _UploadRoutes:
    """POST/PUT routes of an upload: repo create, YAML validation, preupload, branch, LFS batch,
    LFS object PUT and verify, commit (ndjson). Mixed into the request handler."""

    hub: HubServer

    def do_POST(self):
        self._upload_route()

    def do_PUT(self):
        self._upload_route()

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _may_write(self, **log) -> bool:
        token = self.hub.store.write_token
        if token is None or self.headers.get("Authorization") == f"Bearer {token}":
            return True
        self._error(401, None, "Invalid credentials in Authorization header", **log)
        return False

    def _upload_route(self) -> None:
        url = urlsplit(self.path)
        raw, query = url.path, parse_qs(url.query)
        body = self._body()
        if raw.startswith("/_lfs/"):
            return self._lfs_object(raw[len("/_lfs/") :], body)
        if raw == "/api/repos/create":
            return self._create_repo(body)
        if raw == "/api/validate-yaml":
            return self._validate_yaml(body)
        if raw.startswith("/datasets/") and raw.endswith(".git/info/lfs/objects/batch"):
            repo_id = unquote(raw[len("/datasets/") : -len(".git/info/lfs/objects/batch")])
            return self._lfs_batch(repo_id, body)
        if raw.startswith("/api/datasets/"):
            repo_id, rest = self._split(raw[len("/api/datasets/") :])
            if repo_id is not None and len(rest) >= 2 and rest[0] in ("preupload", "commit", "branch"):
                rev = unquote("/".join(rest[1:]))
                create_pr = query.get("create_pr", ["0"])[0] == "1"
                if rest[0] == "preupload":
                    return self._preupload(repo_id, rev, body)
                if rest[0] == "branch":
                    return self._create_branch(repo_id, rev, body)
                return self._commit(repo_id, rev, body, create_pr)
        self._error(404, None, "Not found")

    def _target(self, repo_id: str, rev: str) -> ServedRepo | None:
        main = self.hub.repos.get(repo_id)
        if main is None or rev in ("main", main.commit):
            return main
        return self.hub.store.refs.get((repo_id, rev))

    def _create_repo(self, body: bytes) -> None:
        p = json.loads(body or b"{}")
        repo_id = f"{p['organization']}/{p['name']}" if p.get("organization") else p.get("name", "")
        log = {"kind": "create", "repo": repo_id}
        if not self._may_write(**log):
            return
        if p.get("type") != "dataset":
            return self._error(400, None, f"this test server holds datasets, not {p.get('type')!r}", **log)
        folder = self.hub.store.new_folder(None)
        with self.hub.store.lock:
            exists = repo_id in self.hub.repos
            if not exists:
                self.hub.repos[repo_id] = ServedRepo(folder, PUSH_LFS_PATTERNS)
                self.hub.store.private[repo_id] = bool(p.get("private")) or p.get("visibility") == "private"
        url = f"{self.hub.endpoint}/datasets/{repo_id}"
        if exists:
            return self._json({"error": "You already created this dataset repo", "url": url}, status=409, **log)
        self._json({"url": url, "name": repo_id}, **log)

    def _validate_yaml(self, body: bytes) -> None:
        import yaml

        content = json.loads(body or b"{}").get("content", "")
        errors = []
        if content.startswith("---"):
            try:
                yaml.safe_load(content.split("---", 2)[1])
            except yaml.YAMLError as e:
                errors.append({"message": f"invalid YAML: {e}"})
        self._json({"errors": errors, "warnings": []}, status=400 if errors else 200, kind="validate-yaml")

    def _preupload(self, repo_id: str, rev: str, body: bytes) -> None:
        log = {"kind": "preupload", "repo": repo_id, "revision": rev}
        repo = self._target(repo_id, rev)
        if repo is None:
            return self._error(404, "RepoNotFound", "Repository not found", **log)
        files = []
        for f in json.loads(body)["files"]:
            lfs = any(fnmatch.fnmatch(f["path"].rsplit("/", 1)[-1], pat) for pat in repo.lfs_patterns)
            have = repo.files.get(f["path"])
            oid = None if have is None else (have.sha256 if lfs else have.blob_id)
            files.append(
                {"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid}
            )
        self._json({"files": files, "commitOid": repo.commit}, **log)

    def _create_branch(self, repo_id: str, branch: str, body: bytes) -> None:
        log = {"kind": "branch", "repo": repo_id, "revision": branch}
        if not self._may_write(**log):
            return
        start = (json.loads(body) if body else {}).get("startingPoint") or "main"
        base = self._target(repo_id, start)
        if base is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {start}", **log)
        with self.hub.store.lock:
            if (repo_id, branch) in self.hub.store.refs:
                return self._error(409, None, f"Reference refs/heads/{branch} already exists", **log)
            self.hub.store.refs[(repo_id, branch)] = base
        self._json({}, **log)

    def _lfs_batch(self, repo_id: str, body: bytes) -> None:
        log = {"kind": "lfs-batch", "repo": repo_id}
        if not self._may_write(**log):
            return
        objects = []
        for o in json.loads(body)["objects"]:
            entry = {"oid": o["oid"], "size": o["size"]}
            if o["oid"] not in self.hub.store.lfs:  # already stored: no action, the client skips it
                href = f"{self.hub.endpoint}/_lfs/{o['oid']}"
                entry["actions"] = {"upload": {"href": href, "header": {}}, "verify": {"href": href + "/verify"}}
            objects.append(entry)
        self._json({"transfer": "basic", "objects": objects}, **log)

    def _lfs_object(self, rest: str, body: bytes) -> None:
        oid, _, verify = rest.partition("/")
        log = {"kind": "lfs-verify" if verify else "lfs-upload", "path": oid}
        if verify:
            size = json.loads(body).get("size")
            ok = len(self.hub.store.lfs.get(oid, b"")) == size and oid in self.hub.store.lfs
            return self._json({}, **log) if ok else self._error(404, None, f"object {oid} not found", **log)
        if hashlib.sha256(body).hexdigest() != oid:
            return self._error(400, None, "sha256 of the uploaded bytes differs from the object id", **log)
        with self.hub.store.lock:
            self.hub.store.lfs[oid] = body
        self._log(log["kind"], None, None, oid, 200, len(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _commit(self, repo_id: str, rev: str, body: bytes, create_pr: bool) -> None:
        import base64
        import shutil

        log = {"kind": "commit", "repo": repo_id, "revision": rev}
        if not self._may_write(**log):
            return
        base = self._target(repo_id, rev)
        if base is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", **log)
        with self.hub.store.lock:
            fail, self.hub.store.fail_commits = self.hub.store.fail_commits > 0, max(0, self.hub.store.fail_commits - 1)
        if fail:
            return self._error(500, None, "injected commit failure", **log)
        lines = [json.loads(x) for x in body.splitlines() if x.strip()]
        header = next((x["value"] for x in lines if x["key"] == "header"), {})
        if header.get("parentCommit") and header["parentCommit"] != base.commit:
            return self._error(412, None, "A commit has happened since. Please refresh and try again.", **log)
        folder = self.hub.store.new_folder(base)
        ops = []
        for item in lines:
            key, v = item["key"], item["value"]
            if key == "header":
                continue
            path = v["path"]
            if key in ("deletedFile", "deletedFolder"):
                target = folder / path
                shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
                ops.append((key, path))
                continue
            if key == "file":
                data = base64.b64decode(v["content"])
            elif key == "lfsFile":
                data = self.hub.store.lfs.get(v["oid"])
                if data is None:
                    shutil.rmtree(folder)
                    return self._error(422, None, f"LFS object {v['oid']} of {path} was never uploaded", **log)
            else:
                shutil.rmtree(folder)
                return self._error(400, None, f"unknown commit operation {key!r}", **log)
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
            ops.append((key, path))
        served = ServedRepo(folder, PUSH_LFS_PATTERNS)
        with self.hub.store.lock:
            store = self.hub.store
            store.refs[(repo_id, served.commit)] = served
            pr_url = None
            if create_pr:
                store.prs[repo_id] = n = store.prs.get(repo_id, 0) + 1
                store.refs[(repo_id, f"refs/pr/{n}")] = served
                pr_url = f"{self.hub.endpoint}/datasets/{repo_id}/discussions/{n}"
            elif rev == "main" or self.hub.repos[repo_id] is base and rev == base.commit:
                self.hub.repos[repo_id] = served
            else:
                store.refs[(repo_id, rev)] = served
            store.commits.append(
                {"repo": repo_id, "revision": rev, "create_pr": create_pr, "operations": ops, "oid": served.commit}
            )
        url = f"{self.hub.endpoint}/datasets/{repo_id}/commit/{served.commit}"
        self._json({"success": True, "commitOid": served.commit, "commitUrl": url, "pullRequestUrl": pr_url}, **log)


class _Handler(_UploadRoutes, BaseHTTPRequestHandler):
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
        # Logged before the answer goes out: a client that fails on the answer may otherwise
        # return (and its test read the log) before this thread has recorded the request.
        self._log(kind, repo, revision, path, status, 0 if self.command == "HEAD" else len(body))
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _log(self, kind, repo, revision, path, status, n) -> LoggedRequest:
        return self.hub.record(
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
                accept_encoding=self.headers.get("Accept-Encoding"),
            )
        )

    def _json(self, obj, status=200, headers=None, **log) -> None:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        self._send(status, json.dumps(obj).encode(), h, **log)

    def _error(self, status: int, code: str | None, message: str, **log) -> None:
        headers = {"X-Error-Message": message, **(log.pop("headers", None) or {})}
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
        pushed = self.hub.store.refs.get((repo_id, revision))  # a pushed branch, PR ref or older commit
        if pushed is not None:
            return pushed
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
        if self.hub.gzip and status == 200 and "gzip" in self.headers.get("Accept-Encoding", ""):
            data = gzip.compress(data, mtime=0)
            end, length = len(data) - 1, len(data)
            headers["Content-Encoding"] = "gzip"
        if self.command == "HEAD":
            self._log(log["kind"], repo_id, revision, path, status, 0)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            return None

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
        # Logged with the bytes it means to send before sending them (see _send); corrected below
        # if the client goes away first.
        entry = self._log(log["kind"], repo_id, revision, path, status, limit)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(length))
        self.end_headers()
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
            with self.hub._lock:
                entry.body_bytes = sent
        if stalled:
            release.wait(self.hub.stall_s)  # the headers and some bytes were sent: now silence
        if limit < len(body):
            # a dropped connection mid-body: the client sees fewer bytes than Content-Length
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


WRITE_TOKEN = "hf_test_write_token_0123456789"


def writable_hub(monkeypatch, tmp_path: Path):
    """A fixture body: an empty HubServer that takes pushes with WRITE_TOKEN, the real client
    pointed at it (HF_ENDPOINT, HF_TOKEN, its own HF_HOME, no Xet)."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_TOKEN", WRITE_TOKEN)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with HubServer({}) as server:
        server.store.write_token = WRITE_TOKEN
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server
