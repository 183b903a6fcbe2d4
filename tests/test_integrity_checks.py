"""Integrity and staleness checks, each given the one input that only it catches:

- key-frame files (tc139k/keyframes/store.py): a file whose size differs from its marker is
  damaged even when it is a readable Parquet file; one of the recorded size but other bytes
  is redone by the keyframes rerun (it compares hashes);
- completion markers (tc139k/atomic.py, tc139k/keyframes/provenance.py): a marker whose
  parameters lack one that the run records is not a match, and the file is redone;
- the hub cache (tc139k/download/cache.py): a branch whose ref names a commit without its
  snapshot is unknown; a cached copy of another size is no candidate;
- downloads (tc139k/download/run.py): a file the manifest records as present but that was
  truncated is fetched again (and `--verify` names it); offline, the manifest's listing of one
  revision does not stand for another."""

from __future__ import annotations

import hashlib
import json
import shutil

import pyarrow.parquet as pq
import pytest
from hubserver import HubServer

from tc139k.download.cache import HubCache, cached_commit
from tc139k.download.hub import RemoteFile
from tc139k.download.run import run_download
from tc139k.errors import DamagedFileError, DownloadError, IntegrityError
from tc139k.keyframes import store
from tc139k.keyframes.build import run_keyframes

QA = "time_chat_online_139k_train_flt.jsonl"
REPO = "yaolily/TimeChat-Online-139K"


# ---- key-frame files and their markers ---------------------------------------------------------


@pytest.fixture(scope="module")
def kf_folder(sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("kf-integrity")
    ids = root / "ids.txt"
    ids.write_text("\n".join(sample.shortest(6)) + "\n")
    out = root / "kf"
    res = run_keyframes(out=out, frames_root=sample.frames, video_ids=ids, method="pixel", videos_per_file=3)
    assert res.files_written == 2
    return {"out": out, "ids": ids, "frames": sample.frames}


def _copy(kf_folder, tmp_path):
    out = tmp_path / "kf"
    shutil.copytree(kf_folder["out"], out)
    return out


def _rerun(kf_folder, out):
    return run_keyframes(
        out=out, frames_root=kf_folder["frames"], video_ids=kf_folder["ids"], method="pixel", videos_per_file=3
    )


def _digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("keyframes-*.parquet"))}


def test_a_readable_file_of_another_size_than_its_marker_is_damaged(kf_folder, tmp_path):
    out = _copy(kf_folder, tmp_path)
    victim = sorted(out.glob("keyframes-*.parquet"))[0]
    recorded = victim.stat().st_size
    rows = store.read_keyframes(out).to_pylist()
    in_victim = set(pq.read_table(victim, columns=["video_id"])["video_id"].to_pylist())
    mine = [r for r in rows if r["video_id"] in in_victim]
    store.write_keyframes_file(mine[:-1], victim, store.read_provenance(victim))  # one video fewer, still Parquet
    assert victim.stat().st_size != recorded and store.open_file(victim).metadata.num_rows == len(mine) - 1
    with pytest.raises(DamagedFileError, match=rf"{victim.name} is damaged \(\d+ bytes, its run wrote {recorded}\)"):
        store.keyframe_files(out)
    with pytest.raises(DamagedFileError, match="rerun the `tc139k keyframes build` command"):
        store.read_keyframes(out)

    res = _rerun(kf_folder, out)  # the rerun repairs it, and only it
    assert (res.files_written, res.files_reused) == (1, 1)
    assert _digests(out) == _digests(kf_folder["out"])


def test_a_file_of_the_recorded_size_but_other_bytes_is_redone(kf_folder, tmp_path):
    out = _copy(kf_folder, tmp_path)
    victim = sorted(out.glob("keyframes-*.parquet"))[1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    res = _rerun(kf_folder, out)
    assert (res.files_written, res.files_reused) == (1, 1)
    assert _digests(out) == _digests(kf_folder["out"])


@pytest.mark.parametrize("marker_glob", ["keyframes-*.json", "scores-*.json"])
def test_a_marker_without_a_recorded_parameter_is_not_a_match(kf_folder, tmp_path, marker_glob):
    """A marker written without one of the parameters the run records (an older run's, or a
    damaged one) does not vouch for its file: that file is redone, the other reused."""
    out = _copy(kf_folder, tmp_path)
    markers = sorted(out.rglob(f".done/{marker_glob}"))
    assert len(markers) == 2, markers
    marker = json.loads(markers[0].read_text())
    key = "pixel_cell" if marker_glob.startswith("scores") else "trigger_share"
    assert key in marker["params"]
    del marker["params"][key]
    markers[0].write_text(json.dumps(marker))
    res = _rerun(kf_folder, out)
    if marker_glob.startswith("scores"):
        assert (res.batches_scored, res.batches_reused) == (1, 1)
    else:
        assert (res.batches_scored, res.files_written, res.files_reused) == (0, 1, 1)
    assert key in json.loads(markers[0].read_text())["params"]  # the marker is rewritten whole
    assert _digests(out) == _digests(kf_folder["out"])


# ---- the hub cache ----------------------------------------------------------------------------

COMMIT = "a" * 40
OTHER = "b" * 40


def _cache(tmp_path, ref: str | None, snapshots: list[str]):
    folder = tmp_path / "hub" / "datasets--o--n"
    (folder / "refs").mkdir(parents=True)
    if ref is not None:
        (folder / "refs" / "main").write_text(ref)
    for c in snapshots:
        (folder / "snapshots" / c).mkdir(parents=True)
    return tmp_path / "hub"


def test_a_branch_is_known_only_with_the_snapshot_of_its_commit(tmp_path):
    assert cached_commit("o/n", None, _cache(tmp_path / "1", COMMIT, [COMMIT])) == COMMIT
    assert cached_commit("o/n", "main", _cache(tmp_path / "2", COMMIT + "\n", [COMMIT])) == COMMIT
    assert cached_commit("o/n", None, _cache(tmp_path / "3", COMMIT, [])) is None  # ref without snapshot
    assert cached_commit("o/n", None, _cache(tmp_path / "4", COMMIT, [OTHER])) is None  # another commit's only
    assert cached_commit("o/n", None, _cache(tmp_path / "5", "not-a-commit", ["not-a-commit"])) is None
    assert cached_commit("o/n", None, _cache(tmp_path / "6", None, [COMMIT])) is None  # no ref
    cache = _cache(tmp_path / "7", None, [COMMIT])
    assert cached_commit("o/n", COMMIT, cache) == COMMIT  # a commit id: its snapshot is enough
    assert cached_commit("o/n", OTHER, cache) is None
    assert cached_commit("o/n", "dev", cache) is None


def test_a_cached_copy_of_another_size_is_no_candidate(tmp_path):
    data = b"x" * 100
    sha = hashlib.sha256(data).hexdigest()
    cache = _cache(tmp_path, COMMIT, [COMMIT])
    folder = cache / "datasets--o--n"
    (folder / "blobs").mkdir()
    (folder / "blobs" / sha).write_bytes(data)
    (folder / "snapshots" / COMMIT / "f.bin").symlink_to(folder / "blobs" / sha)
    hc = HubCache("o/n", COMMIT, cache)
    assert hc.find(RemoteFile("f.bin", 100, sha, None)) == folder / "snapshots" / COMMIT / "f.bin"
    assert hc.find(RemoteFile("f.bin", 101, sha, None)) is None
    assert hc.find(RemoteFile("f.bin", 99, sha, None)) is None
    assert hc.find(RemoteFile("f.bin", 100, None, None)) is None  # nothing to verify it against
    (folder / "snapshots" / COMMIT / "f.bin").unlink()  # the blob, found by its hash
    assert hc.find(RemoteFile("f.bin", 100, sha, None)) == folder / "blobs" / sha
    assert hc.find(RemoteFile("f.bin", 100, "c" * 64, None)) is None


# ---- downloads ----------------------------------------------------------------------------------


def test_a_file_recorded_present_but_truncated_is_fetched_again(sample, tmp_path):
    local = tmp_path / "l"
    run_download(local_dir=local, mirror=sample.repo, annotations_only=True, show_progress=False)
    qa_file = local / QA
    whole = qa_file.read_bytes()
    assert json.loads((local / "tc139k-manifest.json").read_text())["files"][QA]["present"]
    qa_file.write_bytes(whole[: len(whole) // 2])
    res = run_download(local_dir=local, mirror=sample.repo, annotations_only=True, show_progress=False)
    assert res.files_fetched == [QA] and qa_file.read_bytes() == whole

    qa_file.write_bytes(whole[:-1])
    with pytest.raises(IntegrityError, match=rf"{QA}: {len(whole) - 1} bytes, expected {len(whole)}"):
        run_download(local_dir=local, mirror=sample.repo, annotations_only=True, verify=True, show_progress=False)


@pytest.fixture
def hub(sample, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with HubServer({REPO: sample.repo}) as server:
        yield server


def test_offline_the_manifest_does_not_stand_for_another_revision(hub, tmp_path, monkeypatch):
    local = tmp_path / "l"
    first = run_download(
        local_dir=local, endpoint=hub.endpoint, annotations_only=True, use_hf_cache=False, show_progress=False
    )
    commit = first.resolved_commit
    hub.reset()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    same = run_download(local_dir=local, endpoint=hub.endpoint, annotations_only=True, revision=commit)
    assert same.up_to_date and same.listing_from == "manifest" and same.resolved_commit == commit
    for other in ("v2", OTHER):
        with pytest.raises(DownloadError, match=rf"holds no download of {REPO} at '{other}'"):
            run_download(local_dir=local, endpoint=hub.endpoint, annotations_only=True, revision=other)
    with pytest.raises(DownloadError, match="holds no download of other/repo"):
        run_download(local_dir=local, endpoint=hub.endpoint, annotations_only=True, repo="other/repo")
    assert hub.log == []
