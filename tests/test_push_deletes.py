"""Which files on the Hub `tc139k shards push` deletes, and what it says when deleting is all
it does, with the real huggingface_hub client against tests/hubserver.py.

The contract (tc139k/shards/push.py): data files on the Hub under `data/` that the local build
does not have are deleted in the same commit; nothing else of the repository is ever deleted.
A push whose files the Hub already holds but that deletes stale data files is a commit, and
is reported as one (not as "Nothing to push")."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from envelope import result_of
from hubserver import WRITE_TOKEN as TOKEN
from hubserver import writable_hub

from tc139k.cli import main
from tc139k.keyframes.build import run_keyframes
from tc139k.shards.build import run_shards_build
from tc139k.validate.run import run_validate


@pytest.fixture(scope="module")
def shards(sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("push-deletes")
    run_validate([sample.qa], frames_root=sample.frames, out_dir=root / "validated")
    run_keyframes(out=root / "keyframes", frames_root=sample.frames, method="pixel", show_progress=False)
    out = root / "shards"
    run_shards_build(root / "validated" / "valid.parquet", root / "keyframes", sample.frames, out, show_progress=False)
    return out


@pytest.fixture
def hub(monkeypatch, tmp_path):
    yield from writable_hub(monkeypatch, tmp_path)


def _parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"x": [1, 2, 3]}), buf)
    return buf.getvalue()


def _add_files(hub, repo: str, files: dict[str, bytes], revision: str = "main") -> None:
    """Files someone else committed to the repository, through the real client."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=b) for p, b in files.items()]
    api.create_commit(repo, ops, commit_message="other files", repo_type="dataset", revision=revision)


def _remote(hub, repo: str, revision: str = "main") -> set[str]:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    return set(api.list_repo_files(repo, repo_type="dataset", revision=revision))


def _pushed_files(shards) -> set[str]:
    manifest = json.loads((shards / "shards-manifest.json").read_text())
    return {s["path"] for s in manifest["shards"]} | {"README.md", "shards-manifest.json"}


def _push(*args) -> dict:
    r = CliRunner().invoke(main, ["shards", "push", *map(str, args), "--json"])
    assert r.exit_code == 0, r.output
    return result_of(r.stdout, "shards push")


# Files beside a push. Stale: Parquet data files under data/ that this build does not have.
# Kept: anything else, including Parquet outside data/ and other files under data/.
STALE = ("data/train-00007-of-00009.parquet", "data/validation-00000-of-00002.parquet")
KEPT = ("data/NOTES.md", "data/train.parquet.bak", "other/train-00000-of-00001.parquet", "extra.parquet", "LICENSE")


def test_a_push_deletes_only_the_data_parquet_files_the_build_does_not_have(hub, shards):
    repo = "me/deletes"
    _push(repo, shards)
    parquet = _parquet_bytes()
    _add_files(hub, repo, {p: parquet if p.endswith((".parquet", ".bak")) else b"text\n" for p in STALE + KEPT})
    before = _remote(hub, repo)
    assert set(STALE) | set(KEPT) <= before

    res = _push(repo, shards)
    assert res["deleted"] == sorted(STALE)
    after = _remote(hub, repo)
    assert after == (before - set(STALE))
    assert after == _pushed_files(shards) | set(KEPT)


def test_a_push_that_only_deletes_is_a_commit_and_says_so(hub, shards):
    repo = "me/only-deletes"
    first = _push(repo, shards)
    _add_files(hub, repo, {STALE[0]: _parquet_bytes()})
    hub.log.clear()

    res = _push(repo, shards)  # every file is already there: the deletion is all there is
    assert res["unchanged"] == sorted(res["files"]) and res["deleted"] == [STALE[0]]
    assert res["committed"] is True and [e.kind for e in hub.log if e.kind in ("lfs-upload", "commit")] == ["commit"]
    # (the server names a commit by its content: the same files as the first push, the same id)
    assert hub.repos[repo].commit == res["commit_id"] == first["commit_id"]
    assert STALE[0] not in _remote(hub, repo)

    _add_files(hub, repo, {STALE[1]: _parquet_bytes()})
    r = CliRunner().invoke(main, ["shards", "push", repo, str(shards)])
    assert r.exit_code == 0, r.output
    assert "Nothing to push" not in r.output and r.output.startswith("Pushed ")
    assert f"  deleted:   1 data file(s) of an earlier push: {STALE[1]}" in r.output
    assert f"  unchanged: {len(res['files'])} file(s) the Hub already had" in r.output

    again = _push(repo, shards)  # now nothing is stale and nothing new: no commit
    assert again["committed"] is False and again["deleted"] == []
    assert again["commit_id"] == hub.repos[repo].commit


def test_a_pull_request_deletes_on_its_own_branch_only(hub, shards):
    """The stale files are those of the branch the pull request targets; main keeps them
    until the pull request is merged."""
    repo = "me/pr-deletes"
    _push(repo, shards)
    _add_files(hub, repo, {STALE[0]: _parquet_bytes(), KEPT[0]: b"text\n"})
    on_main = _remote(hub, repo)
    res = _push(repo, shards, "--create-pr")
    assert res["deleted"] == [STALE[0]] and res["committed"] is True and res["pr_url"]
    assert _remote(hub, repo) == on_main
    assert _remote(hub, repo, "refs/pr/1") == on_main - {STALE[0]}


def test_a_branch_push_compares_with_the_branch_not_main(hub, shards):
    """What is stale is read on the branch pushed to: a data file on that branch only is
    deleted there, and main, which never had it, is left as it was."""
    repo = "me/branch-deletes"
    _push(repo, shards)
    _push(repo, shards, "--revision", "dev")
    _add_files(hub, repo, {STALE[0]: _parquet_bytes()}, revision="dev")
    on_main = _remote(hub, repo)
    assert STALE[0] in _remote(hub, repo, "dev") and STALE[0] not in on_main
    res = _push(repo, shards, "--revision", "dev")
    assert res["deleted"] == [STALE[0]] and res["committed"] is True
    assert _remote(hub, repo, "dev") == _pushed_files(shards) and _remote(hub, repo) == on_main
