"""Benchmark `tc139k stats redundancy` at full scale.

Generates key-frame output files of the dataset's size (default 11,000 videos, 670 frames
on average, a 7x7 patch grid: about 361M score bytes) with kfio.write_keyframes_file, then
times the threshold sweep (9 thresholds) in a fresh process and reports its peak RSS. The
baseline is the direct method (read rows as Python objects, per video and per threshold
dequantise the scores and compare), measured on the first file in the same run and
extrapolated per video; its figures are checked against the fast path on that file.

    .venv/bin/python scripts/bench_stats.py [--videos 11000] [--frames 670] [--grid 7x7]
                                           [--data DIR] [--baseline-videos 500]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tc139k.keyframes import dtd
from tc139k.keyframes import store as kfio
from tc139k.stats.redundancy import DEFAULT_THRESHOLDS, redundancy_stats

SOURCES = ["coin", "qv-highlights", "youcook2", "vitt", "youmakeup", "videoic", "hirest", "queryd"]
TAU = 0.5


def _video_rows(
    rng: np.random.Generator, first_id: int, n_videos: int, mean_frames: int, grid: tuple[int, int]
) -> list[dict]:
    """Similarity data that looks like video: a per-frame motion level that drifts, patch noise,
    and a hard cut (low similarity everywhere) every 20-60 s."""
    cells = grid[0] * grid[1]
    rows = []
    for k in range(n_videos):
        n = int(rng.integers(mean_frames // 2, mean_frames * 3 // 2 + 1))
        motion = np.clip(np.cumsum(rng.normal(0, 0.03, n)) % 0.6, 0, 1).astype(np.float32)
        sim = 0.95 - motion[:, None] - np.abs(rng.normal(0, 0.2, (n, cells))).astype(np.float32)
        cuts = np.cumsum(rng.integers(20, 61, n // 20 + 1))
        cuts = cuts[cuts < n]
        sim[cuts] = rng.uniform(-0.2, 0.3, (len(cuts), cells))
        sim[0] = -1.0
        q = dtd.quantize(sim, "cosine")
        ratio = dtd.frame_drop_ratio(q, "cosine", TAU)
        scene_id = np.zeros(n, dtype=np.int32)
        scene_id[cuts] = 1
        scene_id = np.cumsum(scene_id)
        seconds = np.arange(n, dtype=np.float64)
        keyframes = np.unique(np.concatenate([[0], cuts, np.arange(0, n, 7)])).astype(np.float64)
        rows.append(
            {
                "video_id": f"v{first_id + k:06d}",
                "source": SOURCES[(first_id + k) % len(SOURCES)],
                "status": "ok",
                "error": None,
                "n_frames": n,
                "frame_seconds": seconds.tolist(),
                "bad_frames": [],
                "scene_id": scene_id.tolist(),
                "scene_cut_seconds": cuts.astype(np.float64).tolist(),
                "score_kind": "cosine",
                "grid_h": grid[0],
                "grid_w": grid[1],
                "patch_scores": q.tobytes(),
                "threshold": TAU,
                "drop_ratio": ratio.tolist(),
                "keyframe_seconds": keyframes.tolist(),
                "trigger_seconds": dtd.trigger_frames(ratio).astype(np.float64).tolist(),
            }
        )
    return rows


def generate(folder: Path, videos: int, frames: int, grid: tuple[int, int], per_file: int) -> tuple[int, int]:
    rng = np.random.default_rng(0)
    total_frames = total_bytes = 0
    for f, start in enumerate(range(0, videos, per_file)):
        rows = _video_rows(rng, start, min(per_file, videos - start), frames, grid)
        total_frames += sum(r["n_frames"] for r in rows)
        total_bytes += sum(len(r["patch_scores"]) for r in rows)
        kfio.write_keyframes_file(rows, folder / f"keyframes-{f:05d}.parquet", {"bench": True})
    return total_frames, total_bytes


def naive_sweep(folder: Path, limit: int, thresholds) -> tuple[float, int, np.ndarray, np.ndarray]:
    """Rows as Python objects; per video, per threshold: dequantise, compare, per-frame share.
    Returns seconds, videos, token-weighted and frame-mean drop ratios."""
    t0 = time.perf_counter()
    dropped = np.zeros(len(thresholds))
    frame_sum = np.zeros(len(thresholds))
    tokens = frames = n = 0
    for row in kfio.iter_videos(folder):
        if n == limit:
            break
        q = kfio.patch_scores_array(row)
        for k, tau in enumerate(thresholds):
            mask = dtd.dequantize(q, row["score_kind"]) > tau
            dropped[k] += mask.sum()
            frame_sum[k] += mask.mean(axis=1).sum()
        tokens += q.size
        frames += len(q)
        n += 1
    return time.perf_counter() - t0, n, dropped / tokens, frame_sum / frames


def in_memory_sweeps(folder: Path, limit: int, thresholds) -> tuple[float, float]:
    """The sweep alone on scores already in memory: naive (per threshold dequantise and
    compare) against one level histogram per video swept with dtd.sweep_from_histogram."""
    scores = [kfio.patch_scores_array(r) for _, r in zip(range(limit), kfio.iter_videos(folder))]
    t0 = time.perf_counter()
    naive = sum(np.array([(dtd.dequantize(q, "cosine") > t).sum() for t in thresholds]) for q in scores)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    hist = sum(dtd.level_histogram(q) for q in scores)
    fast = dtd.sweep_from_histogram(hist, "cosine", thresholds)
    t_fast = time.perf_counter() - t0
    assert (naive == fast).all()
    return t_naive, t_fast


CHILD = """
import json, resource, sys, time
from tc139k.stats.redundancy import redundancy_stats
t0 = time.perf_counter()
s = redundancy_stats(sys.argv[1], show_progress=False)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "videos": s.overall.videos, "frames": s.overall.frames, "tokens": s.overall.tokens,
                  "headline": s.headline_text()}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=11_000)
    ap.add_argument("--frames", type=int, default=670, help="mean frames per video")
    ap.add_argument("--grid", default="7x7", help="patch grid HxW")
    ap.add_argument("--per-file", type=int, default=500, help="videos per key-frame file")
    ap.add_argument("--baseline-videos", type=int, default=500)
    ap.add_argument(
        "--data", type=Path, default=None, help="keep the generated folder here (reused when it already has files)"
    )
    args = ap.parse_args()
    grid = tuple(int(x) for x in args.grid.lower().split("x"))

    tmp = None
    folder = args.data
    if folder is None:
        tmp = tempfile.mkdtemp(prefix="bench_stats_")
        folder = Path(tmp) / "kf"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if not list(folder.glob(kfio.FILE_GLOB)):
            t0 = time.perf_counter()
            frames, nbytes = generate(folder, args.videos, args.frames, grid, args.per_file)
            print(
                f"generated {args.videos} videos, {frames} frames, {nbytes / 1e6:.0f} MB of scores "
                f"(grid {grid[0]}x{grid[1]}) in {time.perf_counter() - t0:.1f} s"
            )
        size = sum(p.stat().st_size for p in folder.glob(kfio.FILE_GLOB))
        print(f"key-frame folder: {size / 1e6:.0f} MB on disk")

        out = subprocess.run([sys.executable, "-c", CHILD, str(folder)], check=True, capture_output=True, text=True)
        fast = json.loads(out.stdout)
        print(
            f"redundancy_stats (fresh process; sweep of {len(DEFAULT_THRESHOLDS)} thresholds, key frames, "
            f"per-frame ratios, stored-ratio check): {fast['videos']} videos, "
            f"{fast['frames']} frames, {fast['tokens']} tokens in {fast['seconds']:.1f} s, "
            f"peak RSS {fast['peak_rss_mb']:.0f} MB"
        )
        print(f"  {fast['headline']}")

        first = sorted(folder.glob(kfio.FILE_GLOB))[0]
        sub = Path(tempfile.mkdtemp(prefix="bench_stats_sub_", dir=folder.parent))
        try:
            shutil.copy(first, sub / first.name)
            seconds, n, naive, naive_frame_mean = naive_sweep(sub, args.baseline_videos, DEFAULT_THRESHOLDS)
            t0 = time.perf_counter()
            check = redundancy_stats(sub, show_progress=False)
            fast_sub = time.perf_counter() - t0
            t_naive_mem, t_fast_mem = in_memory_sweeps(sub, args.baseline_videos, DEFAULT_THRESHOLDS)
        finally:
            shutil.rmtree(sub)
        if n == check.overall.videos:
            assert np.allclose(naive, check.drop_ratio, atol=1e-12), (naive, check.drop_ratio)
            assert np.allclose(naive_frame_mean, check.drop_ratio_frame_mean, atol=1e-9)
            print(f"  naive and fast figures agree on {n} videos")
        per_video = seconds / n
        print(
            f"naive baseline (read rows, per threshold dequantise + compare): {n} videos in "
            f"{seconds:.2f} s ({per_video * 1e3:.2f} ms/video), extrapolated to "
            f"{fast['videos']} videos: {per_video * fast['videos']:.1f} s"
        )
        print(f"full statistics on the same {check.overall.videos} videos: {fast_sub:.2f} s")
        print(
            f"end to end, full scale: naive sweep {per_video * fast['videos']:.1f} s (extrapolated) "
            f"vs full statistics {fast['seconds']:.1f} s: "
            f"{per_video * fast['videos'] / fast['seconds']:.1f}x"
        )
        print(
            f"sweep alone, scores in memory, {n} videos: naive {t_naive_mem:.2f} s, "
            f"level histograms {t_fast_mem:.3f} s: {t_naive_mem / t_fast_mem:.0f}x"
        )
        print(f"bench process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        if tmp:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
