"""Scenes of a key-frame output folder as a table: `tc139k keyframes list`.

One row per scene, as PySceneDetect's `list-scenes` writes it, for every video of the folder
(file by file, in the files' order; bounded memory for CSV). A scene is the run of frames
that share a `scene_id`; it starts at its first frame and ends where the next scene starts
(the last scene ends 1 s after its last frame: frames are sampled at 1 fps, so a frame
stands for the second that follows it). Key frames and trigger times are given with the
scene they fall in. A scene that opens after a gradual transition names it.

Columns (CSV; JSON has the same fields per scene, nested under each video):

    source, video_id, status     the video; status ok or failed (then one row, no scene)
    scene                        scene number, from 1 (as PySceneDetect counts)
    start_seconds, end_seconds, length_seconds   [start, end) in seconds, 3 decimals
    start_timecode, end_timecode                 the same as HH:MM:SS.mmm
    n_frames                     frames of the scene that were scored
    starts_with                  video (the first scene), cut, or transition
    transition_start, transition_end   the transition that opened the scene (else empty)
    n_keyframes, keyframe_seconds      key frames inside the scene (space-separated seconds)
    trigger_seconds              trigger times inside the scene (space-separated seconds)
    error                        why a failed video failed

Output bytes depend only on the key-frame rows: a rerun gives the same file.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_path
from . import store
from .interval import FRAME_STEP_SECONDS

COLUMNS = (
    "source",
    "video_id",
    "status",
    "scene",
    "start_seconds",
    "end_seconds",
    "length_seconds",
    "start_timecode",
    "end_timecode",
    "n_frames",
    "starts_with",
    "transition_start",
    "transition_end",
    "n_keyframes",
    "keyframe_seconds",
    "trigger_seconds",
    "error",
)
READ_COLUMNS = [
    "video_id",
    "source",
    "status",
    "error",
    "n_frames",
    "frame_seconds",
    "scene_id",
    "scene_cut_seconds",
    "transitions",
    "drop_ratio",
    "keyframe_seconds",
    "trigger_seconds",
    "threshold",
]
EPS = 1e-6  # times are whole seconds or decoder timestamps rounded to 1 us


@dataclass
class Scene:
    scene: int  # from 1
    start: float
    end: float
    n_frames: int
    starts_with: str  # video | cut | transition
    transition: list[float] | None
    keyframes: list[float] = field(default_factory=list)
    trigger_times: list[float] = field(default_factory=list)

    @property
    def length(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return {
            "scene": self.scene,
            "start_seconds": self.start,
            "end_seconds": self.end,
            "length_seconds": round(self.length, 6),
            "n_frames": self.n_frames,
            "starts_with": self.starts_with,
            "transition": self.transition,
            "keyframe_seconds": self.keyframes,
            "trigger_seconds": self.trigger_times,
        }


def video_end(row: dict) -> float:
    """End of the video's last second (0 for a video without frames)."""
    secs = row["frame_seconds"]
    return float(secs[-1]) + FRAME_STEP_SECONDS if secs else 0.0


def scenes_of(row: dict) -> list[Scene]:
    """The scenes of one key-frame row (none for a failed video or one without frames)."""
    secs, ids = row["frame_seconds"], row["scene_id"]
    if row["status"] != "ok" or not secs:
        return []
    starts: list[tuple[int, float, int]] = []  # (scene id, start, frames)
    for t, sid in zip(secs, ids):
        if not starts or starts[-1][0] != sid:
            starts.append((sid, float(t), 0))
        starts[-1] = (starts[-1][0], starts[-1][1], starts[-1][2] + 1)
    opened_by = {round(float(b), 6): [float(a), float(b)] for a, b in (row.get("transitions") or [])}
    end_of_video = video_end(row)
    scenes = []
    for i, (_, start, n) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else end_of_video
        transition = opened_by.get(round(start, 6)) if i else None
        kind = "video" if i == 0 else ("transition" if transition else "cut")
        scenes.append(Scene(i + 1, start, end, n, kind, transition))
    _assign(scenes, row["keyframe_seconds"], "keyframes")
    _assign(scenes, row["trigger_seconds"], "trigger_times")
    return scenes


def _assign(scenes: list[Scene], times: Iterable[float], attr: str) -> None:
    """Each time goes to the last scene starting at or before it."""
    starts = [s.start for s in scenes]
    for t in times:
        i = max(0, bisect.bisect_right(starts, float(t) + EPS) - 1)
        getattr(scenes[i], attr).append(float(t))


def timecode(seconds: float) -> str:
    """HH:MM:SS.mmm, as PySceneDetect prints it."""
    ms = int(round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def short(seconds: float) -> str:
    """Seconds without trailing zeros: 13, 13.5, 13.042."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def csv_rows(row: dict) -> Iterator[list[str]]:
    """The CSV rows (COLUMNS) of one video."""
    base = [row["source"], row["video_id"], row["status"]]
    if row["status"] != "ok":
        yield base + [""] * (len(COLUMNS) - 4) + [row.get("error") or ""]
        return
    for s in scenes_of(row):
        tr = s.transition or ["", ""]
        yield base + [
            str(s.scene),
            f"{s.start:.3f}",
            f"{s.end:.3f}",
            f"{s.length:.3f}",
            timecode(s.start),
            timecode(s.end),
            str(s.n_frames),
            s.starts_with,
            short(tr[0]) if tr[0] != "" else "",
            short(tr[1]) if tr[1] != "" else "",
            str(len(s.keyframes)),
            " ".join(short(t) for t in s.keyframes),
            " ".join(short(t) for t in s.trigger_times),
            "",
        ]


def video_dict(row: dict) -> dict:
    """One video of the JSON listing."""
    scenes = scenes_of(row)
    return {
        "source": row["source"],
        "video_id": row["video_id"],
        "status": row["status"],
        "error": row.get("error"),
        "n_frames": row["n_frames"],
        "duration_seconds": video_end(row),
        "scene_cuts": list(row["scene_cut_seconds"]),
        "transitions": [list(t) for t in row.get("transitions") or []],
        "keyframes": list(row["keyframe_seconds"]),
        "trigger_times": list(row["trigger_seconds"]),
        "scenes": [s.to_dict() for s in scenes],
    }


@dataclass
class ListResult:
    format: str
    out: str | None  # None: written to the given stream
    n_videos: int = 0
    n_failed: int = 0
    n_scenes: int = 0

    def to_dict(self) -> dict:
        return {
            "format": self.format,
            "out": self.out,
            "videos": self.n_videos,
            "failed_videos": self.n_failed,
            "scenes": self.n_scenes,
        }


def list_scenes(keyframes_dir: str | Path, fmt: str = "csv", out: str | Path | None = None, stream=None) -> ListResult:
    """Write the listing of `keyframes_dir` as `fmt` (csv or json) to the file `out`
    (atomically) or, without it, to the text `stream`."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"format must be csv or json, not {fmt!r}")
    res = ListResult(fmt, str(out) if out is not None else None)
    if out is None:
        _write(keyframes_dir, fmt, stream, res)
        return res
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        _write(keyframes_dir, fmt, f, res)
    return res


def _write(keyframes_dir, fmt: str, f: io.TextIOBase, res: ListResult) -> None:
    rows = store.iter_videos(keyframes_dir, columns=READ_COLUMNS)
    if fmt == "csv":
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            _count(res, row)
            for line in csv_rows(row):
                writer.writerow(line)
        return
    videos = []
    for row in rows:
        _count(res, row)
        videos.append(video_dict(row))
    f.write(json.dumps({"videos": videos}, indent=1, sort_keys=True) + "\n")


def _count(res: ListResult, row: dict) -> None:
    res.n_videos += 1
    res.n_failed += row["status"] != "ok"
    res.n_scenes += len(set(row["scene_id"])) if row["status"] == "ok" else 0
