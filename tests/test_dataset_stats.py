"""`tc139k stats dataset` on the sample, with expected figures from the ground truth and the
QA file read here independently."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from envelope import result_of

from tc139k.cli import main
from tc139k.errors import UsageError
from tc139k.stats.dataset import dataset_stats

QA = "time_chat_online_139k_train_flt.jsonl"
BAD_LINES = [
    b"this is not json\n",
    b"[1, 2, 3]\n",
    b'{"messages": [{"role": "user", "content": "<video>\\nWhat?"}], "videos": [["a/b/000001.jpg"]]}\n',
    b'{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "videos": "x"}\n',
    b"\xff\xfe not utf-8\n",
]


def _tail(path):
    source, video_id, name = path.split("/")[-3:]
    return source, video_id, int(name[:6])


@pytest.fixture(scope="module")
def dataset_root(sample, tmp_path_factory):
    """ROOT: the sample's annotation files (QA file with bad lines appended), its frames
    linked video by video, except three referenced frames of one video removed and one
    referenced video absent."""
    root = tmp_path_factory.mktemp("dataset_root")
    records = [json.loads(line) for line in sample.qa.read_text().splitlines()]
    (root / QA).write_bytes(sample.qa.read_bytes() + b"".join(BAD_LINES))
    (root / "annotations_caption_flt.jsonl").symlink_to(sample.captions)

    ids = sorted(sample.truth)
    thinned, absent = ids[0], ids[1]
    refs = [_tail(p) for r in records for clip in r["videos"] for p in clip]
    referenced_thinned = sorted({i for s, v, i in refs if v == thinned})
    removed = set(referenced_thinned[1:4])
    for vid in ids:
        src = sample.truth[vid]["source"]
        (root / "frames" / src).mkdir(parents=True, exist_ok=True)
        if vid == absent:
            continue
        if vid == thinned:
            d = root / "frames" / src / vid
            d.mkdir()
            for f in sorted((sample.frames / src / vid).iterdir()):
                if int(f.name[:6]) not in removed:
                    os.symlink(f, d / f.name)
        else:
            os.symlink(sample.frames / src / vid, root / "frames" / src / vid)

    class Root:
        path = root
        qa_records = records
        thinned_id = thinned
        absent_id = absent
        removed_frames = removed

    return Root


def test_dataset_stats_match_independent_counts(sample, dataset_root):
    s = dataset_stats(dataset_root.path, show_progress=False)
    truth, records = sample.truth, dataset_root.qa_records
    on_disk = {v: t for v, t in truth.items() if v != dataset_root.absent_id}

    # frames on disk, per source
    assert s.videos_on_disk == len(on_disk)
    n_removed = len(dataset_root.removed_frames)
    assert s.frames_on_disk == sum(t["n_frames"] for t in on_disk.values()) - n_removed
    for src in {t["source"] for t in truth.values()}:
        vids = [v for v, t in on_disk.items() if t["source"] == src]
        frames = sum(on_disk[v]["n_frames"] for v in vids) - (
            n_removed if truth[dataset_root.thinned_id]["source"] == src else 0
        )
        assert s.by_source[src].videos_on_disk == len(vids)
        assert s.by_source[src].frames_on_disk == frames

    durations = [t["n_frames"] for v, t in on_disk.items()]
    durations[sorted(on_disk).index(dataset_root.thinned_id)] -= n_removed
    assert s.video_duration_seconds.mean == pytest.approx(np.mean(durations))
    assert s.video_duration_seconds.max == max(durations)

    # QA records
    assert s.qa_records == len(records)
    assert s.bad_lines == len(BAD_LINES)
    assert [e["line"] for e in s.bad_line_examples] == list(range(len(records) + 1, len(records) + 6))
    assert "invalid JSON" in s.bad_line_examples[0]["reason"]
    assert "no assistant message" in s.bad_line_examples[2]["reason"]
    assert "not valid UTF-8" in s.bad_line_examples[4]["reason"]
    per_source = {}
    for r in records:
        src = _tail(r["videos"][0][0])[0]
        per_source[src] = per_source.get(src, 0) + 1
    assert {k: v.qa_records for k, v in s.by_source.items()} == per_source
    assert s.clip_frames.mean == pytest.approx(np.mean([sum(len(c) for c in r["videos"]) for r in records]))
    assert s.clip_frames.max == max(len(r["videos"][0]) for r in records)
    q_words = [len(r["messages"][0]["content"].replace("<video>", "").split()) for r in records]
    a_words = [len(r["messages"][1]["content"].split()) for r in records]
    assert s.question_words.mean == pytest.approx(np.mean(q_words))
    assert s.answer_words.median == pytest.approx(np.median(a_words))
    assert s.turns_per_record.max == max(len(r["messages"]) // 2 for r in records)
    starts = [float(r["start_time"]) for r in records]
    ends = [float(r["end_time"]) for r in records]
    assert s.start_time.mean == pytest.approx(np.mean(starts))
    assert s.end_time.p90 == pytest.approx(np.percentile(ends, 90))
    assert s.span_seconds.min == pytest.approx(min(e - b for b, e in zip(starts, ends)))
    outside = {"start": 0, "end": 0}
    for r in records:
        seconds = [_tail(p)[2] for clip in r["videos"] for p in clip]
        for name in outside:
            outside[name] += not min(seconds) - 1 <= float(r[f"{name}_time"]) <= max(seconds) + 1
    assert s.times == {
        "start_missing": 0,
        "end_missing": 0,
        "start_unparseable": 0,
        "end_unparseable": 0,
        "start_after_end": 0,
        "start_outside_clip": outside["start"],
        "end_outside_clip": outside["end"],
        "after_video_end": 0,
    }

    # frames referenced but missing
    refs = [(_tail(p), i) for i, r in enumerate(records) for c in r["videos"] for p in c]
    assert s.frame_references == len(refs)
    missing = [
        (t, i)
        for t, i in refs
        if t[1] == dataset_root.absent_id or (t[1] == dataset_root.thinned_id and t[2] in dataset_root.removed_frames)
    ]
    assert s.missing == {
        "references": len(missing),
        "frames": len(dataset_root.removed_frames),
        "videos_absent": 1,
        "records_affected": len({i for _, i in missing}),
    }
    assert s.missing["references"] > len(dataset_root.removed_frames)  # the absent video counts too
    absent_src = truth[dataset_root.absent_id]["source"]
    assert s.by_source[absent_src].videos_referenced == len({t[1] for t, _ in refs if t[0] == absent_src})
    assert s.by_source[absent_src].videos_on_disk == s.by_source[absent_src].videos_referenced - 1


def test_odd_times_and_paths(tmp_path):
    frames = tmp_path / "frames" / "coin" / "vid1"
    frames.mkdir(parents=True)
    for i in (0, 1, 2):
        (frames / f"{i:06d}.jpg").write_bytes(b"jpeg")
    (frames / "notes.txt").write_text("x")

    def rec(paths, **times):
        return json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "<video>\nTwo words?"},
                    {"role": "assistant", "content": "Yes."},
                ],
                "videos": [paths],
                **times,
            }
        )

    lines = [
        rec(["x/coin/vid1/000000.jpg", "x/coin/vid1/000001.jpg"], start_time="3.5", end_time=1),
        rec(["x/coin/vid1/000002.jpg", "x/coin/vid1/000009.jpg"], start_time="soon"),
        rec(["../../etc/passwd", "coin/vid1/000001.jpg"], start_time=True, end_time=None),
        "",
    ]
    (tmp_path / QA).write_text("\n".join(lines) + "\n")
    s = dataset_stats(tmp_path, show_progress=False)
    assert s.qa_records == 3 and s.bad_lines == 0
    assert s.times == {
        "start_missing": 0,
        "end_missing": 2,
        "start_unparseable": 2,
        "end_unparseable": 0,
        "start_after_end": 1,
        "start_outside_clip": 1,  # 3.5 s against frames 0 and 1
        "end_outside_clip": 0,
        "after_video_end": 1,  # 3.5 s in a video of 3 frames
    }
    assert s.start_time.count == 1 and s.start_time.mean == 3.5 and s.span_seconds.mean == -2.5
    assert s.bad_frame_paths == 1 and "passwd" in s.bad_frame_path_examples[0]
    assert s.missing == {"references": 1, "frames": 1, "videos_absent": 0, "records_affected": 1}
    assert s.missing_examples == ["line 2: coin/vid1/000009.jpg"]
    assert s.other_files_under_frames == 1
    assert s.question_words.mean == 2 and s.clip_frames.mean == 2


def test_qa_only_root_and_errors(sample, tmp_path):
    (tmp_path / QA).symlink_to(sample.qa)
    s = dataset_stats(tmp_path, show_progress=False)
    assert s.frames_dir is None and s.videos_on_disk == 0
    assert s.missing["videos_absent"] == len(sample.truth)
    assert s.missing["references"] == s.frame_references
    with pytest.raises(UsageError, match="neither"):
        dataset_stats(sample.repo / "OtherTrainingDataset", show_progress=False)
    res = CliRunner().invoke(main, ["stats", "dataset", str(tmp_path / "absent")])
    assert res.exit_code == 2 and "is not a folder" in res.output


def test_cli_dataset_json_stable_and_table(dataset_root):
    runner = CliRunner()
    args = ["stats", "dataset", str(dataset_root.path), "--json"]
    first, second = runner.invoke(main, args), runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    assert first.output == json.dumps(json.loads(first.output), indent=2, sort_keys=True) + "\n"
    data = result_of(first.stdout, "stats dataset")
    assert data["n_qa_records"] == len(dataset_root.qa_records) and data["n_bad_lines"] == len(BAD_LINES)
    table = runner.invoke(main, ["stats", "dataset", str(dataset_root.path)])
    assert table.exit_code == 0
    assert "youcook2" in table.output and "clip length (frames)" in table.output
    assert "bad QA lines: 5" in table.output


def test_times_and_paths_are_read_as_validate_reads_them(tmp_path):
    """`stats dataset` and `validate` apply the same QA rules: a time validate rejects
    ("1_0", "-3", "nan", ...) is not a time for the statistics either, and a frame path it
    rejects (non-ASCII digits) is a bad path for both."""
    from tc139k.validate.run import run_validate

    times = [12, "12.5", " 7 ", 0, "1_0", "-3", -3, "nan", "inf", "1e400", "", "0x10", True, None, [1]]
    lines = []
    for i, t in enumerate(times):
        paths = [f"x/coin/vid1/{i:06d}.jpg", f"x/coin/vid1/{i + 1:06d}.jpg"]
        lines.append({"messages": [{"role": "user", "content": "<video>\nQ?"}, {"role": "assistant", "content": "A."}]})
        lines[-1].update(videos=[paths], start_time=t)
    lines[0]["videos"][0][1] = "x/coin/vid1/\u0661\u0661\u0661\u0661\u0661\u0661.jpg"  # Arabic-Indic digits
    (tmp_path / QA).write_text("".join(json.dumps(x) + "\n" for x in lines))
    s = dataset_stats(tmp_path, show_progress=False)
    res = run_validate([tmp_path / QA], out_dir=tmp_path / "out")
    quarantine = [json.loads(x) for x in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    time_rejected = {
        q["line"] for q in quarantine if {"time_not_numeric", "time_negative"} & {r["code"] for r in q["reasons"]}
    }
    assert time_rejected == {i + 1 for i, t in enumerate(times) if t not in (12, "12.5", " 7 ", 0, None)}
    assert s.times["start_unparseable"] == len(time_rejected) and s.times["start_missing"] == 1
    assert s.start_time.count == 4 and s.start_time.max == 12.5 and s.start_time.mean == pytest.approx(31.5 / 4)
    assert s.bad_frame_paths == 1 == res.reasons["bad_frame_path"]


def test_the_valid_table_reads_as_the_records_it_came_from(sample, tmp_path):
    """`--qa valid.parquet` (what every other command takes as --qa) is read as a table: the
    same figures as the JSON Lines lines those rows came from, not 0 records and bad lines."""
    from tc139k.validate.run import run_validate

    run_validate([sample.qa], frames_root=sample.frames, out_dir=tmp_path / "validated")
    valid = tmp_path / "validated" / "valid.parquet"
    import pyarrow.parquet as pq

    kept = {r["source_line"] for r in pq.read_table(valid, columns=["source_line"]).to_pylist()}
    lines = sample.qa.read_bytes().splitlines(keepends=True)
    assert 0 < len(kept) <= len(lines)
    (tmp_path / "kept.jsonl").write_bytes(b"".join(lines[n - 1] for n in sorted(kept)))
    from_table = dataset_stats(qa_file=valid, frames_root=sample.frames, show_progress=False).to_dict()
    from_lines = dataset_stats(qa_file=tmp_path / "kept.jsonl", frames_root=sample.frames, show_progress=False)
    from_lines = from_lines.to_dict()
    for d in (from_table, from_lines):
        d.pop("qa_file", None)
        d.pop("root", None)
    assert from_table["qa_records"] == len(kept) and from_table["bad_lines"] == 0
    assert from_table == from_lines

    res = CliRunner().invoke(main, ["stats", "dataset", "--frames-root", str(sample.frames), "--qa", str(valid)])
    assert res.exit_code == 0 and f"{len(kept)}" in res.output, res.output


def test_a_file_of_the_other_format_is_named_as_such(sample, tmp_path):
    """Parquet where JSON Lines is taken, or the reverse: exit 2 saying which is which."""
    from tc139k.validate.run import run_validate

    run_validate([sample.qa], out_dir=tmp_path / "validated")
    valid = tmp_path / "validated" / "valid.parquet"
    raw = str(sample.qa)
    cases = {
        "validate": (["validate", str(valid), "--out", str(tmp_path / "v2")], "is a Parquet file"),
        "shards": (
            ["shards", "build", "--qa", raw, "--keyframes", str(tmp_path), "--frames-root", str(sample.frames)]
            + ["--out", str(tmp_path / "s")],
            "is JSON Lines",
        ),
        "export": (
            ["export", "swift", "--qa", raw, "--frames-root", str(sample.frames), "--out", str(tmp_path / "x.jsonl")],
            "is JSON Lines",
        ),
    }
    for name, (args, needle) in cases.items():
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2 and needle in res.output and "Traceback" not in res.output, (name, res.output)
        assert "tc139k validate" in res.output, (name, res.output)


def test_times_are_counted_against_the_records_own_frames(tmp_path):
    """Frame index = second: a time more than 1 s outside the clip's frames, or past the
    last frame of the video on disk, is counted (the meaning of the times is undocumented)."""
    cases = [  # (start, end, first frame, last frame of the clip)
        (10, 20, 10, 20),  # on the clip
        (9, 21, 10, 20),  # within a second of it
        (5, 20, 10, 20),  # starts 5 s early
        (10, 25, 10, 20),  # ends 5 s late
        (10, 45, 10, 20),  # past the end of the 40 s video as well
        (None, None, 10, 20),
    ]
    lines = []
    for start, end, a, b in cases:
        rec = {"messages": [{"role": "user", "content": "<video>\nQ?"}, {"role": "assistant", "content": "A."}]}
        rec.update(videos=[[f"x/coin/vid1/{a:06d}.jpg", f"x/coin/vid1/{b:06d}.jpg"]], start_time=start, end_time=end)
        lines.append(json.dumps(rec) + "\n")
    (tmp_path / QA).write_text("".join(lines))
    video = tmp_path / "frames" / "coin" / "vid1"
    video.mkdir(parents=True)
    for i in range(40):
        (video / f"{i:06d}.jpg").write_bytes(b"")
    t = dataset_stats(tmp_path, show_progress=False).times
    assert (t["start_outside_clip"], t["end_outside_clip"], t["after_video_end"]) == (1, 2, 1)
