"""Key-frame rebuild: scene cuts + DTD redundancy -> scene-oriented key frames and trigger times.

Pieces (each usable alone, e.g. by a Ray Data pipeline):

    frames.decode(spec, size)            -> DecodedVideo (uint8 frames, seconds, bad frames)
    prepare(spec, size, scenes, scorer)  -> PreparedVideo (decoded + scene cuts [+ pixel scores])
    scorer.Scorer.score(frames)          -> per-patch DTD scores, quantised (one class per
                                            method: scorer_pixel.py, scorer_clip.py)
    select_keyframes(...)                -> key-frame positions (the rule below)
    trigger_positions(drop_ratio)        -> the 10 % of frames with the lowest drop ratio

DTD (the authors' rule): for every frame t >= 1 and patch position j, s = cosine(E[t-1][j],
E[t][j]) of the vision tower's last-layer patch tokens; the patch is redundant when s > tau.
Pixel mode needs no model: the mean absolute RGB difference of each 28 x 28 px cell of the
224 x 224 working frame (an 8 x 8 grid), redundant when below tau. Scores are stored 8-bit
quantised (see dtd.py) so the drop ratio at any other threshold can be recomputed later.
Frames are decoded once, resized whole (no crop) to the working size: the model's input size
but at least 224 x 224 in feature mode (the encoder resizes on its device when they differ),
224 x 224 in pixel mode; the scene detector sees the same frames.

Key-frame rule. Every scene start (frame 0 and every scene cut) is a key frame. Inside a
scene, the novelty of frame t is 1 - drop_ratio[t] (the share of its patches that changed
since the previous frame), capped (`keyframe_novelty` "motion", the default) by the share of
the picture that one common shift of frame t - 1 does not explain (scenes.motion_novelty,
kept per frame in the work files): shake and a pan change every patch without showing
anything new, so they do not make a burst of key frames. Novelty accumulates from the last
key frame, and the first frame at which the sum reaches the level L, and which is at least
`min_gap` seconds after the last key frame, becomes a key frame and restarts the sum (a sum
of zero never qualifies, even at L = 0). Static stretches thus get no key frames and busy
ones get many. L is either given (`level`) or calibrated over all videos of the run by
bisection so that the mean key-frame interval, sum of video spans / number of key frames
(span = last frame time - first frame time + 1 s), is as close as possible to
`target_interval` (7.14 s by default, the published figure). The number of key frames never
grows with L, so bisection finds the step closest to the target; calibration works on the
stored drop ratios and motion novelty alone (about 20 s for 11,000 videos of 650 frames on
one core).

Trigger times: the frames with the lowest drop ratio (dtd.trigger_frames, 10 %), frame 0
excluded (frames 0 and 1 for a scorer whose DTD frame spans two frames).

Run layout. Videos are sorted by (source, video_id) and cut into batches of
`videos_per_file`. Pass 1 scores each batch (decode once, scenes, DTD scores) into
`OUT/.work/scores-NNNNN.parquet` with a completion marker; pass 2 calibrates L; pass 3
writes `OUT/keyframes-NNNNN.parquet` (schema keyframes.v2) per batch with its own marker. A
rerun skips finished batches; an interrupted run resumes with byte-identical results,
because encoder batches never cross a video and nothing depends on timing (a damaged video
file aside: which seconds next to the damage are reported can vary, frames.py). The
work files stay so that another --threshold, --level or --target-interval reruns only the
cheap passes; delete OUT/.work when done.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import Markers, atomic_path, output_lock, remove_stale_temps
from ..errors import EmptyResultError, UsageError
from ..layout import check_frames_root, check_outside
from ..params import check, check_shard
from ..progress import progress
from . import dtd, interval
from . import store as kfio
from .config import PIXEL_CELL, KeyframesConfig
from .frames import DecodedVideo, VideoSpec, decode, list_frame_videos, ordered_map, read_video_ids, video_file_specs
from .provenance import keyframes_record, marker_params, scene_params, scores_record
from .scenes import SceneParams, detect_scenes, scene_ids
from .scorer import Scorer, make_scorer
from .scorer_clip import encode_scores
from .scorer_pixel import pixel_scores  # noqa: F401  (part of this module's interface)

LOG = logging.getLogger("tc139k.keyframes")

TRIGGER_SHARE = dtd.TRIGGER_SHARE
WORK_DIR = ".work"
CALIBRATION_STEPS = 32  # halvings of the level's range: far below any step of the count
CALIBRATION_TOLERANCE = 0.05  # relative: a calibrated interval further from its target missed it
# The target interval (7.14 s) is a mean over many videos; a run with fewer videos than this
# is calibrated all the same, but a miss is a note, not a failure: one video's own cuts may
# allow no level that gets there (e.g. `--video clip.mp4`).
MIN_CALIBRATION_VIDEOS = 10

CURVE_FIELDS = (
    "video_id",
    "status",
    "n_frames",
    "frame_seconds",
    "scene_id",
    "score_kind",
    "grid_h",
    "grid_w",
    "patch_scores",
    "motion_novelty",
)
SUMMARY_FIELDS = [
    "source",
    "video_id",
    "status",
    "error",
    "n_frames",
    "bad_frames",
    "scene_cut_seconds",
    "transitions",
    "keyframe_seconds",
    "trigger_seconds",
]
WORK_FIELDS = (
    "video_id",
    "source",
    "status",
    "error",
    "n_frames",
    "frame_seconds",
    "bad_frames",
    "scene_id",
    "scene_cut_seconds",
    "transitions",
    "score_kind",
    "grid_h",
    "grid_w",
    "patch_scores",
)
# pass 1 also keeps, per frame, the novelty that camera motion does not explain (scenes.
# motion_novelty, quantised to 0..255): the key-frame rule's input, not an output column
MOTION_NOVELTY = "motion_novelty"


# ---- per-video pieces --------------------------------------------------------------------


@dataclass
class PreparedVideo:
    """A decoded video with what can be computed without the model."""

    video: DecodedVideo
    cuts: np.ndarray  # positions that start a scene (> 0)
    pixel_q: np.ndarray | None = None  # scores made while decoding (a model-free scorer): (T, cells)
    transitions: list = field(default_factory=list)  # scenes.Transition: gradual scene changes
    motion: np.ndarray | None = None  # scenes.motion_novelty: float (T,)


def prepare(
    spec: VideoSpec, size: tuple[int, int], scenes: SceneParams, scorer: Scorer | str, cell: int = PIXEL_CELL
) -> PreparedVideo:
    """Decode once, detect scenes on the same frames, and with a scorer that scores while
    decoding (pixel) score them. `scorer` may be a method name (then pixel is made with
    `cell`; a model scorer scores later, on its device)."""
    if isinstance(scorer, str):
        scorer = make_scorer(scorer, cell=cell) if scorer == "pixel" else None
    video = decode(spec, size)
    if not video.ok:
        return PreparedVideo(video, np.zeros(0, dtype=np.int64))
    found = detect_scenes(video.frames, scenes)
    if scorer is None or not scorer.scores_while_decoding:
        return PreparedVideo(video, found.cuts, transitions=found.transitions, motion=found.motion_novelty)
    q = scorer.score(video.frames)
    video.frames = video.frames[:0]  # scored: free the pixels early
    return PreparedVideo(video, found.cuts, q, found.transitions, found.motion_novelty)


def score_prepared(item: PreparedVideo, scorer: Scorer) -> np.ndarray | None:
    """DTD scores of one prepared video: uint8 (T, N), or None when it has no frames."""
    v = item.video
    if not v.ok or v.n_frames == 0:
        return None
    q = scorer.score(v.frames)
    v.frames = v.frames[:0]  # scored: free the pixels
    return q


def score_video(item: PreparedVideo, encoder, batch_size: int) -> np.ndarray | None:
    """Feature-mode DTD scores of one video with a loaded encoder (scorer_clip.encode_scores:
    batches aligned on the video), or None when it has no frames."""
    v = item.video
    if not v.ok or v.n_frames == 0:
        return None
    q = encode_scores(v.frames, encoder, batch_size)
    v.frames = v.frames[:0]  # encoded: free the pixels
    return q


def work_row(item: PreparedVideo, q: np.ndarray | None, kind: str, grid: tuple[int, int]) -> dict:
    """The pass-1 row of one video: everything except what depends on tau or the rule."""
    v = item.video
    bad = [b.to_dict() for b in v.bad_frames]
    base = {
        "video_id": v.spec.video_id,
        "source": v.spec.source,
        "bad_frames": bad,
        "score_kind": kind,
        "grid_h": grid[0],
        "grid_w": grid[1],
    }
    if not v.ok or q is None:
        return {
            **base,
            "status": "failed",
            "error": v.error or "no usable frame",
            "n_frames": 0,
            "frame_seconds": [],
            "scene_id": [],
            "scene_cut_seconds": [],
            "transitions": [],
            "patch_scores": b"",
            MOTION_NOVELTY: b"",
        }
    return {
        **base,
        "status": "ok",
        "error": None,
        "n_frames": v.n_frames,
        "frame_seconds": v.seconds.tolist(),
        "scene_id": scene_ids(v.n_frames, item.cuts).tolist(),
        "scene_cut_seconds": v.seconds[item.cuts].tolist(),
        "transitions": [[float(v.seconds[t.start]), float(v.seconds[t.end])] for t in item.transitions],
        "patch_scores": np.ascontiguousarray(q, dtype=np.uint8).tobytes(),
        MOTION_NOVELTY: _quantised(item.motion, v.n_frames),
    }


def _quantised(motion: np.ndarray | None, n: int) -> bytes:
    m = np.ones(n) if motion is None else np.asarray(motion, dtype=np.float64)
    return np.clip(np.rint(m * 255.0), 0, 255).astype(np.uint8).tobytes()


# ---- the key-frame rule ------------------------------------------------------------------


def novelty_of(drop_ratio: np.ndarray, motion: np.ndarray | None = None) -> np.ndarray:
    """A frame's novelty: 1 - its drop ratio, capped by the novelty camera motion does not
    explain when it is given; 0 for the first frame."""
    novelty = np.clip(1.0 - np.asarray(drop_ratio, dtype=np.float64), 0.0, 1.0)
    if motion is not None:
        novelty = np.minimum(novelty, np.asarray(motion, dtype=np.float64))
    if len(novelty):
        novelty[0] = 0.0
    return novelty


def select_keyframes(
    seconds: np.ndarray,
    drop_ratio: np.ndarray,
    cuts: np.ndarray,
    level: float,
    min_gap: float,
    motion: np.ndarray | None = None,
) -> np.ndarray:
    """Key-frame positions by the rule in the module docstring."""
    seconds = np.asarray(seconds, dtype=np.float64)
    n = len(seconds)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.cumsum(novelty_of(drop_ratio, motion))  # non-decreasing: searchsorted finds the crossing
    starts = [0, *(int(c) for c in cuts)]
    ends = starts[1:] + [n]
    picks: list[int] = []
    for s, e in zip(starts, ends):
        last = s
        picks.append(s)
        while True:
            # first frame whose accumulated novelty reaches the level and is above zero
            need = max(cum[last] + level, np.nextafter(cum[last], np.inf))
            j = max(
                int(np.searchsorted(cum, need, side="left")),
                int(np.searchsorted(seconds, seconds[last] + min_gap, side="left")),
                last + 1,
            )
            if j >= e:
                break
            picks.append(j)
            last = j
    return np.asarray(picks, dtype=np.int64)


def trigger_positions(drop_ratio: np.ndarray, first: int = 1) -> np.ndarray:
    return dtd.trigger_frames(drop_ratio, TRIGGER_SHARE, first)


@dataclass
class VideoCurve:
    """What the rule needs of one video."""

    seconds: np.ndarray
    drop_ratio: np.ndarray
    cuts: np.ndarray
    motion: np.ndarray | None = None  # scenes.motion_novelty, when the rule uses it

    @property
    def span(self) -> float:
        return interval.video_span(self.seconds)  # the one definition of every report


def mean_interval(curves: list[VideoCurve], level: float, min_gap: float) -> float:
    n = sum(len(select_keyframes(c.seconds, c.drop_ratio, c.cuts, level, min_gap, c.motion)) for c in curves)
    return sum(c.span for c in curves) / n if n else 0.0


@dataclass
class _AllVideos:
    """Every video's curve laid end to end, so that one vectorised sweep advances the key-frame
    rule in all scenes at once (calibration cost: a few numpy calls per key frame of the
    longest scene, not a Python step per key frame of the dataset)."""

    cum: np.ndarray  # accumulated novelty, non-decreasing over the whole run
    sec: np.ndarray  # frame times, increasing over the whole run
    starts: np.ndarray  # global position of every scene start
    ends: np.ndarray  # global end (exclusive) of every scene

    @classmethod
    def of(cls, curves: list[VideoCurve]) -> _AllVideos:
        cum, sec, starts, ends = [], [], [], []
        base, t_end, c_end = 0, 0.0, 0.0
        for c in curves:
            n = len(c.seconds)
            if n == 0:
                continue
            cum.append(c_end + np.cumsum(novelty_of(c.drop_ratio, c.motion)))
            sec.append(c.seconds - c.seconds[0] + t_end)
            s = np.concatenate([[0], np.asarray(c.cuts, dtype=np.int64)]) + base
            starts.append(s)
            ends.append(np.append(s[1:], base + n))
            base += n
            c_end = float(cum[-1][-1])
            t_end = float(sec[-1][-1]) + 1.0
        if not cum:
            return cls(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        return cls(np.concatenate(cum), np.concatenate(sec), np.concatenate(starts), np.concatenate(ends))

    def count(self, level: float, min_gap: float) -> int:
        """Number of key frames the rule picks at `level` over all videos."""
        total = len(self.starts)
        last, ends = self.starts.copy(), self.ends
        while len(last):
            c = self.cum[last]
            need = np.maximum(c + level, np.nextafter(c, np.inf))
            j = np.maximum(
                np.searchsorted(self.cum, need, side="left"),
                np.searchsorted(self.sec, self.sec[last] + min_gap, side="left"),
            )
            j = np.maximum(j, last + 1)
            keep = j < ends
            total += int(keep.sum())
            last, ends = j[keep], ends[keep]
        return total


def calibrate_level(curves: list[VideoCurve], target: float, min_gap: float) -> tuple[float, float]:
    """(L, achieved mean interval) with the interval closest to `target` (see module doc)."""
    curves = [c for c in curves if len(c.seconds)]
    if not curves:
        return 0.0, 0.0
    everything = _AllVideos.of(curves)
    span = sum(c.span for c in curves)

    def interval(level: float) -> float:
        return span / everything.count(level, min_gap)

    lo = 0.0
    hi = 1.0 + max(float(np.sum(novelty_of(c.drop_ratio, c.motion))) for c in curves)  # above: scene starts only
    at_lo, at_hi = interval(lo), interval(hi)
    if target <= at_lo:
        level = lo
    elif target >= at_hi:
        level = hi
    else:
        for _ in range(CALIBRATION_STEPS):  # invariant: interval(lo) < target <= interval(hi)
            mid = (lo + hi) / 2.0
            at_mid = interval(mid)
            if at_mid >= target:
                hi, at_hi = mid, at_mid
            else:
                lo, at_lo = mid, at_mid
        level = lo if target - at_lo < at_hi - target else hi
    # the figure reported is the one the per-video rule gives, exactly
    return level, mean_interval(curves, level, min_gap)


def calibration_reached(achieved: float, target: float, total_span: float) -> bool:
    """Whether calibration got the mean interval to its target: within CALIBRATION_TOLERANCE,
    or within one key frame more or fewer (a few short videos allow only coarse steps, and
    the closest step is the best any level does). It cannot when the scores allow no level
    that gets there: e.g. random weights whose drop ratio is 1 everywhere leave only scene
    starts, whatever the level."""
    if achieved <= 0:
        return False
    step = achieved / max(1, round(total_span / achieved))  # interval / number of key frames
    return abs(achieved - target) <= max(CALIBRATION_TOLERANCE * target, step)


def final_row(
    work: dict, threshold: float, level: float, min_gap: float, first: int = 1, novelty: str = "motion"
) -> dict:
    """A keyframes.v2 row from a pass-1 row; `first`: the frames of the first DTD frame
    (Scorer.frames_per_step), none of which can be a trigger time; `novelty`: the key-frame
    rule's novelty (KeyframesConfig.keyframe_novelty)."""
    row = {k: work[k] for k in WORK_FIELDS}
    row["threshold"] = float(threshold)
    if work["status"] != "ok":
        return {**row, "drop_ratio": [], "keyframe_seconds": [], "trigger_seconds": []}
    curve = curve_of(work, threshold, novelty)
    keys = select_keyframes(curve.seconds, curve.drop_ratio, curve.cuts, level, min_gap, curve.motion)
    return {
        **row,
        "drop_ratio": curve.drop_ratio.tolist(),
        "keyframe_seconds": curve.seconds[keys].tolist(),
        "trigger_seconds": curve.seconds[trigger_positions(curve.drop_ratio, first)].tolist(),
    }


def curve_of(work: dict, threshold: float, novelty: str = "motion") -> VideoCurve:
    q = kfio.patch_scores_array(work)
    ids = np.asarray(work["scene_id"], dtype=np.int64)
    motion = None
    if novelty == "motion":
        motion = np.frombuffer(work[MOTION_NOVELTY], dtype=np.uint8).astype(np.float64) / 255.0
    return VideoCurve(
        np.asarray(work["frame_seconds"], dtype=np.float64),
        dtd.frame_drop_ratio(q, work["score_kind"], threshold),
        np.flatnonzero(np.diff(ids)) + 1,
        motion,
    )


# ---- files -------------------------------------------------------------------------------


def work_schema() -> pa.Schema:
    full = kfio.keyframes_schema()
    fields = [full.field(n) for n in WORK_FIELDS] + [pa.field(MOTION_NOVELTY, pa.binary())]
    return pa.schema(fields, metadata=full.metadata)


def write_work_file(rows: list[dict], path: Path) -> None:
    table = pa.Table.from_pylist(rows, schema=work_schema())
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=False)


def read_work_file(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


# ---- results -----------------------------------------------------------------------------


@dataclass
class VideoKeyframes:
    source: str
    video_id: str
    status: str
    error: str | None
    n_frames: int
    n_bad_frames: int
    scene_cuts: list[float]
    transitions: list[list[float]]
    keyframes: list[float]
    trigger_times: list[float]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class KeyframesResult:
    out_dir: str
    files: list[str]
    method: str
    model: dict | None
    threshold: float
    level: float
    calibrated: bool
    target_interval: float | None
    mean_interval: float
    n_videos: int
    n_ok: int
    n_failed: int
    n_frames: int
    n_bad_frames: int
    n_keyframes: int
    batches_scored: int
    batches_reused: int
    files_written: int
    files_reused: int
    stale_removed: int
    videos: list[VideoKeyframes]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of this run
    shard: list[int] | None = None  # [index, count] when this run scored one share only
    complete: bool = True  # False: scores only; a run without sharding writes the key frames
    target_reached: bool | None = None  # calibrated runs: mean interval within 5 % of the target
    method_note: str | None = None  # with method auto: which method it stood for, and why

    def to_dict(self) -> dict:
        d = asdict(self)
        d["videos"] = [v.to_dict() for v in self.videos]
        return d

    @property
    def calibration_judged(self) -> bool:
        """Whether the run holds enough videos for a missed target to be a failure."""
        return self.n_ok >= MIN_CALIBRATION_VIDEOS

    def calibration_note(self) -> str | None:
        """What a run too small to judge says when calibration missed its target (None otherwise)."""
        if self.target_reached is not False or self.calibration_judged:
            return None
        return (
            f"calibration missed its target ({self.mean_interval:.2f} s against {self.target_interval:g} s), which "
            f"is no failure for {self.n_ok} video(s): the target is a mean over many videos and is judged from "
            f"{MIN_CALIBRATION_VIDEOS} on; the key frames are written at the closest level (or give --level)"
        )

    def calibration_miss(self) -> str | None:
        """What a calibration that missed its target says (None when it did not miss, or the
        run is too small to judge: `calibration_note`); the caller adds how to accept it in
        its own terms (flag, keyword or recipe key)."""
        if self.target_reached is not False or not self.calibration_judged:
            return None
        return (
            f"calibration missed its target: mean interval {self.mean_interval:.2f} s, target "
            f"{self.target_interval:g} s (more than {CALIBRATION_TOLERANCE:.0%} and one key frame apart): no level "
            f"of the key-frame rule gets there with these scores. The key frames in {self.out_dir} are written"
        )


def _summary(row: dict) -> VideoKeyframes:
    return VideoKeyframes(
        row["source"],
        row["video_id"],
        row["status"],
        row["error"],
        row["n_frames"],
        len(row["bad_frames"]),
        list(row["scene_cut_seconds"]),
        [list(t) for t in row["transitions"]],
        list(row["keyframe_seconds"]),
        list(row["trigger_seconds"]),
    )


# ---- the run -----------------------------------------------------------------------------


def default_workers(scorer: Scorer | None = None) -> int:
    """Background threads that decode and detect scenes. With an encoder, half the cores
    (the rest stay with it: torch threads on the CPU); a scorer that scores while decoding
    (pixel) leaves nothing to the foreground, so there every core works on a video."""
    cores = os.cpu_count() or 2
    if scorer is not None and scorer.scores_while_decoding:
        return max(1, min(8, cores))
    return max(1, min(8, cores // 2))


def _video_specs(frames_root, video_ids, videos, video_source) -> list[VideoSpec]:
    if (frames_root is None) == (not videos):
        raise UsageError("give either --frames-root DIR or --video FILE (one or more), not both or neither")
    if videos:
        if video_ids is not None:
            raise UsageError("--video-ids selects folders under --frames-root; it does not apply to --video")
        return video_file_specs(videos, video_source)
    ids = read_video_ids(video_ids) if video_ids is not None else None
    check_frames_root(frames_root)  # the download folder, a source folder, ...: say what was meant
    return list_frame_videos(frames_root, ids, ids_file=str(video_ids) if video_ids else "--video-ids")


def model_words(model: dict | None) -> str:
    """A scoring model in words, with where it ran: a GPU run is half precision, a CPU run fp32."""
    if not model:
        return "none"
    where = "on the CPU" if model.get("precision") == "fp32" else "on the GPU"
    encoder = model.get("encoder", "open_clip")
    return f"{encoder} {model.get('model')} ({model.get('pretrained')}, {model.get('precision')} {where})"


def stage_config(config: KeyframesConfig | None = None, params: dict | None = None) -> KeyframesConfig:
    """`config` (default: the defaults) with `params` on top, every value checked; `auto`
    stays (KeyframesConfig.resolved says what it stands for)."""
    values = {**asdict(config or KeyframesConfig()), **(params or {})}
    return check(KeyframesConfig, values, "keyframes")


def stage_scorer(cfg: KeyframesConfig) -> Scorer:
    """The scorer of the config's method, its model resolved (not loaded): make_scorer's
    options are config fields (each scorer uses those it needs)."""
    options = [k for k in inspect.signature(make_scorer).parameters if k != "method"]
    return make_scorer(cfg.method, **{k: getattr(cfg, k) for k in options})


def run_keyframes(
    *,
    out: str | Path,
    frames_root: str | Path | None = None,
    video_ids: str | Path | None = None,
    videos: list[str | Path] | None = None,
    video_source: str | None = None,
    config: KeyframesConfig | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    recipe_hash: str | None = None,
    scorer=None,
    show_progress: bool = False,
    **params,
) -> KeyframesResult:
    """Rebuild key frames for a frames root (all videos or those in `video_ids`) or for video
    files, writing `out/keyframes-NNNNN.parquet`. See the module docstring for the rule.

    The stage's parameters are a KeyframesConfig: `config` (default: every default), with
    any of its fields given as keywords on top (`run_keyframes(out=..., method="pixel")`);
    each value is checked as on the command line.

    With `num_shards` > 1 only pass 1 runs, on the batches b with b % num_shards ==
    shard_index: independent jobs score disjoint shares into the same `out`, and a later run
    without sharding finds every batch scored and only calibrates and writes. `scorer`
    replaces the in-process pass 1 (`score_batches_local`), e.g. by a Ray Data pipeline."""
    cfg, method_note = stage_config(config, params).resolved()
    cfg = check(KeyframesConfig, asdict(cfg), "keyframes")  # tau's range, now that the method is known
    check_shard(num_shards, shard_index)
    cfg.check_installed()
    calibrated = cfg.level is None
    specs = _video_specs(frames_root, video_ids, videos, video_source)
    if not specs:
        raise UsageError(f"no videos found under {frames_root}")

    out = Path(out)
    if frames_root is not None:
        check_outside(out, frames_root)
    with output_lock(out, "tc139k keyframes build", shared=num_shards > 1):
        work_dir = out / WORK_DIR
        out.mkdir(parents=True, exist_ok=True)
        work_dir.mkdir(exist_ok=True)
        if num_shards == 1:  # jobs of a sharded run write here together: a temporary may be another's
            remove_stale_temps(out)
            remove_stale_temps(work_dir)
        size = cfg.videos_per_file
        batches = [specs[i : i + size] for i in range(0, len(specs), size)]

        # a model scorer resolves its weights here (a clear error when they are missing)
        dtd_scorer = stage_scorer(cfg)
        workers = default_workers(dtd_scorer) if cfg.num_workers is None else cfg.num_workers
        tau = dtd_scorer.default_threshold if cfg.threshold is None else cfg.threshold  # in range: cfg was checked
        scoring = scores_record(cfg, dtd_scorer)
        model_info = scoring["model"]
        LOG.debug(
            "%s method, model %s, batch %d, %d decode worker(s), %d video(s) in %d file(s), tau %g",
            cfg.method,
            model_words(model_info),
            cfg.batch_size,
            workers,
            len(specs),
            len(batches),
            tau,
        )

        def batch_params(b: int, record: dict) -> dict:
            return marker_params(record, [s.key for s in batches[b]])

        # Pass 1: score every batch (of this shard) not yet scored with these parameters.
        work_markers = Markers(work_dir)
        todo = [
            b
            for b in range(len(batches))
            if b % num_shards == shard_index
            and not (
                # the marker vouches for the file's size and hash: a damaged file is redone
                work_markers.is_done(
                    f"scores-{b:05d}",
                    batch_params(b, scoring),
                    file=work_dir / f"scores-{b:05d}.parquet",
                    adopt=kfio.has_rows(len(batches[b])),
                )
            )
        ]
        clock = time.perf_counter()
        timings = {}
        setup = ScoringSetup(scorer=dtd_scorer, scenes=scene_params(cfg), workers=workers)
        bar = progress(
            total=sum(len(batches[b]) for b in todo),
            desc="key frames",
            unit="video",
            enabled=show_progress and bool(todo),
        )
        try:
            for b, rows in (scorer or score_batches_local)([(b, batches[b]) for b in todo], setup, bar):
                write_work_file(rows, work_dir / f"scores-{b:05d}.parquet")
                work_markers.mark(
                    f"scores-{b:05d}", batch_params(b, scoring), file=work_dir / f"scores-{b:05d}.parquet"
                )
        finally:
            bar.close()
        timings["load_model"] = setup.load_seconds
        timings["score"] = time.perf_counter() - clock - setup.load_seconds
        LOG.debug(
            "model loaded in %.1f s; %d batch(es) scored in %.1f s", setup.load_seconds, len(todo), timings["score"]
        )
        if num_shards > 1:
            mine = [b for b in range(len(batches)) if b % num_shards == shard_index]
            return KeyframesResult(
                method_note=method_note,
                out_dir=str(out),
                files=[],
                method=cfg.method,
                model=model_info,
                threshold=tau,
                level=float("nan"),
                calibrated=False,
                target_interval=cfg.target_interval if calibrated else None,
                mean_interval=float("nan"),
                n_videos=sum(len(batches[b]) for b in mine),
                n_ok=0,
                n_failed=0,
                n_frames=0,
                n_bad_frames=0,
                n_keyframes=0,
                batches_scored=len(todo),
                batches_reused=len(mine) - len(todo),
                files_written=0,
                files_reused=0,
                stale_removed=0,
                videos=[],
                timings={k: round(v, 3) for k, v in timings.items()},
                shard=[shard_index, num_shards],
                complete=False,
            )

        # Pass 2: the level, from the stored scores of every video of the run.
        curves = [
            curve_of(r, tau, cfg.keyframe_novelty)
            for b in range(len(batches))
            for r in _read_work(work_dir, b, CURVE_FIELDS)
            if r["status"] == "ok"
        ]
        if calibrated:
            lvl, achieved = calibrate_level(curves, cfg.target_interval, cfg.min_gap)
            reached = calibration_reached(achieved, cfg.target_interval, sum(c.span for c in curves))
        else:
            lvl, achieved = cfg.level, mean_interval(curves, cfg.level, cfg.min_gap)
            reached = None
        del curves
        timings["calibrate"] = time.perf_counter() - clock - timings["load_model"] - timings["score"]

        # Pass 3: final files.
        final = keyframes_record(
            scoring,
            cfg,
            tau=tau,
            score_kind=dtd_scorer.score_kind,
            level=lvl,
            mean_interval=achieved,
            target_reached=reached,
            recipe_hash=recipe_hash,
        )
        out_markers = Markers(out)
        files, summaries = [], []
        written = 0
        for b in range(len(batches)):
            name = f"keyframes-{b:05d}"
            path = out / f"{name}.parquet"
            params = batch_params(b, final)
            if out_markers.is_done(name, params, file=path, adopt=kfio.has_rows(len(batches[b]))):
                rows = pq.read_table(path, columns=SUMMARY_FIELDS).to_pylist()
            else:
                step = dtd_scorer.frames_per_step
                rows = [
                    final_row(r, tau, lvl, cfg.min_gap, step, cfg.keyframe_novelty) for r in _read_work(work_dir, b)
                ]
                kfio.write_keyframes_file(rows, path, {"tool": "tc139k", "stage": "keyframes", **final})
                out_markers.mark(name, params, file=path)
                written += 1
            files.append(str(path))
            summaries.extend(_summary(r) for r in rows)
        stale = _remove_stale(out, work_dir, len(batches))
        timings["write"] = time.perf_counter() - clock - sum(timings.values())

        ok = [s for s in summaries if s.status == "ok"]
        if not ok:  # files were written (they list the failures), but there is nothing to build on
            failed = "; ".join(f"{s.source}/{s.video_id}: {s.error}" for s in summaries[:3])
            more = "; ..." if len(summaries) > 3 else ""
            raise EmptyResultError(
                f"every video failed ({len(summaries)} of {len(summaries)}; {failed}{more}); "
                f"nothing useful was made. Check that the input holds 1 fps frames as "
                f"<source>/<video_id>/<NNNNNN>.jpg (--frames-root) or readable video files (--video)"
            )
        return KeyframesResult(
            method_note=method_note,
            out_dir=str(out),
            files=files,
            method=cfg.method,
            model=model_info,
            threshold=tau,
            level=lvl,
            calibrated=calibrated,
            target_interval=cfg.target_interval if calibrated else None,
            mean_interval=achieved,
            n_videos=len(summaries),
            n_ok=len(ok),
            n_failed=len(summaries) - len(ok),
            n_frames=sum(s.n_frames for s in summaries),
            n_bad_frames=sum(s.n_bad_frames for s in summaries),
            n_keyframes=sum(len(s.keyframes) for s in ok),
            batches_scored=len(todo),
            batches_reused=len(batches) - len(todo),
            files_written=written,
            files_reused=len(batches) - written,
            stale_removed=stale,
            videos=summaries,
            timings={k: round(v, 3) for k, v in timings.items()},
            target_reached=reached,
        )


@dataclass
class ScoringSetup:
    """Everything pass 1 needs besides the videos; plain data, so it can travel to workers."""

    scorer: Scorer  # its model, if any, is loaded by load_encoder in the process that scores
    scenes: SceneParams
    workers: int
    load_seconds: float = 0.0  # time spent loading the model in this process

    @property
    def method(self) -> str:
        return self.scorer.name

    def prepare(self, spec: VideoSpec) -> PreparedVideo:
        return prepare(spec, self.scorer.frame_size, self.scenes, self.scorer)

    def load_encoder(self) -> Scorer:
        t0 = time.perf_counter()
        self.scorer.load()
        self.load_seconds += time.perf_counter() - t0
        return self.scorer

    def row(self, item: PreparedVideo, encoder=None) -> dict:
        """The pass-1 row of a prepared video (scored now unless it was while decoding)."""
        s = self.scorer
        q = item.pixel_q if s.scores_while_decoding else score_prepared(item, s)
        return work_row(item, q, s.score_kind, s.grid)


def score_batches_local(
    todo: list[tuple[int, list[VideoSpec]]], setup: ScoringSetup, bar
) -> Iterator[tuple[int, list[dict]]]:
    """Pass 1 in this process: decoding and scene detection in background threads, the
    encoder in the foreground. Yields (batch number, rows in the batch's order)."""
    encoder = setup.load_encoder() if todo else None
    for b, specs in todo:
        rows = []
        for item in ordered_map(setup.prepare, specs, setup.workers):
            rows.append(setup.row(item, encoder))
            bar.update(1)
        yield b, rows


def _read_work(work_dir: Path, b: int, columns: Iterable[str] | None = None) -> list[dict]:
    path = work_dir / f"scores-{b:05d}.parquet"
    return pq.read_table(path, columns=list(columns) if columns else None).to_pylist()


def _remove_stale(out: Path, work_dir: Path, n_batches: int) -> int:
    """Files of an earlier run over more videos (batch numbers beyond this run's) would be
    read as part of the output: remove them with their markers."""
    n = 0
    for folder, prefix in ((out, "keyframes-"), (work_dir, "scores-")):
        for p in sorted(folder.glob(f"{prefix}[0-9][0-9][0-9][0-9][0-9].parquet")):
            if int(p.stem[len(prefix) :]) >= n_batches:
                p.unlink()
                Markers(folder).path(p.stem).unlink(missing_ok=True)
                n += 1
    return n
