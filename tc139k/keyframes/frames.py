"""Frame sources for the key-frame stage: 1 fps JPEG folders and video files.

A video is identified by (source, video_id). Two kinds of input give the same result, a
`DecodedVideo` (uint8 RGB frames, their times in seconds, and the frames that could not be
used):

- a folder `<frames_root>/<source>/<video_id>/` of `<NNNNNN>.jpg` files, one per second
  (index = second). Indices missing between 0 and the last one are reported as bad frames.
- a video file decoded with decord and sampled at 1 fps from the decoder's own timestamps:
  for every whole second k up to the last frame's start time, the frame whose start time is
  nearest to k (ties: the earlier frame). The frame's decoder timestamp is kept as its time.
  A frame that cannot be decoded is a bad frame, never a crash. In a damaged file, the
  frames that need the damaged data are always reported; decord's decoding thread reads
  ahead, so a good frame just before the damage can fail too: it is read again from fresh
  readers (`RETRIES`) before it is reported, which makes that rare but not impossible, so
  for a damaged file (only) which seconds near the damage are reported can differ between
  runs. Reasons leave out decord's clock time, so they do not.

Every frame is decoded once, to a fixed working size (the whole frame is resized without
cropping, so every region stays visible to the scene detector and to DTD) and shared by the
scene detector and the encoder. `ordered_map` runs decoding in background threads with a
bounded number of videos in flight, so memory does not grow with the number of videos.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..errors import UsageError
from ..jpegheader import EOI, SOI, walk_header
from ..paths import FRAME_NAME_RE, is_safe_name, source_key

FRAME_FOLDER = "frames"
VIDEO_FILE = "file"
DECORD_CHUNK = 32  # frames per decord get_batch call: bounded memory, few seeks


@dataclass(frozen=True, order=True)
class VideoSpec:
    """Where one video's frames come from. Sorts by (source, video_id)."""

    source: str
    video_id: str
    kind: str = field(compare=False)  # FRAME_FOLDER or VIDEO_FILE
    path: str = field(compare=False)  # folder or video file
    display_root: str = field(default="", compare=False)  # paths in reports are relative to it

    @property
    def key(self) -> str:
        return f"{self.source}/{self.video_id}"

    def display(self, path: str | os.PathLike) -> str:
        """A path as reported in bad_frames: relative to the frames root for frame folders
        (location-independent output), as given for video files."""
        if self.display_root:
            return os.path.relpath(path, self.display_root).replace(os.sep, "/")
        return str(path)


@dataclass(frozen=True)
class BadFrame:
    index: int  # frame index (second) for folders, decoder position for video files
    path: str
    reason: str

    def to_dict(self) -> dict:
        return {"index": self.index, "path": self.path, "reason": self.reason}


@dataclass
class DecodedVideo:
    spec: VideoSpec
    frames: np.ndarray  # uint8 (T, H, W, 3), RGB
    seconds: np.ndarray  # float64 (T,)
    bad_frames: list[BadFrame]
    error: str | None = None  # set when the video gave no usable frame at all

    @property
    def n_frames(self) -> int:
        return int(len(self.seconds))

    @property
    def ok(self) -> bool:
        return self.error is None


# ---- listing videos ----------------------------------------------------------------------


def read_video_ids(path: str | Path) -> list[tuple[str | None, str]]:
    """Lines `video_id` or `source/video_id`; blank lines and `#` comments are skipped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read video id list {path}: {e}") from None
    out: list[tuple[str | None, str]] = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("/")
        if len(parts) > 2 or not all(is_safe_name(p) for p in parts):
            raise UsageError(f"{path}:{n}: {line!r} is not `video_id` or `source/video_id`")
        out.append((source_key(parts[0]), parts[1]) if len(parts) == 2 else (None, parts[0]))
    return out


def list_frame_videos(
    frames_root: str | Path, video_ids: list[tuple[str | None, str]] | None = None, ids_file: str = "--video-ids"
) -> list[VideoSpec]:
    """Videos under `<frames_root>/<source>/<video_id>/`, sorted by (source, video_id).

    With `video_ids`, only those; an id that names no folder, or a bare id found under
    several sources, is a usage error naming the id."""
    root = Path(frames_root)
    if not root.is_dir():
        raise UsageError(f"frames root {root} is not a folder")
    found: dict[tuple[str, str], Path] = {}
    by_id: dict[str, list[str]] = collections.defaultdict(list)
    for src_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if not is_safe_name(src_dir.name) or src_dir.name.startswith("."):
            continue
        for vid_dir in sorted(p for p in src_dir.iterdir() if p.is_dir()):
            if not is_safe_name(vid_dir.name) or vid_dir.name.startswith("."):
                continue
            key = (source_key(src_dir.name), vid_dir.name)
            found[key] = vid_dir
            by_id[vid_dir.name].append(key[0])
    if video_ids is None:
        keys = sorted(found)
    else:
        keys, missing, ambiguous = set(), [], []
        for source, vid in video_ids:
            if source is not None:
                (keys.add((source, vid)) if (source, vid) in found else missing.append(f"{source}/{vid}"))
            elif len(by_id.get(vid, [])) == 1:
                keys.add((by_id[vid][0], vid))
            elif vid in by_id:
                ambiguous.append(f"{vid} (in {', '.join(sorted(by_id[vid]))})")
            else:
                missing.append(vid)
        if missing:
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise UsageError(f"{ids_file}: no frame folder under {root} for {', '.join(missing[:10])}{more}")
        if ambiguous:
            raise UsageError(
                f"{ids_file}: ambiguous video ids, write them as source/video_id: {', '.join(ambiguous[:10])}"
            )
        keys = sorted(keys)
    return [VideoSpec(s, v, FRAME_FOLDER, str(found[(s, v)]), str(root)) for s, v in keys]


def video_file_specs(paths: Iterable[str | Path], source: str | None = None) -> list[VideoSpec]:
    """One spec per video file: video_id is the file name without its extension, source is
    `source` or else the parent folder's name (mirroring `<source>/<video_id>`)."""
    specs: dict[tuple[str, str], VideoSpec] = {}
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise UsageError(f"video file {p} does not exist")
        vid = p.stem
        src = source_key(source if source is not None else (p.resolve().parent.name or "video"))
        if not is_safe_name(vid) or not is_safe_name(src):
            raise UsageError(
                f"video file {p}: source {src!r} or video id {vid!r} has characters "
                "outside [A-Za-z0-9_.-]; rename the file or pass --source"
            )
        if (src, vid) in specs:
            raise UsageError(
                f"video files {specs[(src, vid)].path} and {p} both give video "
                f"{src}/{vid}; pass them in separate runs or rename one"
            )
        specs[(src, vid)] = VideoSpec(src, vid, VIDEO_FILE, str(p))
    return sorted(specs.values())


# ---- decoding ----------------------------------------------------------------------------


def decode(spec: VideoSpec, size: tuple[int, int]) -> DecodedVideo:
    """Decode one video to uint8 RGB frames of `size` = (width, height). Never raises for bad
    input: unusable frames go to bad_frames, an unusable video gets `error`."""
    if spec.kind == FRAME_FOLDER:
        video = decode_frame_folder(spec, size)
    elif spec.kind == VIDEO_FILE:
        video = decode_video_file(spec, size)
    else:
        raise ValueError(f"unknown video kind {spec.kind!r}")
    if video.error is None and video.n_frames == 0:
        video.error = "no usable frame" + (f" ({len(video.bad_frames)} bad)" if video.bad_frames else "")
    return video


def _empty(size: tuple[int, int]) -> np.ndarray:
    return np.zeros((0, size[1], size[0], 3), dtype=np.uint8)


REDUCED = ((8, "IMREAD_REDUCED_COLOR_8"), (4, "IMREAD_REDUCED_COLOR_4"), (2, "IMREAD_REDUCED_COLOR_2"))


def read_jpeg(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """One image file as uint8 RGB (height, width, 3) of `size`; raises on a bad file.

    OpenCV decodes it (EXIF orientation ignored, as the frames were written), a JPEG at the
    largest DCT scale 1/2, 1/4 or 1/8 that stays at least `size` (large frames decode at a
    fraction of the cost), then resizes it: area averaging when shrinking, bilinear when
    enlarging. OpenCV returns no image rather than raising, and would fill a JPEG cut short
    with grey: both become errors naming the file."""
    import cv2

    with open(path, "rb") as f:  # not Path.read_bytes: its path parsing costs a tenth of a small decode
        data = f.read()
    if not data:
        raise ValueError(f"{Path(path).name}: empty file")
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    if data.startswith(SOI):
        dims, scan, _ = walk_header(data)  # a header that leads to no scan: the decoder decides
        if scan >= 0 and data.find(EOI, scan) < 0:  # FF D9 after the scan start is the end-of-image
            raise ValueError(f"{Path(path).name}: truncated JPEG (no end-of-image marker)")
        if scan >= 0 and dims is not None and min(dims) > 0:
            scale = min(dims[0] // size[0], dims[1] // size[1])
            flags = next(
                (getattr(cv2, name) | cv2.IMREAD_IGNORE_ORIENTATION for f, name in REDUCED if scale >= f), flags
            )
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3 or 0 in bgr.shape:
        raise ValueError(f"{Path(path).name}: OpenCV cannot decode it as an image")
    if (bgr.shape[1], bgr.shape[0]) != size:
        shrink = bgr.shape[1] >= size[0] and bgr.shape[0] >= size[1]
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # a new, writable array, safe to hand to torch


def decode_frame_folder(spec: VideoSpec, size: tuple[int, int]) -> DecodedVideo:
    folder = Path(spec.path)
    try:
        names = os.listdir(folder)
    except OSError as e:
        return DecodedVideo(spec, _empty(size), np.zeros(0), [], f"cannot list {folder}: {e.strerror or e}")
    indexed = sorted((int(m.group(1)), name) for name in names if (m := FRAME_NAME_RE.match(name)))
    frames = np.empty((len(indexed), size[1], size[0], 3), dtype=np.uint8)
    seconds: list[float] = []
    bad: list[BadFrame] = []
    expected = 0
    for index, name in indexed:
        for gap in range(expected, index):  # the sequence should have every second
            bad.append(BadFrame(gap, spec.display(folder / f"{gap:06d}.jpg"), "missing"))
        expected = index + 1
        path = os.path.join(spec.path, name)  # a plain string: no Path object per frame
        try:
            frames[len(seconds)] = read_jpeg(path, size)
        except Exception as e:  # any decoder failure is a bad frame, never a crash
            bad.append(BadFrame(index, spec.display(path), f"unreadable image: {_reason(e)}"))
            continue
        seconds.append(float(index))
    return DecodedVideo(spec, frames[: len(seconds)], np.asarray(seconds, dtype=np.float64), bad)


# decord prefixes its messages with the wall-clock time and its own source location
# ("[22:08:07] /src/video/ffmpeg/threaded_decoder.cc:292: "): left out, so that a rerun
# writes the same reason
_DECORD_PREFIX = re.compile(r"\[\d{2}:\d{2}:\d{2}\] \S+:\d+: ")


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = _DECORD_PREFIX.sub("", text)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def one_fps_positions(starts: np.ndarray) -> np.ndarray:
    """Decoder positions sampled at 1 fps: for each whole second k from 0 to the last start
    time, the frame whose start time is nearest to k (ties go to the earlier frame)."""
    starts = np.asarray(starts, dtype=np.float64)
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    ks = np.arange(0, int(np.floor(starts[-1] + 1e-6)) + 1, dtype=np.float64)
    right = np.clip(np.searchsorted(starts, ks, side="left"), 0, len(starts) - 1)
    left = np.clip(right - 1, 0, len(starts) - 1)
    pick = np.where(np.abs(starts[left] - ks) <= np.abs(starts[right] - ks), left, right)
    return np.unique(pick)  # a video below 1 fps maps several seconds to one frame


RETRIES = 3  # fresh readers a frame that failed gets before it is reported


def decode_video_file(spec: VideoSpec, size: tuple[int, int]) -> DecodedVideo:
    import decord

    decord.logging.set_level(decord.logging.QUIET)  # FFmpeg's lines on damage: the bad frames say it

    path = spec.path
    shown = spec.display(path)

    def open_reader():
        return decord.VideoReader(path, ctx=decord.cpu(0), width=size[0], height=size[1], num_threads=1)

    try:
        reader = open_reader()
        n = len(reader)
        starts = reader.get_frame_timestamp(np.arange(n))[:, 0] if n else np.zeros(0)
    except Exception as e:
        return DecodedVideo(spec, _empty(size), np.zeros(0), [], f"cannot open video {shown}: {_reason(e)}")
    positions = one_fps_positions(starts)
    frames = np.empty((len(positions), size[1], size[0], 3), dtype=np.uint8)
    kept: list[int] = []
    bad: list[BadFrame] = []
    for lo in range(0, len(positions), DECORD_CHUNK):
        chunk = positions[lo : lo + DECORD_CHUNK]
        try:
            frames[len(kept) : len(kept) + len(chunk)] = reader.get_batch(chunk.tolist()).asnumpy()
            kept.extend(chunk.tolist())
            continue
        except Exception:
            pass  # retry frame by frame to tell the bad frames from the good ones
        for pos in chunk.tolist():
            picture, error = _read_one(reader, open_reader, pos)
            if picture is None:
                bad.append(BadFrame(int(pos), shown, f"undecodable frame: {_reason(error)}"))
            else:
                frames[len(kept)] = picture
                kept.append(pos)
    seconds = np.round(np.asarray(starts, dtype=np.float64)[kept], 6) if kept else np.zeros(0)
    return DecodedVideo(spec, frames[: len(kept)], seconds, bad)


def _read_one(reader, open_reader, pos: int) -> tuple[np.ndarray | None, BaseException | None]:
    """Frame `pos`, or (None, the last error). decord's decoding thread reads packets ahead,
    so a damaged packet can fail the read of a good frame before it; such a frame is read
    again from a fresh reader (RETRIES times) before it is reported."""
    error: BaseException | None = None
    for attempt in range(1 + RETRIES):
        try:
            source = reader if attempt == 0 else open_reader()
            return source[pos].asnumpy(), None
        except Exception as e:
            error = e
    return None, error


# ---- background work ---------------------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int, max_in_flight: int | None = None
) -> Iterator[R]:
    """`map(fn, items)` computed in `workers` background threads, results in input order.

    At most `max_in_flight` items (default 2 x workers) are being worked on or waiting to be
    consumed, so memory stays flat however many items there are. PIL, decord and OpenCV
    release the GIL while decoding, so threads run in parallel with the encoder."""
    workers = max(1, int(workers))
    limit = max(1, max_in_flight or 2 * workers)
    it = iter(items)
    pending: collections.deque = collections.deque()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tc139k-decode") as pool:
        try:
            for item in it:
                pending.append(pool.submit(fn, item))
                if len(pending) >= limit:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
