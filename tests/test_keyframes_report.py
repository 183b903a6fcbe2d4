"""Looking at key frames: `keyframes list` (scenes as CSV/JSON) and `keyframes report` (a
static HTML report), on pixel key frames of the sample and on hand-made rows with a
transition, a failed video, a video without frames and a missing frame file; the report is
opened in a real headless Chromium (tests/browser.py) when one is installed."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from browser import browser, find_chromium
from click.testing import CliRunner
from envelope import result_of

from tc139k.cli import main
from tc139k.keyframes import store
from tc139k.keyframes.build import run_keyframes
from tc139k.keyframes.listing import COLUMNS
from tc139k.keyframes.report import STATE_FILE, select_thumbs


def cli(*args, code: int = 0) -> str:
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res.output


@pytest.fixture(scope="module")
def run(tmp_path_factory, sample):
    """Pixel key frames of the three shortest sample videos and the sample's valid.parquet."""
    root = tmp_path_factory.mktemp("kfreport")
    ids = root / "ids.txt"
    ids.write_text("\n".join(sample.shortest(3)) + "\n")
    run_keyframes(out=root / "kf", frames_root=sample.frames, video_ids=ids, method="pixel")
    cli("validate", sample.qa, "--out", root / "validated", code=0)

    class Run:
        dir = root
        kf = root / "kf"
        qa = root / "validated" / "valid.parquet"
        frames = sample.frames
        rows = {f"{r['source']}/{r['video_id']}": r for r in store.iter_videos(root / "kf")}

    return Run


@pytest.fixture(scope="module")
def report(run):
    out = run.dir / "report"
    text = cli("keyframes", "report", run.kf, "--frames-root", run.frames, "--qa", run.qa, "--out", out)
    return out, text


def index_data(out: Path) -> dict:
    text = (out / "data" / "index.js").read_text()
    assert text.startswith("window.TC139K_INDEX = ") and text.endswith(";\n")
    return json.loads(text[len("window.TC139K_INDEX = ") : -2])


class Tiles(HTMLParser):
    """The thumbnail tiles of a video page: (classes, title) of each <figure>, and every link."""

    def __init__(self):
        super().__init__()
        self.tiles: list[tuple[set[str], str]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure":
            self.tiles.append((set(a["class"].split()), a["title"]))
        for name in ("href", "src"):
            if a.get(name):
                self.links.append(a[name])


def tiles(page: Path) -> Tiles:
    t = Tiles()
    t.feed(page.read_text())
    return t


def all_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- keyframes list ----------------------------------------------------------------------


def test_list_csv_has_one_row_per_scene_with_its_key_frames_and_trigger_times(run, tmp_path):
    text = cli("keyframes", "list", run.kf)
    table = list(csv.DictReader(io.StringIO(text)))
    assert tuple(table[0]) == COLUMNS
    assert {f"{r['source']}/{r['video_id']}" for r in table} == set(run.rows)
    for name, row in run.rows.items():
        scenes = [r for r in table if f"{r['source']}/{r['video_id']}" == name]
        cuts = row["scene_cut_seconds"]
        assert [int(s["scene"]) for s in scenes] == list(range(1, len(cuts) + 2))
        # a scene starts where the one before ends: at the cut; the last ends 1 s after the last frame
        assert [float(s["start_seconds"]) for s in scenes] == [row["frame_seconds"][0], *cuts]
        assert [float(s["end_seconds"]) for s in scenes] == [*cuts, row["frame_seconds"][-1] + 1]
        assert [s["starts_with"] for s in scenes] == ["video"] + ["cut"] * len(cuts)
        assert sum(int(s["n_frames"]) for s in scenes) == row["n_frames"]
        keys = [float(t) for s in scenes for t in s["keyframe_seconds"].split()]
        triggers = [float(t) for s in scenes for t in s["trigger_seconds"].split()]
        assert keys == row["keyframe_seconds"] and triggers == sorted(row["trigger_seconds"])
        for s in scenes:  # each time lies in its scene
            for t in s["keyframe_seconds"].split() + s["trigger_seconds"].split():
                assert float(s["start_seconds"]) <= float(t) < float(s["end_seconds"])
        assert scenes[1]["start_timecode"] == f"00:00:{int(cuts[0]):02d}.000"

    out = tmp_path / "scenes.json"
    said = cli("keyframes", "list", run.kf, "--format", "json", "--out", out)
    assert f"of {len(run.rows)} video(s)" in said
    listed = json.loads(out.read_text())["videos"]
    assert [f"{v['source']}/{v['video_id']}" for v in listed] == list(run.rows)
    first = listed[0]
    assert len(first["scenes"]) == len(first["scene_cuts"]) + 1
    assert first["keyframes"] == run.rows[f"{first['source']}/{first['video_id']}"]["keyframe_seconds"]
    before = out.read_bytes()
    cli("keyframes", "list", run.kf, "--format", "json", "--out", out)
    assert out.read_bytes() == before


def hand_made(folder: Path, frames_root: Path) -> None:
    """Three videos: `a/clip` (a cut at 4 s, a fade 9-12 s, frame 6 missing on disk),
    `a/gone` (key frames but no frame folder) and `b/broken` (failed)."""

    def row(source, vid, n, **kw):
        base = {
            "video_id": vid,
            "source": source,
            "status": "ok",
            "error": None,
            "n_frames": n,
            "frame_seconds": [float(i) for i in range(n)],
            "bad_frames": [],
            "scene_id": [0] * n,
            "scene_cut_seconds": [],
            "transitions": [],
            "score_kind": "pixel_mad",
            "grid_h": 1,
            "grid_w": 1,
            "patch_scores": bytes(n),
            "threshold": 0.05,
            "drop_ratio": [0.5] * n,
            "keyframe_seconds": [0.0],
            "trigger_seconds": [],
        }
        return {**base, **kw}

    clip = row(
        "a",
        "clip",
        16,
        scene_id=[0] * 4 + [1] * 8 + [2] * 4,
        scene_cut_seconds=[4.0, 12.0],
        transitions=[[9.0, 12.0]],
        keyframe_seconds=[0.0, 4.0, 7.0, 12.0],
        trigger_seconds=[4.0, 12.0, 13.0],
        drop_ratio=[0.0] + [0.9] * 15,
    )
    gone = row("a", "gone", 5)
    broken = row("b", "broken", 0, status="failed", error="no usable frame (3 bad)", frame_seconds=[], scene_id=[])
    broken.update(drop_ratio=[], keyframe_seconds=[], patch_scores=b"")
    store.write_keyframes_file([clip, gone, broken], folder / "keyframes-00000.parquet", {"method": "pixel"})
    video = frames_root / "a" / "clip"
    video.mkdir(parents=True)
    for i in range(16):
        if i != 6:
            img = np.zeros((36, 64, 3), np.uint8)
            img[:, :, i % 3] = 40 + 12 * i
            cv2.imwrite(str(video / f"{i:06d}.jpg"), img)


def test_list_names_the_transition_that_opens_a_scene_and_the_failed_video(tmp_path):
    hand_made(tmp_path / "kf", tmp_path / "frames")
    table = list(csv.DictReader(io.StringIO(cli("keyframes", "list", tmp_path / "kf"))))
    clip = [r for r in table if r["video_id"] == "clip"]
    assert [(r["starts_with"], r["transition_start"], r["transition_end"]) for r in clip] == [
        ("video", "", ""),
        ("cut", "", ""),
        ("transition", "9", "12"),
    ]
    assert [r["keyframe_seconds"] for r in clip] == ["0", "4 7", "12"]
    assert [r["trigger_seconds"] for r in clip] == ["", "4", "12 13"]
    (broken,) = [r for r in table if r["video_id"] == "broken"]
    assert broken["status"] == "failed" and broken["scene"] == "" and broken["error"] == "no usable frame (3 bad)"


# ---- keyframes report --------------------------------------------------------------------


def test_a_long_video_shows_its_key_cut_and_transition_frames_and_evenly_spaced_others():
    n = 1000
    ids = [0] * 300 + [1] * 400 + [2] * 300
    row = {
        "frame_seconds": [float(i) for i in range(n)],
        "scene_id": ids,
        "keyframe_seconds": [0.0, 50.0, 300.0, 700.0, 993.0],
        "transitions": [[690.0, 700.0]],
    }
    picked = select_thumbs(row, 60)
    assert len(picked) == 60 and picked == sorted(set(picked))
    must = {0, 50, 299, 300, 993, *range(690, 701)}  # key frames, both sides of the cut, the fade
    assert must <= set(picked)
    gaps = np.diff(sorted(set(picked) - must))
    assert gaps.max() <= 2 * gaps.min() + 12  # the others spread over the video, not bunched
    assert select_thumbs(row, 3) == sorted(must)  # the rules' frames even beyond --max-thumbs
    assert select_thumbs({**row, "frame_seconds": row["frame_seconds"][:40], "scene_id": ids[:40]}, 60) == list(
        range(40)
    )


def test_report_has_an_index_and_a_page_per_video_with_marked_thumbnails_and_qa_spans(run, report):
    out, text = report
    assert f"{len(run.rows)} video(s)" in text and "on videos not in KEYFRAMES" in text
    data = index_data(out)
    assert [f"{r[0]}/{r[1]}" for r in data["rows"]] == list(run.rows)
    qa = pq.read_table(run.qa, columns=["source", "video_id", "clip_start", "clip_end"]).to_pylist()
    for r in data["rows"]:
        name = f"{r[0]}/{r[1]}"
        row = run.rows[name]
        values = dict(zip(data["columns"], r))
        used = [q for q in qa if f"{q['source']}/{q['video_id']}" == name]
        assert values["keyframes"] == len(row["keyframe_seconds"]) and values["qa_records"] == len(used) > 0
        page = out / "videos" / r[0] / f"{r[1]}.html"
        t = tiles(page)
        # every key frame is shown and outlined; the first frame after each cut is marked
        shown = [float(title.split(" s")[0]) for _, title in t.tiles]
        key_tiles = [s for (cls, _), s in zip(t.tiles, shown) if "key" in cls]
        assert key_tiles == row["keyframe_seconds"]
        assert [s for (cls, _), s in zip(t.tiles, shown) if "cut" in cls] == row["scene_cut_seconds"]
        assert len(t.tiles) == row["n_frames"] <= 100  # a short video shows every frame
        html_text = page.read_text()
        assert html_text.count("<polyline") == 1 and html_text.count("<title>trigger time") == len(
            row["trigger_seconds"]
        )
        # one bar per QA record on the timeline, one table row per record
        assert html_text.count('fill="var(--qa)"') == len(used)
        for q in used:
            assert f"<td>{q['clip_start']}-{q['clip_end']}</td>" in html_text
        # links stay inside the report: relative, no scheme, no absolute path
        for link in t.links:
            assert not re.match(r"^([a-z]+:|/)", link), link
            assert (page.parent / link).resolve().is_file(), link
        sprite = cv2.imread(str(out / "videos" / r[0] / f"{r[1]}.jpg"))
        assert sprite is not None and sprite.shape[1] == 20 * 96 and sprite.std() > 10
    index = tiles(out / "index.html")
    assert set(index.links) == {"assets/report.css", "scenes.csv", "data/index.js", "assets/index.js"}
    assert (out / "scenes.csv").read_text() == cli("keyframes", "list", run.kf)


def test_report_rerun_gives_the_same_bytes_and_rewrites_nothing(run, report):
    out, _ = report
    before = all_bytes(out)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != STATE_FILE}
    text = cli("keyframes", "report", run.kf, "--frames-root", run.frames, "--qa", run.qa, "--out", out)
    assert "0 sprite(s) made, 3 reused" in text and "files 0 written" in text
    assert all_bytes(out) == before
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    # a fresh folder gets the same bytes too (nothing depends on time or on the folder)
    again = run.dir / "report-again"
    cli("keyframes", "report", run.kf, "--frames-root", run.frames, "--qa", run.qa, "--out", again)
    assert all_bytes(again) == before


def test_report_of_a_transition_a_failed_video_a_missing_frame_and_no_frames(tmp_path):
    hand_made(tmp_path / "kf", tmp_path / "frames")
    out = tmp_path / "report"
    res = result_of(
        cli("keyframes", "report", tmp_path / "kf", "--frames-root", tmp_path / "frames", "--out", out, "--json"),
        "keyframes report",
    )
    assert res["n_videos"] == 3 and res["n_failed"] == 1
    assert res["videos_without_frames"] == ["a/gone"] and res["n_missing_frames"] == 1
    t = tiles(out / "videos" / "a" / "clip.html")
    assert len(t.tiles) == 16  # a short video shows every frame
    classes = [cls for cls, _ in t.tiles]
    assert [i for i, c in enumerate(classes) if "tr" in c] == [9, 10, 11, 12]
    assert [i for i, c in enumerate(classes) if "cut" in c] == [4, 12]
    assert "first frame after a transition" in t.tiles[12][1] and "first frame after a cut" in t.tiles[4][1]
    assert [i for i, c in enumerate(classes) if "missing" in c] == [6]
    assert [i for i, c in enumerate(classes) if "trig" in c] == [4, 12, 13]
    assert not (out / "videos" / "a" / "gone.jpg").exists()
    assert "No thumbnails: no readable frame in" in (out / "videos" / "a" / "gone.html").read_text()
    assert "failed: no usable frame (3 bad)" in (out / "videos" / "b" / "broken.html").read_text()
    # without --qa no QA count is claimed: not 0, none
    assert {r[-2] for r in index_data(out)["rows"]} == {None}
    assert "QA record" not in (out / "videos" / "a" / "clip.html").read_text()
    # a rerun over fewer videos removes the pages of those no longer there
    store.write_keyframes_file(
        [r for r in store.iter_videos(tmp_path / "kf") if r["video_id"] == "clip"],
        tmp_path / "kf" / "keyframes-00000.parquet",
        {"method": "pixel"},
    )
    res = result_of(
        cli("keyframes", "report", tmp_path / "kf", "--frames-root", tmp_path / "frames", "--out", out, "--json"),
        "keyframes report",
    )
    assert res["n_files_removed"] == 2 and res["n_sprites_reused"] == 1
    assert sorted(str(p.relative_to(out)) for p in (out / "videos").rglob("*") if p.is_file()) == [
        "videos/a/clip.html",
        "videos/a/clip.jpg",
    ]
    assert not (out / "videos" / "b").exists()  # the folder the failed video left empty


def test_report_refuses_an_out_inside_the_frames_root_or_a_foreign_folder(tmp_path):
    hand_made(tmp_path / "kf", tmp_path / "frames")
    said = cli(
        "keyframes",
        "report",
        tmp_path / "kf",
        "--frames-root",
        tmp_path / "frames",
        "--out",
        tmp_path / "frames" / "r",
        code=2,
    )
    assert "inside the frames root" in said and not (tmp_path / "frames" / "r").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    said = cli("keyframes", "report", tmp_path / "kf", "--frames-root", tmp_path / "frames", "--out", foreign, code=2)
    assert "holds other files" in said and sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    said = cli(
        "keyframes",
        "report",
        tmp_path / "kf",
        "--frames-root",
        tmp_path / "frames",
        "--out",
        tmp_path / "r",
        "--qa",
        tmp_path / "nope.parquet",
        code=2,
    )
    assert "does not exist" in said


# ---- in a real browser -------------------------------------------------------------------

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian: `apt-get install chromium`; `make test` installs it when run as root)",
)


def not_blank(png: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape[0] > 100 and img.shape[1] > 100
    assert img.std() > 8, "the screenshot is blank"
    assert (img.min(axis=2) < 200).mean() > 0.01, "the screenshot is (nearly) all white"
    return img


@needs_chromium
def test_the_report_opens_in_chromium_without_an_error_and_is_not_blank(run, report, tmp_path):
    out, _ = report
    with browser(CHROMIUM) as b:
        page = b.new_page()
        page.navigate((out / "index.html").as_uri())
        assert page.problems() == []
        assert page.evaluate("document.querySelectorAll('#rows tr').length") == len(run.rows)
        not_blank(page.screenshot())
        # the search filters the rows; the state is in the URL fragment
        name = next(iter(run.rows))
        page.evaluate(
            f"(() => {{ const q = document.getElementById('q'); q.value = '{name.split('/')[1]}'; "
            "q.dispatchEvent(new Event('input')); })()"
        )
        page.evaluate("new Promise(r => setTimeout(r, 50))")
        assert page.evaluate("document.querySelectorAll('#rows tr').length") == 1
        assert page.evaluate("document.getElementById('count').textContent").startswith("videos 1\u20131 of 1 matching")
        href = page.evaluate("document.querySelector('#rows a').href")
        page.navigate(href)
        assert page.problems() == []
        img = not_blank(page.screenshot())
        # the first tile shows the sprite, not the grey placeholder behind it
        box = page.evaluate(
            "(() => { const r = document.querySelector('.th i').getBoundingClientRect(); "
            "return [r.x, r.y, r.width, r.height]; })()"
        )
        x, y, w, h = (int(round(v)) for v in box)
        assert y + h <= img.shape[0], "the strip is below the first screen"
        assert img[y : y + h, x : x + w].std() > 5
        assert page.evaluate("document.querySelector('svg.timeline polyline').getBBox().width") > 500
        # nothing left the report folder: every request was a file inside it
        urls = page.requested_urls()
        assert urls and all(u.startswith(out.as_uri() + "/") for u in urls), urls

        # the check sees a broken report: without its data file the index throws
        broken = tmp_path / "broken"
        shutil.copytree(out, broken)
        (broken / "data" / "index.js").unlink()
        page.clear()
        page.navigate((broken / "index.html").as_uri())
        assert any("exception" in p for p in page.problems()) and any(
            "index.js" in p or "load failed" in p for p in page.problems()
        )
