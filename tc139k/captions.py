"""Reading the dense key-frame caption file (`annotations_caption_flt.jsonl`) defensively.

The real file's record layout is not documented. The toolkit assumes schemas/captions.v1.json
(one line per video: video_id, source, duration, captions [{time, frame, caption}]) but
infers the layout from the first records and also understands:
- per-video records whose caption list has another name (keyframes, frames, ...), whose
  items use other names (timestamp, text, ...), or which map times to captions;
- per-caption records (one line per key frame) naming the video or only its frame path.
A time comes from a time field (a number or a numeric string, in seconds) or else from the
frame path's index (1 fps). A layout it cannot read raises SchemaError naming the fields it
found. The result gives each video's key-frame seconds, sorted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import qa
from .errors import SchemaError
from .jsonl import BadLine, read_objects
from .paths import source_key

SCHEMA_ID = "captions.v1"
VIDEO_KEYS = ("video_id", "video", "vid", "video_name", "videoid")
SOURCE_KEYS = ("source", "dataset", "data_source")
DURATION_KEYS = ("duration", "video_duration", "length")
LIST_KEYS = ("captions", "keyframes", "key_frames", "frames", "dense_captions", "annotations", "segments")
TIME_KEYS = ("time", "timestamp", "second", "seconds", "t", "frame_time", "start")
FRAME_KEYS = ("frame", "frame_path", "image", "path", "file")
CAPTION_KEYS = ("caption", "text", "description", "content")
SAMPLE_RECORDS = 50  # records looked at to infer the layout
MAX_PROBLEMS = 100


@dataclass
class CaptionLayout:
    kind: str  # "per_video" (a list, or a time -> caption map, per line) or "per_caption"
    video_key: str | None  # None: the video comes from the frame path
    source_key: str | None
    duration_key: str | None
    list_key: str | None  # per_video: the field holding the captions
    list_is_map: bool  # per_video: the field maps times to captions
    time_key: str | None  # None: the time comes from the frame path's index
    frame_key: str | None
    caption_key: str | None
    fields: list[str]  # fields of the records looked at
    item_fields: list[str]  # per_video: fields of their caption items

    def describe(self) -> str:
        where = self.video_key or f"{self.frame_key} (frame path)"
        when = self.time_key or f"{self.frame_key} (frame index, 1 fps)"
        if self.kind == "per_video":
            items = "a map of time -> caption" if self.list_is_map else f"a list of {{{when}, {self.caption_key}}}"
            return f"one line per video: {where} with {self.list_key} as {items}"
        return f"one line per caption: {where}, {when}, {self.caption_key}"


@dataclass
class VideoKeyframes:
    video_id: str
    source: str | None
    seconds: list[float]  # key-frame times, sorted, without repeats
    n_captions: int
    duration: float | None = None


@dataclass
class Captions:
    path: str
    layout: CaptionLayout
    videos: dict[str, VideoKeyframes]
    records: int
    captions: int
    n_problems: int = 0
    problems: list[dict] = field(default_factory=list)  # the first MAX_PROBLEMS: {"line", "message"}

    def keyframe_seconds(self) -> dict[str, list[float]]:
        """video_id -> key-frame seconds (sorted)."""
        return {vid: v.seconds for vid, v in self.videos.items()}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layout_description"] = self.layout.describe()
        return d


def read_captions(path: str | Path, sample_records: int = SAMPLE_RECORDS) -> Captions:
    """Read a caption file, inferring its layout from the first `sample_records` records.
    Lines that do not fit the layout are counted in `problems`, not fatal."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"caption file {path} does not exist")
    rows: list[tuple[int, object]] = []
    problems: list[dict] = []
    n_problems = 0

    def problem(line: int, message: str) -> None:
        nonlocal n_problems
        n_problems += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append({"line": line, "message": message})

    for line_no, obj in read_objects(path, on_error="report", objects_only=False):
        if isinstance(obj, BadLine):
            problem(line_no, obj.reason)
        else:
            rows.append((line_no, obj))
    layout = infer_layout([obj for _, obj in rows[:sample_records]], str(path))
    videos: dict[str, VideoKeyframes] = {}
    n_captions = 0
    for line_no, obj in rows:
        try:
            items = _read_record(obj, layout)
        except ValueError as e:
            problem(line_no, str(e))
            continue
        for video_id, source, seconds, duration in items:
            v = videos.get(video_id)
            if v is None:
                v = videos[video_id] = VideoKeyframes(video_id, source, [], 0, duration)
            v.seconds.append(seconds)
            v.n_captions += 1
            n_captions += 1
            if v.duration is None:
                v.duration = duration
    for v in videos.values():
        v.seconds = sorted(set(v.seconds))
    return Captions(str(path), layout, dict(sorted(videos.items())), len(rows), n_captions, n_problems, problems)


def infer_layout(records: list, where: str = "caption file") -> CaptionLayout:
    """The layout of caption records (dicts decoded from JSON). Raises SchemaError, naming
    the fields found, when none fits."""
    objects = [r for r in records if isinstance(r, dict)]
    if not objects:
        kinds = sorted({type(r).__name__ for r in records}) or ["nothing"]
        raise SchemaError(f"{where}: unknown caption layout: records are {', '.join(kinds)}, not JSON objects")
    fields = sorted({k for r in objects for k in r})
    first = objects[0]
    video_key = _pick(fields, VIDEO_KEYS, objects, str)
    source = _pick(fields, SOURCE_KEYS, objects, str)
    duration = _pick(fields, DURATION_KEYS, objects, (int, float, str))
    list_key = _pick(fields, LIST_KEYS, objects, (list, dict))
    if list_key is not None:
        values = [r[list_key] for r in objects if list_key in r]
        if _mostly(values, lambda v: isinstance(v, dict)):
            keys = [k for v in values if isinstance(v, dict) for k in v]
            if _mostly(keys, qa.NUMERIC_RE.fullmatch) and video_key:
                return CaptionLayout(
                    "per_video", video_key, source, duration, list_key, True, None, None, None, fields, []
                )
        items = [i for v in values if isinstance(v, list) for i in v]
        dict_items = [i for i in items if isinstance(i, dict)]
        item_fields = sorted({k for i in dict_items for k in i})
        time_key = _pick(item_fields, TIME_KEYS, dict_items, (int, float, str))
        frame_key = _pick(item_fields, FRAME_KEYS, dict_items, str)
        caption_key = _pick(item_fields, CAPTION_KEYS, dict_items, str)
        if (
            _mostly(items, lambda i: isinstance(i, dict))
            and caption_key
            and (time_key or frame_key)
            and (video_key or frame_key)
        ):
            return CaptionLayout(
                "per_video",
                video_key,
                source,
                duration,
                list_key,
                False,
                time_key,
                frame_key,
                caption_key,
                fields,
                item_fields,
            )
        raise SchemaError(
            f"{where}: unknown caption layout: records have fields {', '.join(fields)}; their "
            f"{list_key!r} items have "
            + (f"fields {', '.join(item_fields)}" if item_fields else "no fields")
            + "; expected items with a caption ("
            + "/".join(CAPTION_KEYS)
            + ") and a time ("
            + "/".join(TIME_KEYS)
            + ") or frame path ("
            + "/".join(FRAME_KEYS)
            + ")"
        )
    time_key = _pick(fields, TIME_KEYS, objects, (int, float, str))
    frame_key = _pick(fields, FRAME_KEYS, objects, str)
    caption_key = _pick(fields, CAPTION_KEYS, objects, str)
    if caption_key and (time_key or frame_key) and (video_key or frame_key):
        return CaptionLayout(
            "per_caption", video_key, source, duration, None, False, time_key, frame_key, caption_key, fields, []
        )
    raise SchemaError(
        f"{where}: unknown caption layout: the first record has fields {', '.join(sorted(first))} "
        f"(all records looked at: {', '.join(fields)}); expected one line per video with "
        f"video_id and captions [{{time, frame, caption}}] ({SCHEMA_ID}) or one line per caption "
        "with a video id or frame path, a time or frame path, and a caption"
    )


def _pick(fields: list[str], names: tuple, objects: list[dict], types) -> str | None:
    """The first of `names` among `fields` whose values (where present) mostly have `types`:
    a few bad records do not change the layout, they become problems."""
    for name in names:
        if name in fields:
            values = [o[name] for o in objects if name in o]
            if _mostly(values, lambda v: isinstance(v, types) and not isinstance(v, bool)):
                return name
    return None


def _mostly(values: list, test) -> bool:
    return bool(values) and 2 * sum(1 for v in values if test(v)) > len(values)


def _seconds(value) -> float:
    """A time by the QA time rule (tc139k.qa.seconds); ValueError naming the problem."""
    seconds, problem = qa.seconds(value, "time")
    if seconds is None:
        raise ValueError(problem[1] if problem else "time is null")
    return seconds


def _read_record(obj, layout: CaptionLayout) -> list[tuple[str, str | None, float, float | None]]:
    """(video_id, source, seconds, duration) of each caption of one record."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    video = obj.get(layout.video_key) if layout.video_key else None
    if layout.video_key and not isinstance(video, str):
        raise ValueError(f"{layout.video_key} is missing or not a string")
    source = obj.get(layout.source_key) if layout.source_key else None
    source = source_key(source) if isinstance(source, str) else None
    duration = None
    if layout.duration_key and obj.get(layout.duration_key) is not None:
        try:
            duration = _seconds(obj[layout.duration_key])
        except ValueError:
            duration = None
    if layout.kind == "per_caption":
        return [_one(obj, layout, video, source, duration)]
    items = obj.get(layout.list_key)
    if layout.list_is_map:
        if not isinstance(items, dict):
            raise ValueError(f"{layout.list_key} is missing or not an object")
        return [(video, source, _seconds(t), duration) for t in items]
    if not isinstance(items, list):
        raise ValueError(f"{layout.list_key} is missing or not a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"{layout.list_key}[{i}] is not an object")
        try:
            out.append(_one(item, layout, video, source, duration))
        except ValueError as e:
            raise ValueError(f"{layout.list_key}[{i}]: {e}") from None
    return out


def _one(item: dict, layout: CaptionLayout, video, source, duration):
    ref = None
    if layout.frame_key and isinstance(item.get(layout.frame_key), str):
        ref, why = qa.frame_ref(item[layout.frame_key])
        if ref is None and not (layout.time_key and video):
            raise ValueError(why)
    if layout.caption_key and not isinstance(item.get(layout.caption_key), str):
        raise ValueError(f"{layout.caption_key} is missing or not a string")
    if layout.time_key and item.get(layout.time_key) is not None:
        seconds = _seconds(item[layout.time_key])
    elif ref is not None:
        seconds = float(ref.index)
    else:
        raise ValueError(f"no {layout.time_key or layout.frame_key} to take the time from")
    if video is None:
        if ref is None:
            raise ValueError("no video id and no frame path to take it from")
        video = ref.video_id
    if source is None and ref is not None:
        source = ref.source
    return video, source, seconds, duration
