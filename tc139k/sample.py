"""The bundled sample: a miniature TimeChat-Online-139K Hub repository, generated.

The layout follows the real repository (see DATASET_CARD.md): the QA file and the caption
file at the top, `OtherTrainingDataset/*.jsonl`, and one frame archive per source dataset
(mixed-case names, one of them split into byte-wise `.tar.gz.NNN` parts) whose members sit
under a prefix unlike the annotations' `timechatonline/timeit-v2/frames/` prefix.

Videos are drawn procedurally at 1 fps: scenes with a gradient background and soft blobs,
small moving objects, camera pans, slow fades, static stretches and hard cuts at known
seconds. The cuts and the key frames the generator chose go to `ground_truth.json`, beside
the repository and not part of it. The same seed gives byte-identical files.
"""

from __future__ import annotations

import colorsys
import gzip
import io
import json
import os
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import write_bytes, write_json
from .paths import AUTHORS_PREFIX, frame_relpath

WIDTH, HEIGHT = 160, 120
JPEG_QUALITY = 85
SPLIT_PART_SIZE = 1_000_000  # bytes per part of the split archive (sized so it gives 3+ parts)

# (archive name as on the Hub, number of videos, id style, member prefix inside the archive)
SOURCES = [
    ("Youcook2", 3, "youtube", "timeit_frames/youcook2/"),
    ("COIN", 3, "youtube", "COIN/"),
    ("HiREST", 3, "youtube", "data/frames_1fps/HiREST/"),
    ("VideoIC", 3, "numeric", "videoic/"),
    ("TVSum", 2, "youtube", "export/tvsum_frames/tvsum/"),
]
SPLIT_ARCHIVES = {"Youcook2"}

TASKS = {
    "Backward Tracing": ["episodic memory", "event order", "action sequence identification"],
    "Real-Time Visual Perception": ["visual detail focus", "attribute change", "camera transitions"],
    "Forward Active Responding": ["clues reveal responding", "future prediction", "sequential steps recognition"],
}
COLOR_NAMES = ["red", "orange", "yellow", "green", "teal", "blue", "purple", "pink"]
SHAPES = ["circle", "square"]
MAX_CLIP_FRAMES = 64
FILE_MTIME = 1_700_000_000


@dataclass
class Scene:
    start: int
    end: int  # exclusive, in seconds (= frame indices)
    hue: float
    bright: bool
    pan: float  # px per second
    fade: bool
    static_from: int | None  # objects stop moving from this second on
    objects: list = field(default_factory=list)


@dataclass
class SampleVideo:
    source: str  # lower-case, as in frame paths
    archive: str  # archive name, as on the Hub
    video_id: str
    duration: int  # seconds = number of frames
    scenes: list[Scene]
    keyframes: list[int]

    @property
    def scene_cuts(self) -> list[int]:
        return [s.start for s in self.scenes[1:]]


@dataclass
class SampleInfo:
    out_dir: str
    repo_dir: str
    frames_dir: str | None
    ground_truth_path: str
    sources: list[str]
    n_videos: int
    n_frames: int
    n_qa: int
    repo_bytes: int

    def to_dict(self) -> dict:
        return asdict(self)


# ---- drawing -------------------------------------------------------------------------------


def _rgb(hue: float, sat: float, val: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, sat, val), dtype=np.float32) * 255.0


def _background(rng: np.random.Generator, hue: float, bright: bool, width: int) -> np.ndarray:
    """A two-colour gradient with stripes and a few soft blobs, `width` pixels wide (for
    panning). Successive scenes alternate bright and dark, as cuts in real video mostly
    change the brightness too (luma-only detectors rely on it)."""
    lo, hi = (0.7, 0.95) if bright else (0.3, 0.5)
    top = _rgb(hue, rng.uniform(0.5, 0.9), rng.uniform(lo, hi))
    bottom = _rgb(hue + rng.uniform(0.05, 0.15), rng.uniform(0.4, 0.9), rng.uniform(lo, hi) - 0.1)
    t = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(top * (1 - t) + bottom * t, (HEIGHT, width, 3)).copy()
    yy, xx = np.mgrid[0:HEIGHT, 0:width].astype(np.float32)
    # diagonal stripes: texture, so that a camera pan really changes the pixels
    period, angle = rng.uniform(6, 16), rng.uniform(0, np.pi)
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) * (2 * np.pi / period)
    img += (rng.uniform(8, 18) * np.sin(phase))[..., None]
    for _ in range(int(rng.integers(3, 7))):
        cx, cy = rng.uniform(0, width), rng.uniform(0, HEIGHT)
        r = rng.uniform(10, 28)
        colour = _rgb(hue + rng.uniform(-0.08, 0.08), rng.uniform(0.2, 1.0), rng.uniform(0.2, 1.0))
        w = np.clip(1.0 - np.hypot(xx - cx, yy - cy) / r, 0.0, 1.0)[..., None] ** 0.7
        img = img * (1 - w) + colour * w
    return img


def _draw_object(img: np.ndarray, obj: dict, x: float, y: float) -> None:
    r = obj["size"]
    x0, x1 = int(max(0, x - r)), int(min(WIDTH, x + r + 1))
    y0, y1 = int(max(0, y - r)), int(min(HEIGHT, y + r + 1))
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    if obj["shape"] == "circle":
        mask = (xx - x) ** 2 + (yy - y) ** 2 <= r * r
    else:
        mask = np.ones_like(xx, dtype=bool)
    img[y0:y1, x0:x1][mask] = obj["rgb"]


def _render_scene(rng: np.random.Generator, scene: Scene) -> list[np.ndarray]:
    n = scene.end - scene.start
    max_shift = int(abs(scene.pan) * n) + 1
    canvas = _background(rng, scene.hue, scene.bright, WIDTH + max_shift)
    frames = []
    for k in range(n):
        sec = scene.start + k
        moving_t = k if scene.static_from is None else min(k, scene.static_from - scene.start)
        off = int(round(abs(scene.pan) * moving_t))
        if scene.pan < 0:
            off = max_shift - 1 - off
        img = canvas[:, off : off + WIDTH].copy()
        for obj in scene.objects:
            x = obj["x"] + obj["vx"] * moving_t
            y = obj["y"] + obj["vy"] * moving_t
            # bounce inside the frame so objects stay visible
            x = abs((x % (2 * WIDTH)) - WIDTH) if not 0 <= x <= WIDTH else x
            y = abs((y % (2 * HEIGHT)) - HEIGHT) if not 0 <= y <= HEIGHT else y
            _draw_object(img, obj, x, y)
        if scene.fade:
            img *= 1.0 - 0.35 * (moving_t / max(1, n - 1))
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
        del sec
    return frames


def _jpeg(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


# ---- the plan of each video --------------------------------------------------------------


def _video_id(rng: np.random.Generator, style: str) -> str:
    if style == "numeric":
        return str(int(rng.integers(10_000_000, 99_999_999)))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 11))


def _plan_video(rng: np.random.Generator, archive: str, style: str, motion: float) -> SampleVideo:
    duration = int(rng.integers(60, 241))
    scenes: list[Scene] = []
    start, hue = 0, rng.uniform(0, 1)
    while start < duration:
        length = int(rng.integers(8, 36))
        if duration - (start + length) < 8:
            length = duration - start
        # successive scenes differ strongly in hue so that the cut is a real cut
        hue = (hue + rng.uniform(0.3, 0.7)) % 1.0
        static = rng.random() < (1.0 - motion) and length >= 12
        scene = Scene(
            start=start,
            end=start + length,
            hue=hue,
            bright=len(scenes) % 2 == 0,
            pan=float(rng.choice([-1, 1]) * rng.uniform(2.0, 6.0)) if rng.random() < 0.4 * motion else 0.0,
            fade=bool(rng.random() < 0.2),
            static_from=start + int(rng.integers(2, max(3, length // 2))) if static else None,
        )
        for _ in range(int(rng.integers(1, 4))):
            speed = rng.uniform(1.0, 6.0) * motion
            angle = rng.uniform(0, 2 * np.pi)
            ci = int(rng.integers(0, len(COLOR_NAMES)))
            scene.objects.append(
                {
                    "shape": SHAPES[int(rng.integers(0, 2))],
                    "colour": COLOR_NAMES[ci],
                    "rgb": _rgb(ci / len(COLOR_NAMES), 0.9, 0.95),
                    "size": float(rng.uniform(8, 18)),
                    "x": float(rng.uniform(20, WIDTH - 20)),
                    "y": float(rng.uniform(20, HEIGHT - 20)),
                    "vx": float(speed * np.cos(angle)),
                    "vy": float(speed * np.sin(angle)),
                }
            )
        scenes.append(scene)
        start += length
    keyframes = []
    for s in scenes:
        keyframes.append(s.start)
        moving_until = s.end if s.static_from is None else s.static_from
        t = s.start + 7
        while t < moving_until - 2:
            keyframes.append(t)
            t += 7
    return SampleVideo(
        source=archive.lower(),
        archive=archive,
        video_id=_video_id(rng, style),
        duration=duration,
        scenes=scenes,
        keyframes=keyframes,
    )


# ---- annotations -------------------------------------------------------------------------


def _scene_at(video: SampleVideo, t: int) -> Scene:
    for s in video.scenes:
        if s.start <= t < s.end:
            return s
    return video.scenes[-1]


def _describe(scene: Scene) -> str:
    objs = ", ".join(f"a {o['colour']} {o['shape']}" for o in scene.objects)
    motion = "stays still" if scene.static_from is not None else "moves across the frame"
    cam = " while the camera pans" if scene.pan else ""
    return f"Over a soft background, {objs} {motion}{cam}."


def _clip_paths(video: SampleVideo, start: int, end: int, rng: np.random.Generator) -> list[str]:
    secs = list(range(start, end + 1))
    if len(secs) > MAX_CLIP_FRAMES:
        secs = sorted(rng.choice(secs, MAX_CLIP_FRAMES, replace=False).tolist())
    else:
        # drop a few frames to leave gaps, as in the real clips
        keep = rng.random(len(secs)) > 0.15
        keep[0] = keep[-1] = True
        secs = [s for s, k in zip(secs, keep) if k]
    return [AUTHORS_PREFIX + frame_relpath(video.source, video.video_id, s) for s in secs]


def _time_value(x: float, rng: np.random.Generator):
    """start/end times appear as numbers and as numeric strings in the wild."""
    kind = int(rng.integers(0, 3))
    return [float(x), int(x), f"{float(x):.1f}"][kind]


def _qa_records(video: SampleVideo, rng: np.random.Generator) -> list[dict]:
    records = []
    families = list(TASKS)
    for i in range(11 + int(rng.integers(0, 4))):
        family = families[i % 3]
        subtype = TASKS[family][int(rng.integers(0, 3))]
        end = int(rng.integers(10, video.duration))
        start = max(0, end - int(rng.integers(8, 120)))
        scene = _scene_at(video, end)
        obj = scene.objects[0]
        if family == "Backward Tracing":
            earlier = _scene_at(video, start)
            q = f"Earlier in the video, what colour was the {earlier.objects[0]['shape']} shown first?"
            a = f"It was {earlier.objects[0]['colour']}."
        elif family == "Real-Time Visual Perception":
            q = f"What shape is the {obj['colour']} object in the current frame?"
            a = f"It is a {obj['shape']}."
        else:
            answerable = rng.random() < 0.6
            q = f"Tell me when the scene changes to a new background ({subtype})."
            nxt = [s.start for s in video.scenes if s.start > end]
            a = (
                f"The scene changes at {nxt[0]} seconds."
                if answerable and nxt
                else "This cannot be answered yet from what has been shown."
            )
        messages = [{"role": "user", "content": f"<video>\n{q}"}, {"role": "assistant", "content": a}]
        if rng.random() < 0.1:
            messages += [
                {"role": "user", "content": "And how many objects are visible?"},
                {"role": "assistant", "content": f"{len(scene.objects)}."},
            ]
        records.append(
            {
                "messages": messages,
                "videos": [_clip_paths(video, start, end, rng)],
                "start_time": _time_value(start, rng),
                "end_time": _time_value(end, rng),
            }
        )
    return records


def _caption_record(video: SampleVideo) -> dict:
    return {
        "video_id": video.video_id,
        "source": video.source,
        "duration": float(video.duration),
        "captions": [
            {
                "time": float(t),
                "frame": AUTHORS_PREFIX + frame_relpath(video.source, video.video_id, t),
                "caption": _describe(_scene_at(video, t)),
            }
            for t in video.keyframes
        ],
    }


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


# ---- archives ----------------------------------------------------------------------------


def _tar_gz(members: list[tuple[str, bytes]]) -> bytes:
    """A deterministic .tar.gz: fixed mtimes and owners, gzip header without a timestamp."""
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            seen_dirs: set[str] = set()
            for name, data in members:
                parts = name.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    d = "/".join(parts[:i])
                    if d not in seen_dirs:
                        seen_dirs.add(d)
                        info = tarfile.TarInfo(d)
                        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
                        tar.addfile(info)
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
                tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


REPO_README = """---
license: apache-2.0
task_categories:
- video-text-to-text
---
# TimeChat-Online-139K (miniature sample)

A small generated stand-in for `yaolily/TimeChat-Online-139K`, in the same layout:
`time_chat_online_139k_train_flt.jsonl` (QA), `annotations_caption_flt.jsonl` (key-frame
captions), `OtherTrainingDataset/*.jsonl`, and per-source frame archives of 1 fps JPEGs.
Generated by `tc139k sample`; the images are drawn procedurally.
"""

REPO_LICENSE = """Apache License, Version 2.0 (sample data generated by tc139k).
See https://www.apache.org/licenses/LICENSE-2.0
"""


def _other_training(rng: np.random.Generator) -> dict[str, bytes]:
    out = {}
    for name, n in [("llava_video_100k", 5), ("tarsier2_129k", 4), ("videochat_flash_3k", 3)]:
        recs = [
            {
                "messages": [
                    {"role": "user", "content": "<video>\nDescribe the video."},
                    {"role": "assistant", "content": f"A short clip, number {i}."},
                ],
                "videos": [f"{name}/videos/{int(rng.integers(0, 10**6)):06d}.mp4"],
            }
            for i in range(n)
        ]
        out[f"OtherTrainingDataset/{name}.jsonl"] = _jsonl(recs)
    return out


def build_sample(out_dir: str | Path, seed: int = 0, write_frames: bool = False) -> SampleInfo:
    """Write the sample repository to `out_dir/repo` and its ground truth beside it.

    With `write_frames`, also write the frames as they should look once extracted, under
    `out_dir/frames/<source>/<video_id>/<NNNNNN>.jpg` (a reference for tests)."""
    out_dir = Path(out_dir)
    repo = out_dir / "repo"
    rng = np.random.default_rng(seed)
    videos: list[SampleVideo] = []
    files: dict[str, bytes] = {}
    for v_i, (archive, n_videos, style, prefix) in enumerate(SOURCES):
        members = []
        for k in range(n_videos):
            motion = [0.15, 0.6, 1.0][(v_i + k) % 3]  # redundancy varies by video
            video = _plan_video(rng, archive, style, motion)
            videos.append(video)
            for scene in video.scenes:
                for sec, frame in zip(range(scene.start, scene.end), _render_scene(rng, scene)):
                    jpeg = _jpeg(frame)
                    members.append((f"{prefix}{video.video_id}/{sec:06d}.jpg", jpeg))
                    if write_frames:
                        frame_file = out_dir / "frames" / frame_relpath(video.source, video.video_id, sec)
                        frame_file.parent.mkdir(parents=True, exist_ok=True)
                        frame_file.write_bytes(jpeg)
        blob = _tar_gz(members)
        if archive in SPLIT_ARCHIVES:
            n_parts = max(3, -(-len(blob) // SPLIT_PART_SIZE))
            step = -(-len(blob) // n_parts)
            for p in range(n_parts):
                files[f"{archive}.tar.gz.{p:03d}"] = blob[p * step : (p + 1) * step]
        else:
            files[f"{archive}.tar.gz"] = blob

    qa = [r for v in videos for r in _qa_records(v, rng)]
    files["time_chat_online_139k_train_flt.jsonl"] = _jsonl(qa)
    files["annotations_caption_flt.jsonl"] = _jsonl([_caption_record(v) for v in videos])
    files.update(_other_training(rng))
    files["README.md"] = REPO_README.encode()
    files["LICENSE"] = REPO_LICENSE.encode()

    for rel, data in sorted(files.items()):
        write_bytes(repo / rel, data)
        # a fixed mtime too: a regenerated sample is the same mirror, not a changed one
        os.utime(repo / rel, (FILE_MTIME, FILE_MTIME))
    truth = {
        "seed": seed,
        "fps": 1,
        "videos": {
            v.video_id: {
                "source": v.source,
                "archive": v.archive,
                "duration": v.duration,
                "n_frames": v.duration,
                "scene_cuts": v.scene_cuts,
                "keyframes": v.keyframes,
                "static_seconds": sum(s.end - s.static_from for s in v.scenes if s.static_from is not None),
            }
            for v in videos
        },
    }
    gt_path = out_dir / "ground_truth.json"
    write_json(gt_path, truth)
    return SampleInfo(
        out_dir=str(out_dir),
        repo_dir=str(repo),
        frames_dir=str(out_dir / "frames") if write_frames else None,
        ground_truth_path=str(gt_path),
        sources=sorted({v.source for v in videos}),
        n_videos=len(videos),
        n_frames=sum(v.duration for v in videos),
        n_qa=len(qa),
        repo_bytes=sum(len(b) for b in files.values()),
    )
