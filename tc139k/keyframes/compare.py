"""Precision, recall and F1 of key frames or scene cuts against a reference.

Both sides are sets of times (seconds) per video. Accepted inputs, for PRED and REF alike:

- a key-frame output folder (`keyframes-*.parquet`): `keyframe_seconds` or
  `scene_cut_seconds`; failed videos are left out and counted;
- the caption file `annotations_caption_flt.jsonl` (a line per video: video_id, source,
  duration, captions [{time, frame, caption}]): the caption times are its key frames (a
  caption without `time` takes the second from its frame file name); it has no scene cuts;
- a JSONL or Parquet table with `video_id` (optionally `source`, read row by row: a row
  without one is keyed by its id alone) and the times, either one number per row or a list
  per row, in a column named `seconds` or `time`, or `keyframe_seconds`/`keyframes` (key
  frames) or `scene_cut_seconds`/`scene_cuts` (cuts);
- a JSON file {"videos": {video_id: {"source", "keyframes", "scene_cuts"}}}, the layout of
  the sample's ground_truth.json.

Videos are told apart by source when every video of both inputs names one; otherwise they
are keyed by id, and an id under several sources is a usage error, never one merged video.
Matching is one-to-one within `tolerance` seconds; on a line the greedy sweep over both
sorted lists finds the largest such matching. Totals are summed over the videos present on
both sides (micro average); videos on one side only are counted, not scored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import qa
from ..errors import SchemaError, UsageError
from ..jsonl import read_objects
from ..paths import source_key

WHATS = ("keyframes", "scene_cuts")
COLUMNS = {
    "keyframes": ("keyframe_seconds", "keyframes", "seconds", "time"),
    "scene_cuts": ("scene_cut_seconds", "scene_cuts", "seconds", "time"),
}
KF_COLUMN = {"keyframes": "keyframe_seconds", "scene_cuts": "scene_cut_seconds"}


@dataclass
class TimeSets:
    """Times per video read from one input."""

    path: str
    layout: str  # keyframes-folder | captions | table | ground-truth
    times: dict[tuple[str | None, str], list[float]]
    skipped_failed: int = 0

    @property
    def has_source(self) -> bool:
        return all(s is not None for s, _ in self.times)


@dataclass
class VideoScore:
    source: str | None
    video_id: str
    n_pred: int
    n_ref: int
    matched: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CompareResult:
    what: str
    tolerance: float
    pred: str
    pred_layout: str
    ref: str
    ref_layout: str
    n_videos: int
    pred_only: list[str]
    ref_only: list[str]
    pred_failed: int
    n_pred: int
    n_ref: int
    matched: int
    precision: float
    recall: float
    f1: float
    videos: list[VideoScore] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["videos"] = [v.to_dict() for v in self.videos]
        return d


def match_count(pred: Iterable[float], ref: Iterable[float], tolerance: float) -> int:
    """Size of the largest one-to-one matching with |p - r| <= tolerance."""
    p, r = sorted(pred), sorted(ref)
    i = j = m = 0
    while i < len(p) and j < len(r):
        if abs(p[i] - r[j]) <= tolerance:
            m += 1
            i += 1
            j += 1
        elif p[i] < r[j]:
            i += 1
        else:
            j += 1
    return m


def prf(matched: int, n_pred: int, n_ref: int) -> tuple[float, float, float]:
    precision = matched / n_pred if n_pred else 0.0
    recall = matched / n_ref if n_ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def compare_times(pred: str | Path, ref: str | Path, what: str = "keyframes", tolerance: float = 1.0) -> CompareResult:
    """Score PRED against REF (see the module docstring for the accepted inputs)."""
    if what not in WHATS:
        raise UsageError(f"unknown --what {what!r}; choose keyframes or scene_cuts")
    if tolerance < 0:
        raise UsageError(f"--tolerance must be >= 0 s, got {tolerance}")
    p, r = load_times(pred, what), load_times(ref, what)
    use_source = p.has_source and r.has_source
    pk, rk = _keyed(p, use_source), _keyed(r, use_source)
    common = sorted(set(pk) & set(rk), key=lambda k: (k[0] or "", k[1]))
    scores = []
    for key in common:
        scores.append(VideoScore(key[0], key[1], len(pk[key]), len(rk[key]), match_count(pk[key], rk[key], tolerance)))
    n_pred, n_ref = sum(s.n_pred for s in scores), sum(s.n_ref for s in scores)
    matched = sum(s.matched for s in scores)
    precision, recall, f1 = prf(matched, n_pred, n_ref)

    def name(k):
        return f"{k[0]}/{k[1]}" if k[0] else k[1]

    return CompareResult(
        what=what,
        tolerance=tolerance,
        pred=str(pred),
        pred_layout=p.layout,
        ref=str(ref),
        ref_layout=r.layout,
        n_videos=len(common),
        pred_only=sorted(name(k) for k in set(pk) - set(rk)),
        ref_only=sorted(name(k) for k in set(rk) - set(pk)),
        pred_failed=p.skipped_failed,
        n_pred=n_pred,
        n_ref=n_ref,
        matched=matched,
        precision=precision,
        recall=recall,
        f1=f1,
        videos=scores,
    )


def _keyed(ts: TimeSets, use_source: bool) -> dict[tuple[str | None, str], list[float]]:
    if use_source:
        return ts.times
    out: dict[tuple[str | None, str], list[float]] = {}
    for (_source, vid), times in ts.times.items():
        if (None, vid) in out:
            raise UsageError(
                f"{ts.path}: video id {vid} appears under several sources, and not every video "
                "of both inputs names its source to tell them apart; give every row a source"
            )
        out[(None, vid)] = times
    return out


# ---- readers -----------------------------------------------------------------------------


def load_times(path: str | Path, what: str) -> TimeSets:
    path = Path(path)
    if path.is_dir():
        return _from_keyframes_folder(path, what)
    if not path.is_file():
        raise UsageError(f"{path} does not exist")
    name = path.name.lower()
    if name.endswith(".parquet"):
        return _from_rows(path, _parquet_rows(path), what)
    if name.endswith(".json"):
        return _from_ground_truth(path, what)
    if name.endswith(".jsonl") or name.endswith(".ndjson"):
        rows = list(read_objects(path, on_error="raise"))
        if rows and ({"captions", "caption"} & set(rows[0][1])):
            return _from_captions(path, what)
        return _from_rows(path, rows, what)
    raise UsageError(f"{path}: expected a key-frame folder, .jsonl, .parquet or .json file")


def _from_keyframes_folder(path: Path, what: str) -> TimeSets:
    from . import store as kfio

    times: dict = {}
    failed = 0
    for row in kfio.iter_videos(path, columns=["source", "video_id", "status", KF_COLUMN[what]]):
        if row["status"] != "ok":
            failed += 1
            continue
        times[(row["source"], row["video_id"])] = [float(t) for t in row[KF_COLUMN[what]]]
    return TimeSets(str(path), "keyframes-folder", times, failed)


def _parquet_rows(path: Path) -> list[tuple[int, dict]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:
        raise SchemaError(f"{path}: not a readable Parquet file ({e})") from None
    return [(i + 1, r) for i, r in enumerate(table.to_pylist())]


def _seconds(value, where: str) -> list[float]:
    """Times (a number, a numeric string or a list of them) read by the QA time rule."""
    out = []
    for v in value if isinstance(value, list) else [value]:
        t, problem = qa.seconds(v, "time")
        if t is None:
            raise SchemaError(f"{where}: {problem[1] if problem else 'time null is not a number'}")
        out.append(t)
    return out


def _from_rows(path: Path, rows: list[tuple[int, dict]], what: str) -> TimeSets:
    times: dict = {}
    if not rows:
        return TimeSets(str(path), "table", times)
    column = next((c for c in COLUMNS[what] if c in rows[0][1]), None)
    if column is None or "video_id" not in rows[0][1]:
        raise SchemaError(
            f"{path}: expected columns video_id and one of {', '.join(COLUMNS[what])} "
            f"for {what}; found {', '.join(sorted(rows[0][1]))}"
        )
    for n, row in rows:
        vid = row.get("video_id")
        if not isinstance(vid, (str, int)) or isinstance(vid, bool):
            raise SchemaError(f"{path}:{n}: video_id {vid!r} is not a string")
        # each row's own source: a first row without one says nothing about the others
        source = source_key(str(row["source"])) if row.get("source") is not None else None
        value = row.get(column)
        times.setdefault((source, str(vid)), []).extend([] if value is None else _seconds(value, f"{path}:{n}"))
    return TimeSets(str(path), "table", times)


def _from_captions(path: Path, what: str) -> TimeSets:
    """The caption file's key frames, through the caption reader (which infers the layout)."""
    from ..captions import read_captions

    if what != "keyframes":
        raise UsageError(f"{path} is a caption file: it holds key frames, not scene cuts")
    caps = read_captions(path)
    if caps.n_problems:
        first = caps.problems[0]
        raise SchemaError(f"{path}:{first['line']}: {first['message']} ({caps.n_problems} line(s) with problems)")
    times = {(source_key(v.source) if v.source else None, vid): list(v.seconds) for vid, v in caps.videos.items()}
    return TimeSets(str(path), "captions", times)


def _from_ground_truth(path: Path, what: str) -> TimeSets:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SchemaError(f"{path}: not readable JSON ({e})") from None
    videos = data.get("videos") if isinstance(data, dict) else None
    if not isinstance(videos, dict):
        raise SchemaError(f'{path}: expected {{"videos": {{video_id: {{...}}}}}}')
    times = {}
    for vid, v in videos.items():
        if not isinstance(v, dict) or what not in v:
            raise SchemaError(f"{path}: video {vid} has no {what!r} list")
        source = source_key(v["source"]) if isinstance(v.get("source"), str) else None
        times[(source, vid)] = _seconds(v[what], f"{path}: video {vid}")
    return TimeSets(str(path), "ground-truth", times)
