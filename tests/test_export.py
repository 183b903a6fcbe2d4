"""`tc139k export swift`: validated records to ms-swift JSONL with absolute local frame paths,
checked by `tc139k validate --frames-root` (the round trip), against the QA table, the
shards' key-frame rule and the shards' split."""

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from envelope import result_of
from shard_inputs import make_inputs

from tc139k.cli import main


@pytest.fixture(scope="module")
def inputs(sample, tmp_path_factory):
    return make_inputs(sample, tmp_path_factory.mktemp("export-inputs"))


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _validate_round_trip(path: Path, frames: Path, n: int) -> None:
    res = _invoke("validate", path, "--frames-root", frames, "--json")
    assert res.exit_code == 0, res.output
    got = result_of(res.stdout, "validate")
    assert got["n_records"] == got["n_valid"] == n and got["n_invalid"] == 0


def test_export_passes_validate_and_keeps_every_record(inputs, tmp_path):
    out = tmp_path / "swift.jsonl"
    res = _invoke("export", "swift", "--qa", inputs.qa, "--frames-root", inputs.frames, "--out", out, "--json")
    assert res.exit_code == 0, res.output
    summary = result_of(res.stdout, "export swift")
    lines = _lines(out)
    assert summary["n_records_written"] == len(lines) == len(inputs.records) and summary["n_skipped_by_reason"] == {}
    _validate_round_trip(out, inputs.frames, len(lines))
    for line, rec in zip(lines, inputs.records.values()):  # the QA table's order
        assert line["messages"] == rec["messages"]
        paths = [p for clip in line["videos"] for p in clip]
        assert [len(c) for c in line["videos"]] == rec["clip_lengths"]
        assert all(Path(p).is_absolute() and Path(p).is_file() for p in paths)
        assert [str(Path(p).relative_to(os.path.abspath(inputs.frames))) for p in paths] == rec["frame_paths"]
        assert line.get("start_time") == rec["start_time"] and line.get("end_time") == rec["end_time"]


def test_keyframes_only_split_files_follow_the_shards(inputs, tmp_path):
    from datasets import load_dataset

    from tc139k.shards.build import run_shards_build

    out = tmp_path / "kf.jsonl"
    res = _invoke("export", "swift", "--qa", inputs.qa, "--frames-root", inputs.frames, "--out", out,
                  "--keyframes", inputs.keyframes, "--keyframes-only", "--split", "--val-fraction", "0.3")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "--dataset" in res.output and "--val_dataset" in res.output
    assert not out.exists()
    summary = result_of(_invoke("export", "swift", "--qa", inputs.qa, "--frames-root", inputs.frames, "--out", out,
                                 "--keyframes", inputs.keyframes, "--keyframes-only", "--split", "--val-fraction",
                                 "0.3", "--json").stdout, "export swift")  # fmt: skip
    skipped = summary["n_skipped_by_reason"]
    same = skipped.get("same_as_earlier", 0)
    assert same >= 1 and set(skipped) == {"same_as_earlier"}  # two clips of one video collapse here
    train, val = _lines(tmp_path / "kf.train.jsonl"), _lines(tmp_path / "kf.validation.jsonl")
    assert train and val and len(train) + len(val) + same == len(inputs.records)
    assert len({json.dumps(x) for x in train + val}) == len(train) + len(val)  # no record twice
    _validate_round_trip(tmp_path / "kf.train.jsonl", inputs.frames, len(train))
    _validate_round_trip(tmp_path / "kf.validation.jsonl", inputs.frames, len(val))

    shards = tmp_path / "shards"
    run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, shards, keyframes_only=True, val_fraction=0.3)
    ds = load_dataset(str(shards))
    root = os.path.abspath(inputs.frames) + "/"

    def frames_of(lines):  # the records' kept frames as relative paths, in order
        return {tuple(p[len(root) :] for clip in x["videos"] for p in clip) for x in lines}

    # same videos in each split, and the same key frames as the shards' is_keyframe rule
    # (the shards keep a record equal to an earlier one under its own record_id)
    for split, lines in (("train", train), ("validation", val)):
        assert frames_of(lines) == {tuple(r["frame_paths"]) for r in ds[split]}
    full = _lines(tmp_path / "kf.train.jsonl")
    assert sum(len(c) for x in full for c in x["videos"]) < sum(
        len(r["frame_paths"]) for r in inputs.records.values() if r["record_id"] in set(ds["train"]["record_id"])
    )


def test_missing_frames_are_left_out_and_usage_errors(inputs, tmp_path):
    frames = tmp_path / "frames"
    shutil.copytree(inputs.frames, frames)
    victim = next(iter(inputs.records.values()))["frame_paths"][0]
    (frames / victim).unlink()
    out = tmp_path / "swift.jsonl"
    res = _invoke("export", "swift", "--qa", inputs.qa, "--frames-root", frames, "--out", out)
    assert res.exit_code == 0, res.output
    hit = [r for r in inputs.records.values() if victim in r["frame_paths"]]
    assert f"left out: missing_frames {len(hit)}" in res.output
    assert len(_lines(out)) == len(inputs.records) - len(hit)
    _validate_round_trip(out, frames, len(inputs.records) - len(hit))

    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = _invoke("export", "swift", "--qa", inputs.qa, "--frames-root", empty, "--out", tmp_path / "none.jsonl")
    assert nothing.exit_code == 1 and "no record of" in nothing.output and "missing_frames" in nothing.output
    assert not (tmp_path / "none.jsonl").exists()
    no_kf = _invoke("export", "swift", "--qa", inputs.qa, "--frames-root", frames, "--out", out, "--keyframes-only")
    assert no_kf.exit_code == 2 and "--keyframes-only needs --keyframes" in no_kf.output
    unused = _invoke("export", "swift", "--qa", inputs.qa, "--frames-root", frames, "--out", out,
                     "--keyframes", inputs.keyframes)  # fmt: skip
    assert unused.exit_code == 2 and "read only with --keyframes-only" in unused.output
    folder = _invoke("export", "swift", "--qa", inputs.qa, "--frames-root", frames, "--out", tmp_path)
    assert folder.exit_code == 2 and "is a directory" in folder.output
    raw = tmp_path / "valid.jsonl"
    raw.write_text("{}\n")
    wrong_kind = _invoke("export", "swift", "--qa", raw, "--frames-root", frames, "--out", out)
    assert wrong_kind.exit_code == 2 and "is JSON Lines" in wrong_kind.output
    not_parquet = tmp_path / "valid.bin"
    not_parquet.write_bytes(b"PAR0 nothing here")
    bad = _invoke("export", "swift", "--qa", not_parquet, "--frames-root", frames, "--out", out)
    assert bad.exit_code == 1 and "is not a readable Parquet file" in bad.output


def test_keyframes_only_keeps_each_clips_first_frame_without_a_key_frame_before_it():
    from tc139k.export.swift import _swift_record

    rec = {
        "messages": [{"role": "user", "content": "<video>\n<video>\nq"}, {"role": "assistant", "content": "a"}],
        "frame_paths": [f"s/v/{i:06d}.jpg" for i in (10, 20, 60, 70, 80, 95)],
        "frame_indices": [10, 20, 60, 70, 80, 95],
        "clip_lengths": [3, 3],
        "start_time": None,
        "end_time": 95.0,
    }
    out = _swift_record(rec, Path("/f"), [50.0, 75.0])
    # clip 1: 10 (first), 60 (key frame 50 since 20); clip 2: 70 (first), 80 (key frame 75)
    assert out["videos"] == [["/f/s/v/000010.jpg", "/f/s/v/000060.jpg"], ["/f/s/v/000070.jpg", "/f/s/v/000080.jpg"]]
    assert out["end_time"] == 95.0 and "start_time" not in out


def test_every_frame_carries_its_second_also_with_key_frames_only(inputs, tmp_path):
    """`frame_seconds` parallels `videos` clip by clip: each frame's second (its index at
    1 fps), so key-frame-only lists, whose frames are seconds apart, keep their timing."""
    from tc139k.export.swift import run_export_swift
    from tc139k.paths import parse_frame_path

    mean_gap = {}
    for only in (False, True):
        out = tmp_path / f"swift-{only}.jsonl"
        run_export_swift(
            inputs.qa, inputs.frames, out, keyframes_dir=inputs.keyframes if only else None, keyframes_only=only
        )
        lines = _lines(out)
        assert lines
        for line in lines:
            assert [len(c) for c in line["frame_seconds"]] == [len(c) for c in line["videos"]]
            for clip, seconds in zip(line["videos"], line["frame_seconds"]):
                assert seconds == [float(parse_frame_path(p).index) for p in clip]
        gaps = [b - a for line in lines for c in line["frame_seconds"] for a, b in zip(c, c[1:])]
        mean_gap[only] = sum(gaps) / len(gaps)
    assert mean_gap[True] > 2 * mean_gap[False]  # key frames are seconds apart: the timing is not a rate


def test_a_frame_path_that_is_not_canonical_is_named_and_never_followed(inputs, tmp_path):
    """A table from elsewhere may hold paths that leave the frames root: the record is left
    out with its first such path named, before any file is looked up."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tc139k.export.swift import run_export_swift

    table = pq.read_table(inputs.qa)
    rows = table.to_pylist()
    victim = rows[0]
    victim["frame_paths"] = ["../../etc/000001.jpg", "coin/../x/000002.jpg", *victim["frame_paths"]]
    qa = tmp_path / "valid.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), qa)
    res = run_export_swift(qa, inputs.frames, tmp_path / "swift.jsonl")
    assert res.skipped == {"bad_frame_path": 1} and res.written == len(rows) - 1
    assert res.examples == [
        {
            "record_id": victim["record_id"],
            "video": f"{victim['source']}/{victim['video_id']}",
            "reason": "bad_frame_path: '../../etc/000001.jpg' is not <source>/<video_id>/<NNNNNN>.jpg",
        }
    ]


def test_the_library_refuses_a_missing_frames_root_and_a_folder_as_output(inputs, tmp_path):
    from tc139k.errors import UsageError
    from tc139k.export.swift import run_export_swift

    with pytest.raises(UsageError) as err:
        run_export_swift(inputs.qa, tmp_path / "nowhere", tmp_path / "s.jsonl")
    assert str(err.value) == f"frames root {tmp_path / 'nowhere'} is not a folder (give the download's frames/)"
    (tmp_path / "out").mkdir()
    with pytest.raises(UsageError) as err:
        run_export_swift(inputs.qa, inputs.frames, tmp_path / "out")
    assert (
        str(err.value)
        == f"--out {tmp_path / 'out'} is a folder; give a file name such as {tmp_path / 'out' / 'swift.jsonl'}"
    )
    with pytest.raises(UsageError) as err:
        run_export_swift(inputs.qa, inputs.frames, tmp_path / "s.jsonl", keyframes_only=True)
    assert str(err.value) == "--keyframes-only needs --keyframes DIR (the output of `tc139k keyframes build`)"
    with pytest.raises(UsageError) as err:
        run_export_swift(inputs.qa, inputs.frames, tmp_path / "s.jsonl", keyframes_dir=inputs.keyframes)
    assert str(err.value) == "--keyframes is read only with --keyframes-only; add --keyframes-only or drop --keyframes"
