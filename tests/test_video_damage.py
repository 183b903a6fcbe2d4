"""A video file damaged in the middle, through `tc139k keyframes build --video` (decord).

tc139k/keyframes/frames.py: a video file is sampled at 1 fps from the decoder's timestamps;
decoding never raises for bad input: a frame that cannot be decoded goes to bad_frames (its
decoder position, the path as given, "undecodable frame: ..."), the other frames are kept
with their decoder timestamps, and a video that gives no usable frame gets an error (one
decord cannot open at all: "cannot open video PATH: ..."). The CLI's exit-code rule
(tc139k/errors.py): a run where some video is done exits 0 and lists the failed ones; a run
where every video failed exits 1.

The damage is made where it is known exactly: the mp4 sample tables (stsz, stsc, stco, stss)
give each frame's bytes and the key frames, so zeroing the packet of the middle key frame
makes every sampled frame of that group of pictures undecodable (each needs that packet),
while the groups after it decode from their own key frames. Frames before the damage are
only required to be kept or reported: decord's decoding thread reads ahead, so the error of
the zeroed packet can surface while an earlier frame is being read."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tc139k.errors import EXIT_FAILED, EXIT_OK
from tc139k.keyframes.frames import decode, video_file_specs

FPS, SECONDS = 4, 10
SIZE = (96, 64)
LEVEL0, LEVEL_STEP = 20, 20  # grey level of second k: LEVEL0 + LEVEL_STEP * k


def _write_video(path: Path) -> None:
    """SECONDS s of mp4v at FPS fps; every frame of second k is grey LEVEL0 + LEVEL_STEP * k,
    with a small square moving inside the second, so frames of one second differ."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(FPS), SIZE)
    assert writer.isOpened()
    w, h = SIZE
    for i in range(FPS * SECONDS):
        img = np.full((h, w, 3), LEVEL0 + LEVEL_STEP * (i // FPS), dtype=np.uint8)
        x = 4 + 8 * (i % FPS)
        img[4:10, x : x + 6] = 255
        writer.write(img)
    writer.release()


def _boxes(data: bytes, lo: int, hi: int):
    while lo + 8 <= hi:
        size, kind = struct.unpack(">I4s", data[lo : lo + 8])
        assert size >= 8, "64-bit or open-ended boxes are not expected in a small file"
        yield kind.decode("latin1"), lo + 8, lo + size
        lo += size


def _box(data: bytes, path: list[str], lo: int = 0, hi: int | None = None) -> tuple[int, int]:
    for kind, a, b in _boxes(data, lo, len(data) if hi is None else hi):
        if kind == path[0]:
            return (a, b) if len(path) == 1 else _box(data, path[1:], a, b)
    raise AssertionError(f"no {path[0]} box")


def _samples(data: bytes) -> tuple[list[tuple[int, int]], list[int]]:
    """(byte range of each frame's packet, decoder positions of the key frames)."""
    lo, hi = _box(data, ["moov", "trak", "mdia", "minf", "stbl"])
    a, _ = _box(data, ["stsz"], lo, hi)
    fixed, n = struct.unpack(">II", data[a + 4 : a + 12])
    sizes = [fixed] * n if fixed else list(struct.unpack(f">{n}I", data[a + 12 : a + 12 + 4 * n]))
    a, _ = _box(data, ["stco"], lo, hi)
    (m,) = struct.unpack(">I", data[a + 4 : a + 8])
    chunks = struct.unpack(f">{m}I", data[a + 8 : a + 8 + 4 * m])
    a, _ = _box(data, ["stsc"], lo, hi)
    (k,) = struct.unpack(">I", data[a + 4 : a + 8])
    runs = [struct.unpack(">III", data[a + 8 + 12 * j : a + 20 + 12 * j]) for j in range(k)]
    a, _ = _box(data, ["stss"], lo, hi)
    (k,) = struct.unpack(">I", data[a + 4 : a + 8])
    keys = [s - 1 for s in struct.unpack(f">{k}I", data[a + 8 : a + 8 + 4 * k])]
    ranges, sample = [], 0
    for c, offset in enumerate(chunks, 1):
        per_chunk = [r[1] for r in runs if r[0] <= c][-1]
        for _ in range(per_chunk):
            ranges.append((offset, offset + sizes[sample]))
            offset += sizes[sample]
            sample += 1
    assert sample == n
    return ranges, keys


def _zero(data: bytes, ranges: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for a, b in ranges:
        out[a:b] = bytes(b - a)
    return bytes(out)


SAMPLED = [FPS * k for k in range(SECONDS)]  # constant frame rate: second k starts at frame FPS * k


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """clips/intact.mp4, clips/damaged.mp4 (the middle key frame's packet zeroed) and
    clips/dead.mp4 (every packet zeroed: not even the first frame decodes); `needs_damaged`:
    the sampled positions whose decoding needs the damaged packet, `after`: those decoded from
    a later key frame."""
    root = tmp_path_factory.mktemp("video-damage")
    (root / "clips").mkdir()
    intact = root / "clips" / "intact.mp4"
    _write_video(intact)
    data = intact.read_bytes()
    ranges, keys = _samples(data)
    assert len(ranges) == FPS * SECONDS and len(keys) >= 3, keys  # groups before, at and after the damage
    hit = keys[len(keys) // 2]
    following = min(k for k in keys if k > hit)
    (root / "clips" / "damaged.mp4").write_bytes(_zero(data, [ranges[hit]]))
    (root / "clips" / "dead.mp4").write_bytes(_zero(data, ranges))

    class Clips:
        dir = root
        needs_damaged = [p for p in SAMPLED if hit <= p < following]
        after = [p for p in SAMPLED if p >= following]

    return Clips


def _build(cwd: Path, out: str, *videos: str) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "tc139k", "keyframes", "build", "--method", "pixel", "--out", out, "--json"]
    for v in videos:
        args += ["--video", v]
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def _rows(folder: Path) -> dict[str, dict]:
    rows = [r for f in sorted(folder.glob("keyframes-*.parquet")) for r in pq.read_table(f).to_pylist()]
    return {r["video_id"]: r for r in rows}


def test_decoding_keeps_the_undamaged_seconds_and_names_the_damaged_ones(clips):
    video = decode(video_file_specs([clips.dir / "clips" / "damaged.mp4"])[0], SIZE)
    assert video.ok
    bad = [b.index for b in video.bad_frames]
    kept_positions = [int(round(s * FPS)) for s in video.seconds]
    assert sorted(bad + kept_positions) == SAMPLED  # every second once: kept or reported
    assert set(clips.needs_damaged) <= set(bad)
    assert set(clips.after) <= set(kept_positions)
    assert all(b.reason.startswith("undecodable frame: ") for b in video.bad_frames)
    # the reason is the same in every run: decord's clock time and source location left out
    assert not any(re.search(r"\d{2}:\d{2}:\d{2}|\.cc:\d+", b.reason) for b in video.bad_frames)
    # a kept frame is the one its time says: the grey level of that second
    w = SIZE[0]
    levels = video.frames[:, 16:, w // 2 :].reshape(video.n_frames, -1).mean(axis=1)
    assert np.abs(levels - (LEVEL0 + LEVEL_STEP * video.seconds)).max() < LEVEL_STEP / 4
    assert video.seconds.tolist() == [p / FPS for p in kept_positions]


def test_the_build_reports_the_damaged_seconds_and_finishes_the_other_videos(clips):
    proc = _build(clips.dir, "kf", "clips/damaged.mp4", "clips/intact.mp4", "clips/dead.mp4")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == EXIT_OK, proc.stderr
    doc = json.loads(proc.stdout)  # stdout is one JSON document
    assert doc["ok"] is True
    res = doc["result"]
    videos = {v["video_id"]: v for v in res["videos"]}
    assert (res["n_videos"], res["n_ok"], res["n_failed"]) == (3, 2, 1)

    assert videos["intact"]["status"] == "ok" and videos["intact"]["n_bad_frames"] == 0
    assert videos["intact"]["n_frames"] == SECONDS
    assert videos["dead"]["status"] == "failed"
    assert videos["dead"]["error"].startswith("cannot open video clips/dead.mp4: ")
    damaged = videos["damaged"]
    assert damaged["status"] == "ok" and damaged["error"] is None
    assert damaged["n_frames"] + damaged["n_bad_frames"] == SECONDS
    assert res["n_bad_frames"] == damaged["n_bad_frames"]

    rows = _rows(clips.dir / "kf")
    row = rows["damaged"]
    bad = [b["index"] for b in row["bad_frames"]]
    assert set(clips.needs_damaged) <= set(bad)
    assert sorted(bad + [int(round(s * FPS)) for s in row["frame_seconds"]]) == SAMPLED
    assert {p / FPS for p in clips.after} <= set(row["frame_seconds"])
    assert {b["path"] for b in row["bad_frames"]} == {"clips/damaged.mp4"}  # as given
    assert all(b["reason"].startswith("undecodable frame: ") for b in row["bad_frames"])
    assert row["keyframe_seconds"][0] == row["frame_seconds"][0]  # the kept frames were built on
    assert rows["dead"]["status"] == "failed" and rows["dead"]["frame_seconds"] == []
    assert rows["dead"]["error"] == videos["dead"]["error"]


def test_a_run_whose_every_video_is_undecodable_exits_1(clips):
    proc = _build(clips.dir, "kf-dead", "clips/dead.mp4")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == EXIT_FAILED
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and "every video failed" in doc["error"]["message"]
    assert "clips/dead: cannot open video clips/dead.mp4" in doc["error"]["message"]


def test_a_decord_message_loses_its_clock_time_and_source_location():
    from tc139k.keyframes.frames import _reason

    class DECORDError(RuntimeError):
        pass

    e = DECORDError(
        "[22:08:07] /src/video/ffmpeg/threaded_decoder.cc:292: [22:08:07] /src/video/ffmpeg/"
        "threaded_decoder.cc:218: Check failed: avcodec_send_packet(...) >= 0 Error sending packet.\nStack trace"
    )
    assert _reason(e) == "DECORDError: Check failed: avcodec_send_packet(...) >= 0 Error sending packet."
    assert _reason(ValueError("plain [12] text: kept")) == "ValueError: plain [12] text: kept"
    assert _reason(OSError()) == "OSError"


def test_a_frame_failed_by_read_ahead_is_read_again_from_a_fresh_reader(clips):
    """The main reader fails a good frame (as when its read-ahead met the damage): the frame
    comes from a fresh reader; a frame that fails in every reader is reported with the last
    error."""
    import decord

    from tc139k.keyframes.frames import RETRIES, _read_one

    path = str(clips.dir / "clips" / "intact.mp4")
    opened = []

    def open_reader():
        opened.append(1)
        return decord.VideoReader(path, ctx=decord.cpu(0), width=SIZE[0], height=SIZE[1], num_threads=1)

    class Failing:
        def __getitem__(self, pos):
            raise RuntimeError("read ahead into damage")

    picture, error = _read_one(Failing(), open_reader, 8)
    assert error is None and len(opened) == 1
    assert abs(float(picture[16:, SIZE[0] // 2 :].mean()) - (LEVEL0 + LEVEL_STEP * 2)) < LEVEL_STEP / 4

    opened.clear()
    picture, error = _read_one(Failing(), lambda: opened.append(1) or Failing(), 8)
    assert picture is None and str(error) == "read ahead into damage" and len(opened) == RETRIES >= 1
