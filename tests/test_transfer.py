"""Transfers from the Hub at the edges, with the real huggingface_hub client against
tests/hubserver.py: a server that answers a range request with the whole file (200), after a
dropped connection or on a leftover partial file, and requests pinned to the resolved commit."""

from __future__ import annotations

import hashlib
import os

import pytest
from hubserver import STALL, HubServer

from tc139k.download.extract import WORK_DIR
from tc139k.download.hub import ContentHasher, HubSource, RemoteFile, check_repo_path, hash_file, resumable_fetch
from tc139k.download.run import run_download
from tc139k.errors import DownloadError, IntegrityError

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


def test_content_hasher_names_git_blobs_and_sha256():
    data = b"hello world\n"
    blob = hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()
    git = ContentHasher(RemoteFile("a.txt", len(data), None, blob))
    git.update(data[:5])
    git.update(data[5:])
    assert git.git and git.kind == "git blob sha1" and git.expected == blob and git.hexdigest() == blob
    assert git.mismatch() is None
    bad = ContentHasher(RemoteFile("a.txt", len(data), None, "f" * 40))
    bad.update(data)
    assert bad.mismatch() == f"git blob sha1 is {blob}, expected {'f' * 40}"
    sha = ContentHasher(RemoteFile("b.bin", len(data), hashlib.sha256(data).hexdigest(), blob))  # LFS: sha256 wins
    sha.update(data)
    assert not sha.git and sha.kind == "sha256" and sha.mismatch() is None
    wrong = ContentHasher(RemoteFile("b.bin", len(data), "0" * 64))
    wrong.update(data)
    assert wrong.mismatch() == f"sha256 is {hashlib.sha256(data).hexdigest()}, expected {'0' * 64}"
    unknown = ContentHasher(RemoteFile("c", len(data)))
    unknown.update(data)
    assert unknown.expected is None and unknown.mismatch() is None  # nothing published: nothing to compare


def test_hash_file_reads_every_chunk(tmp_path, data):
    p = tmp_path / "f"
    p.write_bytes(data * 5)  # several chunks
    seen = []
    h = hash_file(p, RemoteFile("f", len(data) * 5, hashlib.sha256(data * 5).hexdigest()), seen.append)
    assert h.mismatch() is None and sum(seen) == len(data) * 5
    assert hash_file(p, RemoteFile("f", len(data) * 5)).hexdigest() == hashlib.sha256(data * 5).hexdigest()


@pytest.mark.parametrize(
    "path", ["", "/etc/passwd", "a\\b", "a\x00b", "a//b", "./a", "a/./b", "a/../b", "..", "C:x", "c:x", "a/"]
)
def test_unsafe_repository_paths_are_refused(path):
    with pytest.raises(DownloadError, match="refusing unsafe path"):
        check_repo_path(path)


def test_safe_repository_paths_pass():
    for path in ("README.md", "frames/a.b/c..d", "a/.hidden", "x..y"):
        assert check_repo_path(path) == path


def test_a_transfer_that_keeps_failing_gives_up_and_keeps_its_bytes(data, tmp_path):
    f = RemoteFile("x.bin", SIZE, None)
    partial = tmp_path / "x.part"
    calls = []

    def open_at(at):
        calls.append(at)
        yield at
        if len(calls) == 1:
            yield data[:1000]  # progress, then a failure
        raise OSError("connection reset")

    with pytest.raises(DownloadError) as err:
        resumable_fetch(f, partial, open_at, (OSError,), lambda n: None, 2, 0.0, "x.bin", lambda e: f"why: {e}")
    assert str(err.value) == (
        f"x.bin: transfer failed after 2 retries (why: connection reset); kept 1000 of {SIZE} bytes, rerun to resume"
    )
    assert calls == [0, 1000, 1000] and partial.read_bytes() == data[:1000]  # 3 failures in a row: 2 retries


def test_a_transfer_that_makes_progress_between_failures_completes(data, tmp_path):
    f = RemoteFile("x.bin", SIZE, hashlib.sha256(data).hexdigest())
    partial = tmp_path / "x.part"
    step = SIZE // 4

    def open_at(at):
        yield at
        yield data[at : at + step]  # a quarter, then the connection drops
        raise OSError("dropped")

    h = resumable_fetch(f, partial, open_at, (OSError,), lambda n: None, 1, 0.0, "x.bin")  # one retry per stall
    assert partial.read_bytes() == data and h.mismatch() is None


def test_nothing_received_leaves_no_empty_file(tmp_path):
    def open_at(at):
        yield at
        raise OSError("refused")

    with pytest.raises(DownloadError):
        resumable_fetch(RemoteFile("x", 10), tmp_path / "x.part", open_at, (OSError,), lambda n: None, 0, 0.0, "x")
    assert not (tmp_path / "x.part").exists()


def test_one_failure_without_progress_is_retried(data, tmp_path):
    tries = []

    def open_at(at):
        tries.append(at)
        yield at
        if len(tries) == 1:
            raise OSError("reset before any byte")
        yield data

    partial = tmp_path / "deep" / "er" / "x.part"  # folders made as needed
    h = resumable_fetch(RemoteFile("x", SIZE), partial, open_at, (OSError,), lambda n: None, 1, 0.0, "x")
    assert tries == [0, 0] and partial.read_bytes() == data and h.hexdigest() == hashlib.sha256(data).hexdigest()


def test_answers_of_the_wrong_length_name_what_arrived(data, tmp_path):
    def chunks(blob):
        def open_at(at):
            yield at
            yield blob[:1000]
            yield blob[1000:]

        return open_at

    with pytest.raises(IntegrityError) as err:
        resumable_fetch(
            RemoteFile("x", SIZE - 1), tmp_path / "a", chunks(data), (OSError,), lambda n: None, 1, 0.0, "x"
        )
    assert str(err.value) == (
        f"x: size differs from the {SIZE - 1} bytes listed (more received); "
        "the partial file was deleted, rerun to fetch it again"
    )
    with pytest.raises(IntegrityError, match=r"\(only 5000 received\)"):
        resumable_fetch(
            RemoteFile("x", SIZE), tmp_path / "b", chunks(data[:5000]), (OSError,), lambda n: None, 1, 0.0, "x"
        )
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_partial_files_complete_or_too_long(data, tmp_path):
    def never(at):
        raise AssertionError("no request for a complete file")
        yield

    done = tmp_path / "done.part"
    done.write_bytes(data)
    assert resumable_fetch(RemoteFile("x", SIZE), done, never, (OSError,), lambda n: None, 1, 0.0, "x").hexdigest() == (
        hashlib.sha256(data).hexdigest()
    )
    asked = []

    def whole(at):
        asked.append(at)
        yield at
        yield data[at:]

    long = tmp_path / "long.part"
    long.write_bytes(data + b"extra")  # longer than the file: start over
    resumable_fetch(RemoteFile("x", SIZE), long, whole, (OSError,), lambda n: None, 1, 0.0, "x")
    assert asked == [0] and long.read_bytes() == data


def test_a_one_byte_partial_and_a_server_ignoring_ranges(hub, data, tmp_path):
    src = _source(hub)
    partial = tmp_path / "p"
    partial.write_bytes(data[:1])
    hub.ignore_range = True
    assert src.fetch(_big(src), partial, lambda n: None).mismatch() is None
    assert partial.read_bytes() == data


def test_server_errors_are_retried_and_stalls_time_out(hub, data, tmp_path):
    src = _source(hub)
    f = _big(src)
    hub.faults["resolve"] = [503]
    assert src.fetch(f, tmp_path / "a", lambda n: None).mismatch() is None  # the 503 was retried
    assert [e.status for e in hub.content_requests()] == [503, 200]
    hub.reset()
    quick = HubSource(REPO, endpoint=hub.endpoint, retries=0, backoff=0.01, timeout=0.5)
    quick.resolve()
    hub.faults["resolve"] = [STALL]
    with pytest.raises(DownloadError, match=r"within the 0\.5 s timeout"):
        quick.fetch(f, tmp_path / "b", lambda n: None)


def test_a_missing_file_names_what_was_being_downloaded(hub, tmp_path):
    src = _source(hub)
    with pytest.raises(
        DownloadError, match=rf"^downloading nope\.bin: file not found in {REPO} on .* at {src.commit}$"
    ):
        src.fetch(RemoteFile("nope.bin", 10), tmp_path / "n", lambda n: None)


def test_a_server_that_compresses_is_asked_for_the_stored_bytes(hub, data, tmp_path):
    # a CDN gzips answers that accept it; sizes, ranges and hashes are about the stored bytes,
    # so every request asks for them as stored (a client decoding on the fly would hide it)
    src = _source(hub)
    f = _big(src)
    hub.gzip = True
    partial = tmp_path / "Big.tar.gz.part"
    h = src.fetch(f, partial, lambda n: None)
    assert partial.read_bytes() == data and h.mismatch() is None
    partial.write_bytes(data[:1000])  # a resume is a range: never compressed
    h = src.fetch(f, partial, lambda n: None)
    assert partial.read_bytes() == data and h.mismatch() is None
    assert [e.accept_encoding for e in hub.content_requests()] == ["identity", "identity"]


def test_a_transfer_that_gives_up_names_the_repository_file(hub, data, tmp_path):
    src = HubSource(REPO, endpoint=hub.endpoint, retries=1, backoff=0.01)
    src.resolve()
    f = _big(src)
    hub.drop_after["Big.tar.gz"] = [0, 5]  # every answer ends before its first byte
    with pytest.raises(DownloadError, match=rf"^{REPO}/Big\.tar\.gz: transfer failed after 1 retries .*kept 0 of"):
        src.fetch(f, tmp_path / "p", lambda n: None)


def _download(hub, local, retries=2):
    return run_download(
        repo=REPO,
        endpoint=hub.endpoint,
        local_dir=local,
        retries=retries,
        backoff=0.01,
        show_progress=False,
        use_hf_cache=False,
        no_extract=True,
    )


@pytest.mark.parametrize("case", ["range honoured", "range ignored", "partial too long", "dropped, then whole"])
def test_bytes_fetched_are_the_bytes_the_server_sent(hub, data, tmp_path, case):
    # the report counts what crossed the network, not `size - bytes already held`: a whole-file
    # answer to a resume, a partial file longer than the file and a restart each send more
    local = tmp_path / "local"
    if case != "dropped, then whole":  # an interrupted run leaves 100,000 bytes of Big.tar.gz
        hub.drop_after["Big.tar.gz"] = [100_000, 100]
        with pytest.raises(DownloadError, match="rerun to resume"):
            _download(hub, local, retries=1)
        hub.reset()
        (partial,) = (local / WORK_DIR / "partial").glob("Big.tar.gz.*.part")
        assert partial.stat().st_size == 100_000
        if case == "partial too long":
            partial.write_bytes(data + b"extra")
    hub.ignore_range = case in ("range ignored", "dropped, then whole")
    if case == "dropped, then whole":
        hub.drop_after["Big.tar.gz"] = [100_000, 1]
    res = _download(hub, local)
    big = [e.body_bytes for e in hub.content_requests() if e.path == "Big.tar.gz"]
    assert (
        big
        == {
            "range honoured": [SIZE - 100_000],
            "range ignored": [SIZE],
            "partial too long": [SIZE],
            "dropped, then whole": [100_000, SIZE],
        }[case]
    )
    assert "Big.tar.gz" in res.files_fetched
    assert res.bytes_fetched == sum(e.body_bytes for e in hub.content_requests())
