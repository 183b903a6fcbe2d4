"""`tc139k export swift`: validated QA records to ms-swift JSONL.

Input: valid.parquet from `tc139k validate` (schemas/qa_table.v1.json). Output: one JSON
object per record, `{"messages": [...], "videos": [[frame, ...], ...], "frame_seconds":
[[second, ...], ...]}` plus the record's `start_time`/`end_time` when it had them, the layout
of the published annotations (ms-swift reads it with `--dataset FILE.jsonl`), with every frame
path absolute under `frames_root`.

`frame_seconds` gives the second of every frame, clip by clip, beside `videos`: frames are not
evenly spaced (clips skip seconds, and `keyframes_only` keeps a few frames a clip), so a model
that reads a frame list at a fixed rate would see a 56 s clip of 3 key frames as 1.5 s. It is a
plain key of the line, where a time-aware template reads it (for Qwen2.5-VL, the temporal
positions of `second_per_grid_ts`); ms-swift's standard templates ignore keys they do not know.

- Every written path exists: a record with a frame missing under `frames_root` is left out
  and counted under `missing_frames`.
- `keyframes_only`: each clip keeps its first frame and the frames that stand for a key
  frame (shards.plan.keyframe_flags, the rule of the shards' `is_keyframe`); records of
  videos with no or failed key-frame output are left out (`no_keyframes`,
  `keyframes_failed`), and so is a record that this makes equal to one written before it
  (`same_as_earlier`: two clips of one video that differ only in frames between key frames
  would be one training example twice, and `tc139k validate` quarantines the second).
- `split`: `OUT.train.jsonl` and `OUT.validation.jsonl` (OUT without `.jsonl`) by the shards'
  rule, by video, instead of one file.

Records keep the QA table's order; files are written atomically, so the same inputs give
the same bytes and a rerun replaces the files whole. The result counts what was written and
what was left out, with examples.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import atomic_path
from ..errors import Tc139kError, UsageError
from ..layout import check_outside
from ..paths import FramePathError, parse_frame_path
from ..progress import progress
from ..shards.plan import DEFAULT_VAL_FRACTION, keyframe_flags, video_split
from ..validate.table import read_valid_table

QA_COLUMNS = ["record_id", "video_id", "source", "messages", "frame_paths", "frame_indices", "clip_lengths"]
TIME_COLUMNS = ["start_time", "end_time"]
MAX_EXAMPLES = 5


@dataclass
class SwiftExportResult:
    qa: str
    frames_root: str
    keyframes_only: bool
    records: int  # in the QA table
    written: int
    frames: int  # frame paths written
    files: dict[str, str] = field(default_factory=dict)  # split (or "all") -> path
    rows: dict[str, int] = field(default_factory=dict)  # split (or "all") -> records
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> records
    examples: list[dict] = field(default_factory=list)  # a few skipped records with the reason

    def to_dict(self) -> dict:
        return asdict(self)


def split_paths(out: Path) -> dict[str, Path]:
    stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return {s: out.with_name(f"{stem}.{s}.jsonl") for s in ("train", "validation")}


def _read_keyframes(keyframes_dir: Path) -> dict[tuple[str, str], tuple[str, str | None, list[float]]]:
    from ..keyframes import store as kfio

    table = kfio.read_keyframes(keyframes_dir, columns=["source", "video_id", "status", "error", "keyframe_seconds"])
    return {
        (r["source"], r["video_id"]): (r["status"], r["error"], sorted(r["keyframe_seconds"] or []))
        for r in table.to_pylist()
    }


def _existing(frames_root: Path, videos: set[tuple[str, str]]) -> set[str]:
    """Relative paths of the frame files of these videos: one directory scan per video."""
    found = set()
    for source, video_id in videos:
        try:
            with os.scandir(frames_root / source / video_id) as it:
                found.update(f"{source}/{video_id}/{e.name}" for e in it if e.is_file())
        except (FileNotFoundError, NotADirectoryError):
            pass
    return found


def _clips(rec: dict) -> list[tuple[list[str], list[int]]]:
    out, start = [], 0
    for n in rec["clip_lengths"]:
        out.append((rec["frame_paths"][start : start + n], rec["frame_indices"][start : start + n]))
        start += n
    return out


def _swift_record(rec: dict, frames_root: Path, keyframes: list[float] | None) -> dict:
    videos, times = [], []
    for paths, seconds in _clips(rec):
        seconds = [float(s) for s in seconds]  # frame index = second at 1 fps
        if keyframes is not None:
            keep = [i for i, f in enumerate(keyframe_flags(seconds, keyframes)) if f or i == 0]
            paths, seconds = [paths[i] for i in keep], [seconds[i] for i in keep]
        videos.append([str(frames_root / p) for p in paths])
        times.append(seconds)
    out = {
        "messages": [{"role": m["role"], "content": m["content"]} for m in rec["messages"]],
        "videos": videos,
        "frame_seconds": times,
    }
    for key in TIME_COLUMNS:
        if rec.get(key) is not None:
            out[key] = rec[key]
    return out


def run_export_swift(
    qa: str | Path,
    frames_root: str | Path,
    out: str | Path,
    keyframes_dir: str | Path | None = None,
    keyframes_only: bool = False,
    split: bool = False,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    show_progress: bool = False,
) -> SwiftExportResult:
    """Write the records of `qa` as ms-swift JSONL to `out` (or, with `split`, to
    `OUT.train.jsonl` and `OUT.validation.jsonl`); see the module docstring."""
    qa, out = Path(qa), Path(out)
    frames_root = Path(os.path.abspath(frames_root))  # absolute, symlinks kept as the user named them
    if not frames_root.is_dir():
        raise UsageError(f"frames root {frames_root} is not a folder (give the download's frames/)")
    check_outside(out, frames_root)
    if keyframes_only and keyframes_dir is None:
        raise UsageError("--keyframes-only needs --keyframes DIR (the output of `tc139k keyframes build`)")
    if keyframes_dir is not None and not keyframes_only:
        raise UsageError("--keyframes is read only with --keyframes-only; add --keyframes-only or drop --keyframes")
    if not 0.0 <= val_fraction < 1.0:
        raise UsageError(f"--val-fraction must be in [0, 1), not {val_fraction}")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name such as {out / 'swift.jsonl'}")
    records = read_valid_table(qa, QA_COLUMNS, optional=tuple(TIME_COLUMNS))
    kf = _read_keyframes(Path(keyframes_dir)) if keyframes_only else {}
    existing = _existing(frames_root, {(r["source"], r["video_id"]) for r in records})

    targets = split_paths(out) if split else {"all": out}
    lines: dict[str, list[str]] = {name: [] for name in targets}
    skipped, examples, n_frames = Counter(), [], 0
    written: dict[str, str] = {}  # line -> the record_id that wrote it
    bar = progress(total=len(records), desc="export", unit="rec", enabled=show_progress)
    for rec in records:
        reason, keyframes = None, None
        video = f"{rec['source']}/{rec['video_id']}"
        bad = [p for p in rec["frame_paths"] if not _safe_relpath(p)]
        absent = [p for p in rec["frame_paths"] if p not in existing]
        if bad:
            reason = f"bad_frame_path: {bad[0]!r} is not <source>/<video_id>/<NNNNNN>.jpg"
        elif absent:
            reason = (
                f"missing_frames: {len(absent)} of {len(rec['frame_paths'])} frame(s) missing under "
                f"{frames_root} (first: {absent[0]})"
            )
        elif keyframes_only:
            status, error, keyframes = kf.get((rec["source"], rec["video_id"]), (None, None, None))
            if status is None:
                reason = f"no_keyframes: video {video} has no key-frame output"
            elif status != "ok":
                reason = f"keyframes_failed: video {video}: {error}"
        bar.update(1)
        if reason is None:
            swift = _swift_record(rec, frames_root, keyframes)
            line = json.dumps(swift, ensure_ascii=False, separators=(",", ":")) + "\n"
            if line in written:
                reason = f"same_as_earlier: with --keyframes-only it equals record {written[line]}"
        if reason is not None:
            skipped[reason.split(":", 1)[0]] += 1
            if len(examples) < MAX_EXAMPLES:
                examples.append({"record_id": rec["record_id"], "video": video, "reason": reason})
            continue
        written[line] = rec["record_id"]
        n_frames += sum(len(v) for v in swift["videos"])
        name = video_split(rec["source"], rec["video_id"], val_fraction) if split else "all"
        lines[name].append(line)
    bar.close()
    if records and not any(lines.values()):
        first = examples[0]["reason"] if examples else ""
        raise Tc139kError(
            f"no record of {qa} could be exported ({', '.join(f'{k} {v}' for k, v in sorted(skipped.items()))}; "
            f"first: {first}); check --frames-root and --keyframes. Nothing was written."
        )

    for name, path in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text("".join(lines[name]), encoding="utf-8")
    return SwiftExportResult(
        qa=str(qa),
        frames_root=str(frames_root),
        keyframes_only=keyframes_only,
        records=len(records),
        written=sum(len(v) for v in lines.values()),
        frames=n_frames,
        files={name: str(path) for name, path in targets.items()},
        rows={name: len(v) for name, v in lines.items()},
        skipped=dict(sorted(skipped.items())),
        examples=examples,
    )


def _safe_relpath(path: str) -> bool:
    """valid.parquet is ours, but a table from elsewhere must not send paths outside the
    frames root: only the canonical `<source>/<video_id>/<NNNNNN>.jpg` passes."""
    try:
        return parse_frame_path(path).relpath == path
    except FramePathError:
        return False
