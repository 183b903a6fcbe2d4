"""`tc139k stats redundancy`: figures recomputed by hand on constructed key-frame folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from envelope import result_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tc139k.cli import main
from tc139k.errors import SchemaError, UsageError
from tc139k.keyframes import dtd
from tc139k.keyframes import store as kfio
from tc139k.stats.redundancy import parse_thresholds, redundancy_stats


def make_row(
    video_id,
    source,
    q,
    grid,
    *,
    kind="cosine",
    threshold=0.5,
    seconds=None,
    keyframes=(),
    triggers=(),
    cuts=(),
    status="ok",
    drop_ratio=None,
):
    q = np.asarray(q, dtype=np.uint8)
    n = len(q)
    if seconds is None:
        seconds = [float(i) for i in range(n)]
    if drop_ratio is None:
        drop_ratio = dtd.frame_drop_ratio(q, kind, threshold).tolist() if n else []
    return {
        "video_id": video_id,
        "source": source,
        "status": status,
        "error": None if status == "ok" else "could not read the frames",
        "n_frames": n,
        "frame_seconds": list(seconds),
        "bad_frames": [],
        "scene_id": [0] * n,
        "scene_cut_seconds": list(cuts),
        "score_kind": kind,
        "grid_h": grid[0],
        "grid_w": grid[1],
        "patch_scores": q.tobytes(),
        "threshold": threshold,
        "drop_ratio": list(drop_ratio),
        "keyframe_seconds": list(keyframes),
        "trigger_seconds": list(triggers),
    }


def write_folder(folder, *files):
    for i, rows in enumerate(files):
        kfio.write_keyframes_file(rows, folder / f"keyframes-{i:03d}.parquet", {"test": True})
    return folder


# Cosine levels: s = q / 127.5 - 1, dropped when s > tau.
#   0 -> -1.0, 128 -> 0.0039, 166 -> 0.3020, 204 -> 0.6, 230 -> 0.8039, 255 -> 1.0
VIDEO_A = [[0, 0], [255, 128], [204, 166]]  # coin, grid 1x2, 3 frames
VIDEO_B = [[0, 0, 0, 0], [255, 230, 204, 128]]  # tvsum, grid 2x2, 2 frames
THRESHOLDS = (0.2, 0.5, 0.7, 0.9)


@pytest.fixture(scope="module")
def hand_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kf_hand")
    rows_1 = [
        make_row(
            "A",
            "coin",
            VIDEO_A,
            (1, 2),
            seconds=[0.0, 150.0, 300.0],
            keyframes=[0.0, 150.0],
            triggers=[300.0],
            cuts=[150.0],
        ),
        make_row("C", "coin", np.zeros((0, 0)), (0, 0), status="failed"),
    ]
    rows_2 = [make_row("B", "tvsum", VIDEO_B, (2, 2), keyframes=[0.0], triggers=[1.0])]
    return write_folder(folder, rows_1, rows_2)


def test_hand_computed_sweep(hand_folder):
    s = redundancy_stats(hand_folder, thresholds=THRESHOLDS, show_progress=False)
    # dropped patches per threshold: A 3,2,1,1 of 6; B 3,3,2,1 of 8
    assert s.thresholds == list(THRESHOLDS)
    assert s.drop_ratio == pytest.approx([6 / 14, 5 / 14, 3 / 14, 2 / 14])
    # per-frame ratios: A [0,.5,1],[0,.5,.5],[0,.5,0],[0,.5,0]; B [0,.75],[0,.75],[0,.5],[0,.25]
    assert s.drop_ratio_frame_mean == pytest.approx([2.25 / 5, 1.75 / 5, 1.0 / 5, 0.75 / 5])
    assert s.by_source["coin"].drop_ratio == pytest.approx([3 / 6, 2 / 6, 1 / 6, 1 / 6])
    assert s.by_source["tvsum"].drop_ratio == pytest.approx([3 / 8, 3 / 8, 2 / 8, 1 / 8])
    assert (s.overall.videos, s.overall.frames, s.overall.tokens) == (2, 5, 14)
    assert s.videos_failed == 1 and s.failed_by_source == {"coin": 1}
    assert s.by_source["coin"].videos == 1  # the failed video does not count

    # headline at the stored threshold 0.5
    assert s.threshold == 0.5
    assert s.headline_ratio == pytest.approx(5 / 14)
    headline = "35.7 % of visual tokens (of an encoder not recorded) are redundant at threshold 0.5"
    assert s.headline_text().startswith(headline)

    # per-frame drop ratios at 0.5: 0, .5, .5, 0, .75
    fd = s.frame_drop_ratio
    assert fd.count == 5 and fd.mean == pytest.approx(0.35) and fd.median == pytest.approx(0.5)
    assert fd.p10 == pytest.approx(0.0) and fd.p90 == pytest.approx(0.65)
    expected_hist = [0] * 20
    expected_hist[0], expected_hist[10], expected_hist[15] = 2, 2, 1
    assert s.frame_drop_ratio_histogram == expected_hist
    assert s.video_drop_ratio.mean == pytest.approx((2 / 6 + 3 / 8) / 2)

    # spans (keyframes.interval: last - first frame time + 1 s): A 301 s, B 2 s
    assert s.by_length["5-10 min"].videos == 1 and s.by_length["<5 min"].videos == 1
    assert s.by_length["5-10 min"].drop_ratio == pytest.approx([3 / 6, 2 / 6, 1 / 6, 1 / 6])
    assert s.by_length["10-20 min"].videos == 0 and s.by_length["10-20 min"].drop_ratio == [None] * 4

    kf = s.keyframes
    minutes = 303 / 60
    assert kf["per_video"]["mean"] == pytest.approx(1.5)
    assert kf["gap_seconds"]["count"] == 1 and kf["gap_seconds"]["mean"] == pytest.approx(150.0)
    assert kf["mean_interval_seconds"] == pytest.approx(303 / 3)  # total span / key frames
    assert kf["per_minute"] == pytest.approx(3 / minutes, abs=1e-6)
    assert kf["triggers_per_minute"] == pytest.approx(2 / minutes, abs=1e-6)
    assert kf["scene_cuts_per_minute"] == pytest.approx(1 / minutes, abs=1e-6)
    assert kf["published"] == {"per_minute": round(60 / 7.14, 6), "interval_seconds": 7.14, "per_video_mean": 87.8}
    assert s.stored_check["videos_checked"] == 2 and s.stored_check["videos_mismatched"] == 0


def test_headline_threshold_option_and_timeline(hand_folder):
    s = redundancy_stats(hand_folder, thresholds=THRESHOLDS, threshold=0.7, video="B", show_progress=False)
    assert s.headline_ratio == pytest.approx(3 / 14)
    assert s.timeline.video_id == "B"
    assert s.timeline.drop_ratio.tolist() == pytest.approx([0.0, 0.5])
    longest = redundancy_stats(hand_folder, thresholds=THRESHOLDS, show_progress=False).timeline
    assert longest.video_id == "A" and longest.drop_ratio.tolist() == pytest.approx([0, 0.5, 0.5])
    assert longest.keyframe_seconds.tolist() == [0.0, 150.0]
    with pytest.raises(UsageError, match="NOPE"):
        redundancy_stats(hand_folder, video="NOPE", show_progress=False)


def test_pixel_mode_by_hand(tmp_path):
    # pixel_mad: d = q / 255, dropped when d < tau; frame 0 holds 255 (never dropped)
    q = [[255, 255, 255, 255], [0, 51, 102, 255]]  # d = 0, 0.2, 0.4, 1.0
    folder = write_folder(tmp_path / "kf", [make_row("P", "coin", q, (2, 2), kind="pixel_mad", threshold=0.3)])
    s = redundancy_stats(folder, thresholds=(0.1, 0.3, 0.5), show_progress=False)
    assert s.score_kind == "pixel_mad"
    assert s.drop_ratio == pytest.approx([1 / 8, 2 / 8, 3 / 8])
    assert s.threshold == 0.3 and s.headline_ratio == pytest.approx(2 / 8)
    assert "pixel difference" in s.headline_text()


def test_recomputed_figures_agree_with_stored_drop_ratio(tmp_path):
    """At the stored threshold the statistics equal the stored per-frame drop ratios, even
    for scores on the quantisation levels next to the threshold."""
    rng = np.random.default_rng(3)
    tau = 0.5
    edge = dtd.quantize(np.array([tau]), "cosine")[0]  # the level nearest to tau
    rows, stored = [], []
    for i in range(8):
        n, cells = int(rng.integers(5, 40)), int(rng.choice([4, 6, 9]))
        q = rng.choice(np.array([edge - 1, edge, edge + 1, 0, 255], dtype=np.uint8), size=(n, cells))
        q[0] = 0
        row = make_row(f"v{i}", ["coin", "tvsum"][i % 2], q, (1, cells), threshold=tau)
        rows.append(row)
        stored.append(np.array(row["drop_ratio"], dtype=np.float64))
    folder = write_folder(tmp_path / "kf", rows[:5], rows[5:])
    s = redundancy_stats(folder, thresholds=(0.3, tau, 0.7), show_progress=False)
    all_stored = np.concatenate(stored)
    assert s.drop_ratio_frame_mean[1] == pytest.approx(all_stored.mean(), abs=1e-6)
    assert s.frame_drop_ratio.mean == pytest.approx(all_stored.mean(), abs=1e-6)
    assert s.frame_drop_ratio_histogram == np.histogram(all_stored, bins=20, range=(0, 1))[0].tolist()
    assert s.stored_check == {**s.stored_check, "videos_checked": 8, "videos_mismatched": 0}
    longest = max(range(8), key=lambda i: (len(stored[i]), -i))
    np.testing.assert_allclose(s.timeline.drop_ratio, stored[longest], atol=1e-6)


def test_mismatching_stored_drop_ratio_is_reported(tmp_path):
    bad = make_row("X", "coin", VIDEO_A, (1, 2), drop_ratio=[0.0, 0.0, 0.0])
    folder = write_folder(tmp_path / "kf", [bad, make_row("B", "tvsum", VIDEO_B, (2, 2))])
    s = redundancy_stats(folder, thresholds=THRESHOLDS, show_progress=False)
    assert s.stored_check["videos_mismatched"] == 1
    assert s.stored_check["mismatched_examples"] == ["X"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["cosine", "pixel_mad"]),
    seed=st.integers(0, 2**32 - 1),
    thresholds=st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=8),
)
def test_sweep_monotonic_and_bounded(tmp_path_factory, kind, seed, thresholds):
    if kind == "pixel_mad":
        thresholds = [abs(t) for t in thresholds]  # a pixel difference lies in [0, 1]
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(int(rng.integers(1, 4))):
        n, gh, gw = int(rng.integers(1, 12)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        rows.append(make_row(f"v{i}", f"s{i % 2}", rng.integers(0, 256, (n, gh * gw)), (gh, gw), kind=kind))
    folder = write_folder(tmp_path_factory.mktemp("kf_prop"), rows)
    s = redundancy_stats(folder, thresholds=thresholds, show_progress=False)
    for series in [s.drop_ratio, s.drop_ratio_frame_mean] + [g.drop_ratio for g in s.by_source.values()]:
        r = np.array(series)
        assert ((r >= 0) & (r <= 1)).all()
        steps = np.diff(r)  # thresholds ascend: cosine drops less, pixel_mad drops more
        assert (steps <= 1e-12).all() if kind == "cosine" else (steps >= -1e-12).all()


def test_bad_inputs(tmp_path):
    with pytest.raises(UsageError):
        parse_thresholds("0.1,abc")
    with pytest.raises(UsageError):
        parse_thresholds("0.5,1.5")
    assert parse_thresholds("0.1:0.9:0.1") == tuple(round(0.1 * i, 1) for i in range(1, 10))
    assert parse_thresholds("0.5, 0.3,0.5") == (0.3, 0.5)

    short = make_row("S", "coin", VIDEO_A, (1, 2))
    short["patch_scores"] = short["patch_scores"][:-1]
    folder = write_folder(tmp_path / "short", [short])
    with pytest.raises(SchemaError, match=r"keyframes-000\.parquet: video S: patch_scores has 5 bytes"):
        redundancy_stats(folder, show_progress=False)

    mixed = write_folder(
        tmp_path / "mixed",
        [make_row("A", "coin", VIDEO_A, (1, 2)), make_row("P", "coin", [[255], [3]], (1, 1), kind="pixel_mad")],
    )
    with pytest.raises(SchemaError, match="different score kinds"):
        redundancy_stats(mixed, show_progress=False)
    with pytest.raises(UsageError, match="no keyframes-"):  # a folder without key-frame files: usage
        redundancy_stats(tmp_path, show_progress=False)


def test_plots_are_valid_pngs(hand_folder, tmp_path):
    s = redundancy_stats(
        hand_folder, thresholds=(0.1, 0.3, 0.5, 0.7, 0.9), by="length", plot_dir=tmp_path / "plots", show_progress=False
    )
    names = sorted(p.rsplit("/", 1)[-1] for p in s.plots)
    assert names == [
        "drop_ratio_by_length.png",
        "drop_ratio_vs_threshold.png",
        "frame_drop_ratio_histogram.png",
        "timeline_A.png",
    ]
    for p in s.plots:
        with Image.open(p) as im:
            im.verify()
        with Image.open(p) as im:
            assert im.format == "PNG" and im.width >= 500 and im.height >= 300
            # not a blank canvas: a plot has many distinct colours
            assert len(im.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20
    again = redundancy_stats(
        hand_folder,
        thresholds=(0.1, 0.3, 0.5, 0.7, 0.9),
        by="length",
        plot_dir=tmp_path / "plots2",
        show_progress=False,
    )
    for a, b in zip(sorted(s.plots), sorted(again.plots)):
        assert open(a, "rb").read() == open(b, "rb").read()


PLOT_SCRIPT = """
import sys
from tc139k.stats.redundancy import redundancy_stats
s = redundancy_stats(sys.argv[1], plot_dir=sys.argv[2], plot_format=sys.argv[3], show_progress=False)
print("\\n".join(sorted(s.plots)))
"""


@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("pdf", b"%PDF-")])
def test_vector_plots_are_the_same_bytes_in_two_processes(hand_folder, tmp_path, fmt, magic):
    """`--plot-format svg|pdf`: files of that format, with no date, version or random id in
    them, so two processes write the same bytes."""
    import subprocess
    import sys

    runs = []
    for i in range(2):
        out = subprocess.run(
            [sys.executable, "-c", PLOT_SCRIPT, str(hand_folder), str(tmp_path / f"p{i}"), fmt],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        runs.append(out)
    assert len(runs[0]) == 4 and all(p.endswith(f".{fmt}") for p in runs[0])
    for a, b in zip(*runs):
        data = Path(a).read_bytes()
        assert data.startswith(magic) and data == Path(b).read_bytes(), (a, b)
    res = CliRunner().invoke(main, ["stats", "redundancy", str(hand_folder), "--plot-format", "gif"])
    assert res.exit_code == 2 and "png" in res.output


def _all_floats(obj):
    if isinstance(obj, float):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _all_floats(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _all_floats(v)


def test_cli_json_is_stable(hand_folder, tmp_path):
    runner = CliRunner()
    args = ["stats", "redundancy", str(hand_folder), "--thresholds", "0.2,0.5,0.7,0.9", "--json"]
    first = runner.invoke(main, args)
    second = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    assert first.output == json.dumps(json.loads(first.output), indent=2, sort_keys=True) + "\n"
    data = result_of(first.stdout, "stats redundancy")
    assert {"thresholds", "drop_ratio", "drop_ratio_frame_mean", "by_source", "keyframes"} <= set(data)
    assert data["thresholds"] == [0.2, 0.5, 0.7, 0.9]
    assert data["drop_ratio"] == [round(x, 6) for x in (6 / 14, 5 / 14, 3 / 14, 2 / 14)]
    assert data["by_source"]["tvsum"]["drop_ratio"][0] == 0.375
    assert data["headline"]["drop_ratio"] == round(5 / 14, 6)
    assert all(round(x, 6) == x for x in _all_floats(data))


def test_cli_table_and_errors(hand_folder, tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        main, ["stats", "redundancy", str(hand_folder), "--by", "length", "--plot", str(tmp_path / "p"), "--video", "B"]
    )
    assert res.exit_code == 0, res.output
    assert "35.7 % of visual tokens (of an encoder not recorded) are redundant at threshold 0.5" in res.output
    assert "5-10 min" in res.output and "87.8" in res.output and "7.14" in res.output
    assert (tmp_path / "p" / "timeline_B.png").is_file()
    bad = runner.invoke(main, ["stats", "redundancy", str(hand_folder), "--thresholds", "x"])
    assert bad.exit_code == 2 and "Error: thresholds" in bad.output
    missing = runner.invoke(main, ["stats", "redundancy", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "not a key-frame output folder" in missing.output  # a missing path is usage


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 5)), min_size=1, max_size=12))
def test_distribution_of_counts_equals_expanded(pairs):
    from tc139k.stats.redundancy import Distribution

    values = [v / 7 for v, _ in pairs]
    counts = [c for _, c in pairs]
    got = Distribution.of_counts(values, counts)
    want = Distribution.of(np.repeat(values, counts))
    assert got.count == want.count
    if want.count:
        for name in ("mean", "median", "p10", "p90", "min", "max"):
            assert getattr(got, name) == pytest.approx(getattr(want, name), abs=1e-12), name


# ---- statistics that tell the truth: the sample through `tc139k keyframes build` -------------

from tiny_clip import tiny_clip  # noqa: E402, F401  (session fixture)

from tc139k.keyframes import interval  # noqa: E402
from tc139k.stats.redundancy import DEFAULT_SWEEPS  # noqa: E402


def build_keyframes(out, *args):
    res = CliRunner().invoke(main, ["keyframes", "build", "--out", str(out), *map(str, args)])
    return res


@pytest.fixture(scope="module")
def sample_ids(sample, tmp_path_factory):
    path = tmp_path_factory.mktemp("ids") / "ids.txt"
    path.write_text("\n".join(sample.shortest(4)) + "\n")
    return path


@pytest.fixture(scope="module", params=["pixel", "feature"])
def sample_run(request, sample, sample_ids, tmp_path_factory):
    """Key frames of 4 sample videos by one method: (method, folder, JSON summary, text summary)."""
    out = tmp_path_factory.mktemp(f"kf_{request.param}")
    common = ["--frames-root", sample.frames, "--video-ids", sample_ids, "--method", request.param]
    if request.param == "feature":
        tiny = request.getfixturevalue("tiny_clip")
        common += ["--pretrained", tiny.local_dir, "--accept-calibration-miss"]
    text = build_keyframes(out, *common)
    assert text.exit_code == 0, text.output
    res = build_keyframes(out, *common, "--json")
    assert res.exit_code == 0, res.output
    return request.param, out, result_of(res.stdout, "keyframes build"), text.output


def test_default_sweep_spans_the_kind_and_holds_its_operating_point(sample_run):
    method, folder, res, _ = sample_run
    s = redundancy_stats(folder, show_progress=False)
    kind = "pixel_mad" if method == "pixel" else "cosine"
    assert s.score_kind == kind and s.thresholds == list(DEFAULT_SWEEPS[kind])
    assert s.threshold == res["threshold"] == (0.05 if method == "pixel" else 0.5)
    assert s.threshold in s.thresholds  # the operating point is on the curve
    assert f"{s.threshold:>10g}" in next(line for line in s.text_report().splitlines() if line.endswith(" <"))
    if method == "pixel":
        # the sweep reaches from well below to above the operating point's drop ratio
        assert s.drop_ratio[0] < s.headline_ratio - 0.1 and s.drop_ratio[-1] > s.headline_ratio
        assert s.drop_ratio[0] < 0.8  # not a table that starts at 94 % dropped


def test_threshold_range_errors_quote_the_kind_range(sample_run):
    method, folder, _, _ = sample_run
    if method == "pixel":
        for bad in ({"thresholds": (-0.5, 0.05)}, {"threshold": -0.1}):
            with pytest.raises(UsageError, match=r"must lie in \[0, 1\] for score kind pixel_mad"):
                redundancy_stats(folder, show_progress=False, **bad)
        res = CliRunner().invoke(main, ["stats", "redundancy", str(folder), "--thresholds=-0.5,0.05"])
        assert res.exit_code == 2 and "[0, 1] for score kind pixel_mad" in res.output
    else:
        s = redundancy_stats(folder, thresholds=(-0.5, 0.5), show_progress=False)  # a cosine may be < 0
        assert s.thresholds == [-0.5, 0.5]
        with pytest.raises(UsageError, match=r"\[-1, 1\]"):
            redundancy_stats(folder, thresholds=(0.5, 1.5), show_progress=False)


def test_one_patch_grid_shows_one_drop_ratio_column(sample_run, hand_folder):
    _, folder, _, _ = sample_run
    s = redundancy_stats(folder, show_progress=False)
    assert s.one_grid and s.drop_ratio == pytest.approx(s.drop_ratio_frame_mean, abs=1e-12)
    text = s.text_report()
    assert "frame mean" not in text and "same patch grid" in text
    assert s.to_dict()["frame_mean_equals_drop_ratio"] is True
    mixed = redundancy_stats(hand_folder, thresholds=THRESHOLDS, show_progress=False)  # 1x2 and 2x2 grids
    assert not mixed.one_grid and "frame mean" in mixed.text_report()
    assert "different patch grids" in mixed.text_report()


def test_mean_interval_has_one_definition_in_keyframes_and_stats(sample_run):
    _, folder, res, text = sample_run
    kf = redundancy_stats(folder, show_progress=False).keyframes
    spans = sum(interval.video_span(range(v["n_frames"])) for v in res["videos"] if v["status"] == "ok")
    n_kf = sum(len(v["keyframes"]) for v in res["videos"])
    assert res["mean_interval_seconds"] == pytest.approx(spans / n_kf)
    assert kf["mean_interval_seconds"] == pytest.approx(res["mean_interval_seconds"], abs=1e-6)
    assert kf["interval_definition"] == interval.DEFINITION
    assert f"mean interval = {interval.DEFINITION}" in text
    stats_text = redundancy_stats(folder, show_progress=False).text_report()
    assert f"mean interval = {interval.DEFINITION}" in stats_text
    assert f"{res['mean_interval_seconds']:.2f}" in stats_text


def test_key_frames_compared_with_the_published_figures_per_minute(sample_run):
    _, folder, _, _ = sample_run
    s = redundancy_stats(folder, show_progress=False)
    kf = s.keyframes
    assert kf["per_minute"] * kf["mean_interval_seconds"] == pytest.approx(60.0, rel=1e-5)
    assert kf["published"]["per_minute"] == pytest.approx(60 / 7.14, abs=1e-6)
    text = s.text_report()
    line = next(row for row in text.splitlines() if "per minute of video" in row)
    assert f"{kf['per_minute']:.2f}" in line and f"{60 / 7.14:.2f}" in line
    assert "compare per minute" in text  # per video is not set against the published 87.8


def test_calibration_says_whether_it_reached_its_target(sample_run, sample, sample_ids, tmp_path):
    method, _, res, text = sample_run
    n_kf = sum(len(v["keyframes"]) for v in res["videos"])
    # within 5 %, or within one key frame more or fewer (the finest step the rule can take)
    tolerance = max(0.05 * res["target_interval"], res["mean_interval_seconds"] / n_kf)
    reached = abs(res["mean_interval_seconds"] - res["target_interval"]) <= tolerance
    assert res["target_reached"] is reached
    if reached:
        assert "calibrated to 7.14 s" in text
    else:
        assert "NOT reached" in text and "calibrated to" not in text
    if method != "pixel":
        return
    # only scene starts already give ~20 s per key frame on the sample: 300 s is out of reach
    from tc139k.keyframes.build import MIN_CALIBRATION_VIDEOS

    assert len(sample.truth) >= MIN_CALIBRATION_VIDEOS  # the whole sample: a miss is judged
    common = ["--frames-root", sample.frames, "--method", "pixel"]
    miss = build_keyframes(tmp_path / "kf", *common, "--target-interval", 300)
    assert miss.exit_code == 1
    assert "target 300 s NOT reached" in miss.output and "calibrated to" not in miss.output
    assert "Error: calibration missed its target" in miss.output and "--accept-calibration-miss" in miss.output
    accepted = build_keyframes(tmp_path / "kf", *common, "--target-interval", 300, "--accept-calibration-miss")
    assert accepted.exit_code == 0 and "target 300 s NOT reached" in accepted.output
    assert kfio.read_provenance(tmp_path / "kf" / "keyframes-00000.parquet")["keyframes"]["target_reached"] is False
    # 4 videos cannot be held to a mean over many: the same miss is a note, exit 0
    few = build_keyframes(tmp_path / "few", *common, "--video-ids", sample_ids, "--target-interval", 300)
    assert few.exit_code == 0 and "target 300 s NOT reached" in few.output and "Error" not in few.output
    assert "Note: calibration missed its target" in few.output and "no failure for 4 video(s)" in few.output


def test_keyframes_v1_files_are_still_read(tmp_path):
    """A folder written before transitions were recorded (keyframes.v1) reads as having none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tc139k import schemas

    row = make_row("A", "coin", VIDEO_A, (1, 2), keyframes=[0.0])
    folder = tmp_path / "v1"
    folder.mkdir()
    pq.write_table(
        pa.Table.from_pylist([row], schema=schemas.load("keyframes.v1").to_arrow()), folder / "keyframes-0.parquet"
    )
    assert kfio.read_keyframes(folder).to_pylist()[0]["transitions"] == []
    assert [r["transitions"] for r in kfio.iter_videos(folder, columns=["video_id", "transitions"])] == [[]]
    assert redundancy_stats(folder, thresholds=THRESHOLDS, show_progress=False).overall.videos == 1


def test_calibration_target_counts_as_reached_within_one_key_frame():
    from tc139k.keyframes.build import calibration_reached

    # one 60 s video: 8 key frames give 7.5 s, 9 give 6.67 s; 7.5 is the best any level does
    assert calibration_reached(7.5, 7.14, 60.0)
    assert calibration_reached(7.3, 7.14, 6000.0)  # within 5 %
    assert not calibration_reached(20.34, 30.0, 2034.0)  # scene starts only: 100 key frames
    assert not calibration_reached(7.6, 7.14, 6000.0)  # 6.4 % off with 790 key frames
    assert not calibration_reached(0.0, 7.14, 60.0)


def test_a_folder_without_key_frames_gets_a_hint_that_points_the_right_way(sample, tmp_path):
    """The run folder instead of its keyframes/, or a folder of frames: the hint names the
    folder meant, or the build command with an --out of its own (never the frames root)."""
    run = tmp_path / "run"
    (run / "keyframes").mkdir(parents=True)
    (run / "keyframes" / "keyframes-00000.parquet").write_bytes(b"")
    cases = {
        run: f"did you mean {run / 'keyframes'}?",
        sample.frames: f"holds frames, not key frames: build them with `tc139k keyframes build --frames-root "
        f"{sample.frames} --out keyframes`",
        sample.frames.parent: f"--frames-root {sample.frames} --out keyframes`",
    }
    for folder, hint in cases.items():
        res = CliRunner().invoke(main, ["stats", "redundancy", str(folder)])
        assert res.exit_code == 2 and hint in res.output, res.output
        assert f"--out {folder}`" not in res.output  # never: write key frames into the folder given
