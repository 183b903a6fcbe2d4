"""The hub cache as download/cache.py reads it, from its contract: a snapshot folder's commit
is its name only under `<...--...>/snapshots/`; a snapshot entry's hashes are the name of the
blob it links to (a copy, not a link, names none); the listing of a commit is the tree
huggingface_hub keeps in `trees/<commit>.json` (every file of the commit, also those never
fetched), else the files of the snapshot; offline, a file in neither place is named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hubserver import HubServer
from test_download import FAST, REPO

from tc139k.download.cache import HubCache, _blob_hashes, repo_cache_folder, snapshot_commit
from tc139k.download.run import run_download
from tc139k.errors import DownloadError

C1 = "a" * 40
SHA256 = "b" * 64


@pytest.mark.parametrize(
    "parts, commit",
    [
        (("datasets--o--n", "snapshots", C1), C1),
        (("datasets--o--n", "snapshots", "A" * 39), None),  # not a commit id
        (("datasets--o--n", "snapshot", C1), None),  # not under snapshots/
        (("datasets", "snapshots", C1), None),  # not a repository's cache folder
        (("datasets--o--n", "refs", C1), None),
    ],
)
def test_a_snapshot_folder_has_a_commit_only_where_the_cache_puts_one(tmp_path, parts, commit):
    folder = tmp_path.joinpath(*parts)
    folder.mkdir(parents=True)
    assert snapshot_commit(folder) == commit


def test_a_snapshot_entry_is_named_by_the_blob_it_links_to(tmp_path):
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    for name in (SHA256, C1, "etag-of-something-else"):
        (blobs / name).write_bytes(b"x")
    lfs, small, other, copy = (tmp_path / n for n in ("lfs", "small", "other", "copy"))
    os.symlink(blobs / SHA256, lfs)
    os.symlink(os.path.relpath(blobs / C1, tmp_path), small)
    os.symlink(blobs / "etag-of-something-else", other)
    copy.write_bytes(b"x")
    (tmp_path / C1).write_bytes(b"x")  # a plain file named like a blob is no link to one
    assert _blob_hashes(lfs) == (SHA256, None)
    assert _blob_hashes(small) == (None, C1)
    assert _blob_hashes(other) == (None, None)
    assert _blob_hashes(copy) == (None, None)
    assert _blob_hashes(tmp_path / C1) == (None, None)
    assert _blob_hashes(tmp_path / "missing") == (None, None)


def test_the_tree_lists_every_file_of_the_commit_and_the_snapshot_what_was_fetched(tmp_path):
    cache = tmp_path / "hub"
    folder = repo_cache_folder(REPO, cache)
    snap = folder / "snapshots" / C1
    (folder / "blobs").mkdir(parents=True)
    snap.mkdir(parents=True)
    (folder / "blobs" / SHA256).write_bytes(b"12345")
    os.symlink(folder / "blobs" / SHA256, snap / "fetched.bin")
    tree = {
        "format_version": 1,
        "files": {
            "fetched.bin": {"size": 5, "blob_id": C1, "lfs_sha256": SHA256, "lfs_size": 5},
            "never/fetched.txt": {"size": 7, "blob_id": "c" * 40},
        },
    }
    (folder / "trees").mkdir()
    (folder / "trees" / f"{C1}.json").write_text(json.dumps(tree))

    def files(listing):
        return {f.path: (f.size, f.sha256, f.blob_id) for f in listing}

    at_c1 = HubCache(REPO, C1, cache)
    assert files(at_c1.tree_listing()) == {"fetched.bin": (5, SHA256, C1), "never/fetched.txt": (7, None, "c" * 40)}
    assert files(at_c1.snapshot_listing()) == {"fetched.bin": (5, SHA256, None)}  # only what was fetched
    # a tree of another commit says nothing about this one, nor does a snapshot it lacks
    other = HubCache(REPO, "d" * 40, cache)
    assert other.tree_listing() is None and other.snapshot_listing() == []
    for damaged in ("not json", json.dumps({"files": []}), json.dumps({"files": {"x": {}}})):
        (folder / "trees" / f"{C1}.json").write_text(damaged)
        assert at_c1.tree_listing() is None, damaged
    no_commit = HubCache(REPO, None, cache)
    assert no_commit.tree_listing() is None and no_commit.snapshot_listing() == []


@pytest.fixture(scope="module")
def hub(sample):
    with HubServer({REPO: sample.repo}) as server:
        yield server


def test_offline_a_partial_cache_knows_the_files_it_never_fetched(hub, tmp_path, monkeypatch):
    """The client fetched only the annotations; its tree lists the archives too, so an offline
    download from that cache names them instead of calling the repository complete."""
    from huggingface_hub import snapshot_download

    cache = tmp_path / "hub"
    snapshot_download(REPO, repo_type="dataset", cache_dir=cache, endpoint=hub.endpoint, allow_patterns=["*.jsonl"])
    commit = hub.repos[REPO].commit
    assert (repo_cache_folder(REPO, cache) / "trees" / f"{commit}.json").is_file()
    archives = sorted(p.name for p in hub.repos[REPO].folder.glob("*.tar.gz*"))
    hub.reset()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError, match="incomplete") as err:
        run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, **FAST)
    assert archives[0] in str(err.value)
    dry = run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, dry_run=True, **FAST)
    assert dry.listing_from == "hf-cache"
    assert set(archives) <= set(dry.missing_files)
    assert not any(Path(p).suffix == ".jsonl" for p in dry.missing_files)
    assert hub.log == []


def _partial_cache(hub, cache: Path, patterns: list[str], keep_tree: bool) -> None:
    import shutil

    from huggingface_hub import snapshot_download

    snapshot_download(REPO, repo_type="dataset", cache_dir=cache, endpoint=hub.endpoint, allow_patterns=patterns)
    if not keep_tree:  # a cache filled by a client that keeps no tree listing
        shutil.rmtree(repo_cache_folder(REPO, cache) / "trees")


def test_offline_a_partial_cache_without_its_tree_does_not_pass_for_complete(hub, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tc139k.cli import main

    cache = tmp_path / "hub"
    _partial_cache(hub, cache, ["*.jsonl"], keep_tree=False)
    hub.reset()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError, match="holds no frame archive") as err:
        run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, **FAST)
    assert "--annotations-only" in str(err.value) and "trees/" in str(err.value)
    assert str(repo_cache_folder(REPO, cache) / "snapshots") in str(err.value)
    r = CliRunner().invoke(main, ["download", "--local-dir", str(tmp_path / "m")])
    assert r.exit_code == 1 and "holds no frame archive" in r.output and "Traceback" not in r.output
    # what it can give, it gives
    res = run_download(local_dir=tmp_path / "a", endpoint=hub.endpoint, annotations_only=True, **FAST)
    assert res.listing_from == "hf-cache-snapshot" and not res.missing_files
    assert hub.log == []


def test_offline_a_partial_cache_without_its_tree_names_the_sources_it_knows(hub, tmp_path, monkeypatch, caplog):
    cache = tmp_path / "hub"
    _partial_cache(hub, cache, ["*.jsonl", "COIN.tar.gz*"], keep_tree=False)
    hub.reset()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with caplog.at_level("WARNING", logger="tc139k.download"):
        res = run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, **FAST)
    assert res.listing_from == "hf-cache-snapshot" and res.selected_sources == ["coin"]
    assert "frame archives never fetched into it are not known. Sources known: coin" in caplog.text
    assert str(repo_cache_folder(REPO, cache) / "snapshots") in caplog.text
    assert hub.log == []
