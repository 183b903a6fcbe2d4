"""Inputs the other tests never build, each on a path a stage documents:

- validate after a partial download (tc139k/validate/frames.py): a record that is both
  defective and of a video that was not downloaded is invalid, not set apart; a source the
  manifest marks as extracted whole counts as downloaded for every video of it, listed or not;
- export --keyframes-only (tc139k/export/swift.py): key frames belong to a (source, video id),
  so a video id whose key frames were made under another source has none;
- download --video-ids (tc139k/download/run.py, locate.py): a video id that the annotations
  name under two sources fetches both sources' archives."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pyarrow.parquet as pq
import pytest

from tc139k.download.run import run_download
from tc139k.validate.run import run_validate

QA = "time_chat_online_139k_train_flt.jsonl"
MANIFEST = "tc139k-manifest.json"


def _video(rec: dict) -> tuple[str, str]:
    source, video_id = rec["videos"][0][0].split("/")[-3:-1]
    return source, video_id


@pytest.fixture(scope="module")
def coin_only(sample, tmp_path_factory):
    """A download of the COIN source only, and the sample's records."""
    local = tmp_path_factory.mktemp("coin-only")
    run_download(local_dir=local, mirror=sample.repo, sources="COIN", show_progress=False)
    records = [json.loads(x) for x in sample.qa.read_text().splitlines()]
    return local, records


def _quarantine(out) -> dict[int, list[str]]:
    lines = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    return {e["line"]: sorted(r["code"] for r in e["reasons"]) for e in lines}


def test_a_defective_record_of_a_video_not_downloaded_is_invalid(coin_only, tmp_path):
    local, records = coin_only
    here = [r for r in records if _video(r)[0] == "coin"][0]
    absent = [r for r in records if _video(r)[0] != "coin"]
    clean, dup, bad_time = absent[0], absent[1], absent[2]
    lines = [here, clean, dup, dup, dict(bad_time, start_time=-3)]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps(r) + "\n" for r in lines))

    res = run_validate([qa], frames_root=local / "frames", out_dir=tmp_path / "out", max_invalid=10)
    assert res.frames_scope == "downloaded"
    assert (res.valid, res.not_downloaded, res.invalid) == (1, 2, 2)
    q = _quarantine(tmp_path / "out")
    assert q[2] == q[3] == ["not_downloaded"]
    assert "duplicate" in q[4] and "time_negative" in q[5]
    table = pq.read_table(tmp_path / "out" / "valid.parquet")
    assert table.column("source_line").to_pylist() == [1]


def test_a_source_extracted_whole_counts_for_videos_its_list_lacks(coin_only, tmp_path):
    """The manifest's `complete` flag: with it, a coin video missing from the source's video
    list is downloaded (its frames must be there, and are); without it, it is not."""
    local, records = coin_only
    copy = tmp_path / "data"
    shutil.copytree(local, copy, symlinks=True)
    manifest = json.loads((copy / MANIFEST).read_text())
    coin = manifest["sources"]["coin"]
    assert coin["complete"] is True
    coin_records = [r for r in records if _video(r)[0] == "coin"]
    video = _video(coin_records[0])[1]
    assert video in coin["videos"]
    del coin["videos"][video]
    (copy / MANIFEST).write_text(json.dumps(manifest))
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps(r) + "\n" for r in coin_records))
    of_video = sum(1 for r in coin_records if _video(r)[1] == video)

    res = run_validate([qa], frames_root=copy / "frames")
    assert (res.valid, res.not_downloaded, res.invalid) == (len(coin_records), 0, 0)

    coin["complete"] = False
    (copy / MANIFEST).write_text(json.dumps(manifest))
    res = run_validate([qa], frames_root=copy / "frames")
    assert (res.valid, res.not_downloaded, res.invalid) == (len(coin_records) - of_video, of_video, 0)


@pytest.fixture(scope="module")
def export_inputs(sample, tmp_path_factory):
    """valid.parquet of the sample, and key frames of two videos: one under its own source,
    the other relabelled as another source's."""
    from tc139k.keyframes import store
    from tc139k.keyframes.build import run_keyframes

    root = tmp_path_factory.mktemp("export-sources")
    run_validate([sample.qa], frames_root=sample.frames, out_dir=root / "validated")
    records = pq.read_table(root / "validated" / "valid.parquet").to_pylist()
    videos = sorted({(r["source"], r["video_id"]) for r in records})
    kept = videos[0]
    moved = next(v for v in videos if v[0] != kept[0])
    ids = root / "ids.txt"
    ids.write_text(f"{kept[0]}/{kept[1]}\n{moved[0]}/{moved[1]}\n")
    run_keyframes(out=root / "kf-built", frames_root=sample.frames, video_ids=ids, method="pixel")
    rows = store.read_keyframes(root / "kf-built").to_pylist()
    other = kept[0]  # `moved`'s key frames, filed under the source of `kept`
    for r in rows:
        if (r["source"], r["video_id"]) == moved:
            r["source"] = other
    (root / "kf").mkdir()
    store.write_keyframes_file(rows, root / "kf" / "keyframes-00000.parquet", store.read_provenance(
        next((root / "kf-built").glob("keyframes-*.parquet"))))  # fmt: skip
    return {
        "qa": root / "validated" / "valid.parquet",
        "kf": root / "kf",
        "records": records,
        "kept": kept,
        "moved": moved,
    }


def test_key_frames_of_the_same_id_under_another_source_are_not_the_videos(export_inputs, sample, tmp_path):
    from tc139k.export.swift import run_export_swift

    x = export_inputs
    res = run_export_swift(x["qa"], sample.frames, tmp_path / "s.jsonl", keyframes_dir=x["kf"], keyframes_only=True)
    by_video = Counter((r["source"], r["video_id"]) for r in x["records"])
    assert res.skipped["no_keyframes"] == len(x["records"]) - by_video[x["kept"]]
    assert res.written + res.skipped.get("same_as_earlier", 0) == by_video[x["kept"]]
    lines = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    kept = f"/{x['kept'][0]}/{x['kept'][1]}/"
    assert lines and all(kept in p for line in lines for clip in line["videos"] for p in clip)


def test_a_video_id_under_two_sources_fetches_both_archives(sample, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for p in sample.repo.iterdir():
        (mirror / p.name).symlink_to(p)
    records = [json.loads(x) for x in sample.qa.read_text().splitlines()]
    source, video = _video(next(r for r in records if _video(r)[0] == "coin"))
    twin = json.loads(json.dumps(records[0]))
    twin["videos"] = [[f"frames/tvsum/{video}/{i:06d}.jpg" for i in range(3)]]  # the same id, another source
    (mirror / QA).unlink()
    (mirror / QA).write_text(sample.qa.read_text() + json.dumps(twin) + "\n")

    res = run_download(local_dir=tmp_path / "l", mirror=mirror, video_ids=[video], show_progress=False)
    assert res.video_sources == {video: ["coin", "tvsum"]}
    assert res.selected_sources == ["coin", "tvsum"]
    assert res.missing_video_ids == []
    assert (tmp_path / "l" / "frames" / "coin" / video).is_dir()
    assert sorted(p.name for p in (tmp_path / "l" / "frames").iterdir() if any(p.iterdir())) == ["coin"]
