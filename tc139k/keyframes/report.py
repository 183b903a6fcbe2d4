"""A static HTML report of a key-frame output folder: `tc139k keyframes report`.

Layout of the report folder OUT (every link relative; it opens from disk, with no server and
no network, and can be copied or zipped as a whole):

    OUT/index.html                       the index: search, filters, sort, pager (assets/index.js)
    OUT/data/index.js                    one row per video (`window.TC139K_INDEX = {...}`); a
                                         script file, not JSON, because browsers refuse to fetch
                                         files from file:// pages but do run local scripts
    OUT/assets/report.css, index.js      the style sheet and the index script
    OUT/scenes.csv                       the scene listing of `tc139k keyframes list`
    OUT/videos/<source>/<video_id>.html  one page per video, no script
    OUT/videos/<source>/<video_id>.jpg   its thumbnails, one sprite sheet per video
    OUT/.report-state.json               what a rerun may reuse (not part of the report)

A video page shows the run's facts for the video, the timeline as inline SVG (the drop-ratio
curve with the trigger times on it, scene cuts and gradual transitions across it, a lane of
key frames, a lane of the spans of the QA records that use the video), a strip of thumbnails
(key frames outlined, a bar before each scene start after a cut, transition frames framed,
trigger frames dotted) and the times as text. The strip has every frame of a short video; of
a longer one, every key frame, both sides of every cut, every transition frame, and evenly
spaced frames up to `max_thumbs` in all. Thumbnails are one JPEG sprite per video, so the
report of 11,000 videos is about 22,000 files, not millions.

Output bytes depend only on the inputs (no timestamps, sorted keys): a rerun gives the same
files and rewrites none of them. A rerun also reuses every sprite whose frames (names, sizes,
modification times), selection and tile size are unchanged, and removes the pages of videos
no longer in the key-frame folder. The state file is written every few seconds, so an
interrupted run resumes. OUT must be new, empty, or a report folder; it may not lie inside
the frames root.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..atomic import TMP_SUFFIX, output_lock, read_json, remove_stale_temps, write_bytes, write_json
from ..errors import EmptyResultError, SchemaError, UsageError
from ..jpegheader import SOI, walk_header
from ..layout import check_frames_root, check_outside
from ..paths import is_safe_name
from ..progress import progress
from . import listing, report_assets, store
from .frames import ordered_map, read_jpeg
from .interval import video_span

LOG = logging.getLogger(__name__)

THUMB_WIDTH = 96
MAX_THUMBS = 100
SPRITE_COLUMNS = 20
JPEG_QUALITY = 80
SPRITE_FORMAT = 1  # bump when the sprite bytes for the same frames change: old sprites are redone
STATE_FILE = ".report-state.json"
STATE_FLUSH_SECONDS = 10.0
INDEX_COLUMNS = [
    "source",
    "video_id",
    "status",
    "duration_seconds",
    "frames",
    "scenes",
    "transitions",
    "keyframes",
    "mean_interval",
    "triggers",
    "qa_records",
    "mean_drop_ratio",
]
READ_COLUMNS = sorted({*listing.READ_COLUMNS, "bad_frames", "score_kind"})
QA_COLUMNS = ["record_id", "video_id", "source", "question", "clip_start", "clip_end"]
QA_OPTIONAL = ("start_time", "end_time")


@dataclass(frozen=True)
class QASpan:
    """The frames of one QA record of a video (integer seconds, both ends included)."""

    record_id: str
    start: int
    end: int
    start_time: float | None
    end_time: float | None
    question: str


def qa_spans(rows: Iterable[dict]) -> dict[tuple[str, str], list[QASpan]]:
    """QA rows (valid.parquet's record_id, source, video_id, question, clip_start, clip_end
    and, when present, start_time, end_time) grouped by video, in span order."""
    out: dict[tuple[str, str], list[QASpan]] = defaultdict(list)
    for r in rows:
        out[(r["source"], r["video_id"])].append(
            QASpan(
                r["record_id"],
                int(r["clip_start"]),
                int(r["clip_end"]),
                r.get("start_time"),
                r.get("end_time"),
                r["question"],
            )
        )
    for spans in out.values():
        spans.sort(key=lambda s: (s.start, s.end, s.record_id))
    return dict(out)


@dataclass
class ReportResult:
    out_dir: str
    n_videos: int = 0
    n_failed: int = 0
    n_thumbs: int = 0
    sprites_made: int = 0
    sprites_reused: int = 0
    files_written: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    videos_without_frames: list[str] = field(default_factory=list)
    missing_frames: int = 0
    qa_records: int = 0
    qa_records_shown: int = 0
    duplicates: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "out": self.out_dir,
            "index": str(Path(self.out_dir) / "index.html"),
            "videos": self.n_videos,
            "failed_videos": self.n_failed,
            "thumbnails": self.n_thumbs,
            "sprites_made": self.sprites_made,
            "sprites_reused": self.sprites_reused,
            "files_written": self.files_written,
            "files_unchanged": self.files_unchanged,
            "files_removed": self.files_removed,
            "videos_without_frames": self.videos_without_frames,
            "missing_frames": self.missing_frames,
            "qa_records": self.qa_records,
            "qa_records_shown": self.qa_records_shown,
            "duplicate_videos": self.duplicates,
        }


# ---- choosing and drawing thumbnails ------------------------------------------------------


def select_thumbs(row: dict, max_thumbs: int) -> list[int]:
    """Indices (into frame_seconds) of the frames the strip shows, in time order."""
    secs, ids = row["frame_seconds"], row["scene_id"]
    n = len(secs)
    if n == 0:
        return []
    at = {round(float(t), 6): i for i, t in enumerate(secs)}
    must = {0}
    must.update(at[k] for t in row["keyframe_seconds"] if (k := round(float(t), 6)) in at)
    for i in range(1, n):
        if ids[i] != ids[i - 1]:
            must.update((i - 1, i))  # both sides of the cut
    for a, b in row.get("transitions") or []:
        must.update(i for i, t in enumerate(secs) if a - 1e-6 <= t <= b + 1e-6)
    rest = [i for i in range(n) if i not in must]
    room = max(0, max_thumbs - len(must))
    if room < len(rest):  # evenly spaced over the frames the rules did not pick
        rest = [rest[(k * len(rest)) // room] for k in range(room)] if room else []
    return sorted(must.union(rest))


def frame_file(folder: Path, second: float) -> Path:
    return folder / f"{int(round(second)):06d}.jpg"


def _tile_size(paths: list[Path], width: int) -> tuple[int, int] | None:
    """(width, height) of a tile: `width` and the first readable frame's aspect ratio."""
    for p in paths:
        try:
            with open(p, "rb") as f:
                head = f.read(1 << 16)
        except OSError:
            continue
        if head.startswith(SOI):
            dims = walk_header(head)[0]
            if dims and min(dims) > 0:
                return width, max(2, int(round(width * dims[1] / dims[0])))
    return None


@dataclass
class SpriteWork:
    """A video's sprite: new bytes to write, or the state entry of one that is reused."""

    key: tuple[str, str]
    entry: dict | None  # {"digest", "bytes", "tile", "missing", "indices"}; None: no frames
    data: bytes | None = None
    reused: bool = False


def _frame_stats(paths: list[Path]) -> list:
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append([p.name, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([p.name, None, None])
    return out


def make_sprite(row: dict, frames_root: Path, out: Path, thumb_width: int, max_thumbs: int, old: dict | None):
    """The sprite of one video (runs in a worker thread; writes nothing)."""
    import cv2

    key = (row["source"], row["video_id"])
    folder = frames_root / key[0] / key[1]
    indices = select_thumbs(row, max_thumbs) if row["status"] == "ok" else []
    if not indices or not folder.is_dir():
        return SpriteWork(key, None)
    paths = [frame_file(folder, row["frame_seconds"][i]) for i in indices]
    digest = hashlib.sha256(
        json.dumps(
            [SPRITE_FORMAT, thumb_width, SPRITE_COLUMNS, JPEG_QUALITY, indices, _frame_stats(paths)],
            separators=(",", ":"),
        ).encode()
    ).hexdigest()
    sprite_path = _sprite_path(out, key)
    if old and old.get("digest") == digest and _size(sprite_path) == old.get("bytes"):
        return SpriteWork(key, old, reused=True)
    tile = _tile_size(paths, thumb_width)
    if tile is None:
        return SpriteWork(key, None)
    tw, th = tile
    rows = math.ceil(len(paths) / SPRITE_COLUMNS)
    sheet = np.full((rows * th, min(len(paths), SPRITE_COLUMNS) * tw, 3), 221, dtype=np.uint8)
    missing = []
    for k, p in enumerate(paths):
        r, c = divmod(k, SPRITE_COLUMNS)
        try:
            sheet[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = read_jpeg(p, (tw, th))
        except Exception:  # a missing or unreadable frame is a hatched tile, never a crash
            missing.append(k)
    ok, buf = cv2.imencode(
        ".jpg",
        cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY, cv2.IMWRITE_JPEG_OPTIMIZE, 1],
    )
    if not ok:
        raise RuntimeError(f"OpenCV could not encode the thumbnails of {key[0]}/{key[1]}")
    data = buf.tobytes()
    entry = {"digest": digest, "bytes": len(data), "tile": [tw, th], "missing": missing, "indices": indices}
    return SpriteWork(key, entry, data)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


# ---- pages --------------------------------------------------------------------------------


def _sprite_path(out: Path, key: tuple[str, str]) -> Path:
    return out / "videos" / key[0] / f"{key[1]}.jpg"


def _page_path(out: Path, key: tuple[str, str]) -> Path:
    return out / "videos" / key[0] / f"{key[1]}.html"


def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _times(values: Iterable[float]) -> str:
    return ", ".join(listing.short(float(t)) for t in values) or "none"


def _nice_step(duration: float, most: int = 12) -> float:
    for step in (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 14400):
        if duration / step <= most:
            return float(step)
    return float(math.ceil(duration / most / 3600) * 3600)


def _pack_lanes(spans: list[QASpan]) -> list[int]:
    """A lane for each span such that spans in one lane do not overlap (greedy, in order)."""
    ends: list[int] = []
    lanes = []
    for s in spans:
        lane = next((i for i, e in enumerate(ends) if e < s.start), None)
        if lane is None:
            lane = len(ends)
            ends.append(s.end)
        else:
            ends[lane] = s.end
        lanes.append(lane)
    return lanes


def timeline_svg(row: dict, spans: list[QASpan]) -> str:
    """The video's timeline: drop-ratio curve, trigger times, cuts, transitions, key frames,
    QA spans and a time axis, as an inline SVG element."""
    width, left, right = 960, 46, 14
    secs = [float(t) for t in row["frame_seconds"]]
    end = max([listing.video_end(row), *(s.end + 1.0 for s in spans), 1.0])
    plot_w = width - left - right

    def x(t: float) -> float:
        return round(left + t / end * plot_w, 1)

    top, curve_h = 20, 130
    base = top + curve_h

    def y(d: float) -> float:
        return round(base - d * curve_h, 1)

    key_top = base + 12
    qa_top = key_top + 24
    lanes = _pack_lanes(spans)
    n_lanes = max(lanes) + 1 if lanes else 0
    axis_y = qa_top + (n_lanes * 12 + 8 if n_lanes else 0) + 4
    height = axis_y + 22
    p: list[str] = [
        f'<svg class="timeline" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="timeline">'
    ]
    for d, label in ((1.0, "100%"), (0.5, "50%"), (0.0, "0%")):
        p.append(f'<line x1="{left}" x2="{width - right}" y1="{y(d)}" y2="{y(d)}" stroke="#e6e6e6"/>')
        p.append(f'<text x="{left - 6}" y="{y(d) + 4}" text-anchor="end">{label}</text>')
    p.append(f'<text x="{left}" y="{top - 6}">drop ratio (share of patches dropped at threshold)</text>')
    for a, b in row.get("transitions") or []:
        p.append(
            f'<rect x="{x(a)}" y="{top}" width="{max(1.0, round(x(b) - x(a), 1))}" height="{key_top + 16 - top}" '
            f'fill="var(--cut)" opacity="0.18"><title>transition {listing.short(a)}-{listing.short(b)} s</title></rect>'
        )
    for t in row["scene_cut_seconds"]:
        p.append(
            f'<line x1="{x(t)}" x2="{x(t)}" y1="{top}" y2="{key_top + 16}" stroke="var(--cut)" '
            f'stroke-width="1.5" stroke-dasharray="4 2"><title>scene cut at {listing.short(t)} s</title></line>'
        )
    drops = [float(d) for d in row["drop_ratio"]]
    if secs and len(drops) == len(secs):
        pts = " ".join(f"{x(t)},{y(d)}" for t, d in zip(secs, drops))
        p.append(f'<polyline points="{pts}" fill="none" stroke="#333" stroke-width="1.2"/>')
        at = {round(t, 6): d for t, d in zip(secs, drops)}
        for t in row["trigger_seconds"]:
            d = at.get(round(float(t), 6), 0.0)
            p.append(
                f'<circle cx="{x(t)}" cy="{y(d)}" r="3" fill="var(--trig)">'
                f"<title>trigger time {listing.short(t)} s, drop ratio {d * 100:.1f}%</title></circle>"
            )
    p.append(f'<text x="{left - 6}" y="{key_top + 12}" text-anchor="end">key</text>')
    for t in row["keyframe_seconds"]:
        p.append(
            f'<line x1="{x(t)}" x2="{x(t)}" y1="{key_top}" y2="{key_top + 16}" stroke="var(--key)" '
            f'stroke-width="2"><title>key frame {listing.short(t)} s</title></line>'
        )
    if n_lanes:
        p.append(f'<text x="{left - 6}" y="{qa_top + 9}" text-anchor="end">QA</text>')
    for s, lane in zip(spans, lanes):
        yy = qa_top + lane * 12
        p.append(
            f'<rect x="{x(s.start)}" y="{yy}" width="{max(1.0, round(x(s.end + 1) - x(s.start), 1))}" height="9" '
            f'rx="2" fill="var(--qa)" opacity="0.55"><title>{html.escape(s.record_id)} '
            f"{s.start}-{s.end} s: {html.escape(_clip(s.question, 160))}</title></rect>"
        )
    p.append(f'<line x1="{left}" x2="{width - right}" y1="{axis_y}" y2="{axis_y}" stroke="#999"/>')
    step = _nice_step(end)
    t = 0.0
    while t <= end + 1e-9:
        p.append(f'<line x1="{x(t)}" x2="{x(t)}" y1="{axis_y}" y2="{axis_y + 4}" stroke="#999"/>')
        p.append(f'<text x="{x(t)}" y="{axis_y + 16}" text-anchor="middle">{clock(t)}</text>')
        t += step
    p.append("</svg>")
    return "\n".join(p)


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def strip_html(row: dict, entry: dict | None, folder_note: str) -> str:
    """The thumbnail strip (tiles cut from the sprite by background-position)."""
    if entry is None:
        return f'<p class="muted">{html.escape(folder_note)}</p>'
    secs = row["frame_seconds"]
    keys = {round(float(t), 6) for t in row["keyframe_seconds"]}
    trig = {round(float(t), 6) for t in row["trigger_seconds"]}
    cuts = {round(float(t), 6) for t in row["scene_cut_seconds"]}
    spans = [(float(a), float(b)) for a, b in row.get("transitions") or []]
    tw, th = entry["tile"]
    missing = set(entry["missing"])
    out = ['<div class="strip">']
    for k, i in enumerate(entry["indices"]):
        t = round(float(secs[i]), 6)
        cls, notes = ["th"], [f"{listing.short(t)} s"]
        if t in keys:
            cls.append("key")
            notes.append("key frame")
        if t in cuts:
            in_transition = any(abs(b - t) < 1e-6 for _, b in spans)
            cls.append("cut")
            notes.append("first frame after a transition" if in_transition else "first frame after a cut")
        if any(a - 1e-6 <= t <= b + 1e-6 for a, b in spans):
            cls.append("tr")
            notes.append("transition")
        if t in trig:
            cls.append("trig")
            notes.append("trigger time")
        if k in missing:
            cls.append("missing")
            notes.append("frame file missing or unreadable")
        r, c = divmod(k, SPRITE_COLUMNS)
        out.append(
            f'<figure class="{" ".join(cls)}" title="{html.escape(", ".join(notes))}">'
            f'<i style="width:{tw}px;height:{th}px;background-position:-{c * tw}px -{r * th}px"></i>'
            f"<span>{clock(t)}</span></figure>"
        )
    out.append("</div>")
    return "\n".join(out)


def _head(title: str, css: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{html.escape(title)}</title>\n<link rel="stylesheet" href="{css}">\n'
    )


LEGEND = (
    '<div class="legend"><span class="l-key">key frame</span><span class="l-cut">scene cut</span>'
    '<span class="l-tr">gradual transition</span><span class="l-trig">trigger time</span>'
    "</div>"
)
QA_LEGEND = '<span class="l-qa">QA record span</span>'


def video_page(
    row: dict,
    entry: dict | None,
    spans: list[QASpan] | None,
    prev_key: tuple[str, str] | None,
    next_key: tuple[str, str] | None,
    frames_note: str,
) -> str:
    source, vid = row["source"], row["video_id"]
    name = f"{source}/{vid}"
    p = [_head(f"{name} \u2013 key frames", "../../assets/report.css")]
    if entry is not None:
        tile_css = f'url("{vid}.jpg")'
        p.append(f"<style>.th i {{ background-image: {tile_css}; }}</style>\n")
    p.append('</head>\n<body>\n<div class="nav"><a href="../../index.html">\u2190 all videos</a>')
    if prev_key:
        p.append(f'<a href="../{prev_key[0]}/{prev_key[1]}.html">\u2039 {html.escape("/".join(prev_key))}</a>')
    if next_key:
        p.append(f'<a href="../{next_key[0]}/{next_key[1]}.html">{html.escape("/".join(next_key))} \u203a</a>')
    p.append(f"</div>\n<h1>{html.escape(name)}</h1>\n")
    if row["status"] != "ok":
        p.append(f'<p class="error">failed: {html.escape(row.get("error") or "no reason recorded")}</p>\n')
        p.append("</body>\n</html>\n")
        return "".join(p)
    scenes = listing.scenes_of(row)
    n_key = len(row["keyframe_seconds"])
    span = video_span(row["frame_seconds"])
    drops = row["drop_ratio"]
    facts = [
        ("duration", clock(listing.video_end(row))),
        ("frames", f"{row['n_frames']}" + (f" (+{len(row['bad_frames'])} unreadable)" if row["bad_frames"] else "")),
        ("scenes", str(len(scenes))),
        ("cuts", str(len(row["scene_cut_seconds"]))),
        ("transitions", str(len(row["transitions"] or []))),
        ("key frames", str(n_key)),
        ("mean interval", f"{span / n_key:.2f} s" if n_key else "no key frame"),
        ("trigger times", str(len(row["trigger_seconds"]))),
        ("mean drop ratio", f"{100 * float(np.mean(drops)):.1f}% at threshold {row['threshold']:g}" if drops else "-"),
    ]
    if spans is not None:
        facts.append(("QA records", str(len(spans))))
    p.append('<div class="facts">')
    p.extend(f"<span>{k} <b>{html.escape(v)}</b></span>" for k, v in facts)
    legend = LEGEND.replace("</div>", QA_LEGEND + "</div>") if spans is not None else LEGEND
    p.append("</div>\n" + legend + "\n")
    p.append(timeline_svg(row, spans or []) + "\n")
    shown = len(entry["indices"]) if entry else 0
    p.append(f'<h2>Frames <span class="muted">({shown} of {row["n_frames"]} shown)</span></h2>\n')
    p.append(strip_html(row, entry, frames_note) + "\n")
    p.append('<h2>Times (seconds)</h2>\n<dl class="times">')
    transitions = ", ".join(f"{listing.short(a)}-{listing.short(b)}" for a, b in row["transitions"] or [])
    for label, text in (
        ("key frames", _times(row["keyframe_seconds"])),
        ("scene cuts", _times(row["scene_cut_seconds"])),
        ("transitions", transitions or "none"),
        ("trigger times", _times(row["trigger_seconds"])),
    ):
        p.append(f"<dt>{label}</dt><dd>{html.escape(text)}</dd>")
    p.append("</dl>\n")
    p.append('<h2>Scenes</h2>\n<table><thead><tr><th class="n">#</th><th>start</th><th>end</th>')
    p.append('<th class="n">frames</th><th>opens with</th><th>key frames</th></tr></thead><tbody>')
    for s in scenes:
        p.append(
            f'<tr><td class="n">{s.scene}</td><td>{clock(s.start)}</td><td>{clock(s.end)}</td>'
            f'<td class="n">{s.n_frames}</td><td>{s.starts_with}</td><td>{html.escape(_times(s.keyframes))}</td></tr>'
        )
    p.append("</tbody></table>\n")
    if spans:  # None without --qa
        p.append(f"<h2>QA records using this video ({len(spans)})</h2>\n<table><thead><tr><th>record</th>")
        p.append("<th>frames (s)</th><th>start-end time</th><th>question</th></tr></thead><tbody>")
        for s in spans:
            when = (
                f"{listing.short(s.start_time)}-{listing.short(s.end_time)}"
                if s.start_time is not None and s.end_time is not None
                else ""
            )
            p.append(
                f"<tr><td><code>{html.escape(s.record_id)}</code></td><td>{s.start}-{s.end}</td>"
                f"<td>{when}</td><td>{html.escape(_clip(s.question, 300))}</td></tr>"
            )
        p.append("</tbody></table>\n")
    p.append("</body>\n</html>\n")
    return "".join(p)


def index_page(summary: list[tuple[str, str]]) -> str:
    p = [_head("Key frames report", "assets/report.css"), "</head>\n<body>\n<h1>Key frames</h1>\n"]
    p.append('<div class="facts">')
    p.extend(f"<span>{html.escape(k)} <b>{html.escape(v)}</b></span>" for k, v in summary)
    p.append('</div>\n<p class="muted">Every scene as CSV: <a href="scenes.csv">scenes.csv</a>. ')
    p.append("A video's page has its timeline, thumbnails, times and QA records.</p>\n")
    p.append(
        '<div class="controls">\n'
        '<input id="q" type="search" placeholder="search source/video_id" aria-label="search">\n'
        '<select id="source" aria-label="source"><option value="">all sources</option></select>\n'
        '<select id="status" aria-label="status"><option value="">any status</option>'
        '<option value="ok">ok</option><option value="failed">failed</option></select>\n'
        '<select id="sort" aria-label="sort"><option value="video">sort by name</option>'
        '<option value="duration">longest first</option><option value="keyframes">most key frames</option>'
        '<option value="scenes">most scenes</option><option value="qa">most QA records</option>'
        '<option value="drop">highest drop ratio</option><option value="failed">failed first</option></select>\n'
        '<button id="first" type="button">\u00ab</button><button id="prev" type="button">\u2039 previous</button>\n'
        '<span id="page"></span>\n'
        '<button id="next" type="button">next \u203a</button><button id="last" type="button">\u00bb</button>\n'
        '<span id="count" class="muted"></span>\n</div>\n'
    )
    p.append(
        "<table><thead><tr><th>video</th><th>status</th>"
        + "".join(
            f'<th class="n">{h}</th>'
            for h in (
                "duration",
                "frames",
                "scenes",
                "transitions",
                "key frames",
                "mean interval (s)",
                "triggers",
                "QA records",
                "mean drop",
            )
        )
        + '</tr></thead><tbody id="rows"></tbody></table>\n'
    )
    p.append(
        "<noscript><p>The index needs JavaScript; each video's page is "
        "videos/&lt;source&gt;/&lt;video_id&gt;.html.</p></noscript>\n"
    )
    p.append('<script src="data/index.js"></script>\n<script src="assets/index.js"></script>\n</body>\n</html>\n')
    return "".join(p)


def _index_row(row: dict, n_qa: int | None) -> list:
    ok = row["status"] == "ok"
    n_key = len(row["keyframe_seconds"])
    span = video_span(row["frame_seconds"])
    drops = row["drop_ratio"]
    return [
        row["source"],
        row["video_id"],
        row["status"],
        round(listing.video_end(row), 3),
        row["n_frames"],
        len(set(row["scene_id"])) if ok else 0,
        len(row["transitions"] or []),
        n_key,
        round(span / n_key, 3) if n_key else None,
        len(row["trigger_seconds"]),
        n_qa,
        round(float(np.mean(drops)), 4) if ok and drops else 0.0,
    ]


def _run_summary(provenance: dict, totals: dict) -> list[tuple[str, str]]:
    kf = provenance.get("keyframes") or {}
    model = provenance.get("model")
    model_text = (
        f"{model.get('encoder', 'open_clip')} {model.get('model')} ({model.get('pretrained')})" if model else "none"
    )
    out = [
        ("videos", f"{totals['videos']:,}" + (f" ({totals['failed']} failed)" if totals["failed"] else "")),
        ("frames", f"{totals['frames']:,}"),
        ("scenes", f"{totals['scenes']:,}"),
        ("key frames", f"{totals['keyframes']:,}"),
        ("mean interval", f"{totals['span'] / totals['keyframes']:.2f} s" if totals["keyframes"] else "-"),
        ("method", str(provenance.get("method", "?"))),
        ("model", model_text),
        ("threshold", f"{provenance['threshold']:g}" if "threshold" in provenance else "?"),
    ]
    if "level" in kf:
        out.append(("level", f"{kf['level']:.4g}"))
    if totals["qa"] is not None:
        shown, total = totals["qa"]
        other = f" (+{total - shown:,} on videos not in this report)" if total > shown else ""
        out.append(("QA records", f"{shown:,}{other}"))
    return out


# ---- the run ------------------------------------------------------------------------------


class _Writer:
    """Writes report files atomically, leaving a file whose bytes are already right alone (a
    rerun rewrites nothing and keeps modification times)."""

    def __init__(self, res: ReportResult):
        self.res = res

    def put(self, path: Path, data: bytes) -> None:
        try:
            same = path.stat().st_size == len(data) and path.read_bytes() == data
        except OSError:
            same = False
        if same:
            self.res.files_unchanged += 1
            return
        write_bytes(path, data)
        self.res.files_written += 1


def check_out_folder(out: Path) -> dict:
    """The state of an earlier report in `out` ({} for a new or empty folder); a folder holding
    anything else is a usage error, so a report never mixes its files into a foreign folder."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder for the report")
    state_path = out / STATE_FILE
    if state_path.is_file():
        try:
            state = read_json(state_path)
        except (OSError, ValueError):
            state = None
        if isinstance(state, dict) and isinstance(state.get("videos"), dict):
            return state
        return {"videos": {}}  # unreadable: sprites are redone, nothing else is lost
    if out.is_dir() and any(out.iterdir()):
        raise UsageError(
            f"--out {out} is a folder that holds other files, not a report of `tc139k keyframes report`; "
            "give a new or empty folder"
        )
    return {"videos": {}}


def build_report(
    keyframes_dir: str | Path,
    frames_root: str | Path,
    out: str | Path,
    qa_rows: Iterable[dict] | None = None,
    thumb_width: int = THUMB_WIDTH,
    max_thumbs: int = MAX_THUMBS,
    workers: int = 2,
    show_progress: bool = True,
) -> ReportResult:
    """Write the report of `keyframes_dir` (thumbnails from `frames_root`) into `out`; with
    `qa_rows` (rows of valid.parquet, see `qa_spans`), each page shows the QA records of its
    video. Raises EmptyResultError when the folder holds no video."""
    keyframes_dir, frames_root, out = Path(keyframes_dir), Path(frames_root), Path(out)
    if not 16 <= thumb_width <= 640:
        raise UsageError(f"--thumb-width must be between 16 and 640 pixels, got {thumb_width}")
    if max_thumbs < 1:
        raise UsageError(f"--max-thumbs must be at least 1, got {max_thumbs}")
    check_frames_root(frames_root)
    check_outside(out, frames_root)
    files = store.keyframe_files(keyframes_dir)
    check_out_folder(out)
    with output_lock(out, "tc139k keyframes report"):
        state = check_out_folder(out)  # again: another run may have finished in between
        return _write_report(
            keyframes_dir, frames_root, out, files, state, qa_rows, thumb_width, max_thumbs, workers, show_progress
        )


def _write_report(
    keyframes_dir: Path,
    frames_root: Path,
    out: Path,
    files: list[Path],
    state: dict,
    qa_rows: Iterable[dict] | None,
    thumb_width: int,
    max_thumbs: int,
    workers: int,
    show_progress: bool,
) -> ReportResult:
    old_entries: dict = state["videos"]
    res = ReportResult(str(out))
    writer = _Writer(res)

    keys: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for r in store.iter_videos(keyframes_dir, columns=["source", "video_id"]):
        key = (r["source"], r["video_id"])
        if not (is_safe_name(key[0]) and is_safe_name(key[1])):
            raise SchemaError(f"{keyframes_dir}: video {key[0]}/{key[1]} has a name that is not a safe file name")
        if key in seen:
            res.duplicates.append("/".join(key))
            continue
        seen.add(key)
        keys.append(key)
    if not keys:
        raise EmptyResultError(f"{keyframes_dir} holds no video: nothing to report")
    if res.duplicates:
        LOG.warning(
            "%d video(s) appear twice in %s; the first row of each is shown", len(res.duplicates), keyframes_dir
        )
    spans_by_video = qa_spans(qa_rows) if qa_rows is not None else {}
    res.qa_records = sum(len(v) for v in spans_by_video.values())

    for folder in (out, out / "assets", out / "data"):
        remove_stale_temps(folder)  # of a killed run; the lock says none is running
    write_json(out / STATE_FILE, {"videos": old_entries})  # marks the folder as a report from the start
    writer.put(out / "assets" / "report.css", report_assets.CSS.encode())
    writer.put(out / "assets" / "index.js", report_assets.INDEX_JS.encode())
    scenes_csv = io.StringIO()
    listing.list_scenes(keyframes_dir, "csv", stream=scenes_csv)
    writer.put(out / "scenes.csv", scenes_csv.getvalue().encode())

    position = {k: i for i, k in enumerate(keys)}
    entries: dict[str, dict] = {}
    index_rows: list[list] = []
    totals = {"videos": 0, "failed": 0, "frames": 0, "scenes": 0, "keyframes": 0, "span": 0.0, "qa": None}
    seen.clear()

    def rows():
        for row in store.iter_videos(keyframes_dir, columns=READ_COLUMNS):
            key = (row["source"], row["video_id"])
            if key not in seen:  # the first row of a duplicate, as counted above
                seen.add(key)
                yield row

    def work(row: dict):
        name = "/".join((row["source"], row["video_id"]))
        return row, make_sprite(row, frames_root, out, thumb_width, max_thumbs, old_entries.get(name))

    bar = progress(total=len(keys), desc="report", unit="video", enabled=show_progress)
    last_flush = time.monotonic()
    try:
        for row, sprite in ordered_map(work, rows(), workers=workers):
            key = sprite.key
            name = "/".join(key)
            ok = row["status"] == "ok"
            res.n_videos += 1
            res.n_failed += not ok
            folder = frames_root / key[0] / key[1]
            if sprite.entry is not None:
                entries[name] = sprite.entry
                res.n_thumbs += len(sprite.entry["indices"])
                res.missing_frames += len(sprite.entry["missing"])
                if sprite.reused:
                    res.sprites_reused += 1
                else:
                    writer.put(_sprite_path(out, key), sprite.data)
                    res.sprites_made += 1
            elif ok:
                res.videos_without_frames.append(name)
            note = f"No thumbnails: no readable frame in {folder} (--frames-root {frames_root})."
            spans = spans_by_video.get(key, []) if qa_rows is not None else None
            res.qa_records_shown += len(spans or [])
            i = position[key]
            page = video_page(
                row,
                sprite.entry,
                spans,
                keys[i - 1] if i > 0 else None,
                keys[i + 1] if i + 1 < len(keys) else None,
                note,
            )
            writer.put(_page_path(out, key), page.encode())
            index_rows.append(_index_row(row, None if spans is None else len(spans)))
            totals["videos"] += 1
            totals["failed"] += not ok
            totals["frames"] += row["n_frames"]
            totals["scenes"] += len(set(row["scene_id"])) if ok else 0
            totals["keyframes"] += len(row["keyframe_seconds"])
            totals["span"] += video_span(row["frame_seconds"])
            bar.update(1)
            if time.monotonic() - last_flush > STATE_FLUSH_SECONDS:  # an interrupted run keeps what it made
                write_json(out / STATE_FILE, {"videos": {**old_entries, **entries}})
                last_flush = time.monotonic()
    finally:
        bar.close()

    _remove_stale(out, seen, entries, res)
    if qa_rows is not None:
        totals["qa"] = (res.qa_records_shown, res.qa_records)
    summary = _run_summary(store.read_provenance(files[0]), totals)
    data = {"columns": INDEX_COLUMNS, "rows": index_rows, "summary": dict(summary), "tool": f"tc139k {__version__}"}
    script = "window.TC139K_INDEX = " + json.dumps(data, separators=(",", ":"), sort_keys=True) + ";\n"
    writer.put(out / "data" / "index.js", script.encode())
    writer.put(out / "index.html", index_page(summary).encode())
    write_json(out / STATE_FILE, {"videos": entries})
    return res


def _remove_stale(out: Path, keys: set[tuple[str, str]], entries: dict, res: ReportResult) -> None:
    """Pages and sprites under OUT/videos of videos no longer in the key-frame folder, sprites
    of videos that now have no thumbnails, and the folders this leaves empty."""
    videos = out / "videos"
    if not videos.is_dir():
        return
    for src in sorted(p for p in videos.iterdir() if p.is_dir()):
        for f in sorted(src.iterdir()):
            key = (src.name, f.stem)
            stale = key not in keys or (f.suffix == ".jpg" and "/".join(key) not in entries)
            temp = f.name.startswith(".") and f.name.endswith(TMP_SUFFIX)  # of a killed run
            if f.is_file() and (temp or f.suffix in (".html", ".jpg") and stale):
                f.unlink()
                res.files_removed += 1
        if not any(src.iterdir()):
            src.rmdir()
