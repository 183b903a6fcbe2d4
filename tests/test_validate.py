"""`tc139k validate`: every check on its own, the sample, the outputs, and mutated records."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from envelope import failure_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tc139k import schemas
from tc139k.cli import main
from tc139k.errors import UsageError
from tc139k.validate.run import run_validate

PREFIX = "timechatonline/timeit-v2/frames/"


@pytest.fixture(scope="module")
def base(sample):
    """The sample's records (dicts) and raw lines; the first record has one clip and two turns."""
    lines = sample.qa.read_bytes().splitlines()
    return [json.loads(x) for x in lines], lines


def _rec(base, i=0) -> dict:
    return json.loads(json.dumps(base[0][i]))


def _write(tmp_path: Path, lines, name="qa.jsonl", end=b"\n") -> Path:
    path = tmp_path / name
    data = b"\n".join(
        x if isinstance(x, bytes) else (json.dumps(x) if isinstance(x, dict) else x).encode() for x in lines
    )
    path.write_bytes(data + (end if lines else b""))
    return path


def _run(tmp_path, path, **kw):
    out = tmp_path / "out"
    res = run_validate([path], out_dir=out, **kw)
    quarantine = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    return res, pq.read_table(out / "valid.parquet"), quarantine


def _other_video(base, rec):
    """A frame path of another video of the sample."""
    mine = rec["videos"][0][0].split("/")[-2]
    return next(r["videos"][0][0] for r in base[0] if r["videos"][0][0].split("/")[-2] != mine)


def _mutations(base):
    def set_(f):
        def m(r):
            f(r)
            return r

        return m

    other = _other_video(base, _rec(base))
    return {
        "missing videos": (set_(lambda r: r.pop("videos")), "missing_field"),
        "missing content": (set_(lambda r: r["messages"][1].pop("content")), "missing_field"),
        "content is a number": (set_(lambda r: r["messages"][0].update(content=5)), "wrong_type"),
        "videos is a string": (set_(lambda r: r.update(videos="x.mp4")), "wrong_type"),
        "path is a number": (set_(lambda r: r["videos"][0].__setitem__(1, 7)), "wrong_type"),
        "assistant first": (set_(lambda r: r["messages"].reverse()), "bad_roles"),
        "system turn": (
            set_(lambda r: r["messages"].insert(0, {"role": "system", "content": "Be brief."})),
            "bad_roles",
        ),
        "no answer": (set_(lambda r: r["messages"].pop()), "bad_roles"),
        "empty question": (set_(lambda r: r["messages"][0].update(content="<video>\n  ")), "empty_question"),
        "empty answer": (set_(lambda r: r["messages"][1].update(content=" \t")), "empty_answer"),
        "no tag": (set_(lambda r: r["messages"][0].update(content="What is shown?")), "video_tag_mismatch"),
        "two tags, one clip": (
            set_(lambda r: r["messages"][0].update(content="<video><video>\nWhat?")),
            "video_tag_mismatch",
        ),
        "no frame lists": (set_(lambda r: r.update(videos=[])), "no_video"),
        "empty clip": (set_(lambda r: r["videos"].__setitem__(0, [])), "empty_clip"),
        "png frame": (set_(lambda r: r["videos"][0].__setitem__(2, PREFIX + "coin/abc/12.png")), "bad_frame_path"),
        "dot-dot": (
            set_(
                lambda r: r["videos"][0].__setitem__(0, "../" + r["videos"][0][0].split("/", 3)[3] + "/../x/000001.jpg")
            ),
            "bad_frame_path",
        ),
        "arabic digits": (
            set_(
                lambda r: r["videos"][0].__setitem__(
                    -1, r["videos"][0][-1][:-10] + "\u0669\u0669\u0669\u0669\u0669\u0669.jpg"
                )
            ),
            "bad_frame_path",
        ),
        "other video in clip": (
            set_(lambda r: r["videos"][0].__setitem__(-1, other[:-10] + "999999.jpg")),
            "clip_spans_videos",
        ),
        "clips of two videos": (
            set_(lambda r: (r["messages"][0].update(content="<video><video>\nQ?"), r["videos"].append([other]))),
            "record_spans_videos",
        ),
        "frames swapped": (
            set_(lambda r: r["videos"][0].__setitem__(slice(0, 2), r["videos"][0][1::-1])),
            "frames_not_increasing",
        ),
        "frame repeated": (set_(lambda r: r["videos"][0].insert(1, r["videos"][0][0])), "frames_not_increasing"),
        "time is text": (set_(lambda r: r.update(start_time="soon")), "time_not_numeric"),
        "time is a boolean": (set_(lambda r: r.update(start_time=True)), "time_not_numeric"),
        "time is nan": (set_(lambda r: r.update(end_time="nan")), "time_not_numeric"),
        "time is a list": (set_(lambda r: r.update(end_time=[3])), "time_not_numeric"),
        "negative time": (set_(lambda r: r.update(start_time=-1)), "time_negative"),
        "start after end": (set_(lambda r: r.update(start_time=50, end_time="10.0")), "time_order"),
    }


CASES = [
    "missing videos",
    "missing content",
    "content is a number",
    "videos is a string",
    "path is a number",
    "assistant first",
    "system turn",
    "no answer",
    "empty question",
    "empty answer",
    "no tag",
    "two tags, one clip",
    "no frame lists",
    "empty clip",
    "png frame",
    "dot-dot",
    "arabic digits",
    "other video in clip",
    "clips of two videos",
    "frames swapped",
    "frame repeated",
    "time is text",
    "time is a boolean",
    "time is nan",
    "time is a list",
    "negative time",
    "start after end",
]


@pytest.mark.parametrize("case", CASES)
def test_each_check_quarantines_with_file_line_and_reason(tmp_path, base, case):
    mutate, code = _mutations(base)[case]
    good = [_rec(base, 1), _rec(base, 2)]
    bad = mutate(_rec(base))
    path = _write(tmp_path, [good[0], bad, good[1]])
    res, valid, quarantine = _run(tmp_path, path)
    assert (res.records, res.valid, res.invalid) == (3, 2, 1)
    assert valid.column("source_line").to_pylist() == [1, 3]
    [entry] = quarantine
    assert entry["file"] == "qa.jsonl" and entry["line"] == 2
    assert code in [r["code"] for r in entry["reasons"]], entry["reasons"]
    assert all(r["message"] for r in entry["reasons"])
    raw = path.read_bytes().splitlines()[1]
    assert entry["raw"] == raw.decode() and path.read_bytes()[entry["offset"] :].startswith(raw)
    assert res.reasons[code] == 1 and res.examples[code][0]["line"] == 2
    assert not res.passed


@pytest.mark.parametrize(
    "line, code",
    [
        (b'{"messages": [{"role": "user", "content": "<video>\xff"}], "videos": []}', "invalid_utf8"),
        (b'{"messages": [{"role": "user", "content": "a\x00b"}], "videos": []}', "invalid_json"),
        (b'{"messages": [{"role": "user", "cont', "invalid_json"),
        (b"[1, 2, 3]", "not_an_object"),
        (b'"just text"', "not_an_object"),
        (b'{"messages": [], "videos": []} {}', "invalid_json"),
    ],
)
def test_lines_that_are_not_records(tmp_path, base, line, code):
    path = _write(tmp_path, [base[1][0], line])
    res, valid, quarantine = _run(tmp_path, path)
    assert (res.valid, res.invalid) == (1, 1)
    assert quarantine[0]["line"] == 2 and quarantine[0]["reasons"][0]["code"] == code
    raw = quarantine[0].get("raw")
    if raw is None:
        assert base64.b64decode(quarantine[0]["raw_base64"]) == line
    else:
        assert raw.encode() == line


def test_invalid_utf8_is_named_whatever_the_msgspec_version(tmp_path, base):
    # msgspec 0.23 reports invalid UTF-8 as a DecodeError; 0.22 let it through to str
    line = b'{"messages": [{"role": "user", "content": "<video>\xe9t\xe9"}], "videos": [[]]}'
    path = _write(tmp_path, [base[1][0], line])
    res, _, quarantine = _run(tmp_path, path)
    [entry] = quarantine
    at = line.index(b"\xe9")
    assert entry["reasons"] == [{"code": "invalid_utf8", "message": f"byte {at}: invalid continuation byte"}]
    assert base64.b64decode(entry["raw_base64"]) == line and "raw" not in entry
    assert res.reasons == {"invalid_utf8": 1}


def test_valid_variants_are_accepted(tmp_path, base):
    rec = _rec(base)
    clip = rec["videos"][0]
    other_prefix = ["/data/x/" + p[len(PREFIX) :] if i % 2 else p for i, p in enumerate(clip)]
    variants = [
        dict(rec, start_time="12.5", end_time=" 13 "),
        dict(rec, start_time=None, end_time=None),
        {k: v for k, v in rec.items() if k not in ("start_time", "end_time")},
        dict(
            rec,
            messages=rec["messages"]
            + [{"role": "user", "content": "And then?"}, {"role": "assistant", "content": "Nothing."}],
        ),
        dict(
            rec,
            messages=[{"role": "user", "content": "<video>\n<video>\nCompare."}, rec["messages"][1]],
            videos=[clip[:3], clip[3:6]],
        ),
        dict(rec, videos=[other_prefix]),
        dict(rec, videos=[[p[len(PREFIX) :] for p in clip]]),
        dict(rec, task="episodic memory"),
        dict(
            rec,
            videos=[
                [
                    PREFIX + p[len(PREFIX) :].split("/", 1)[0].upper() + "/" + p[len(PREFIX) :].split("/", 1)[1]
                    for p in clip
                ]
            ],
        ),
    ]
    lines = (
        [json.dumps(v) for v in variants[:8]]
        + [json.dumps(dict(rec, start_time=1), separators=(",", ":"))]
        + [json.dumps(v) for v in variants[8:]]
    )
    path = _write(tmp_path, lines)
    res, valid, quarantine = _run(tmp_path, path)
    assert quarantine == [] and res.valid == len(lines)
    assert res.unknown_fields == {"task": 1}
    rel = [p[len(PREFIX) :] for p in clip]
    rows = valid.to_pylist()
    assert rows[0]["start_time"] == 12.5 and rows[0]["end_time"] == 13.0
    assert rows[1]["start_time"] is None and rows[2]["end_time"] is None
    assert len(rows[3]["messages"]) == 4 and rows[3]["answer"] == rec["messages"][1]["content"].strip()
    assert rows[4]["clip_lengths"] == [3, 3] and rows[4]["frame_paths"] == rel[:6]
    for row in rows[5:8] + rows[9:10]:
        assert row["frame_paths"] == rel
    assert rows[0]["frame_indices"] == [int(p[-10:-4]) for p in clip]
    assert rows[0]["question"] == rec["messages"][0]["content"].replace("<video>", "").strip()
    assert res.prefixes[PREFIX] > 0 and res.prefixes["/data/x/"] == len(clip) // 2


def test_line_endings_bom_and_blank_lines(tmp_path, base):
    recs = base[1][:3]
    path = tmp_path / "qa.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + recs[0] + b"\r\n\r\n  \n" + recs[1] + b"\n\n" + recs[2])  # no final \n
    res, valid, quarantine = _run(tmp_path, path)
    assert (res.records, res.valid, res.blank_lines) == (3, 3, 3)
    assert valid.column("source_line").to_pylist() == [1, 4, 6]
    assert res.inputs[0].bom and res.inputs[0].lines == 6


def test_duplicates_across_files_keep_the_first(tmp_path, base):
    a = _write(tmp_path, base[1][:3], "a.jsonl")
    b = _write(tmp_path, [base[1][5], base[1][1], b"not json", b"not json"], "b.jsonl")
    out = tmp_path / "out"
    res = run_validate([a, b], out_dir=out)
    q = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    assert (res.records, res.valid, res.invalid) == (7, 4, 3)
    assert [(e["file"], e["line"]) for e in q] == [("b.jsonl", 2), ("b.jsonl", 3), ("b.jsonl", 4)]
    assert q[0]["reasons"] == [{"code": "duplicate", "message": "same bytes as a.jsonl line 2"}]
    assert [r["code"] for r in q[2]["reasons"]] == ["duplicate", "invalid_json"]
    assert res.reasons == {"duplicate": 2, "invalid_json": 2}
    t = pq.read_table(out / "valid.parquet")
    assert t.column("source_file").to_pylist() == ["a.jsonl"] * 3 + ["b.jsonl"]
    assert len(set(t.column("record_id").to_pylist())) == 4


def test_missing_frames_with_frames_root(tmp_path, base):
    rec0, rec1 = _rec(base, 0), _rec(base, 1)
    root = tmp_path / "frames"
    for p in rec0["videos"][0][:2] + rec0["videos"][0][3:]:  # the third frame is missing
        f = root / p[len(PREFIX) :]
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"")
    lonely = dict(rec1, videos=[[PREFIX + "coin/nosuchvideo/000001.jpg"]])
    path = _write(tmp_path, [rec0, lonely, dict(rec0, videos=[rec0["videos"][0][:2]])])
    res, valid, quarantine = _run(tmp_path, path, frames_root=root)
    assert valid.column("source_line").to_pylist() == [3]
    msgs = {e["line"]: e["reasons"][0] for e in quarantine}
    n = len(rec0["videos"][0])
    assert msgs[1]["code"] == "missing_frame" and f"1 of {n} frame(s) missing" in msgs[1]["message"]
    assert rec0["videos"][0][2][len(PREFIX) :] in msgs[1]["message"]
    assert msgs[2]["code"] == "missing_frame" and "1 of 1" in msgs[2]["message"]


def test_over_long_lines_are_quarantined_without_loading(tmp_path, base):
    rec = _rec(base)
    short = dict(rec, videos=[rec["videos"][0][:2]])
    path = _write(tmp_path, [short, base[1][0], short | {"start_time": 1}])
    res, valid, quarantine = _run(tmp_path, path, block_bytes=512, max_line_bytes=1000)
    assert valid.column("source_line").to_pylist() == [1, 3]
    [entry] = quarantine
    assert entry["line"] == 2 and entry["reasons"][0]["code"] == "line_too_long" and entry["raw_truncated"]
    assert base[1][0].startswith(entry["raw"].encode())


def test_sample_validates_clean_and_round_trips_through_datasets(tmp_path, sample):
    out = tmp_path / "out"
    res = run_validate([sample.qa], frames_root=sample.frames, out_dir=out)
    assert (res.records, res.invalid, res.passed) == (sample.summary.n_qa, 0, True)
    assert res.videos == len(sample.truth) and sum(res.sources.values()) == res.records
    table = pq.read_table(out / "valid.parquet")
    assert schemas.check_table(table, schemas.load("qa_table.v1")) == []
    assert table.schema.metadata[b"tc139k.schema"] == b"qa_table.v1"
    for row in table.to_pylist():
        assert row["video_id"] in sample.truth and row["source"] == sample.truth[row["video_id"]]["source"]
        assert all((sample.frames / p).is_file() for p in row["frame_paths"])
        assert row["clip_end"] < sample.truth[row["video_id"]]["duration"]
    report = json.loads((out / "report.json").read_text())
    assert report["records"] == res.records and report["inputs"][0]["bytes"] == sample.qa.stat().st_size
    assert len(report["inputs"][0]["xxh3_128"]) == 32 and report["frame_path_prefixes"] == {
        PREFIX: sum(len(x) for x in table.column("frame_paths").to_pylist())
    }

    import datasets

    ds = datasets.load_dataset(
        "parquet", data_files=str(out / "valid.parquet"), split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    assert ds.num_rows == table.num_rows and ds.column_names == table.column_names
    assert ds[5] == table.slice(5, 1).to_pylist()[0]


def test_outputs_are_deterministic_whatever_the_workers(tmp_path, base):
    lines = base[1][:40] + [b"oops", base[1][3]] + base[1][40:60]
    path = _write(tmp_path, lines)
    one = run_validate([path], out_dir=tmp_path / "one")
    again = run_validate([path], out_dir=tmp_path / "again", fast_path=False, block_bytes=4096)
    pool = run_validate([path], out_dir=tmp_path / "pool", workers=2, chunk_bytes=20_000)
    assert pool.workers == 2 and one.summary() == again.summary() == pool.summary()
    for name in ("valid.parquet", "quarantine.jsonl", "report.json"):
        data = (tmp_path / "one" / name).read_bytes()
        assert (tmp_path / "again" / name).read_bytes() == data
        assert (tmp_path / "pool" / name).read_bytes() == data
    assert not (tmp_path / "pool" / ".validate-work").exists()


def test_many_pages_are_byte_identical_whatever_the_chunking(tmp_path, base):
    """Large enough for several Parquet pages per column: the writer cuts pages inside each
    Arrow chunk, so the chunking (blocks, chunks, workers) must not reach the file."""
    lines = []
    for i in range(3000):
        rec = _rec(base, i % len(base[0]))
        rec["start_time"] = i  # every line distinct
        rec.pop("end_time", None)
        lines.append(rec)
    path = _write(tmp_path, lines)
    runs = {
        "default": {},
        "small blocks": {"block_bytes": 8192},
        "pool": {"workers": 2, "chunk_bytes": 50_000},
        "exact": {"fast_path": False},
    }
    for name, kw in runs.items():
        assert run_validate([path], out_dir=tmp_path / name, **kw).valid == 3000
    meta = pq.ParquetFile(tmp_path / "default" / "valid.parquet").metadata
    paths_column = [
        meta.row_group(0).column(j)
        for j in range(meta.num_columns)
        if meta.row_group(0).column(j).path_in_schema.startswith("frame_paths")
    ][0]
    assert paths_column.total_uncompressed_size > 3 * (1 << 20)  # several 1 MiB pages
    data = (tmp_path / "default" / "valid.parquet").read_bytes()
    for name in runs:
        assert (tmp_path / name / "valid.parquet").read_bytes() == data, name


def test_without_out_nothing_is_written(tmp_path, base):
    path = _write(tmp_path, base[1][:5])
    res = run_validate([path])
    assert res.valid == 5 and res.outputs == {} and sorted(p.name for p in tmp_path.iterdir()) == ["qa.jsonl"]


def test_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        run_validate([tmp_path / "nope.jsonl"])
    with pytest.raises(UsageError, match="not a file"):
        run_validate([tmp_path])
    (tmp_path / "a.jsonl").write_text("")
    with pytest.raises(UsageError, match="max_invalid"):
        run_validate([tmp_path / "a.jsonl"], max_invalid=-1)
    with pytest.raises(UsageError, match="frames root"):
        run_validate([tmp_path / "a.jsonl"], frames_root=tmp_path / "nope")


def test_cli_exit_codes_and_json(tmp_path, base):
    path = _write(tmp_path, base[1][:4] + [b"{broken"])
    runner = CliRunner()
    r = runner.invoke(main, ["validate", str(path), "--json"])
    assert r.exit_code == 1
    got = failure_of(r.stdout, "validate", code=1)["result"]
    assert (got["n_records"], got["n_valid"], got["n_invalid"]) == (5, 4, 1)
    assert got["n_records_by_reason"] == {"invalid_json": 1} and got["n_not_downloaded"] == 0
    r = runner.invoke(main, ["validate", str(path), "--max-invalid", "1", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0 and "invalid_json" in r.output and "qa.jsonl:5:" in r.output
    assert (tmp_path / "o" / "valid.parquet").is_file()
    assert runner.invoke(main, ["validate", str(tmp_path / "missing.jsonl")]).exit_code == 2
    assert runner.invoke(main, ["validate", str(path), "--max-invalid", "-3"]).exit_code == 2


# ---- mutated records -------------------------------------------------------------------------

INJECTED = [b"\xff", b"\x00", b"\n", b"\r", b'"', b"\\", b"}", b"\xc3", b" "]


@st.composite
def _mutated_file(draw, lines):
    out = []
    for _ in range(draw(st.integers(1, 7))):
        line = draw(st.sampled_from(lines))
        kind = draw(
            st.sampled_from(["keep", "drop", "retype", "reorder", "truncate", "inject", "duplicate", "blank", "recase"])
        )
        if kind in ("drop", "retype", "reorder"):
            rec = json.loads(line)
            where = draw(st.sampled_from(["top", "message", "clip"]))
            if where == "top":
                key = draw(st.sampled_from(sorted(rec)))
                target, k = rec, key
            elif where == "message":
                target, k = draw(st.sampled_from(rec["messages"])), draw(st.sampled_from(["role", "content"]))
            else:
                target, k = rec["videos"][0], draw(st.integers(0, len(rec["videos"][0]) - 1))
            if kind == "drop":
                del target[k]
            elif kind == "retype":
                target[k] = draw(st.sampled_from([0, -1.5, "", "x", None, True, [], {}, [[1]], "<video>"]))
            else:
                rec["messages"].reverse() if where != "clip" else rec["videos"][0].reverse()
            line = json.dumps(rec, ensure_ascii=draw(st.booleans())).encode()
        elif kind == "truncate":
            line = line[: draw(st.integers(0, len(line) - 1))]
        elif kind == "inject":
            at = draw(st.integers(0, len(line)))
            line = line[:at] + draw(st.sampled_from(INJECTED)) + line[at:]
        elif kind == "duplicate" and out:
            line = draw(st.sampled_from(out))
        elif kind == "blank":
            line = draw(st.sampled_from([b"", b"  ", b"\r"]))
        elif kind == "recase":  # the source's case in some or all paths
            rec = json.loads(line)
            upper = draw(st.lists(st.booleans(), min_size=len(rec["videos"][0]), max_size=len(rec["videos"][0])))
            rec["videos"][0] = [
                p[: len(PREFIX)] + p[len(PREFIX) :].split("/", 1)[0].upper() + "/" + p[len(PREFIX) :].split("/", 1)[1]
                if up
                else p
                for p, up in zip(rec["videos"][0], upper)
            ]
            line = json.dumps(rec).encode()
        out.append(line)
    return b"\n".join(out) + draw(st.sampled_from([b"\n", b""]))


@pytest.fixture(scope="module")
def short_lines(base):
    """Sample records with clips cut to 8 frames, so that files stay small."""
    out = []
    for rec in base[0][:30]:
        rec = json.loads(json.dumps(rec))
        rec["videos"] = [c[:8] for c in rec["videos"]]
        out.append(json.dumps(rec).encode())
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_mutated_records_are_all_accounted_for(tmp_path_factory, short_lines, data):
    content = data.draw(_mutated_file(short_lines))
    tmp = tmp_path_factory.mktemp("mut")
    path = tmp / "qa.jsonl"
    path.write_bytes(content)
    res = run_validate([path], out_dir=tmp / "fast")
    exact = run_validate([path], out_dir=tmp / "exact", fast_path=False, block_bytes=1024)
    assert res.records == res.valid + res.invalid
    lines = content.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    blank = [i + 1 for i, x in enumerate(lines) if not x.strip(b" \t\r")]
    assert res.records + res.blank_lines == len(lines) and res.blank_lines == len(blank)
    valid_lines = pq.read_table(tmp / "fast" / "valid.parquet").column("source_line").to_pylist()
    quarantine = [json.loads(x) for x in (tmp / "fast" / "quarantine.jsonl").read_text().splitlines()]
    seen = valid_lines + [q["line"] for q in quarantine]
    assert sorted(seen) == [i for i in range(1, len(lines) + 1) if i not in blank]
    assert len(quarantine) == res.invalid and all(q["reasons"] for q in quarantine)
    assert set(res.reasons) <= set(schemas.load("qa.v1").extra["reasons"])
    for name in ("valid.parquet", "quarantine.jsonl", "report.json"):
        assert (tmp / "fast" / name).read_bytes() == (tmp / "exact" / name).read_bytes(), name
    assert exact.summary() == res.summary()
    shutil.rmtree(tmp)


def _clip_line(base, paths, **extra) -> bytes:
    rec = _rec(base)
    rec["videos"] = [paths]
    rec.update(extra)
    return json.dumps(rec, ensure_ascii=False).encode()


def test_fast_path_reads_only_ascii_digits_and_reads_them_right(base):
    """Every character but 0-9 at each of the six digit positions sends the record on to the
    exact checker; every frame number it accepts is read right."""
    import numpy as np

    from tc139k.validate.fast import FastPath

    folder = PREFIX + "coin/abc/"
    chars = [chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\'] + ["\u00e9", "\u0669", "\uff11", "\U0001f600"]
    raws, want, numbers = [], [], []
    for at in range(6):
        for ch in chars:
            digits = "12345"[:at] + ch + "12345"[at:]
            raws.append(_clip_line(base, [folder + "000001.jpg", folder + digits + ".jpg"]))
            want.append(digits.isascii() and digits.isdigit())
            numbers += [int(digits)] if want[-1] else []
    rng = np.random.default_rng(0)
    values = sorted(set(rng.integers(2, 1_000_000, 500).tolist()))
    raws.append(_clip_line(base, [folder + f"{v:06d}.jpg" for v in [1] + values]))
    want.append(True)
    fast = FastPath()
    accepted, cols = fast.accept(raws)
    assert accepted == [k for k, ok in enumerate(want) if ok]
    rows = cols["frame_indices"].to_pylist()
    assert rows[-1] == [1] + values
    assert [r[1] for r in rows[:-1]] == numbers


def test_fast_path_accepts_only_paths_that_equal_their_folder(tmp_path, base):
    """Records whose later paths differ from the first path's folder by a single byte (same
    length: another video, case, prefix) are never accepted by the fast path; the exact
    checker names them, and both tiers write the same bytes."""
    from tc139k.validate.fast import FastPath

    folder = PREFIX + "coin/vid00001/"
    paths = [folder + f"{k * 3 + 1:06d}.jpg" for k in range(8)]
    lines = [_clip_line(base, paths, start_time=0)]
    for i in range(len(folder)):
        if folder[i] == "/":
            continue
        changed = folder[:i] + ("x" if folder[i] != "x" else "y") + folder[i + 1 :]
        lines.append(_clip_line(base, paths[:5] + [changed + paths[5][-10:]] + paths[6:], start_time=i + 1))
    accepted, _ = FastPath().accept(lines)
    assert accepted == [0]
    path = _write(tmp_path, lines)
    fast = run_validate([path], out_dir=tmp_path / "fast")
    exact = run_validate([path], out_dir=tmp_path / "exact", fast_path=False)
    assert fast.valid == exact.valid and fast.reasons.get("clip_spans_videos", 0) > 0
    for name in ("valid.parquet", "quarantine.jsonl", "report.json"):
        assert (tmp_path / "fast" / name).read_bytes() == (tmp_path / "exact" / name).read_bytes(), name


def test_empty_file_and_the_file_hash(tmp_path, base, monkeypatch):
    import mmap

    import xxhash

    from tc139k.validate import run as validate

    monkeypatch.setattr(validate, "HASH_WINDOW", mmap.ALLOCATIONGRANULARITY)  # several windows per file

    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    res = run_validate([empty], out_dir=tmp_path / "e")
    assert (res.records, res.valid, res.passed) == (0, 0, False)  # no record is no success
    assert res.failure().startswith(f"no QA record in {empty}")
    assert res.inputs[0].xxh3_128 == xxhash.xxh3_128(b"").hexdigest()
    assert pq.read_table(tmp_path / "e" / "valid.parquet").num_rows == 0
    path = _write(tmp_path, base[1][:7])
    assert path.stat().st_size > 3 * mmap.ALLOCATIONGRANULARITY
    assert run_validate([path]).inputs[0].xxh3_128 == xxhash.xxh3_128(path.read_bytes()).hexdigest()


# ---- a killed run ------------------------------------------------------------------------------


def test_kill_9_leaves_no_process_and_a_rerun_cleans_up(tmp_path, base):
    """`validate` killed with SIGKILL while its workers run: no worker (nor the resource
    tracker) outlives it, and a rerun removes the temporaries and writes the same bytes as
    an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    lines = []
    for i in range(12_000):  # about 50 MB: workers take several chunks
        rec = _rec(base, i % len(base[0]))
        rec["start_time"] = i
        rec.pop("end_time", None)
        lines.append(rec)
    path = _write(tmp_path, lines)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tc139k", "validate", str(path), "--out", str(out), "--workers", "2", "--json"]
    env = dict(os.environ, TC139K_NO_PROGRESS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    parent = psutil.Process(proc.pid)
    children: dict[int, psutil.Process] = {}
    seen: dict[int, str] = {}  # each child's command lines as seen (it may end before the checks)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        for c in parent.children(recursive=True):
            children.setdefault(c.pid, c)
            seen[c.pid] = seen.get(c.pid, "") + " " + " ".join(_cmdline(c))
        workers = [pid for pid, line in seen.items() if "spawn_main" in line]
        if workers and list(out.glob(".valid.parquet.*.tmp")) and (out / ".validate-work").exists():
            time.sleep(0.3)  # the workers are busy
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"validate ended before it could be killed: {proc.stderr.read().decode()}"
    assert any("spawn_main" in line for line in seen.values()), "no worker was started"
    assert any("resource_tracker" in line for line in seen.values())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(list(children.values()), timeout=15)
    assert alive == [], [(p.pid, _cmdline(p)) for p in alive]
    assert list(out.glob(".*.tmp")) and not (out / "report.json").exists()

    assert (out / ".validate-work").is_dir()
    again = subprocess.run(cmd[:-3] + ["--workers", "1", "--json"], capture_output=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr.decode()
    assert sorted(p.name for p in out.iterdir()) == ["quarantine.jsonl", "report.json", "valid.parquet"]
    clean = run_validate([path], out_dir=tmp_path / "clean", workers=2)
    assert clean.valid == len(lines)
    for name in ("valid.parquet", "quarantine.jsonl"):
        assert (out / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name


def _cmdline(p) -> list[str]:
    import psutil

    try:
        return p.cmdline()
    except psutil.Error:
        return []


# ---- after a partial download ------------------------------------------------------------------


def test_partial_download_sets_videos_not_downloaded_apart(tmp_path, sample):
    """After `download --sources` and `--video-ids`, the records of videos that were not
    downloaded are `not_downloaded` (left out of the table, not invalid); a video that was
    downloaded must hold every frame (`missing_frame`, invalid), and so must every video with
    --frames-scope all."""
    from tc139k.download.run import run_download

    by_source: dict[str, list[str]] = {}
    for vid, t in sorted(sample.truth.items()):
        by_source.setdefault(t["source"], []).append(vid)
    local = tmp_path / "data"
    run_download(local_dir=local, mirror=sample.repo, sources="COIN", show_progress=False)
    kept_tvsum = by_source["tvsum"][0]
    run_download(local_dir=local, mirror=sample.repo, sources="TVSum", video_ids=[kept_tvsum], show_progress=False)
    frames = local / "frames"
    thinned, removed = by_source["coin"][0], by_source["coin"][1]  # real defects
    gone = sorted((frames / "coin" / thinned).iterdir())[5]
    gone.unlink()
    shutil.rmtree(frames / "coin" / removed)

    records = [json.loads(x) for x in sample.qa.read_text().splitlines()]
    video = [r["videos"][0][0].split("/")[-2] for r in records]
    refs = [{p.split("/")[-1] for p in r["videos"][0]} for r in records]
    defect = [i for i, v in enumerate(video) if v == removed or (v == thinned and gone.name in refs[i])]  # lines - 1
    here = {*by_source["coin"], kept_tvsum}
    absent = [i for i, v in enumerate(video) if v not in here]
    assert defect and absent

    res = run_validate([sample.qa], frames_root=frames, out_dir=tmp_path / "out", max_invalid=len(defect))
    assert (res.frames_scope, res.manifest) == ("downloaded", str(local / "tc139k-manifest.json"))
    assert (res.invalid, res.not_downloaded) == (len(defect), len(absent)) and res.passed
    assert res.valid == len(records) - len(defect) - len(absent)
    assert res.reasons == {"missing_frame": len(defect), "not_downloaded": len(absent)}
    q = {e["line"]: [r["code"] for r in e["reasons"]] for e in _jsonl(tmp_path / "out" / "quarantine.jsonl")}
    assert q == {**{i + 1: ["missing_frame"] for i in defect}, **{i + 1: ["not_downloaded"] for i in absent}}
    table = pq.read_table(tmp_path / "out" / "valid.parquet")
    assert set(table.column("video_id").to_pylist()) <= here - {removed}
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["not_downloaded"] == len(absent) and report["params"]["frames_scope"] == "downloaded"
    assert "not counted as invalid" in report["reason_descriptions"]["not_downloaded"]

    every = run_validate([sample.qa], frames_root=frames, frames_scope="all")
    assert every.invalid == len(defect) + len(absent) and every.reasons == {"missing_frame": len(defect) + len(absent)}
    assert every.not_downloaded == 0 and "not_downloaded" not in every.summary()

    runner = CliRunner()
    only_absent = _write(tmp_path, [sample.qa.read_bytes().splitlines()[i] for i in absent], "absent.jsonl")
    r = runner.invoke(main, ["validate", str(only_absent), "--frames-root", str(frames)])
    assert r.exit_code == 1 and f"FAILED: no valid record: the videos of all {len(absent)} record(s)" in r.output
    r = runner.invoke(main, ["validate", str(sample.qa), "--frames-root", str(frames), "--json"])
    assert r.exit_code == 1 and failure_of(r.stdout, "validate", 1)["result"]["n_not_downloaded"] == len(absent)
    r = runner.invoke(main, ["validate", str(sample.qa), "--frames-root", str(frames), "--max-invalid", "99"])
    assert r.exit_code == 0 and f"invalid, {len(absent)} not downloaded" in r.output
    r = runner.invoke(
        main, ["validate", str(sample.qa), "--frames-root", str(sample.frames), "--frames-scope", "downloaded"]
    )
    assert r.exit_code == 2 and "tc139k-manifest.json" in r.output and "--frames-scope all" in r.output


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_path_prefix_is_what_comes_before_source_video_and_file(tmp_path, base):
    """The prefix counted in report.json is everything before the last three components,
    whatever the separators (a doubled slash once cut it at a fixed length: "...frames//co")."""
    rec = _rec(base)
    doubled = [p.replace("/", "//") for p in rec["videos"][0]]
    lines = [dict(rec, videos=[doubled]), dict(rec, videos=[[p.replace("/", "//") for p in rec["videos"][0][:2]]])]
    path = _write(tmp_path, lines)
    fast = run_validate([path], out_dir=tmp_path / "fast")
    exact = run_validate([path], out_dir=tmp_path / "exact", fast_path=False)
    n = len(doubled) + 2
    assert fast.valid == 2 and fast.prefixes == exact.prefixes == {PREFIX.replace("/", "//"): n}
    rows = pq.read_table(tmp_path / "fast" / "valid.parquet").column("frame_paths").to_pylist()
    assert rows[0] == [p[len(PREFIX) :] for p in rec["videos"][0]]


def test_manifest_is_found_beside_a_frames_root_that_links_to_another_disk(tmp_path, sample):
    # `<download>/frames` may be a link to a bigger disk: the manifest lies beside the path as
    # named, not beside the link's target, and the scope stays "downloaded"
    from tc139k.download.run import run_download

    local = tmp_path / "data"
    run_download(local_dir=local, mirror=sample.repo, sources="COIN", show_progress=False)
    disk = tmp_path / "disk2"
    disk.mkdir()
    (local / "frames").rename(disk / "frames")
    (local / "frames").symlink_to(disk / "frames", target_is_directory=True)
    res = run_validate([sample.qa], frames_root=local / "frames", max_invalid=10**6)
    assert (res.frames_scope, res.manifest) == ("downloaded", str(local / "tc139k-manifest.json"))
    assert res.not_downloaded > 0 and res.invalid == 0


def test_a_defective_record_of_a_video_not_downloaded_is_invalid(tmp_path, sample, base):
    # not_downloaded sets a record apart only when it is its one problem: a real defect in a
    # record whose video was not downloaded still makes it invalid
    from tc139k.download.run import run_download

    local = tmp_path / "data"
    run_download(local_dir=local, mirror=sample.repo, sources="COIN", show_progress=False)
    coin = {v for v, t in sample.truth.items() if t["source"] == "coin"}
    recs = base[0]
    here = next(r for r in recs if r["videos"][0][0].split("/")[-2] in coin)
    absent = [r for r in recs if r["videos"][0][0].split("/")[-2] not in coin][:2]
    defective = json.loads(json.dumps(absent[0]))
    assert defective["messages"][1]["role"] == "assistant"
    defective["messages"][1]["content"] = " "
    qa = _write(tmp_path, [defective, absent[1], here])
    out = tmp_path / "out"
    res = run_validate([qa], frames_root=local / "frames", out_dir=out, max_invalid=1)
    assert (res.valid, res.invalid, res.not_downloaded) == (1, 1, 1) and res.passed
    q = {e["line"]: {r["code"] for r in e["reasons"]} for e in _jsonl(out / "quarantine.jsonl")}
    assert q == {1: {"empty_answer", "not_downloaded"}, 2: {"not_downloaded"}}
