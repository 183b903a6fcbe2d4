"""Transfers from the Hub at the edges, with the real huggingface_hub client against
tests/hubserver.py: a server that answers a range request with the whole file (200), after a
dropped connection or on a leftover partial file, and requests pinned to the resolved commit."""

from __future__ import annotations

import hashlib
import os

import pytest
from hubserver import HubServer

from tc139k.download.hub import HubSource, RemoteFile, resumable_fetch
from tc139k.download.run import run_download
from tc139k.errors import IntegrityError

REPO = "test/transfer"
SIZE = 300_000


@pytest.fixture(scope="module")
def data():
    return os.urandom(SIZE)


@pytest.fixture(scope="module")
def hub(data, tmp_path_factory):
    repo = tmp_path_factory.mktemp("transfer-repo")
    (repo / "Big.tar.gz").write_bytes(data)
    (repo / "README.md").write_text("# a test repository\n")
    with HubServer({REPO: repo}) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(hub):
    hub.reset()
    yield
    hub.reset()


def _source(hub, **kw) -> HubSource:
    src = HubSource(REPO, endpoint=hub.endpoint, retries=2, backoff=0.01, **kw)
    src.resolve()
    return src


def _big(src: HubSource) -> RemoteFile:
    return next(f for f in src.list_files() if f.path == "Big.tar.gz")


def test_whole_file_answer_to_a_resume_starts_the_file_over(hub, data, tmp_path):
    src = _source(hub)
    f = _big(src)
    partial = tmp_path / "Big.tar.gz.part"
    partial.write_bytes(data[:1000])  # left by an earlier run
    hub.ignore_range = True
    progress: list[int] = []
    h = src.fetch(f, partial, progress.append)
    assert partial.read_bytes() == data  # not the whole file appended after the first 1000 bytes
    assert h.hexdigest() == hashlib.sha256(data).hexdigest() and h.mismatch() is None
    assert [(e.range, e.status) for e in hub.content_requests()] == [("bytes=1000-", 200)]
    assert sum(progress) == SIZE  # the 1000 bytes counted first were taken back


def test_whole_file_answer_after_a_dropped_connection_starts_over(hub, data, tmp_path):
    src = _source(hub)
    f = _big(src)
    hub.ignore_range = True
    hub.drop_after["Big.tar.gz"] = [100_000, 1]  # the first answer stops after 100,000 bytes
    partial = tmp_path / "Big.tar.gz.part"
    h = src.fetch(f, partial, lambda n: None)
    assert partial.read_bytes() == data
    assert h.mismatch() is None
    first, second = hub.content_requests()
    assert (first.range, first.status, first.body_bytes) == (None, 200, 100_000)
    assert second.range is not None and second.range.startswith("bytes=") and second.status == 200
    assert second.body_bytes == SIZE


def test_honoured_range_appends_at_the_offset(hub, data, tmp_path):
    src = _source(hub)
    f = _big(src)
    partial = tmp_path / "Big.tar.gz.part"
    partial.write_bytes(data[:1000])
    h = src.fetch(f, partial, lambda n: None)
    assert partial.read_bytes() == data and h.mismatch() is None
    assert [(e.range, e.status, e.body_bytes) for e in hub.content_requests()] == [("bytes=1000-", 206, SIZE - 1000)]


def test_resumable_fetch_restarts_when_the_start_is_not_the_offset(data, tmp_path):
    """The contract itself: `open_at` yields the offset it really starts at, then chunks."""
    f = RemoteFile("x.bin", SIZE, hashlib.sha256(data).hexdigest())
    partial = tmp_path / "x.part"
    partial.write_bytes(b"stale bytes that are not the file")
    asked = []

    def open_at(at):
        asked.append(at)
        yield 0  # ignores the offset: the whole file follows
        for i in range(0, SIZE, 65536):
            yield data[i : i + 65536]

    h = resumable_fetch(f, partial, open_at, (OSError,), lambda n: None, 1, 0.0, "x.bin")
    assert asked == [33] and partial.read_bytes() == data and h.mismatch() is None


def test_a_longer_answer_than_listed_is_an_integrity_error(data, tmp_path):
    f = RemoteFile("x.bin", SIZE - 1, None)
    partial = tmp_path / "x.part"

    def open_at(at):
        yield at
        yield data

    with pytest.raises(IntegrityError, match=f"size differs from the {SIZE - 1} bytes listed .more received"):
        resumable_fetch(f, partial, open_at, (OSError,), lambda n: None, 1, 0.0, "x.bin")
    assert not partial.exists()


def test_requests_use_the_pinned_commit_not_the_requested_revision(hub, tmp_path):
    src = HubSource(REPO, revision="main", endpoint=hub.endpoint, retries=2, backoff=0.01)
    commit = src.resolve()
    assert commit == hub.repos[REPO].commit
    files = src.list_files()
    for f in files:
        src.fetch(f, tmp_path / f.path, lambda n: None)
    assert [e.revision for e in hub.requests("info")] == ["main"]  # only the resolve names the branch
    assert {e.revision for e in hub.requests("tree")} == {commit}
    assert [e.revision for e in hub.content_requests()] == [commit] * len(files) and len(files) == 2


def test_a_download_at_a_branch_fetches_at_the_commit_it_resolved(hub, tmp_path):
    res = run_download(
        repo=REPO,
        revision="main",
        endpoint=hub.endpoint,
        local_dir=tmp_path / "local",
        retries=2,
        backoff=0.01,
        show_progress=False,
        use_hf_cache=False,
        no_extract=True,
    )
    commit = hub.repos[REPO].commit
    assert res.resolved_commit == commit
    content = hub.content_requests()
    assert content and {e.revision for e in content} == {commit}
