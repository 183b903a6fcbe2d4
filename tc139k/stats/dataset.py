"""Statistics of a downloaded dataset folder: frames on disk and the QA file.

ROOT holds the annotation files at the top (the QA file `time_chat_online_139k_train_flt.jsonl`)
and the frames under `ROOT/frames/<source>/<video_id>/<NNNNNN>.jpg`. Frames are 1 fps, so a
video's duration in seconds is its number of frames.

The QA file is either the JSON Lines file as downloaded or the valid.parquet that `tc139k
validate --out` writes (told apart by content, not by name; its rows are read back as the
records they came from, their frame paths relative to the frames root). JSON Lines is read
line by line (tc139k.jsonl) and defensively: a line that is not a
usable record (bad JSON, no user question or assistant answer, no list of frame lists) is
counted with its line number and reason and left out of the other figures; nothing stops
the run. Lengths of questions and answers are counted in words (whitespace-separated,
`<video>` tags removed) of the first user and first assistant message. Times and frame
paths are read by the QA record rules that `validate` applies (tc139k.qa): a time that
validate rejects (not a number such as "1_0", not finite, negative) is counted as
unparseable, a frame path it rejects as bad.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import qa
from ..errors import EmptyResultError, UsageError
from ..jsonl import BadLine, read_objects, sniff
from ..paths import source_key
from ..progress import progress
from .redundancy import Distribution

QA_FILE = "time_chat_online_139k_train_flt.jsonl"
TIME_COUNTS = ("start_missing", "end_missing", "start_unparseable", "end_unparseable", "start_after_end")
FRAMES_DIR = "frames"
MAX_EXAMPLES = 20
UNKNOWN_SOURCE = "(unknown)"


@dataclass
class SourceSummary:
    videos_on_disk: int = 0
    frames_on_disk: int = 0
    qa_records: int = 0
    videos_referenced: int = 0
    frame_references: int = 0
    missing_references: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class DatasetStats:
    root: str
    qa_file: str | None
    frames_dir: str | None
    annotation_files: list[str]
    by_source: dict[str, SourceSummary]
    videos_on_disk: int
    frames_on_disk: int
    other_files_under_frames: int
    video_duration_seconds: Distribution
    qa_records: int
    bad_lines: int
    bad_line_examples: list[dict]
    turns_per_record: Distribution
    clip_frames: Distribution
    question_words: Distribution
    answer_words: Distribution
    start_time: Distribution
    end_time: Distribution
    span_seconds: Distribution
    times: dict
    frame_references: int
    bad_frame_paths: int
    bad_frame_path_examples: list[str]
    missing: dict
    missing_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "root": self.root,
            "qa_file": self.qa_file,
            "frames_dir": self.frames_dir,
            "annotation_files": self.annotation_files,
            "by_source": {k: v.to_dict() for k, v in sorted(self.by_source.items())},
            "videos_on_disk": self.videos_on_disk,
            "frames_on_disk": self.frames_on_disk,
            "other_files_under_frames": self.other_files_under_frames,
            "video_duration_seconds": self.video_duration_seconds.to_dict(),
            "qa_records": self.qa_records,
            "bad_lines": self.bad_lines,
            "bad_line_examples": self.bad_line_examples,
            "turns_per_record": self.turns_per_record.to_dict(),
            "clip_frames": self.clip_frames.to_dict(),
            "question_words": self.question_words.to_dict(),
            "answer_words": self.answer_words.to_dict(),
            "start_time": self.start_time.to_dict(),
            "end_time": self.end_time.to_dict(),
            "span_seconds": self.span_seconds.to_dict(),
            "times": self.times,
            "frame_references": self.frame_references,
            "bad_frame_paths": self.bad_frame_paths,
            "bad_frame_path_examples": self.bad_frame_path_examples,
            "missing": self.missing,
            "missing_examples": self.missing_examples,
        }

    def text_report(self) -> str:
        lines = [
            f"dataset folder: {self.root}",
            f"QA file: {self.qa_file or 'not found'}; frames: {self.frames_dir or 'not found'}",
            "",
        ]
        head = (
            f"{'source':<16} {'videos':>7} {'frames':>10} {'QA records':>11} {'videos in QA':>13} {'missing refs':>13}"
        )
        lines += [head, "-" * len(head)]
        for key in sorted(self.by_source):
            s = self.by_source[key]
            lines.append(
                f"{key:<16} {s.videos_on_disk:>7} {s.frames_on_disk:>10} {s.qa_records:>11} "
                f"{s.videos_referenced:>13} {s.missing_references:>13}"
            )
        lines.append(f"{'total':<16} {self.videos_on_disk:>7} {self.frames_on_disk:>10} {self.qa_records:>11}")
        lines += ["", f"{'distribution':<26} {'count':>8} {'mean':>9} {'p10':>9} {'median':>9} {'p90':>9} {'max':>9}"]
        for name, d in (
            ("video duration (s)", self.video_duration_seconds),
            ("clip length (frames)", self.clip_frames),
            ("question length (words)", self.question_words),
            ("answer length (words)", self.answer_words),
            ("turns per record", self.turns_per_record),
            ("start time (s)", self.start_time),
            ("end time (s)", self.end_time),
            ("end - start (s)", self.span_seconds),
        ):
            lines.append(
                f"{name:<26} {d.count:>8} "
                + " ".join(f"{'-' if v is None else f'{v:.1f}':>9}" for v in (d.mean, d.p10, d.median, d.p90, d.max))
            )
        t = self.times
        lines += [
            "",
            f"start/end times: {t['start_missing']} / {t['end_missing']} missing, "
            f"{t['start_unparseable']} / {t['end_unparseable']} not valid (not numbers, negative or past 999999 s), "
            f"{t['start_after_end']} with start after end",
            f"  against the record's own frames (frame index = second): {t['start_outside_clip']} start(s) and "
            f"{t['end_outside_clip']} end(s) more than 1 s outside the clip, {t['after_video_end']} record(s) with a "
            "time past the end of the video on disk",
        ]
        m = self.missing
        lines.append(
            f"frames referenced: {self.frame_references} "
            f"({self.bad_frame_paths} unparseable paths); "
            f"missing: {m['references']} references, {m['frames']} distinct frames in videos "
            f"on disk, {m['videos_absent']} videos absent, {m['records_affected']} records affected"
        )
        for ex in self.missing_examples[:5]:
            lines.append(f"  missing: {ex}")
        if self.bad_lines:
            lines.append(f"bad QA lines: {self.bad_lines}")
            for ex in self.bad_line_examples[:5]:
                lines.append(f"  line {ex['line']}: {ex['reason']}")
        return "\n".join(lines)


# ---- frames on disk -----------------------------------------------------------------------


@dataclass
class _FrameIndex:
    present: dict[tuple[str, str], np.ndarray]  # (source, video_id) -> bool by frame index
    counts: dict[tuple[str, str], int]
    other_files: int


def _scan_frames(frames_root: Path, show_progress: bool) -> _FrameIndex:
    present, counts, other = {}, {}, 0
    bar = progress(desc="frames", unit="video", enabled=show_progress)
    try:
        for src in sorted(os.scandir(frames_root), key=lambda e: e.name):
            if not src.is_dir(follow_symlinks=True):
                other += 1
                continue
            for vid in sorted(os.scandir(src.path), key=lambda e: e.name):
                if not vid.is_dir(follow_symlinks=True):
                    other += 1
                    continue
                idx = []
                for e in os.scandir(vid.path):
                    i = qa.frame_index(e.name)
                    if i is not None:
                        idx.append(i)
                    else:
                        other += 1
                key = (source_key(src.name), vid.name)
                bitmap = np.zeros(max(idx) + 1 if idx else 0, dtype=bool)
                bitmap[idx] = True
                present[key] = bitmap
                counts[key] = len(idx)
                bar.update(1)
    finally:
        bar.close()
    return _FrameIndex(present, counts, other)


# ---- QA records ---------------------------------------------------------------------------


class _BadRecord(ValueError):
    pass


def _text_of(messages: list, role: str) -> str:
    for m in messages:
        if isinstance(m, dict) and m.get("role") == role and isinstance(m.get("content"), str):
            return m["content"]
    raise _BadRecord(f"no {role} message with text content")


def _parse_record(rec: dict) -> dict:
    messages = rec.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _BadRecord("no 'messages' list")
    videos = rec.get("videos")
    if not isinstance(videos, list) or not all(
        isinstance(clip, list) and all(isinstance(p, str) for p in clip) for clip in videos
    ):
        raise _BadRecord("'videos' is not a list of lists of frame paths")
    question = _text_of(messages, "user")
    answer = _text_of(messages, "assistant")
    turns = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
    return {"rec": rec, "question": question, "answer": answer, "turns": turns, "videos": videos}


def _qa_records(path: Path, on_bytes):
    """(line or row number, record) of a JSON Lines QA file or of a valid.parquet table."""
    if sniff(path) != "parquet":
        yield from read_objects(path, on_error="report", progress=on_bytes)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise UsageError(f"{path} starts as a Parquet file but cannot be read ({e})") from None
    columns = ["messages", "frame_paths", "clip_lengths", "start_time", "end_time"]
    missing = [c for c in columns if c not in table.schema_arrow.names]
    if missing:
        raise UsageError(
            f"{path} is a Parquet file without column(s) {', '.join(missing)}: give the QA records as JSON Lines "
            "or the valid.parquet written by `tc139k validate --out`"
        )
    size, rows, no = path.stat().st_size, max(table.metadata.num_rows, 1), 0
    for batch in table.iter_batches(columns=columns):
        for row in batch.to_pylist():
            no += 1
            paths, clips, at = row["frame_paths"], [], 0
            for n in row["clip_lengths"]:
                clips.append(paths[at : at + n])
                at += n
            yield (
                no,
                {
                    "messages": row["messages"],
                    "videos": clips,
                    "start_time": row["start_time"],
                    "end_time": row["end_time"],
                },
            )
        on_bytes(size * batch.num_rows / rows)


def _count_times_against_frames(times: Counter, start, end, seconds: list[int], on_disk) -> None:
    """How a record's times lie against its own frames (frame index = second at 1 fps): more
    than a second before its first frame or after its last one, and past the end of its
    video where the frames on disk say where that is. Counted, not judged: what start and end
    mean is undocumented, so these counts are how a reader learns it."""
    if not seconds:
        return
    first, last = min(seconds), max(seconds)
    for name, t in (("start", start), ("end", end)):
        if t is not None and not first - 1 <= t <= last + 1:
            times[f"{name}_outside_clip"] += 1
    if on_disk is not None and any(t is not None and t > len(on_disk) for t in (start, end)):
        times["after_video_end"] += 1


def _words(text: str) -> int:
    return len(text.replace(qa.VIDEO_TAG, " ").split())


def dataset_stats(
    root: str | Path | None = None,
    qa_file: str | Path | None = None,
    show_progress: bool = True,
    frames_root: str | Path | None = None,
) -> DatasetStats:
    """Count videos, frames and QA records per source, the distributions of durations, clip
    lengths, question/answer lengths and start/end times, and referenced frames missing on
    disk. `qa_file` defaults to ROOT/time_chat_online_139k_train_flt.jsonl and `frames_root`
    to ROOT/frames; without ROOT, give either (ROOT is then the folder holding it)."""
    if root is None:
        if qa_file is None and frames_root is None:
            raise UsageError("give the download folder, or --frames-root and/or --qa")
        root = Path(frames_root).parent if frames_root is not None else Path(qa_file).parent
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    qa_path = Path(qa_file) if qa_file is not None else root / QA_FILE
    if qa_file is not None and not qa_path.is_file():
        raise UsageError(f"QA file {qa_path} not found")
    if frames_root is not None and not Path(frames_root).is_dir():
        raise UsageError(f"frames root {frames_root} is not a folder")
    frames_root = Path(frames_root) if frames_root is not None else root / FRAMES_DIR
    has_qa, has_frames = qa_path.is_file(), frames_root.is_dir()
    if not has_qa and not has_frames:
        raise UsageError(
            f"{root} holds neither {QA_FILE} nor a {FRAMES_DIR}/ folder; is it a downloaded dataset folder?"
        )

    index = _scan_frames(frames_root, show_progress) if has_frames else _FrameIndex({}, {}, 0)
    by_source: dict[str, SourceSummary] = defaultdict(SourceSummary)
    for (src, _), n in index.counts.items():
        by_source[src].videos_on_disk += 1
        by_source[src].frames_on_disk += n

    n_records = bad_lines = refs_total = bad_paths = 0
    bad_examples: list[dict] = []
    bad_path_examples: list[str] = []
    turns, clip_len, q_words, a_words, starts, ends, spans = ([] for _ in range(7))
    times = Counter({k: 0 for k in (*TIME_COUNTS, "start_outside_clip", "end_outside_clip", "after_video_end")})
    referenced: dict[str, set] = defaultdict(set)
    missing_frames: set = set()
    absent_videos: set = set()
    missing_refs = records_affected = 0
    missing_examples: list[str] = []
    dir_cache: dict[str, tuple[str, str]] = {}  # frame folder path -> (source, video_id)

    def resolve(path: str) -> tuple[str, str, int] | None:
        folder, _, name = path.rpartition("/")
        if folder in dir_cache and (i := qa.frame_index(name)) is not None:
            return (*dir_cache[folder], i)
        ref, _ = qa.frame_ref(path)
        if ref is None:
            return None
        dir_cache[folder] = (ref.source, ref.video_id)
        return ref.source, ref.video_id, ref.index

    if has_qa:
        bar = progress(
            total=qa_path.stat().st_size, desc="QA records", unit="B", unit_scale=True, enabled=show_progress
        )
        try:
            for no, rec in _qa_records(qa_path, bar.update):
                try:
                    if isinstance(rec, BadLine):
                        raise _BadRecord(rec.reason)
                    parsed = _parse_record(rec)
                except _BadRecord as e:
                    bad_lines += 1
                    if len(bad_examples) < MAX_EXAMPLES:
                        bad_examples.append({"line": no, "reason": str(e)})
                    continue
                n_records += 1
                turns.append(parsed["turns"])
                q_words.append(_words(parsed["question"]))
                a_words.append(_words(parsed["answer"]))
                paths = [p for clip in parsed["videos"] for p in clip]
                clip_len.append(len(paths))
                st = en = None
                for key, store in (("start_time", starts), ("end_time", ends)):
                    name = key.split("_")[0]
                    v, problem = qa.seconds(rec.get(key), key)
                    if problem is not None:
                        times[f"{name}_unparseable"] += 1
                        continue
                    if v is None:
                        times[f"{name}_missing"] += 1
                        continue
                    store.append(v)
                    st, en = (v, en) if name == "start" else (st, v)
                if st is not None and en is not None:
                    spans.append(en - st)
                    if st > en:
                        times["start_after_end"] += 1
                record_source, record_missing, seconds, video = None, 0, [], None
                for p in paths:
                    refs_total += 1
                    ref = resolve(p)
                    if ref is None:
                        bad_paths += 1
                        if len(bad_path_examples) < MAX_EXAMPLES:
                            bad_path_examples.append(f"line {no}: {p}")
                        continue
                    src, vid, idx = ref
                    seconds.append(idx)
                    video = video or (src, vid)
                    record_source = record_source or src
                    referenced[src].add(vid)
                    by_source[src].frame_references += 1
                    bitmap = index.present.get((src, vid))
                    if bitmap is not None and idx < len(bitmap) and bitmap[idx]:
                        continue
                    record_missing += 1
                    by_source[src].missing_references += 1
                    if bitmap is None:
                        absent_videos.add((src, vid))
                    else:
                        missing_frames.add((src, vid, idx))
                    if len(missing_examples) < MAX_EXAMPLES:
                        missing_examples.append(f"line {no}: {src}/{vid}/{idx:06d}.jpg")
                missing_refs += record_missing
                records_affected += bool(record_missing)
                _count_times_against_frames(times, st, en, seconds, index.present.get(video))
                by_source[record_source or UNKNOWN_SOURCE].qa_records += 1
        finally:
            bar.close()
        if n_records == 0:  # counting nothing is no statistic
            first = f"; first: line {bad_examples[0]['line']}: {bad_examples[0]['reason']}" if bad_examples else ""
            shown = f" ({bad_lines} bad line(s){first})" if bad_lines else ": empty, or only blank lines"
            raise EmptyResultError(f"no QA record in {qa_path}{shown}")
    for src, vids in referenced.items():
        by_source[src].videos_referenced = len(vids)

    return DatasetStats(
        root=str(root),
        qa_file=str(qa_path) if has_qa else None,
        frames_dir=str(frames_root) if has_frames else None,
        annotation_files=sorted(p.name for p in root.glob("*.jsonl") if p.is_file()),
        by_source=dict(by_source),
        videos_on_disk=len(index.counts),
        frames_on_disk=sum(index.counts.values()),
        other_files_under_frames=index.other_files,
        video_duration_seconds=Distribution.of(list(index.counts.values())),
        qa_records=n_records,
        bad_lines=bad_lines,
        bad_line_examples=bad_examples,
        turns_per_record=Distribution.of(turns),
        clip_frames=Distribution.of(clip_len),
        question_words=Distribution.of(q_words),
        answer_words=Distribution.of(a_words),
        start_time=Distribution.of(starts),
        end_time=Distribution.of(ends),
        span_seconds=Distribution.of(spans),
        times=dict(times),
        frame_references=refs_total,
        bad_frame_paths=bad_paths,
        bad_frame_path_examples=bad_path_examples,
        missing={
            "references": missing_refs,
            "frames": len(missing_frames),
            "videos_absent": len(absent_videos),
            "records_affected": records_affected,
        },
        missing_examples=missing_examples,
    )
