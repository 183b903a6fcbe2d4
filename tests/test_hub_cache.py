"""`tc139k download` inside the Hugging Face ecosystem: the hub cache filled by the real
huggingface_hub client (snapshot_download, hf download --local-dir), cache snapshots as
mirrors, and offline mode, all against tests/hubserver.py on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hubserver import HubServer
from test_download import FAST, REPO, tree_digest

from tc139k.cli import main
from tc139k.download.hub import MANIFEST_NAME
from tc139k.download.run import run_download
from tc139k.errors import DownloadError


@pytest.fixture(scope="module")
def hub(sample):
    with HubServer({REPO: sample.repo}) as server:
        yield server


@pytest.fixture(scope="module")
def hf_cache(hub, tmp_path_factory):
    """A hub cache filled by huggingface_hub.snapshot_download from the same server."""
    from huggingface_hub import snapshot_download

    cache = tmp_path_factory.mktemp("hf") / "hub"
    snapshot = snapshot_download(REPO, repo_type="dataset", cache_dir=cache, endpoint=hub.endpoint)
    return {"cache": cache, "snapshot": Path(snapshot)}


@pytest.fixture(autouse=True)
def isolated(hub, hf_cache, monkeypatch):
    hub.reset()
    for name in ("HF_HUB_OFFLINE", "HF_HOME", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(hf_cache["cache"]))


def cache_state(cache: Path) -> dict:
    """Every entry of the cache with its bytes (through links) and its mtime: nothing may change."""
    out = {}
    for p in sorted(cache.rglob("*")):
        st = p.lstat()
        out[p.relative_to(cache).as_posix()] = (
            st.st_mtime_ns,
            os.readlink(p) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None,
        )
    return out


def frames(local: Path) -> dict:
    return tree_digest(local / "frames")


def test_a_filled_cache_means_nothing_is_fetched_and_the_same_frames(hub, hf_cache, sample, tmp_path):
    before = cache_state(hf_cache["cache"])
    dry = run_download(local_dir=tmp_path / "dry", endpoint=hub.endpoint, dry_run=True, **FAST)
    assert dry.bytes_to_fetch == 0
    assert {e["action"] for e in dry.plan} == {"cache", "stream"}
    assert all(e.get("from") == "hf-cache" for e in dry.plan if e["action"] == "stream")

    res = run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, **FAST)
    assert hub.content_requests() == [] and res.bytes_fetched == 0 and res.files_fetched == []
    assert len(res.files_from_cache) == len(tree_digest(sample.repo))
    assert frames(tmp_path / "l") == tree_digest(sample.frames)  # byte for byte
    assert (tmp_path / "l" / "README.md").read_bytes() == (sample.repo / "README.md").read_bytes()
    assert cache_state(hf_cache["cache"]) == before  # read only: nothing written, linked or touched
    manifest = json.loads((tmp_path / "l" / MANIFEST_NAME).read_text())
    assert manifest["resolved_commit"] == hub.repos[REPO].commit and all(
        r["verified"] for r in manifest["files"].values()
    )
    assert run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, **FAST).up_to_date


def test_damaged_cache_copies_are_passed_over_and_fetched(hub, hf_cache, sample, tmp_path, monkeypatch):
    cache = hf_cache["cache"]
    work = tmp_path / "cache"
    import shutil

    shutil.copytree(cache, work, symlinks=True)
    snap = work / hf_cache["snapshot"].relative_to(cache)
    damaged = []
    for name in ("time_chat_online_139k_train_flt.jsonl", "TVSum.tar.gz"):
        blob = (snap / name).resolve()
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 1
        blob.write_bytes(bytes(data))
        damaged.append(blob)
    monkeypatch.setenv("HF_HUB_CACHE", str(work))
    res = run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, sources="tvsum", **FAST)
    fetched = sorted(e.path for e in hub.content_requests())
    assert fetched == ["TVSum.tar.gz", "time_chat_online_139k_train_flt.jsonl"]
    assert res.files_fetched == fetched
    qa = tmp_path / "l" / "time_chat_online_139k_train_flt.jsonl"
    assert qa.read_bytes() == (sample.repo / qa.name).read_bytes()
    assert frames(tmp_path / "l") == {k: v for k, v in tree_digest(sample.frames).items() if k.startswith("tvsum/")}
    assert all(b.read_bytes() != (sample.repo / n).read_bytes() for b, n in zip(damaged, [qa.name, "TVSum.tar.gz"]))


def test_a_cache_snapshot_as_mirror_knows_its_commit_and_hashes(hub, hf_cache, sample, tmp_path):
    snap = hf_cache["snapshot"]
    res = run_download(local_dir=tmp_path / "l", mirror=snap, **FAST)
    assert res.resolved_commit == snap.name == hub.repos[REPO].commit
    assert res.files_unverified == []  # every file checked against the blob it links to
    assert frames(tmp_path / "l") == tree_digest(sample.frames)
    r = CliRunner().invoke(main, ["download", "--mirror", str(snap), "--local-dir", str(tmp_path / "l")])
    assert r.exit_code == 0 and f"@ {snap.name[:12]}" in r.output and "(no commit id)" not in r.output


def test_after_hf_download_local_dir_nothing_is_fetched_and_archives_are_kept(hub, sample, tmp_path):
    from huggingface_hub import snapshot_download

    local = tmp_path / "l"
    snapshot_download(REPO, repo_type="dataset", local_dir=local, endpoint=hub.endpoint)
    hub.reset()
    r = CliRunner().invoke(
        main, ["download", "--local-dir", str(local), "--no-hf-cache"], env={"HF_ENDPOINT": hub.endpoint}
    )
    assert r.exit_code == 0, r.output
    assert hub.content_requests() == []
    assert frames(local) == tree_digest(sample.frames)
    archives = sorted(p.name for p in sample.repo.glob("*.tar.gz*"))
    assert sorted(p.name for p in local.glob("*.tar.gz*")) == archives  # `hf download` would fetch them again
    assert f"kept:      {len(archives)} archive(s) that were already in the local folder" in r.output


def test_archives_tc139k_fetched_are_deleted_and_the_summary_says_which(hub, tmp_path):
    r = CliRunner().invoke(
        main,
        ["download", "--local-dir", str(tmp_path / "l"), "--sources", "coin", "--no-hf-cache"],
        env={"HF_ENDPOINT": hub.endpoint},
    )
    assert r.exit_code == 0, r.output
    assert "archives:  deleted 1 after extraction (COIN.tar.gz; 500.9 KB freed); --keep-archives keeps them" in r.output
    assert not (tmp_path / "l" / "COIN.tar.gz").exists()


def test_offline_complete_copy_is_up_to_date_without_a_request(hub, tmp_path, monkeypatch):
    local = tmp_path / "l"
    run_download(local_dir=local, endpoint=hub.endpoint, use_hf_cache=False, **FAST)
    hub.reset()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = run_download(local_dir=local, endpoint=hub.endpoint, **FAST)
    assert res.up_to_date and res.offline and res.listing_from == "manifest"
    assert res.resolved_commit == hub.repos[REPO].commit
    monkeypatch.delenv("HF_HUB_OFFLINE")
    r = CliRunner().invoke(
        main, ["download", "--local-dir", str(local), "--offline"], env={"HF_ENDPOINT": hub.endpoint}
    )
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"Up to date (offline): {local} already holds {REPO} @ {res.resolved_commit[:12]}")
    assert hub.log == []  # not one request


def test_offline_incomplete_copy_names_what_is_missing(hub, tmp_path, monkeypatch):
    local = tmp_path / "l"
    run_download(local_dir=local, endpoint=hub.endpoint, annotations_only=True, use_hf_cache=False, **FAST)
    hub.reset()
    monkeypatch.setenv("HF_HUB_OFFLINE", "true")
    with pytest.raises(DownloadError, match=r"incomplete: 7 file\(s\) .* COIN\.tar\.gz, HiREST\.tar\.gz, TVSum"):
        run_download(local_dir=local, endpoint=hub.endpoint, use_hf_cache=False, **FAST)
    dry = run_download(local_dir=local, endpoint=hub.endpoint, use_hf_cache=False, dry_run=True, **FAST)
    assert sorted(dry.missing_files) == sorted(p.name for p in hub.repos[REPO].folder.glob("*.tar.gz*"))
    r = CliRunner().invoke(main, ["download", "--local-dir", str(local), "--sources", "tvsum", "--no-hf-cache"])
    assert r.exit_code != 0 and "TVSum.tar.gz" in r.output and "Traceback" not in r.output
    assert hub.log == []


def test_offline_completes_from_the_cache_and_needs_some_local_knowledge(hub, sample, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, **FAST)  # no manifest: the cache's tree
    assert res.listing_from == "hf-cache" and res.resolved_commit == hub.repos[REPO].commit
    assert frames(tmp_path / "l") == tree_digest(sample.frames)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(DownloadError, match="offline mode .* holds no download of .* has no snapshot"):
        run_download(local_dir=tmp_path / "m", endpoint=hub.endpoint, **FAST)
    assert hub.log == []


def test_verbose_logs_the_cache_copies(hub, hf_cache, tmp_path, sample):
    import subprocess
    import sys

    env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_HUB_CACHE=str(hf_cache["cache"]), TC139K_NO_PROGRESS="1")
    cmd = [sys.executable, "-m", "tc139k", "-v", "download", "--annotations-only", "--local-dir", str(tmp_path / "l")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "DEBUG tc139k.download: README.md: copied from the HF cache" in proc.stderr
    quiet = subprocess.run(
        cmd[:3] + ["-q"] + cmd[4:-1] + [str(tmp_path / "q")], capture_output=True, text=True, env=env
    )
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_offline_a_missing_document_is_a_warning_not_a_failure(hub, tmp_path, monkeypatch, caplog):
    """LICENSE and README.md are not read by any later stage: offline, their absence is said,
    and the run completes from what it has."""
    local = tmp_path / "l"
    run_download(local_dir=local, endpoint=hub.endpoint, use_hf_cache=False, **FAST)
    (local / "LICENSE").unlink()
    (local / "README.md").unlink()
    hub.reset()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with caplog.at_level("WARNING", logger="tc139k.download"):
        res = run_download(local_dir=local, endpoint=hub.endpoint, use_hf_cache=False, **FAST)
    assert sorted(res.missing_files) == ["LICENSE", "README.md"]
    assert "offline: LICENSE, README.md not in the local folder nor in the HF cache" in caplog.text
    assert hub.log == []  # not one request
    (local / "time_chat_online_139k_train_flt.jsonl").unlink()  # data: still a failure
    with pytest.raises(DownloadError, match=r"incomplete: 1 file\(s\) .* time_chat_online_139k_train_flt\.jsonl\. "):
        run_download(local_dir=local, endpoint=hub.endpoint, use_hf_cache=False, **FAST)
