"""Training shards: built from the sample's validated records and key-frame output, loaded back
through `datasets.load_dataset` and compared row by row with the inputs."""

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from envelope import result_of
from shard_inputs import make_inputs, quarantine_reason

from tc139k.atomic import sha256_file
from tc139k.cli import main
from tc139k.shards import build as shards
from tc139k.shards.build import run_shards_build, verify_shards


@pytest.fixture(scope="module")
def inputs(sample, tmp_path_factory):
    return make_inputs(sample, tmp_path_factory.mktemp("shards-inputs"))


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".done" not in p.parts
    }


def _expected(rec: dict, kf: dict) -> dict:
    """The frame-level columns, computed here independently of the builder."""
    secs = [float(i) for i in rec["frame_indices"]]
    pos = {s: i for i, s in enumerate(kf["frame_seconds"])}
    drop = [kf["drop_ratio"][pos[s]] for s in secs]
    flags, prev = [], -1.0
    for s in secs:
        flags.append(any(prev < k <= s for k in kf["keyframe_seconds"]))
        prev = s
    return {
        "frame_seconds": secs,
        "frame_drop_ratio": drop,
        "is_keyframe": flags,
        "clip_drop_ratio": sum(drop[1:]) / len(drop),
        "trigger_seconds": [t for t in kf["trigger_seconds"] if secs[0] <= t <= secs[-1]],
    }


def _check_rows(rows: list[dict], inputs) -> None:
    for row in rows:
        rec = inputs.records[row["record_id"]]
        kf = inputs.videos[(rec["source"], rec["video_id"])]
        want = _expected(rec, kf)
        assert row["question"] == rec["question"] and row["answer"] == rec["answer"]
        assert row["video_id"] == rec["video_id"] and row["source"] == rec["source"]
        assert row["frame_paths"] == rec["frame_paths"]
        assert row["frame_seconds"] == want["frame_seconds"]
        assert row["is_keyframe"] == want["is_keyframe"]
        assert row["frame_drop_ratio"] == pytest.approx(want["frame_drop_ratio"], abs=1e-6)
        assert row["clip_drop_ratio"] == pytest.approx(want["clip_drop_ratio"], abs=1e-5)
        assert row["trigger_seconds"] == want["trigger_seconds"]


def test_build_load_and_compare_every_row(inputs, tmp_path):
    from datasets import load_dataset

    out = tmp_path / "out"
    res = run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, out, val_fraction=0.3)
    assert res.quarantined == 0 and sum(res.rows.values()) == len(inputs.records)
    ds = load_dataset(str(out))  # the card's YAML alone says where the splits are
    assert set(ds) == {"train", "validation"}
    rows = [r for split in ds.values() for r in split]
    assert sorted(r["record_id"] for r in rows) == sorted(inputs.records)
    _check_rows(rows, inputs)
    for row in rows:  # messages format keeps the ms-swift layout
        rec = inputs.records[row["record_id"]]
        assert row["messages"] == rec["messages"] and row["videos"] == [rec["frame_paths"]]
    # split by video: no video in both splits
    train = {(r["source"], r["video_id"]) for r in ds["train"]}
    val = {(r["source"], r["video_id"]) for r in ds["validation"]}
    assert train and val and not train & val
    # streaming gives the same rows
    streamed = load_dataset(str(out), streaming=True)
    assert [r["record_id"] for r in streamed["train"]] == ds["train"]["record_id"]
    # the card carries the computed counts, the provenance sits in the Parquet metadata
    card = (out / "README.md").read_text()
    assert f"| train | {res.rows['train']} |" in card
    meta = json.loads(pq.read_schema(out / res.shards[0].path).metadata[b"tc139k"])
    assert meta["keyframes_provenance"]["method"] == "pixel"
    assert meta["inputs"]["qa"] == sha256_file(inputs.qa)
    assert verify_shards(out).ok


def test_embedded_frames_decode_as_images(inputs, tmp_path):
    from datasets import load_dataset

    out = tmp_path / "out"
    res = run_shards_build(
        inputs.qa, inputs.keyframes, inputs.frames, out, embed_frames=True, fmt="flat", val_fraction=0.0
    )
    assert res.rows["validation"] == 0
    files = sorted(str(p) for p in (out / "data").glob("train-*.parquet"))
    ds = load_dataset("parquet", data_files={"train": files})["train"]
    assert "messages" not in ds.column_names and len(ds) == len(inputs.records)
    row = ds[0]
    assert len(row["frames"]) == len(row["frame_paths"])
    img = row["frames"][0]
    assert img.size == (160, 120)
    raw = pq.read_table(files[0], columns=["frames"]).column("frames")[0].as_py()
    assert raw[0]["bytes"] == (inputs.frames / row["frame_paths"][0]).read_bytes()
    _check_rows(list(ds.remove_columns("frames")), inputs)
    assert verify_shards(out).ok


def test_rebuild_is_byte_identical_and_rerun_skips(inputs, tmp_path):
    a = run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, tmp_path / "a", max_shard_size=60_000)
    b = run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, tmp_path / "b", max_shard_size=60_000)
    assert len(a.shards) > 2 and [s.sha256 for s in b.shards] == [s.sha256 for s in a.shards]
    assert all(s.path.endswith(f"-of-{sum(1 for t in a.shards if t.split == s.split):05d}.parquet") for s in a.shards)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    again = run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, tmp_path / "a", max_shard_size=60_000)
    assert again.written == 0 and again.skipped == len(a.shards)
    # a new plan replaces the old shards instead of leaving them for the globs to pick up
    run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, tmp_path / "a")
    assert _digests(tmp_path / "a") != _digests(tmp_path / "b")
    assert verify_shards(tmp_path / "a").ok


def test_killed_build_resumes_to_the_same_bytes(inputs, tmp_path, monkeypatch):
    clean = tmp_path / "clean"
    run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, clean, embed_frames=True, max_shard_size=400_000)
    real_writer = shards.pq.ParquetWriter
    opened = []

    class DiesInsideSecondShard(real_writer):  # once its first row group reached the temporary file
        def __init__(self, where, *args, **kwargs):
            super().__init__(where, *args, **kwargs)
            opened.append(Path(where))

        def write_table(self, *args, **kwargs):
            super().write_table(*args, **kwargs)
            if len(opened) == 2:
                assert opened[1].name.endswith(".tmp") and opened[1].stat().st_size > 0
                raise KeyboardInterrupt

    monkeypatch.setattr(shards.pq, "ParquetWriter", DiesInsideSecondShard)
    killed = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, killed, embed_frames=True, max_shard_size=400_000)
    assert not list((killed / "data").glob(".*.tmp"))  # no half-written shard left
    assert len(list((killed / "data").glob("*.parquet"))) == 1  # the second shard never got its name
    monkeypatch.setattr(shards.pq, "ParquetWriter", real_writer)
    res = run_shards_build(
        inputs.qa, inputs.keyframes, inputs.frames, killed, embed_frames=True, max_shard_size=400_000
    )
    assert res.skipped == 1 and res.written == len(res.shards) - 1
    assert _digests(killed) == _digests(clean)


def test_missing_frames_and_videos_are_quarantined(inputs, tmp_path):
    frames = tmp_path / "frames"
    shutil.copytree(inputs.frames, frames)
    victim = next(iter(inputs.records.values()))
    (frames / victim["frame_paths"][-1]).unlink()
    keyframes = tmp_path / "kf"
    shutil.copytree(inputs.keyframes, keyframes)
    out = tmp_path / "out"
    res = run_shards_build(inputs.qa, keyframes, frames, out)
    hit = [r for r in inputs.records.values() if victim["frame_paths"][-1] in r["frame_paths"]]
    assert res.quarantined == len(hit) >= 1
    assert sum(res.rows.values()) + res.quarantined == len(inputs.records)
    lines = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    assert {x["record_id"] for x in lines} == {r["record_id"] for r in hit}
    assert all(
        quarantine_reason(x).startswith("missing_frames: 1 of") and victim["frame_paths"][-1] in quarantine_reason(x)
        for x in lines
    )


def test_keyframes_only_keeps_key_frames_and_first_frame(inputs, tmp_path):
    from datasets import load_dataset

    out = tmp_path / "out"
    run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, out, keyframes_only=True)
    full = tmp_path / "full"
    run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, full)
    kept = {r["record_id"]: r for s in load_dataset(str(out)).values() for r in s}
    every = {r["record_id"]: r for s in load_dataset(str(full)).values() for r in s}
    assert sum(len(r["frame_paths"]) for r in kept.values()) < sum(len(r["frame_paths"]) for r in every.values())
    for rid, row in kept.items():
        ref = every[rid]
        assert row["frame_paths"][0] == ref["frame_paths"][0]
        assert all(row["is_keyframe"][1:])
        assert row["frame_paths"] == [
            p for p, f, i in zip(ref["frame_paths"], ref["is_keyframe"], range(len(ref["frame_paths"]))) if f or i == 0
        ]


def test_verify_finds_damage_and_cli_exit_codes(inputs, tmp_path):
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "shards",
            "build",
            "--qa",
            str(inputs.qa),
            "--keyframes",
            str(inputs.keyframes),
            "--frames-root",
            str(inputs.frames),
            "--out",
            str(out),
            "--json",
            "--max-shard-size",
            "50KB",
        ],
    )
    assert res.exit_code == 0, res.output
    built = result_of(res.stdout, "shards build")
    assert len(built["shards"]) == built["n_shards"] > 1
    ok = runner.invoke(main, ["shards", "verify", str(out), "--json"])
    assert ok.exit_code == 0 and result_of(ok.stdout, "shards verify")["ok"]
    first = out / built["shards"][0]["path"]
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0xFF
    first.write_bytes(bytes(data))
    shutil.copy(out / built["shards"][1]["path"], out / "data" / "train-00099-of-00100.parquet")
    bad = runner.invoke(main, ["shards", "verify", str(out)])
    assert bad.exit_code == 1
    assert "sha256 differs" in bad.output and "train-00099-of-00100.parquet: not in the manifest" in bad.output
    usage = runner.invoke(
        main,
        [
            "shards",
            "build",
            "--qa",
            str(inputs.qa),
            "--keyframes",
            str(inputs.keyframes),
            "--frames-root",
            str(inputs.frames),
            "--out",
            str(out),
            "--val-fraction",
            "1.5",
        ],
    )
    assert usage.exit_code == 2 and "--val-fraction" in usage.output
    not_parquet = tmp_path / "valid.bin"
    not_parquet.write_bytes(b"not a table")
    wrong = runner.invoke(
        main,
        [
            "shards",
            "build",
            "--qa",
            str(not_parquet),
            "--keyframes",
            str(inputs.keyframes),
            "--frames-root",
            str(inputs.frames),
            "--out",
            str(out),
        ],
    )
    assert wrong.exit_code == 1 and f"{not_parquet} is not a readable Parquet file" in wrong.output


def test_a_video_path_that_is_a_file_quarantines_its_records(inputs, tmp_path):
    # frames/<source>/<video_id> as a file (a stray archive, a bad copy): its frames are
    # missing like a deleted folder's, so its records are quarantined, not a traceback
    frames = tmp_path / "frames"
    shutil.copytree(inputs.frames, frames)
    victim = next(iter(inputs.records.values()))
    folder = frames / victim["source"] / victim["video_id"]
    shutil.rmtree(folder)
    folder.write_bytes(b"not a folder")
    out = tmp_path / "out"
    res = run_shards_build(inputs.qa, inputs.keyframes, frames, out)
    hit = {
        r["record_id"]
        for r in inputs.records.values()
        if (r["source"], r["video_id"]) == (victim["source"], victim["video_id"])
    }
    assert res.quarantined == len(hit) >= 1
    assert sum(res.rows.values()) + res.quarantined == len(inputs.records)
    lines = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    assert {x["record_id"] for x in lines} == hit
    assert all(quarantine_reason(x).startswith("missing_frames:") for x in lines)


def test_a_video_without_key_frames_or_with_failed_ones_quarantines_its_records(inputs, tmp_path):
    # each check given the one input only it catches: a video missing from the key-frame
    # output (no_keyframes) and a video whose key frames failed (keyframes_failed)
    from tc139k.keyframes import store

    videos = sorted({(r["source"], r["video_id"]) for r in inputs.records.values()})
    gone, failed = videos[0], videos[1]
    rows = [r for r in store.read_keyframes(inputs.keyframes).to_pylist() if (r["source"], r["video_id"]) != gone]
    for r in rows:
        if (r["source"], r["video_id"]) == failed:
            r.update(status="failed", error="no usable frame")
    prov = store.read_provenance(store.keyframe_files(inputs.keyframes)[0])
    store.write_keyframes_file(rows, tmp_path / "kf" / "keyframes-00000.parquet", prov)
    out = tmp_path / "out"
    res = run_shards_build(inputs.qa, tmp_path / "kf", inputs.frames, out)
    want = {}
    for rid, r in inputs.records.items():
        if (r["source"], r["video_id"]) == gone:
            want[rid] = f"no_keyframes: video {gone[0]}/{gone[1]} has no key-frame output"
        elif (r["source"], r["video_id"]) == failed:
            want[rid] = f"keyframes_failed: video {failed[0]}/{failed[1]}: no usable frame"
    lines = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    assert {x["record_id"]: quarantine_reason(x) for x in lines} == want
    for x in lines:  # validate's quarantine format: back to the annotation file and line, reasons as {code, message}
        rec = inputs.records[x["record_id"]]
        assert (x["file"], x["line"]) == (rec["source_file"], rec["source_line"])
        assert set(x) == {"file", "line", "record_id", "source", "video_id", "reasons"}
        assert [set(r) for r in x["reasons"]] == [{"code", "message"}]
    assert res.quarantined == len(want) and sum(res.rows.values()) == len(inputs.records) - len(want)
