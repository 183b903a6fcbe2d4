"""Tools for checking scene-cut truth by eye on a source video (native frame rate).

    python scripts/scenecorpus/look.py probe SRC
    python scripts/scenecorpus/look.py candidates SRC [--threshold 20]
    python scripts/scenecorpus/look.py overview SRC --out PNG [--every 1.0] [--start S --end E]
    python scripts/scenecorpus/look.py around SRC --at 12.4,30.1 --out PNG [--span 0.6]

`candidates` lists where PySceneDetect (content, low threshold, every native frame) sees a
large change, as places to look at, never as truth. `overview` draws one thumbnail every
`--every` seconds with its time; `around` draws every native frame within +-`--span` s of
each time given, one row per time, so the first frame of a new shot can be read off.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

THUMB_W = 192


def open_video(path: str):
    import decord

    return decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)


def starts(reader) -> np.ndarray:
    return reader.get_frame_timestamp(np.arange(len(reader)))[:, 0]


def probe(path: str) -> dict:
    r = open_video(path)
    s = starts(r)
    h, w = r[0].shape[:2]
    return {
        "frames": len(r),
        "fps": round(float(r.get_avg_fps()), 3),
        "duration_s": round(float(s[-1]), 3),
        "size": [w, h],
    }


def thumb(frame: np.ndarray, label: str) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    t = cv2.resize(frame, (THUMB_W, max(1, round(h * THUMB_W / w))), interpolation=cv2.INTER_AREA)
    t = np.ascontiguousarray(t[:, :, ::-1])
    cv2.rectangle(t, (0, 0), (THUMB_W, 14), (0, 0, 0), -1)
    cv2.putText(t, label, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return t


def grid(rows: list[list[np.ndarray]], out: str) -> None:
    import cv2

    cols = max(len(r) for r in rows)
    h, w = rows[0][0].shape[:2]
    canvas = np.full((len(rows) * (h + 4), cols * (w + 2), 3), 40, dtype=np.uint8)
    for i, r in enumerate(rows):
        for j, t in enumerate(r):
            canvas[i * (h + 4) : i * (h + 4) + t.shape[0], j * (w + 2) : j * (w + 2) + w] = t[:h]
    cv2.imwrite(out, canvas)
    print(out)


def nearest(s: np.ndarray, t: float) -> int:
    return int(np.clip(np.searchsorted(s, t), 0, len(s) - 1))


def overview(path: str, out: str, every: float, start: float, end: float | None, cols: int) -> None:
    r = open_video(path)
    s = starts(r)
    end = float(s[-1]) if end is None else end
    times = np.arange(start, end + 1e-6, every)
    idx = sorted({nearest(s, t) for t in times})
    frames = r.get_batch(idx).asnumpy()
    thumbs = [thumb(f, f"{s[i]:.2f}s #{i}") for f, i in zip(frames, idx)]
    grid([thumbs[k : k + cols] for k in range(0, len(thumbs), cols)], out)


def around(path: str, at: list[float], span: float, out: str, step: int) -> None:
    r = open_video(path)
    s = starts(r)
    rows = []
    for t in at:
        idx = [i for i in range(len(s)) if t - span <= s[i] <= t + span][::step]
        frames = r.get_batch(idx).asnumpy()
        rows.append([thumb(f, f"{s[i]:.2f}s #{i}") for f, i in zip(frames, idx)])
    grid(rows, out)


def candidates(path: str, threshold: float) -> None:
    import cv2
    from scenedetect import FrameTimecode
    from scenedetect.detectors import ContentDetector

    r = open_video(path)
    s = starts(r)
    fps = float(r.get_avg_fps())
    det = ContentDetector(threshold=threshold, min_scene_len=1)
    for lo in range(0, len(r), 64):
        batch = r.get_batch(list(range(lo, min(lo + 64, len(r))))).asnumpy()
        for k, f in enumerate(batch):
            small = cv2.resize(f, (256, max(1, round(f.shape[0] * 256 / f.shape[1]))), interpolation=cv2.INTER_AREA)
            for tc in det.process_frame(FrameTimecode(lo + k, fps=fps), np.ascontiguousarray(small[:, :, ::-1])):
                i = int(tc.frame_num)
                print(f"{s[i]:9.3f} s  frame {i}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe")
    p.add_argument("src")
    p = sub.add_parser("candidates")
    p.add_argument("src")
    p.add_argument("--threshold", type=float, default=20.0)
    p = sub.add_parser("overview")
    p.add_argument("src")
    p.add_argument("--out", required=True)
    p.add_argument("--every", type=float, default=1.0)
    p.add_argument("--start", type=float, default=0.0)
    p.add_argument("--end", type=float, default=None)
    p.add_argument("--cols", type=int, default=10)
    p = sub.add_parser("around")
    p.add_argument("src")
    p.add_argument("--at", required=True, help="Comma-separated times in seconds.")
    p.add_argument("--span", type=float, default=0.6)
    p.add_argument("--step", type=int, default=1, help="Every STEP-th native frame.")
    p.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.cmd == "probe":
        print(probe(a.src))
    elif a.cmd == "candidates":
        candidates(a.src, a.threshold)
    elif a.cmd == "overview":
        overview(a.src, a.out, a.every, a.start, a.end, a.cols)
    else:
        around(a.src, [float(x) for x in a.at.split(",")], a.span, a.out, a.step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
