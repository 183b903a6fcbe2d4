"""Redundancy statistics from key-frame output folders, without the model.

Every figure is recomputed from the stored quantised per-patch scores with the DTD rule of
`tc139k.dtd`, so it equals what `tc139k keyframes` would have reported at that threshold.

Two drop ratios per threshold:
- token-weighted (`drop_ratio`): dropped patches / all patches;
- frame mean (`drop_ratio_frame_mean`): the mean over frames of each frame's drop ratio.
A video has one patch grid, so its frame mean equals its token-weighted ratio; the two
differ only across videos of different grids, and the table shows the second column only
then (saying why). Both follow from one 256-level histogram per video; per-frame counts are
needed only at the headline threshold (the histogram of per-frame ratios and the timeline).

The default sweep depends on the score kind (`DEFAULT_SWEEPS`): cosine 0.1..0.9 around the
authors' 0.5; pixel_mad 0.005..0.3, spaced for where its drop ratio moves (a mean absolute
difference of 0.1 already drops about 95 % of the patches of real video) around its 0.05.
Thresholds outside the kind's range (`RANGES`) are refused with that range quoted.

Key frames: the mean interval follows `keyframes.interval` (total span / key frames, the
figure `tc139k keyframes build` reports and calibrates); gaps between consecutive key frames
are shown as gaps. They are compared with the published figures per minute of video and as
the interval, not per video (the published videos have their own lengths).

Length buckets (`--by length`) use the video span of `keyframes.interval` (last minus first
frame time plus 1 s), so a 300-frame video at 1 fps lasts 300 s.
Percentiles (p10, median, p90) are numpy's linear interpolation. Only videos with status
ok count; failed ones are reported as a count.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .. import published
from ..errors import SchemaError, UsageError
from ..keyframes import dtd, interval
from ..keyframes import store as kfio
from ..progress import progress
from .choices import BY_CHOICES, PLOT_FORMATS
from .reference import COMPARABLE, reference_curve

# Per score kind: the range tau can take and a default sweep over its useful part that holds
# the kind's operating point (cosine 0.5, pixel_mad 0.05).
DEFAULT_THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(1, 10))  # cosine: around the authors' 0.5
RANGES = dtd.TAU_RANGES
DEFAULT_SWEEPS = {
    "cosine": DEFAULT_THRESHOLDS,
    "pixel_mad": (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3),
}
KIND_NAMES = {"cosine": "cosine (feature method)", "pixel_mad": "pixel_mad (pixel method)"}
# (label, lower bound in seconds inclusive, upper bound exclusive or None)
LENGTH_BUCKETS = (("<5 min", 0, 300), ("5-10 min", 300, 600), ("10-20 min", 600, 1200), (">=20 min", 1200, None))
DEFAULT_HEADLINE_THRESHOLD = 0.5  # the authors' default tau, used when no video is ok
# Published figures of TimeChat-Online-139K (see the reference notes on the dataset).
# The authors' drop ratio against tau, feature mode, fine-tuned Qwen2.5-VL (read off their plot).
FRAME_HIST_BINS = 20
STORED_TOLERANCE = 1e-5  # stored per-frame ratios are float32
FLOAT_DIGITS = 6
BATCH_ROWS = 256

_COLUMNS = [
    "video_id",
    "source",
    "status",
    "n_frames",
    "frame_seconds",
    "scene_cut_seconds",
    "score_kind",
    "grid_h",
    "grid_w",
    "patch_scores",
    "threshold",
    "drop_ratio",
    "keyframe_seconds",
    "trigger_seconds",
]


def _round(x, digits: int = FLOAT_DIGITS):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return [_round(v, digits) for v in x]
    x = float(x)
    return None if math.isnan(x) else round(x, digits)


def parse_thresholds(text: str) -> tuple[float, ...]:
    """`0.1,0.3,0.5` or a range `START:STOP:STEP` (STOP included), each in [-1, 1] (the
    widest range of any score kind; `check_thresholds(values, kind)` narrows it)."""
    text = text.strip()
    try:
        if ":" in text:
            start, stop, step = (float(p) for p in text.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            n = int(math.floor((stop - start) / step + 1e-9)) + 1
            values = [start + i * step for i in range(n)]
        else:
            values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise UsageError(
            f"thresholds {text!r}: expected a list like 0.1,0.5,0.9 or a range START:STOP:STEP like 0.1:0.9:0.1"
        ) from None
    return check_thresholds(values)


def check_thresholds(values, kind: str | None = None, what: str = "thresholds") -> tuple[float, ...]:
    """Sorted unique values, each inside the range of `kind` ([-1, 1] when it is unknown)."""
    out = sorted({round(float(v), 6) for v in values})
    if not out:
        raise UsageError(f"no {what} given")
    lo, hi = RANGES.get(kind, (-1.0, 1.0))
    bad = [v for v in out if not lo <= v <= hi or math.isnan(v)]
    if bad:
        of = f" for score kind {KIND_NAMES[kind]}" if kind in KIND_NAMES else ""
        raise UsageError(f"{what} must lie in [{lo:g}, {hi:g}]{of}; got {', '.join(f'{v:g}' for v in bad)}")
    return tuple(out)


@dataclass
class Distribution:
    count: int
    mean: float | None = None
    median: float | None = None
    p10: float | None = None
    p90: float | None = None
    min: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, values) -> Distribution:
        v = np.asarray(values, dtype=np.float64)
        if v.size == 0:
            return cls(count=0)
        p10, med, p90 = np.percentile(v, [10, 50, 90])
        return cls(
            count=int(v.size),
            mean=float(v.mean()),
            median=float(med),
            p10=float(p10),
            p90=float(p90),
            min=float(v.min()),
            max=float(v.max()),
        )

    @classmethod
    def of_counts(cls, values, counts) -> Distribution:
        """The distribution of `values` each repeated `counts` times, without expanding them;
        percentiles equal numpy's on the expanded array."""
        v, w = np.asarray(values, dtype=np.float64), np.asarray(counts, dtype=np.int64)
        keep = w > 0
        v, w = v[keep], w[keep]
        order = np.argsort(v, kind="stable")
        v, w = v[order], w[order]
        n = int(w.sum())
        if n == 0:
            return cls(count=0)
        ends = np.cumsum(w)  # the expanded array's element i is v[searchsorted(ends, i, "right")]

        def at(i):
            return v[np.searchsorted(ends, i, side="right")]

        def pct(p):
            h = p / 100 * (n - 1)
            lo = math.floor(h)
            return float(at(lo) + (h - lo) * (at(min(lo + 1, n - 1)) - at(lo)))

        return cls(
            count=n,
            mean=float((v * w).sum() / n),
            median=pct(50),
            p10=pct(10),
            p90=pct(90),
            min=float(v[0]),
            max=float(v[-1]),
        )

    def to_dict(self) -> dict:
        return {
            "count": self.count,
            "mean": _round(self.mean),
            "median": _round(self.median),
            "p10": _round(self.p10),
            "p90": _round(self.p90),
            "min": _round(self.min),
            "max": _round(self.max),
        }


@dataclass
class GroupStats:
    """Drop ratios of a group of videos (a source, a length bucket, or all)."""

    videos: int
    frames: int
    tokens: int
    drop_ratio: list[float | None]
    drop_ratio_frame_mean: list[float | None]
    drop_ratio_at_threshold: float | None
    keyframes_per_video: float | None

    def to_dict(self) -> dict:
        return {
            "videos": self.videos,
            "frames": self.frames,
            "tokens": self.tokens,
            "drop_ratio": _round(self.drop_ratio),
            "drop_ratio_frame_mean": _round(self.drop_ratio_frame_mean),
            "drop_ratio_at_threshold": _round(self.drop_ratio_at_threshold),
            "keyframes_per_video": _round(self.keyframes_per_video),
        }


@dataclass
class VideoTimeline:
    """One video's per-frame drop ratio at the headline threshold, with its events."""

    video_id: str
    source: str
    threshold: float
    frame_seconds: np.ndarray
    drop_ratio: np.ndarray
    scene_cut_seconds: np.ndarray
    keyframe_seconds: np.ndarray
    trigger_seconds: np.ndarray


@dataclass
class RedundancyStats:
    keyframes_dir: str
    score_kind: str | None
    thresholds: list[float]
    threshold: float
    by: str
    overall: GroupStats
    by_source: dict[str, GroupStats]
    by_length: dict[str, GroupStats]
    videos_failed: int
    failed_by_source: dict[str, int]
    stored_thresholds: dict[str, int]
    stored_check: dict
    frame_drop_ratio: Distribution
    frame_drop_ratio_histogram: list[int]
    video_drop_ratio: Distribution
    keyframes: dict
    patch_grids: list[int] = field(default_factory=list)  # patches per frame, over the scored videos
    timeline: VideoTimeline | None = None
    plots: list[str] = field(default_factory=list)
    reference: dict | None = None  # the authors' curve and whether it compares (stats.reference)

    @property
    def drop_ratio(self) -> list[float | None]:
        return self.overall.drop_ratio

    @property
    def one_grid(self) -> bool:
        """Every scored video has the same patch grid: frame mean == tokens dropped."""
        return len(self.patch_grids) <= 1

    @property
    def drop_ratio_frame_mean(self) -> list[float | None]:
        return self.overall.drop_ratio_frame_mean

    @property
    def unit(self) -> str:
        """What the scores are of: visual tokens (cosine of an encoder's tokens) or pixel cells."""
        return "visual tokens" if self.score_kind == "cosine" else "pixel cells"

    @property
    def headline_ratio(self) -> float | None:
        return self.overall.drop_ratio_at_threshold

    def headline_text(self) -> str:
        """The headline, saying what was measured (which tokens, which rule) and whether it
        can be laid beside the paper's figures."""
        if self.headline_ratio is None:
            return "No video with status ok and patch scores: nothing to measure."
        t = f"{self.threshold:g}"
        if self.score_kind == "cosine":
            ref = self.reference or {}
            encoders = " and ".join(ref.get("tokens") or [])
            unit = f"{encoders} visual tokens" if encoders else "visual tokens (of an encoder not recorded)"
            rule = f"cosine similarity to the same token of the previous frame > {t}"
            if ref.get("comparison") == COMPARABLE:
                compare = "the tokens the paper measures: comparable with its tau-to-drop-ratio curve"
            else:
                compare = (
                    "not the tokens the paper measures (fine-tuned Qwen2.5-VL), so not comparable with its "
                    "figures; `keyframes build --encoder qwen2.5-vl` scores those"
                )
        else:
            # the pixel method's square grid over the 224 px frame: say the cell size when there is one
            sides = {math.isqrt(n) if math.isqrt(n) ** 2 == n else 0 for n in self.patch_grids}
            cells = f"{224 // sides.pop()} px " if len(sides) == 1 and 0 not in sides else ""
            unit = f"{cells}pixel cells of the 224 px frame"
            rule = f"mean absolute pixel difference to the previous frame < {t}"
            compare = (
                "a pixel measure, not visual tokens: not comparable with the paper's 80 % of tokens; "
                "`keyframes build --encoder qwen2.5-vl` scores those"
            )
        return f"{self.headline_ratio * 100:.1f} % of {unit} are redundant at threshold {t} ({rule}); {compare}."

    def to_dict(self) -> dict:
        return {
            "keyframes_dir": self.keyframes_dir,
            "score_kind": self.score_kind,
            "thresholds": _round(self.thresholds),
            "drop_ratio": _round(self.overall.drop_ratio),
            "drop_ratio_frame_mean": _round(self.overall.drop_ratio_frame_mean),
            "frame_mean_equals_drop_ratio": self.one_grid,
            "patch_grids": list(self.patch_grids),
            "headline": {
                "threshold": _round(self.threshold),
                "drop_ratio": _round(self.overall.drop_ratio_at_threshold),
                "text": self.headline_text(),
            },
            "by": self.by,
            "by_source": {k: v.to_dict() for k, v in sorted(self.by_source.items())},
            "by_length": {k: v.to_dict() for k, v in self.by_length.items()},
            "length_buckets_seconds": {label: [lo, hi] for label, lo, hi in LENGTH_BUCKETS},
            "videos": self.overall.videos,
            "videos_failed": self.videos_failed,
            "failed_by_source": dict(sorted(self.failed_by_source.items())),
            "frames": self.overall.frames,
            "tokens": self.overall.tokens,
            "stored_thresholds": dict(sorted(self.stored_thresholds.items())),
            "stored_check": self.stored_check,
            "frame_drop_ratio": {
                **self.frame_drop_ratio.to_dict(),
                "histogram": {"bins": FRAME_HIST_BINS, "counts": list(self.frame_drop_ratio_histogram)},
            },
            "video_drop_ratio": self.video_drop_ratio.to_dict(),
            "keyframes": self.keyframes,
            "timeline_video": self.timeline.video_id if self.timeline else None,
            "plots": list(self.plots),
            "published_curve": self.reference,
        }

    def text_report(self) -> str:
        """The terminal table."""
        lines = [self.headline_text(), ""]
        lines.append(
            f"videos: {self.overall.videos} ok, {self.videos_failed} failed; "
            f"frames: {self.overall.frames}; patch tokens: {self.overall.tokens}; "
            f"score kind: {self.score_kind}"
        )
        both = not self.one_grid
        header = f"{'threshold':>10} {'tokens dropped':>15}" + (f" {'frame mean':>11}" if both else "")
        lines += ["", header, "-" * len(header)]
        for t, a, b in zip(self.thresholds, self.overall.drop_ratio, self.overall.drop_ratio_frame_mean):
            mark = " <" if abs(t - self.threshold) < 1e-9 else ""
            lines.append(f"{t:>10g} {_pct(a):>15}" + (f" {_pct(b):>11}" if both else "") + mark)
        lines.append(
            "(< the headline threshold; videos have different patch grids: 'tokens dropped' weighs every "
            "patch, 'frame mean' every frame)"
            if both
            else "(< the headline threshold; every video has the same patch grid, so the mean over frames "
            "is this same figure)"
        )
        lines += self._reference_lines()
        groups = self.by_source if self.by == "source" else self.by_length
        name = "source" if self.by == "source" else "length"
        width = max([len(name)] + [len(k) for k in groups])
        lines += ["", f"drop ratio by {name} (tokens dropped per threshold)"]
        head = f"{name:<{width}} {'videos':>7} {'frames':>9} " + " ".join(f"{t:>6g}" for t in self.thresholds)
        lines += [head, "-" * len(head)]
        for key in sorted(groups) if self.by == "source" else groups:
            g = groups[key]
            lines.append(
                f"{key:<{width}} {g.videos:>7} {g.frames:>9} " + " ".join(f"{_pct(r, 1):>6}" for r in g.drop_ratio)
            )
        kf, pub = self.keyframes, self.keyframes["published"]
        gaps = kf["gap_seconds"]
        lines += [
            "",
            "key frames                                this folder   published",
            f"  per minute of video                     {_num(kf['per_minute']):>11}   {_num(pub['per_minute']):>9}",
            f"  mean interval, s (span / key frames)    {_num(kf['mean_interval_seconds']):>11}   "
            f"{_num(pub['interval_seconds']):>9}",
            f"  per video (mean)                        {_num(kf['per_video']['mean']):>11}   "
            f"{'-':>9}  (published {pub['per_video_mean']:g} for videos of other lengths: compare per minute)",
            f"  gap between key frames, s (median)      {_num(gaps['median']):>11}",
            f"  gap between key frames, s (p10 / p90)   {_num(gaps['p10'])} / {_num(gaps['p90'])}",
            f"  trigger times per minute                {_num(kf['triggers_per_minute']):>11}",
            f"  scene cuts per minute                   {_num(kf['scene_cuts_per_minute']):>11}",
            f"  mean interval = {kf['interval_definition']}",
        ]
        fd = self.frame_drop_ratio
        lines += [
            "",
            f"per-frame drop ratio at {self.threshold:g}: mean {_pct(fd.mean)}, "
            f"p10 {_pct(fd.p10)}, median {_pct(fd.median)}, p90 {_pct(fd.p90)}",
        ]
        check = self.stored_check
        lines.append(
            f"stored drop ratios recomputed: {check['videos_checked']} videos checked, "
            f"{check['videos_mismatched']} differ"
        )
        for p in self.plots:
            lines.append(f"plot: {p}")
        return "\n".join(lines)

    def _reference_lines(self) -> list[str]:
        """The authors' curve beside this folder's drop ratio at their thresholds."""
        ref = self.reference
        if not ref:
            return []
        here = {round(t, 6): r for t, r in zip(self.thresholds, self.overall.drop_ratio)}
        taus = ref["thresholds"]
        return [
            "",
            f"published curve: {ref['label']}",
            f"{'tau':>10} " + " ".join(f"{t:>6g}" for t in taus),
            f"{'authors':>10} " + " ".join(f"{_pct(r, 0):>6}" for r in ref["drop_ratio"]),
            f"{'here':>10} " + " ".join(f"{_pct(here.get(round(t, 6)), 0):>6}" for t in taus),
        ]


def _pct(x, digits: int = 2) -> str:
    return "-" if x is None else f"{x * 100:.{digits}f}%"


def _num(x) -> str:
    return "-" if x is None else f"{x:.2f}"


# ---- reading ------------------------------------------------------------------------------


def _check_columns(path: Path, pf: pq.ParquetFile) -> None:
    expected = kfio.keyframes_schema()
    have = pf.schema_arrow
    for name in _COLUMNS:
        if name not in have.names:
            raise SchemaError(f"{path}: missing column {name!r} of {kfio.SCHEMA_ID}")
        if have.field(name).type != expected.field(name).type:
            raise SchemaError(
                f"{path}: column {name!r} is {have.field(name).type}, expected {expected.field(name).type}"
            )


def _binary_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Zero-copy offsets (len + 1) and data bytes of a binary array."""
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return offsets.astype(np.int64), data


def _list_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (absolute into values) and values of a list array."""
    return arr.offsets.to_numpy().astype(np.int64), arr.values.to_numpy(zero_copy_only=False)


def _batches(files: list[Path]):
    """(file, record batch) over all files, one file open at a time: a Parquet reader keeps
    the pages it decoded until it is closed."""
    for f in files:
        with kfio.reading(f), kfio.open_file(f) as pf:
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=_COLUMNS):
                yield f, batch


def _bucket(duration: float) -> str:
    for label, lo, hi in LENGTH_BUCKETS:
        if duration >= lo and (hi is None or duration < hi):
            return label
    return LENGTH_BUCKETS[0][0]


@dataclass
class _Video:
    source: str
    frames: int  # frames with patch scores (0 when the grid is empty)
    cells: int
    duration: float
    dropped: np.ndarray  # per threshold, then the headline threshold last
    keyframes: int
    triggers: int
    scene_cuts: int


class _Scan:
    """Per-video figures accumulated over the record batches of a key-frame folder."""

    def __init__(self, kind: str | None, sweep: list[float], headline: float, video: str | None):
        self.kind, self.headline, self.video = kind, headline, video
        # (256, K): which quantised levels each threshold drops; headline threshold last
        self.masks = np.stack([dtd.dropped_levels(kind, t) for t in sweep]).T.astype(np.int64) if kind else None
        self.lut_headline = dtd.dropped_levels(kind, headline).astype(np.uint8) if kind else None
        self.stored_masks: dict[float, np.ndarray] = {}
        self.videos: list[_Video] = []
        self.failed: Counter = Counter()
        self.frame_counts: dict[int, np.ndarray] = {}  # patches per frame -> frames by n dropped
        self.kf_intervals: list[np.ndarray] = []
        self.checked = self.mismatched = 0
        self.mismatch_examples: list[str] = []
        self.best: tuple | None = None  # (-n_frames, video_id) of the timeline video
        self.timeline: VideoTimeline | None = None

    def add_batch(self, f: Path, batch: pa.RecordBatch) -> None:
        cols = {name: batch.column(name) for name in _COLUMNS}
        for name in ("video_id", "status", "patch_scores", "n_frames", "grid_h", "grid_w"):
            if cols[name].null_count:
                raise SchemaError(f"{f}: column {name!r} has nulls")
        self._f = f
        self._ids = cols["video_id"].to_pylist()
        self._sources = cols["source"].to_pylist()
        status = cols["status"].to_pylist()
        self._n = cols["n_frames"].to_numpy(zero_copy_only=False)
        self._cells = cols["grid_h"].to_numpy(zero_copy_only=False).astype(np.int64) * cols["grid_w"].to_numpy(
            zero_copy_only=False
        )
        self._taus = cols["threshold"].to_numpy(zero_copy_only=False)
        self._scores = _binary_parts(cols["patch_scores"])
        self._lists = {
            name: _list_parts(cols[name])
            for name in ("frame_seconds", "scene_cut_seconds", "drop_ratio", "keyframe_seconds", "trigger_seconds")
        }
        hists, rows = [], []
        for i in range(len(self._ids)):
            if status[i] != "ok":
                self.failed[self._sources[i]] += 1
                continue
            hist, row = self._add_video(i)
            hists.append(hist)
            rows.append(row)
        if rows:
            for row, dropped in zip(rows, np.stack(hists) @ self.masks):
                row.dropped = dropped
            self.videos.extend(rows)

    def _part(self, name: str, i: int) -> np.ndarray:
        off, values = self._lists[name]
        return values[off[i] : off[i + 1]]

    def _add_video(self, i: int) -> tuple[np.ndarray, _Video]:
        vid, n, cells = self._ids[i], int(self._n[i]), int(self._cells[i])
        off, data = self._scores
        q = data[off[i] : off[i + 1]]
        if q.size != n * cells:
            raise SchemaError(
                f"{self._f}: video {vid}: patch_scores has {q.size} bytes, expected {n} frames x {cells} patches"
            )
        seconds, stored_ratio = self._part("frame_seconds", i), self._part("drop_ratio", i)
        if len(seconds) != n or len(stored_ratio) != n:
            raise SchemaError(
                f"{self._f}: video {vid}: {len(seconds)} frame times and {len(stored_ratio)} drop ratios for {n} frames"
            )
        kf = self._part("keyframe_seconds", i)
        if len(kf) > 1:
            self.kf_intervals.append(np.diff(np.sort(kf)))
        hist = np.bincount(q, minlength=dtd.N_LEVELS)
        row = _Video(
            source=self._sources[i],
            frames=n if cells else 0,
            cells=cells,
            duration=interval.video_span(seconds),
            dropped=None,
            keyframes=len(kf),
            triggers=len(self._part("trigger_seconds", i)),
            scene_cuts=len(self._part("scene_cut_seconds", i)),
        )
        per_frame = np.zeros(n)
        if row.frames:
            dropped_in_frame = np.take(self.lut_headline, q).reshape(n, cells).sum(axis=1)
            counts = np.bincount(dropped_in_frame, minlength=cells + 1)
            if cells in self.frame_counts:
                self.frame_counts[cells] += counts
            else:
                self.frame_counts[cells] = counts
            per_frame = dropped_in_frame / cells
            self._check_stored(vid, hist, n * cells, float(self._taus[i]), stored_ratio)
        key = (-n, vid)
        if (self.video is not None and vid == self.video) or (
            self.video is None and (self.best is None or key < self.best)
        ):
            self.best = key
            self.timeline = VideoTimeline(
                video_id=vid,
                source=self._sources[i],
                threshold=self.headline,
                frame_seconds=np.array(seconds, dtype=np.float64),
                drop_ratio=np.asarray(per_frame, dtype=np.float64),
                scene_cut_seconds=np.array(self._part("scene_cut_seconds", i), dtype=np.float64),
                keyframe_seconds=np.array(kf, dtype=np.float64),
                trigger_seconds=np.array(self._part("trigger_seconds", i), dtype=np.float64),
            )
        return hist, row

    def _check_stored(self, vid: str, hist: np.ndarray, tokens: int, tau: float, stored_ratio: np.ndarray) -> None:
        """The stored drop ratios must follow from the stored scores at the stored threshold."""
        tau = round(tau, 6)
        if tau not in self.stored_masks:
            self.stored_masks[tau] = dtd.dropped_levels(self.kind, tau).astype(np.int64)
        recomputed = float(hist @ self.stored_masks[tau]) / tokens
        self.checked += 1
        if abs(recomputed - float(np.mean(stored_ratio, dtype=np.float64))) > STORED_TOLERANCE:
            self.mismatched += 1
            if len(self.mismatch_examples) < 10:
                self.mismatch_examples.append(vid)


def _survey(files: list[Path], folder: Path) -> tuple[str | None, Counter, int]:
    """Score kind, stored thresholds and row count: known before the scan."""
    kinds: Counter = Counter()
    stored: Counter = Counter()
    total_rows = 0
    for f in files:
        with kfio.reading(f), kfio.open_file(f) as pf:
            _check_columns(f, pf)
            total_rows += pf.metadata.num_rows
            t = pf.read(columns=["status", "score_kind", "threshold"])
        ok = np.asarray(t.column("status").to_pylist()) == "ok"
        kinds.update(np.asarray(t.column("score_kind").to_pylist(), dtype=object)[ok].tolist())
        stored.update(np.asarray(t.column("threshold").to_numpy())[ok].round(6).tolist())
    if len(kinds) > 1:
        raise SchemaError(
            f"{folder}: videos were scored with different score kinds "
            f"({dict(kinds)}); thresholds mean different things for each, "
            "so compute statistics on one kind at a time"
        )
    return (next(iter(kinds)) if kinds else None), stored, total_rows


def redundancy_stats(
    keyframes_dir: str | Path,
    thresholds=None,
    by: str = "source",
    threshold: float | None = None,
    video: str | None = None,
    plot_dir: str | Path | None = None,
    show_progress: bool = True,
    plot_format: str = "png",
) -> RedundancyStats:
    """Sweep DTD thresholds over a key-frame output folder.

    `thresholds`: the sweep (values in the score kind's range, or text as `parse_thresholds`
    takes; None: the kind's default sweep, `DEFAULT_SWEEPS`);
    `threshold`: the headline threshold (default: the threshold stored with the videos, the
    most common if they differ);
    `by`: the breakdown shown in the table and the per-group plot ("source" or "length");
    `video`: the video of the timeline (default the longest); `plot_dir`: write the plots
    there, as `plot_format` (png, svg or pdf)."""
    if plot_format not in PLOT_FORMATS:
        raise UsageError(f"--plot-format must be one of {', '.join(PLOT_FORMATS)}; got {plot_format!r}")
    if by not in BY_CHOICES:
        raise UsageError(f"--by must be one of {', '.join(BY_CHOICES)}; got {by!r}")
    if isinstance(thresholds, str):
        thresholds = parse_thresholds(thresholds)
    if thresholds is not None:
        check_thresholds(thresholds)
    if threshold is not None:
        check_thresholds([threshold], what="--threshold")
    folder = Path(keyframes_dir)
    files = kfio.keyframe_files(folder)
    kind, stored, total_rows = _survey(files, folder)
    # now that the kind is known: its own range, its own default sweep
    thresholds = check_thresholds(
        DEFAULT_SWEEPS.get(kind, DEFAULT_THRESHOLDS) if thresholds is None else thresholds, kind
    )
    if threshold is not None:
        check_thresholds([threshold], kind, what="--threshold")
    if threshold is None:
        threshold = (
            sorted(stored.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if stored else DEFAULT_HEADLINE_THRESHOLD
        )
    threshold = float(round(threshold, 6))

    scan = _Scan(kind, list(thresholds) + [threshold], threshold, video)
    bar = progress(total=total_rows, desc="redundancy", unit="video", enabled=show_progress)
    try:
        for f, batch in _batches(files):
            scan.add_batch(f, batch)
            bar.update(batch.num_rows)
    finally:
        bar.close()
    if video is not None and scan.timeline is None:
        raise UsageError(f"video {video!r} is not among the videos with status ok in {folder}")

    k, videos = len(thresholds), scan.videos
    by_source = {s: _group([v for v in videos if v.source == s], k) for s in sorted({v.source for v in videos})}
    by_length = {
        label: _group([v for v in videos if _bucket(v.duration) == label], k) for label, _, _ in LENGTH_BUCKETS
    }
    cells = sorted(scan.frame_counts)
    ratio_values = np.concatenate([np.arange(c + 1) / c for c in cells] or [[]])
    ratio_counts = np.concatenate([scan.frame_counts[c] for c in cells] or [[]])
    hist_counts = np.histogram(ratio_values, bins=FRAME_HIST_BINS, range=(0.0, 1.0), weights=ratio_counts)[0]

    result = RedundancyStats(
        keyframes_dir=str(folder),
        score_kind=kind,
        thresholds=list(thresholds),
        threshold=threshold,
        by=by,
        overall=_group(videos, k),
        by_source=by_source,
        by_length=by_length,
        videos_failed=sum(scan.failed.values()),
        failed_by_source=dict(scan.failed),
        stored_thresholds={f"{t:g}": c for t, c in stored.items()},
        stored_check={
            "videos_checked": scan.checked,
            "videos_mismatched": scan.mismatched,
            "mismatched_examples": scan.mismatch_examples,
            "tolerance": STORED_TOLERANCE,
        },
        frame_drop_ratio=Distribution.of_counts(ratio_values, ratio_counts),
        frame_drop_ratio_histogram=[int(c) for c in hist_counts],
        video_drop_ratio=Distribution.of([v.dropped[-1] / (v.frames * v.cells) for v in videos if v.frames]),
        keyframes=_keyframe_summary(videos, scan.kf_intervals),
        patch_grids=cells,
        timeline=scan.timeline,
    )
    result.reference = reference_curve(files, kind)
    if plot_dir is not None:
        with matplotlib_home(Path(plot_dir)):
            from .plots import write_redundancy_plots

            result.plots = [str(p) for p in write_redundancy_plots(result, plot_dir, plot_format)]
    return result


@contextlib.contextmanager
def matplotlib_home(plot_dir: Path):
    """matplotlib keeps a config and font-cache folder under the home folder; where that is
    not writable (a read-only home, a batch job's user) it makes one in the temp folder and
    warns. Then it gets `plot_dir/.matplotlib` for the run instead, removed afterwards, so
    nothing is written outside the folder the user named. MPLCONFIGDIR, when set, is kept."""
    home = Path(os.environ.get("HOME") or os.path.expanduser("~"))
    wanted = [
        Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "matplotlib",
        Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "matplotlib",
    ]
    if "MPLCONFIGDIR" in os.environ or all(_writable(d) for d in wanted):
        yield
        return
    own = plot_dir / ".matplotlib"
    own.mkdir(parents=True, exist_ok=True)
    os.environ["MPLCONFIGDIR"] = str(own)
    try:
        yield
    finally:
        del os.environ["MPLCONFIGDIR"]
        shutil.rmtree(own, ignore_errors=True)


def _writable(folder: Path) -> bool:
    """The folder is writable, or could be made in the nearest existing folder above it."""
    for f in (folder, *folder.parents):
        if f.exists():
            return f.is_dir() and os.access(f, os.W_OK) and _not_read_only(f)
    return False


def _not_read_only(folder: Path) -> bool:
    try:
        return not (os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _group(videos: list[_Video], k: int) -> GroupStats:
    scored = [v for v in videos if v.frames]
    frames = sum(v.frames for v in scored)
    tokens = sum(v.frames * v.cells for v in scored)
    kf = [v.keyframes for v in videos]
    if not scored:
        return GroupStats(
            videos=len(videos),
            frames=0,
            tokens=0,
            drop_ratio=[None] * k,
            drop_ratio_frame_mean=[None] * k,
            drop_ratio_at_threshold=None,
            keyframes_per_video=float(np.mean(kf)) if kf else None,
        )
    dropped = np.stack([v.dropped for v in scored]).astype(np.float64)  # (videos, K + 1)
    cells = np.array([v.cells for v in scored], dtype=np.float64)
    token_weighted = dropped.sum(axis=0) / tokens
    # sum over frames of (dropped in frame / cells) = dropped in video / cells
    frame_mean = (dropped / cells[:, None]).sum(axis=0) / frames
    return GroupStats(
        videos=len(videos),
        frames=frames,
        tokens=tokens,
        drop_ratio=[float(x) for x in token_weighted[:k]],
        drop_ratio_frame_mean=[float(x) for x in frame_mean[:k]],
        drop_ratio_at_threshold=float(token_weighted[k]),
        keyframes_per_video=float(np.mean(kf)),
    )


def _keyframe_summary(videos: list[_Video], intervals: list[np.ndarray]) -> dict:
    minutes = sum(v.duration for v in videos) / 60.0

    def per_min(total):
        return total / minutes if minutes > 0 else None

    video_minutes = np.array([v.duration / 60.0 for v in videos])
    has_time = video_minutes > 0
    triggers = np.array([v.triggers for v in videos], dtype=np.float64)
    return {
        "videos": len(videos),
        "minutes": _round(minutes),
        "per_video": Distribution.of([v.keyframes for v in videos]).to_dict(),
        "mean_interval_seconds": _round(
            interval.mean_interval(sum(v.duration for v in videos), sum(v.keyframes for v in videos))
        ),
        "interval_definition": interval.DEFINITION,
        "gap_seconds": Distribution.of(np.concatenate(intervals) if intervals else []).to_dict(),
        "per_minute": _round(per_min(sum(v.keyframes for v in videos))),
        "triggers_per_video": Distribution.of(triggers).to_dict(),
        "triggers_per_minute": _round(per_min(float(triggers.sum()))),
        "triggers_per_minute_by_video": Distribution.of(triggers[has_time] / video_minutes[has_time]).to_dict(),
        "scene_cuts_per_video": Distribution.of([v.scene_cuts for v in videos]).to_dict(),
        "scene_cuts_per_minute": _round(per_min(sum(v.scene_cuts for v in videos))),
        "published": {
            "per_minute": _round(60.0 / published.KEYFRAME_INTERVAL_SECONDS),
            "interval_seconds": published.KEYFRAME_INTERVAL_SECONDS,
            "per_video_mean": published.KEYFRAMES_PER_VIDEO,
        },
    }
