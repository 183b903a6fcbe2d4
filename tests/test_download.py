"""`tc139k download` against a local Hub-compatible server, with the real huggingface_hub client."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from envelope import result_of
from hubserver import HubServer

from tc139k.download import extract
from tc139k.download import run as dl
from tc139k.download.extract import WORK_DIR
from tc139k.download.hub import MANIFEST_NAME, check_repo_path
from tc139k.download.run import run_download
from tc139k.errors import DiskFullError, DownloadError, HostileArchiveError, IntegrityError, UsageError

REPO = "yaolily/TimeChat-Online-139K"
ANNOT_REPO = "wyccccc/TimeChat-Online-139K"
FAST = {"retries": 2, "backoff": 0.01, "show_progress": False}


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def annotation_digest(repo: Path) -> dict[str, str]:
    return {k: v for k, v in tree_digest(repo).items() if ".tar.gz" not in k}


def frames_of(sample, *sources) -> dict[str, str]:
    return {k: v for k, v in tree_digest(sample.frames).items() if k.split("/")[0] in sources}


def videos_by_source(sample) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for vid, t in sorted(sample.truth.items()):
        out.setdefault(t["source"], []).append(vid)
    return out


def leftovers(local: Path) -> list[str]:
    work = local / WORK_DIR
    return (
        [p.relative_to(local).as_posix() for sub in ("staging", "trash", "partial") for p in (work / sub).glob("*")]
        if work.exists()
        else []
    )


@pytest.fixture(scope="module")
def repos(sample, tmp_path_factory):
    """The sample repo, an annotations-only copy, and a hostile one."""
    base = tmp_path_factory.mktemp("repos")
    annot = base / "annotations"
    shutil.copytree(sample.repo, annot, ignore=shutil.ignore_patterns("*.tar.gz*"))
    evil = base / "evil"
    evil.mkdir()
    shutil.copy(sample.repo / "README.md", evil / "README.md")
    from test_extract import tar_gz

    (evil / "Evil.tar.gz").write_bytes(
        tar_gz(
            [
                ("frames/evil/vid/000000.jpg", b"\xff\xd8ok"),
                ("frames/evil/vid/../../../../../escaped/000001.jpg", b"\xff\xd8bad"),
            ]
        )
    )
    mutable = base / "mutable"
    shutil.copytree(annot, mutable)
    return {"sample": sample.repo, "annot": annot, "evil": evil, "mutable": mutable}


@pytest.fixture(scope="module")
def hub(repos):
    with HubServer(
        {
            REPO: repos["sample"],
            ANNOT_REPO: repos["annot"],
            "test/evil": repos["evil"],
            "test/mutable": repos["mutable"],
        }
    ) as server:
        yield server


@pytest.fixture(autouse=True)
def clean_hub(request):
    if "hub" in request.fixturenames:
        request.getfixturevalue("hub").reset()


@pytest.fixture(scope="module")
def full(hub, tmp_path_factory):
    """One complete download of the sample through the Hub path (listing paginated)."""
    hub.reset()
    hub.page_size = 3
    local = tmp_path_factory.mktemp("full") / "local"
    res = run_download(local_dir=local, endpoint=hub.endpoint, **FAST)
    listing_calls = [e for e in hub.log if e.kind == "tree"]
    content = hub.content_requests()
    hub.reset()
    return {"local": local, "result": res, "tree_calls": listing_calls, "content": content}


# ---- the normal path -------------------------------------------------------------------------


def test_full_download_matches_the_sample(full, sample, hub):
    local, res = full["local"], full["result"]
    assert tree_digest(local / "frames") == tree_digest(sample.frames)  # byte for byte
    local_annot = {
        k: v for k, v in tree_digest(local).items() if not k.startswith(("frames/", WORK_DIR)) and k != MANIFEST_NAME
    }
    assert local_annot == annotation_digest(sample.repo)
    assert not list(local.glob("*.tar.gz*"))  # archives deleted after extraction
    assert len(full["tree_calls"]) > 1  # the listing was paginated and followed
    assert sorted(e.path for e in full["content"]) == sorted(tree_digest(sample.repo))

    commit = hub.repos[REPO].commit
    assert res.resolved_commit == commit and not res.up_to_date
    assert res.available_sources == ["coin", "hirest", "tvsum", "videoic", "youcook2"]
    assert res.frames_total == sum(v["n_frames"] for v in sample.truth.values())
    manifest = json.loads((local / MANIFEST_NAME).read_text())
    assert manifest["resolved_commit"] == commit and manifest["repo"] == REPO
    assert all(r["verified"] for r in manifest["files"].values())
    assert (
        manifest["files"]["COIN.tar.gz"]["sha256"]
        == hashlib.sha256((sample.repo / "COIN.tar.gz").read_bytes()).hexdigest()
    )
    assert manifest["files"]["README.md"]["sha256"] is None and manifest["files"]["README.md"]["blob_id"]
    for vid, truth in sample.truth.items():
        assert manifest["sources"][truth["source"]]["videos"][vid] == truth["n_frames"]
    assert all(s["complete"] for s in manifest["sources"].values())
    assert leftovers(local) == []


def test_rerun_is_a_no_op(full, hub):
    local = full["local"]
    a_frame = next((local / "frames").rglob("*.jpg"))
    stamp = a_frame.stat().st_mtime_ns
    manifest_before = (local / MANIFEST_NAME).read_bytes()
    res = run_download(local_dir=local, endpoint=hub.endpoint, **FAST)
    assert res.up_to_date and not res.files_fetched and not res.sources_extracted
    assert sorted(res.sources_up_to_date) == res.available_sources
    assert [e for e in hub.log if e.kind == "resolve"] == []  # no GET (nor HEAD) of any file
    assert a_frame.stat().st_mtime_ns == stamp
    assert (local / MANIFEST_NAME).read_bytes() == manifest_before


def test_verify_finds_damage_and_a_rerun_repairs_it(hub, sample, tmp_path):
    local = tmp_path / "local"
    run_download(local_dir=local, endpoint=hub.endpoint, sources="tvsum", **FAST)
    assert run_download(local_dir=local, verify=True, **FAST).verify_problems == []

    victim = sorted((local / "frames" / "tvsum").rglob("*.jpg"))[5]
    victim.unlink()
    qa = local / "time_chat_online_139k_train_flt.jsonl"
    data = bytearray(qa.read_bytes())
    data[100] ^= 1
    qa.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as err:
        run_download(local_dir=local, verify=True, **FAST)
    msg = str(err.value)
    assert "2 problem(s)" in msg and qa.name in msg and victim.parent.name in msg

    hub.reset()
    res = run_download(local_dir=local, endpoint=hub.endpoint, sources="tvsum", **FAST)
    assert res.files_fetched == ["TVSum.tar.gz", qa.name]
    assert list(res.sources_extracted) == ["tvsum"]
    assert res.sources_extracted["tvsum"]["videos"] == 1  # only the damaged video again
    assert tree_digest(local / "frames") == frames_of(sample, "tvsum")
    assert qa.read_bytes() == (sample.repo / qa.name).read_bytes()
    assert run_download(local_dir=local, verify=True, **FAST).verify_problems == []


def test_selected_sources_and_video_ids(hub, sample, tmp_path):
    by_source = videos_by_source(sample)
    wanted = [by_source["youcook2"][0], by_source["tvsum"][1]]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(f"# videos to extract\n{wanted[0]}\n\n{wanted[1]}  # trailing comment\nnot_a_video\n")
    local = tmp_path / "local"
    res = run_download(local_dir=local, endpoint=hub.endpoint, sources="TVSum, Youcook2", video_ids=ids_file, **FAST)
    assert res.selected_sources == ["tvsum", "youcook2"]
    assert res.missing_video_ids == ["not_a_video"]
    got = {p.name for p in (local / "frames").glob("*/*")}
    assert got == set(wanted)
    assert tree_digest(local / "frames") == {
        k: v for k, v in tree_digest(sample.frames).items() if k.split("/")[1] in wanted
    }
    fetched = {e.path for e in hub.content_requests()}
    assert not any(p.startswith(("COIN", "HiREST", "VideoIC")) for p in fetched)

    # one more video of an already-extracted source: only that one is extracted
    hub.reset()
    res = run_download(
        local_dir=local,
        endpoint=hub.endpoint,
        sources="youcook2",
        video_ids=[wanted[0], by_source["youcook2"][1]],
        **FAST,
    )
    assert res.sources_extracted["youcook2"]["videos"] == 1
    assert res.sources_extracted["youcook2"]["skipped_unselected"] > 0
    assert {p.name for p in (local / "frames" / "youcook2").iterdir()} == {wanted[0], by_source["youcook2"][1]}


def test_video_ids_fetch_only_the_archives_of_their_sources(hub, sample, tmp_path):
    by_source = videos_by_source(sample)
    wanted = [by_source["tvsum"][0], by_source["youcook2"][1]]
    local = tmp_path / "local"

    # a dry run cannot read annotations it has not fetched: every source is still listed
    plan = run_download(local_dir=local, endpoint=hub.endpoint, video_ids=wanted + ["nope"], dry_run=True, **FAST)
    assert plan.video_sources is None and plan.selected_sources == plan.available_sources
    assert not local.exists()

    hub.reset()
    res = run_download(local_dir=local, endpoint=hub.endpoint, video_ids=wanted + ["nope"], **FAST)
    assert res.video_sources == {wanted[0]: ["tvsum"], wanted[1]: ["youcook2"]}
    assert res.selected_sources == ["tvsum", "youcook2"] and res.missing_video_ids == ["nope"]
    fetched = {e.path for e in hub.content_requests()}
    assert not any(p.startswith(("COIN", "HiREST", "VideoIC")) for p in fetched)
    assert any(p.startswith("TVSum") for p in fetched) and any(p.startswith("Youcook2") for p in fetched)
    assert {p.name for p in (local / "frames").glob("*/*")} == set(wanted)
    assert tree_digest(local / "frames") == {
        k: v for k, v in tree_digest(sample.frames).items() if k.split("/")[1] in wanted
    }

    # with the annotations in place, a dry run narrows too
    other = by_source["coin"][0]
    plan = run_download(local_dir=local, endpoint=hub.endpoint, video_ids=[other], dry_run=True, **FAST)
    assert plan.video_sources == {other: ["coin"]} and plan.selected_sources == ["coin"]
    assert [e["source"] for e in plan.plan if e["kind"] == "archive"] == ["coin"]


def test_cli_says_where_the_requested_videos_are(hub, sample, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tc139k.cli import main

    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    vid = next(v for v, t in sorted(sample.truth.items()) if t["source"] == "hirest")
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{vid}\nnope\n")
    local = str(tmp_path / "l")
    r = CliRunner().invoke(main, ["download", "--local-dir", local, "--video-ids", str(ids), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "read from the annotations, once fetched" in r.output
    r = CliRunner().invoke(main, ["download", "--local-dir", local, "--video-ids", str(ids)])
    assert r.exit_code == 0, r.output
    assert "located:   1 of 2 requested video(s) in the annotations, in: hirest" in r.output
    assert "extracted: hirest" in r.output and "1 requested video id(s): nope" in r.output


def test_locate_videos_reads_frame_paths_and_passes_over_other_lines(tmp_path):
    from tc139k.download.locate import locate_videos

    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        "\n".join(
            [
                json.dumps({"messages": [], "videos": [["x/frames/COIN/v1/000001.jpg"], ["p/tvsum/v2/000003.jpg"]]}),
                "not json",
                json.dumps({"videos": "v1.mp4"}),
                json.dumps({"other": 1}),
                json.dumps({"videos": [[], ["bad path"], ["a/youcook2/v1/000007.jpg"]]}),
                "",
            ]
        )
    )
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"videos": [["q/hirest/v3/000000.jpg"]]}) + "\n")
    assert locate_videos([qa, more], {"v1", "v3", "v9"}) == {"v1": {"coin", "youcook2"}, "v3": {"hirest"}}


def test_unknown_source_lists_the_available_ones(hub, tmp_path):
    with pytest.raises(UsageError) as err:
        run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, sources="youcook2,Kinetics", **FAST)
    assert "kinetics" in str(err.value)
    assert "coin, hirest, tvsum, videoic, youcook2" in str(err.value)
    assert not (tmp_path / "l").exists()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"annotations_only": True, "sources": "coin"}, "--annotations-only"),
        ({"no_extract": True, "video_ids": ["v1"]}, "--no-extract"),
        ({"verify": True, "dry_run": True}, "--verify and --dry-run"),
        ({"mirror": ".", "revision": "main"}, "--revision applies to the Hub"),
        ({"video_ids": ["ok", "../etc"]}, "video ids:2: '../etc' is not a valid video id"),
        ({"max_workers": 0}, "--max-workers"),
        ({"mirror": "TMP"}, "must not be the mirror folder or inside it"),
    ],
)
def test_conflicting_or_bad_options(tmp_path, options, message):
    if options.get("mirror") == "TMP":
        options = {"mirror": tmp_path}
    with pytest.raises(UsageError, match=message):
        run_download(local_dir=tmp_path / "l", **options, **FAST)
    assert not (tmp_path / "l").exists()


@pytest.mark.parametrize("path", ["../x.jsonl", "/etc/passwd", "a/../../b", "a//b", "./a", "C:/x", "a\\b", ""])
def test_unsafe_paths_in_a_listing_are_refused(path):
    with pytest.raises(DownloadError, match="unsafe path"):
        check_repo_path(path)
    assert check_repo_path("OtherTrainingDataset/llava_video_100k.jsonl")


def test_annotations_only(hub, sample, tmp_path):
    res = run_download(local_dir=tmp_path / "a", endpoint=hub.endpoint, annotations_only=True, **FAST)
    assert not (tmp_path / "a" / "frames").exists()
    assert res.selected_sources == [] and res.frames_total == 0
    assert not any(".tar.gz" in e.path for e in hub.content_requests())
    assert {
        k: v for k, v in tree_digest(tmp_path / "a").items() if not k.startswith(WORK_DIR) and k != MANIFEST_NAME
    } == annotation_digest(sample.repo)

    # the annotations-only repository needs no flag at all
    res = run_download(repo=ANNOT_REPO, local_dir=tmp_path / "b", endpoint=hub.endpoint, **FAST)
    assert res.available_sources == [] and len(res.files_fetched) == len(annotation_digest(sample.repo))


def test_dry_run_reports_and_changes_nothing(hub, sample, tmp_path):
    local = tmp_path / "local"
    res = run_download(local_dir=local, endpoint=hub.endpoint, sources="coin", dry_run=True, **FAST)
    assert not local.exists()
    assert hub.content_requests() == []
    fetch = {e["path"]: e["size"] for e in res.plan if e["action"] == "fetch"}
    assert "COIN.tar.gz" in fetch and "HiREST.tar.gz" not in fetch
    assert fetch["COIN.tar.gz"] == (sample.repo / "COIN.tar.gz").stat().st_size
    assert res.bytes_to_fetch == sum(fetch.values())
    assert res.free_bytes > 0 and res.bytes_needed >= res.bytes_to_fetch


def test_no_extract_keeps_archives_then_extraction_uses_them(hub, sample, tmp_path):
    local = tmp_path / "local"
    res = run_download(local_dir=local, endpoint=hub.endpoint, sources="youcook2", no_extract=True, **FAST)
    parts = sorted(p.name for p in sample.repo.glob("Youcook2.tar.gz.*"))
    assert sorted(p.name for p in local.glob("Youcook2.tar.gz.*")) == parts
    assert not (local / "frames").exists() and res.sources_extracted == {}
    hub.reset()
    res = run_download(local_dir=local, endpoint=hub.endpoint, sources="youcook2", keep_archives=True, **FAST)
    assert hub.content_requests() == []  # the verified local parts were used
    assert tree_digest(local / "frames") == frames_of(sample, "youcook2")
    assert sorted(p.name for p in local.glob("Youcook2.tar.gz.*")) == parts


# ---- resuming ------------------------------------------------------------------------------------


def test_connection_dropped_mid_file_is_resumed(hub, sample, tmp_path):
    part = "Youcook2.tar.gz.001"
    hub.drop_after[part] = [50_000, 1]
    local = tmp_path / "local"
    run_download(local_dir=local, endpoint=hub.endpoint, sources="youcook2", **FAST)
    gets = [e for e in hub.content_requests() if e.path == part]
    assert len(gets) == 2 and gets[0].range is None
    assert gets[1].range.startswith("bytes=") and int(gets[1].range[6:].rstrip("-")) > 0
    assert tree_digest(local / "frames") == frames_of(sample, "youcook2")


def test_interrupted_run_resumes_from_its_partial_file(hub, sample, tmp_path):
    part = "Youcook2.tar.gz.002"
    hub.drop_after[part] = [40_000, 100]  # the network keeps failing mid-file
    local = tmp_path / "local"
    with pytest.raises(DownloadError, match="rerun to resume"):
        run_download(local_dir=local, endpoint=hub.endpoint, sources="youcook2", max_workers=1, **FAST)
    partials = list((local / WORK_DIR / "partial").glob("*.part"))
    assert len(partials) == 1 and 0 < partials[0].stat().st_size < (sample.repo / part).stat().st_size
    kept = partials[0].stat().st_size
    assert not (local / part).exists() and not (local / "frames").exists()
    assert part not in json.loads((local / MANIFEST_NAME).read_text())["files"]

    hub.reset()
    res = run_download(local_dir=local, endpoint=hub.endpoint, sources="youcook2", **FAST)
    gets = [e for e in hub.content_requests() if e.path == part]
    assert [e.range for e in gets] == [f"bytes={kept}-"]
    assert res.bytes_fetched == sum((sample.repo / p).stat().st_size for p in res.files_fetched) - kept
    assert tree_digest(local / "frames") == frames_of(sample, "youcook2")
    assert leftovers(local) == []


# ---- damage and hostility --------------------------------------------------------------------------


def test_corrupted_bytes_are_detected_and_deleted(hub, tmp_path):
    hub.corrupt.add("COIN.tar.gz")
    local = tmp_path / "local"
    with pytest.raises(IntegrityError, match="COIN.tar.gz.*sha256 is .* expected"):
        run_download(local_dir=local, endpoint=hub.endpoint, sources="coin", **FAST)
    assert not (local / "COIN.tar.gz").exists() and not (local / "frames").exists()
    assert leftovers(local) == []

    hub.reset()
    hub.corrupt.add("README.md")  # a plain git file: checked by its blob id
    with pytest.raises(IntegrityError, match="README.md.*git blob sha1"):
        run_download(local_dir=tmp_path / "b", endpoint=hub.endpoint, annotations_only=True, **FAST)
    assert not (tmp_path / "b" / "README.md").exists()


def test_file_size_differing_from_the_listing(hub, repos, tmp_path):
    """The served file changes after the listing: longer, then shorter, than listed."""
    readme = repos["mutable"] / "README.md"
    original = readme.read_bytes()
    readme.write_bytes(original + b"extra")
    with pytest.raises(IntegrityError, match="README.md: size differs.*more received"):
        run_download(repo="test/mutable", local_dir=tmp_path / "a", endpoint=hub.endpoint, **FAST)
    readme.write_bytes(original[:100])
    with pytest.raises(IntegrityError, match="README.md: size differs.*only 100 received"):
        run_download(repo="test/mutable", local_dir=tmp_path / "a", endpoint=hub.endpoint, **FAST)
    assert not (tmp_path / "a" / "README.md").exists() and leftovers(tmp_path / "a") == []


def test_hostile_archive_is_refused_with_nothing_written_outside(hub, tmp_path):
    local = tmp_path / "deep" / "local"
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(HostileArchiveError, match="Evil.tar.gz.*'..'"):
        run_download(repo="test/evil", local_dir=local, endpoint=hub.endpoint, **FAST)
    outside = [
        p
        for p in sorted(tmp_path.rglob("*"))
        if p not in before and local not in p.parents and p != local and p != local.parent
    ]
    assert outside == []
    assert not (local / "frames").exists() and leftovers(local) == []


def test_disk_check_before_download(hub, tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "_free_bytes", lambda path: 1000)
    with pytest.raises(DiskFullError, match="has 1.0 KB free but this download needs about"):
        run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, sources="coin", **FAST)
    assert hub.content_requests() == [] and not (tmp_path / "l").exists()


def test_disk_full_while_extracting(hub, tmp_path, monkeypatch):
    real_write, calls = extract._write_new, []

    def failing_write(path, data):
        calls.append(path)
        if len(calls) > 20:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, data)

    monkeypatch.setattr(extract, "_write_new", failing_write)
    local = tmp_path / "local"
    with pytest.raises(DiskFullError, match="disk full while writing"):
        run_download(local_dir=local, endpoint=hub.endpoint, sources="hirest", **FAST)
    assert not (local / "frames" / "hirest").exists() and leftovers(local) == []


# ---- mirror ----------------------------------------------------------------------------------------


def test_mirror_gives_the_same_result_as_the_hub(full, sample, tmp_path):
    local = tmp_path / "m"
    res = run_download(local_dir=local, mirror=sample.repo, **FAST)
    assert res.origin == "mirror" and res.files_streamed  # archives read in place
    assert not list(local.glob("*.tar.gz*"))
    strip = lambda d: {k: v for k, v in d.items() if not k.startswith(WORK_DIR) and k != MANIFEST_NAME}  # noqa: E731
    assert strip(tree_digest(local)) == strip(tree_digest(full["local"]))
    again = run_download(local_dir=local, mirror=sample.repo, **FAST)
    assert again.up_to_date

    kept = run_download(local_dir=tmp_path / "k", mirror=sample.repo, sources="youcook2", keep_archives=True, **FAST)
    assert kept.files_streamed == []
    for p in sample.repo.glob("Youcook2.tar.gz.*"):
        assert (tmp_path / "k" / p.name).read_bytes() == p.read_bytes()


def test_mirror_checks_the_hashes_it_publishes(hub, sample, tmp_path):
    """A folder made by `download --keep-archives --no-extract` is a mirror with known hashes."""
    mirror = tmp_path / "mirror"
    run_download(local_dir=mirror, endpoint=hub.endpoint, sources="tvsum", no_extract=True, **FAST)
    qa = mirror / "time_chat_online_139k_train_flt.jsonl"
    data = bytearray(qa.read_bytes())
    data[10] ^= 1
    qa.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="time_chat_online_139k_train_flt.jsonl.*sha256"):
        run_download(local_dir=tmp_path / "a", mirror=mirror, annotations_only=True, **FAST)

    qa.write_bytes((sample.repo / qa.name).read_bytes())
    arc = mirror / "TVSum.tar.gz"
    data = bytearray(arc.read_bytes())
    data[-100] ^= 1
    arc.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="TVSum.tar.gz"):
        run_download(local_dir=tmp_path / "b", mirror=mirror, sources="tvsum", **FAST)
    assert not (tmp_path / "b" / "frames" / "tvsum").exists()


def test_split_archive_gives_the_same_frames_as_a_single_one(sample, tmp_path):
    single = tmp_path / "single"
    shutil.copytree(sample.repo, single, ignore=shutil.ignore_patterns("Youcook2.tar.gz.*"))
    (single / "Youcook2.tar.gz").write_bytes(
        b"".join(p.read_bytes() for p in sorted(sample.repo.glob("Youcook2.tar.gz.*")))
    )
    a = run_download(local_dir=tmp_path / "a", mirror=single, sources="youcook2", **FAST)
    b = run_download(local_dir=tmp_path / "b", mirror=sample.repo, sources="youcook2", **FAST)
    assert a.sources_extracted["youcook2"]["archive"] == "Youcook2.tar.gz"
    assert b.sources_extracted["youcook2"]["archive"] == "Youcook2.tar.gz.000..002"
    assert (
        tree_digest(tmp_path / "a" / "frames")
        == tree_digest(tmp_path / "b" / "frames")
        == frames_of(sample, "youcook2")
    )


# ---- through the command line ------------------------------------------------------------------------


def test_cli_dry_run_and_summary(hub, sample, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tc139k.cli import main

    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    local = str(tmp_path / "l")
    r = CliRunner().invoke(main, ["download", "--local-dir", local, "--sources", "tvsum", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "fetch" in r.output and "TVSum.tar.gz" in r.output and "COIN" not in r.output
    assert "to fetch:" in r.output and "free:" in r.output and not Path(local).exists()

    ids = tmp_path / "ids.txt"
    ids.write_text(next(v for v, t in sorted(sample.truth.items()) if t["source"] == "tvsum") + "\nnope\n")
    r = CliRunner().invoke(main, ["download", "--local-dir", local, "--sources", "tvsum", "--video-ids", str(ids)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Downloaded yaolily/TimeChat-Online-139K @ ")
    assert "extracted: tvsum" in r.output and "1 requested video id(s): nope" in r.output
    r = CliRunner().invoke(main, ["download", "--local-dir", local, "--verify"])
    assert r.exit_code == 0 and r.output.startswith("Verified ")


def cli(hub, tmp_path, *args, token=None):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env.update(
        HF_ENDPOINT=hub.endpoint,
        HF_HOME=str(tmp_path / "hf-home"),
        TC139K_NO_PROGRESS="1",
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "tc139k", "download", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_errors_exit_non_zero(hub, tmp_path):
    local = str(tmp_path / "l")
    r = cli(hub, tmp_path, "--repo", "nobody/missing", "--local-dir", local)
    assert r.returncode == 1 and "Error: dataset repository 'nobody/missing' not found" in r.stderr
    r = cli(hub, tmp_path, "--revision", "v9", "--local-dir", local, "--annotations-only")
    assert r.returncode == 1 and "Error: revision 'v9' not found" in r.stderr
    r = cli(hub, tmp_path, "--sources", "kinetics", "--local-dir", local)
    assert r.returncode == 2 and "unknown source(s) kinetics" in r.stderr and "youcook2" in r.stderr
    r = cli(hub, tmp_path, "--repo", "test/evil", "--local-dir", local)
    assert r.returncode == 1 and "Error: Evil.tar.gz: refusing member" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_gated_repo_needs_a_token_that_is_never_shown(hub, tmp_path):
    token = "hf_testtoken_7c1d2e3f4a5b"
    hub.gated_token = token
    local = tmp_path / "l"
    r = cli(hub, tmp_path, "--local-dir", str(local), "--annotations-only")
    assert r.returncode == 1 and "is gated" in r.stderr and "HF_TOKEN" in r.stderr
    assert not (local / "README.md").exists()

    hub.log.clear()
    r = cli(hub, tmp_path, "--local-dir", str(local), "--annotations-only", "--json", token=token)
    assert r.returncode == 0, r.stderr
    out = result_of(r.stdout, "download")
    assert out["resolved_commit"] == hub.repos[REPO].commit and out["files_fetched"]
    assert all(e.authorized for e in hub.content_requests())
    assert token not in r.stdout + r.stderr
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert token.encode() not in p.read_bytes(), p

    r = cli(hub, tmp_path, "--local-dir", str(local), "--annotations-only", token=token)
    assert r.returncode == 0 and r.stdout.startswith("Up to date")
