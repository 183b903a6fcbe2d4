"""`tc139k keyframes compare`: matching, the accepted reference layouts, clear errors."""

from __future__ import annotations

import itertools
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from envelope import result_of
from hypothesis import given, settings
from hypothesis import strategies as st

from tc139k.cli import main
from tc139k.errors import SchemaError, UsageError
from tc139k.keyframes import store as kfio
from tc139k.keyframes.compare import compare_times, load_times, match_count


def brute_force_matching(pred, ref, tol):
    best = 0
    for k in range(min(len(pred), len(ref)), 0, -1):
        for ps in itertools.combinations(pred, k):
            for rs in itertools.permutations(ref, k):
                if all(abs(p - r) <= tol for p, r in zip(ps, rs)):
                    return k
    return best


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=5), st.lists(st.integers(0, 30), max_size=5), st.integers(0, 4))
def test_greedy_matching_is_maximal(pred, ref, tol):
    assert match_count(pred, ref, tol) == brute_force_matching(pred, ref, tol)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def caption_keyframes(sample) -> dict[str, list[float]]:
    out = {}
    for line in sample.captions.read_text().splitlines():
        rec = json.loads(line)
        out[rec["video_id"]] = [c["time"] for c in rec["captions"]]
    return out


def test_caption_file_as_reference(sample, tmp_path):
    keys = caption_keyframes(sample)
    exact = write_jsonl(tmp_path / "exact.jsonl", [{"video_id": v, "keyframe_seconds": t} for v, t in keys.items()])
    res = compare_times(exact, sample.captions)
    assert res.ref_layout == "captions" and res.n_videos == len(keys)
    assert (res.precision, res.recall, res.f1) == (1.0, 1.0, 1.0)

    # one row per time, shifted by 0.5 s, one video missing, one extra predicted time per video
    rows, dropped = [], sorted(keys)[0]
    for v, times in keys.items():
        if v == dropped:
            continue
        rows += [{"video_id": v, "seconds": t + 0.5} for t in times] + [{"video_id": v, "seconds": 10_000.0}]
    shifted = write_jsonl(tmp_path / "shifted.jsonl", rows)
    res = compare_times(shifted, sample.captions, tolerance=1.0)
    n_ref = sum(len(t) for v, t in keys.items() if v != dropped)
    assert res.ref_only == [dropped] and res.matched == n_ref == res.n_ref
    assert res.n_pred == n_ref + len(keys) - 1 and res.recall == 1.0 and res.precision < 1.0
    assert compare_times(shifted, sample.captions, tolerance=0.25).matched == 0


def test_keyframes_folder_and_parquet_table(sample, tmp_path):
    truth = sample.truth
    rows = []
    for vid, t in sorted(truth.items())[:3]:
        n = t["n_frames"]
        cuts = [float(c) for c in t["scene_cuts"]]
        scene = [sum(1 for c in cuts if c <= i) for i in range(n)]
        rows.append(
            {
                "video_id": vid,
                "source": t["source"],
                "status": "ok",
                "error": None,
                "n_frames": n,
                "frame_seconds": [float(i) for i in range(n)],
                "bad_frames": [],
                "scene_id": scene,
                "scene_cut_seconds": cuts[1:] + [cuts[0] + 1.5],
                "score_kind": "pixel_mad",
                "grid_h": 1,
                "grid_w": 1,
                "patch_scores": bytes(n),
                "threshold": 0.05,
                "drop_ratio": [0.0] * n,
                "keyframe_seconds": [0.0],
                "trigger_seconds": [],
            }
        )
    failed = dict(
        rows[0],
        video_id="failedvid",
        status="failed",
        error="no usable frame",
        n_frames=0,
        frame_seconds=[],
        scene_id=[],
        scene_cut_seconds=[],
        patch_scores=b"",
        drop_ratio=[],
        keyframe_seconds=[],
    )
    kfio.write_keyframes_file([*rows, failed], tmp_path / "kf" / "keyframes-00000.parquet", {"tool": "test"})
    table = pa.table(
        {
            "video_id": [r["video_id"] for r in rows],
            "source": [r["source"] for r in rows],
            "scene_cuts": [[float(c) for c in truth[r["video_id"]]["scene_cuts"]] for r in rows],
        }
    )
    pq.write_table(table, tmp_path / "cuts.parquet")
    res = compare_times(tmp_path / "kf", tmp_path / "cuts.parquet", what="scene_cuts", tolerance=1.0)
    n_cuts = sum(len(truth[r["video_id"]]["scene_cuts"]) for r in rows)
    # each video: its first cut moved by 1.5 s misses at tolerance 1, and is found at 2
    assert res.pred_failed == 1 and res.n_videos == 3
    assert res.matched == n_cuts - 3 and res.n_pred == res.n_ref == n_cuts
    assert compare_times(tmp_path / "kf", tmp_path / "cuts.parquet", what="scene_cuts", tolerance=2.0).f1 == 1.0


def test_cli_compare_json(sample, tmp_path):
    keys = caption_keyframes(sample)
    pred = write_jsonl(tmp_path / "p.jsonl", [{"video_id": v, "time": t} for v, ts in keys.items() for t in ts])
    res = CliRunner().invoke(main, ["keyframes", "compare", str(pred), str(sample.captions), "--json"])
    assert res.exit_code == 0, res.output
    out = result_of(res.stdout, "keyframes compare")
    assert out["f1"] == 1.0 and out["what"] == "keyframes" and len(out["videos"]) == len(keys)
    res = CliRunner().invoke(
        main, ["keyframes", "compare", str(pred), str(sample.dir / "ground_truth.json"), "--what", "keyframes"]
    )
    assert res.exit_code == 0 and "F1 1.000" in res.output


def test_clear_errors(sample, tmp_path):
    with pytest.raises(UsageError, match="caption file"):
        compare_times(sample.captions, sample.captions, what="scene_cuts")
    bad_cols = write_jsonl(tmp_path / "cols.jsonl", [{"vid": "x", "t": 1}])
    with pytest.raises(SchemaError, match="expected columns video_id"):
        compare_times(bad_cols, sample.captions)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"video_id": "a", "seconds": 1}\n{oops\n')
    with pytest.raises(SchemaError, match=r"broken.jsonl:2"):
        compare_times(broken, sample.captions)
    not_num = write_jsonl(tmp_path / "nn.jsonl", [{"video_id": "a", "seconds": "soon"}])
    with pytest.raises(SchemaError, match=r"nn.jsonl:1: time 'soon'"):
        compare_times(not_num, sample.captions)
    res = CliRunner().invoke(main, ["keyframes", "compare", str(bad_cols), str(sample.captions)])
    assert res.exit_code == 1 and res.output.startswith("Error:")


def test_jsonl_reader_error_policy(tmp_path):
    """tc139k.jsonl.read_objects: blank lines and a BOM skipped; a bad line raises naming the
    file and line, or is reported in its place, named the same way."""
    from tc139k.jsonl import BadLine, read_objects

    path = tmp_path / "x.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n  \n{"a": "\xe9"}\n[1]\n{oops\n{"a": 2}\r\n')
    got = list(read_objects(path, on_error="report"))
    assert [n for n, _ in got] == [1, 4, 5, 6, 7] and got[0][1] == {"a": 1} and got[-1][1] == {"a": 2}
    assert [(b.code, b.message) for _, b in got[1:4]] == [
        ("invalid_utf8", "byte 7: invalid continuation byte"),
        ("not_an_object", "a JSON list"),
        ("invalid_json", got[3][1].message),
    ]
    assert all(isinstance(b, BadLine) for _, b in got[1:4]) and got[3][1].message
    with pytest.raises(SchemaError, match=r"x.jsonl:4: not valid UTF-8 \(byte 7"):
        list(read_objects(path))
    assert [n for n, _ in read_objects(path, on_error="report", objects_only=False) if n == 5] == [5]


def test_each_row_of_a_table_keeps_its_own_source_when_the_first_has_none(tmp_path):
    # whether a row names a source is read from that row: a first row without one must not
    # drop every other row's source and merge the same id under two sources into one video
    pred = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"video_id": "solo", "seconds": [5]},
            {"video_id": "v", "source": "coin", "seconds": [1]},
            {"video_id": "v", "source": "tvsum", "seconds": [10]},
        ],
    )
    assert load_times(pred, "keyframes").times == {(None, "solo"): [5.0], ("coin", "v"): [1.0], ("tvsum", "v"): [10.0]}
    ref = write_jsonl(tmp_path / "r.jsonl", [{"video_id": "v", "seconds": [1]}])
    with pytest.raises(UsageError, match=r"p\.jsonl: video id v appears under several sources"):
        compare_times(pred, ref)
