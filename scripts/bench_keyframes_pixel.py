"""Benchmark of `tc139k keyframes` (pixel method) against a bare decode + ContentDetector loop.

The bare loop is the least any key-frame stage does: per frame, decode the JPEG
(cv2.imread), resize it to 224 x 224 and feed it to PySceneDetect's ContentDetector
(threshold 27, min_scene_len 1; a new detector per video), nothing in the background. The
stage is `run_keyframes(out=..., frames_root=..., method="pixel")` in this process, with every
default (the combined scene rule, the worker count the stage picks), into a new output folder
each round: decoding, scene starts, pixel DTD scores, calibration and the Parquet files.

Target: the stage at >= 0.8 x the frames per second of the bare loop. The frames are the
bundled sample's (`tc139k sample`, seed 0: 14 videos, 2,034 frames of 160 x 120 px JPEGs),
replicated under new video ids with --videos N for a longer, steadier measurement. The two
measurements are interleaved over --rounds rounds and each keeps its best, so that other load
on a shared machine does not decide the ratio; the load average is printed beside it.

    .venv/bin/python scripts/bench_keyframes_pixel.py [--videos 28] [--rounds 3] [--json]

TC139K_TREE=DIR measures another checkout's stage (before/after) with this script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("TC139K_TREE", str(ROOT)))

SIZE = (224, 224)
TARGET = 0.8


def build_frames(work: Path, n_videos: int | None) -> tuple[Path, list[tuple[str, str, list[Path]]]]:
    """The sample's frame folders, replicated under new ids up to `n_videos` (None: as they are)."""
    from tc139k.keyframes.frames import list_frame_videos
    from tc139k.sample import build_sample

    info = build_sample(work / "sample", seed=0, write_frames=True)
    root = Path(info.frames_dir)
    specs = list_frame_videos(root)
    for k in range(len(specs), n_videos or 0):
        spec = specs[k % len(specs)]
        shutil.copytree(spec.path, root / spec.source / f"{spec.video_id}_r{k // len(specs)}")
    videos = [(s.source, s.video_id, sorted(Path(s.path).glob("*.jpg"))) for s in list_frame_videos(root)]
    return root, videos


def bare_loop(videos) -> dict:
    """Per frame: cv2.imread, resize to 224 x 224, ContentDetector; one thread."""
    import cv2
    from scenedetect import FrameTimecode
    from scenedetect.detectors import ContentDetector

    frames = cuts = 0
    t0 = time.perf_counter()
    for _, _, paths in videos:
        detector = ContentDetector(threshold=27.0, min_scene_len=1)
        for i, path in enumerate(paths):
            img = cv2.resize(cv2.imread(str(path)), SIZE, interpolation=cv2.INTER_LINEAR)
            cuts += len(detector.process_frame(FrameTimecode(i, fps=1.0), img))
        cuts += len(detector.post_process(FrameTimecode(len(paths) - 1, fps=1.0)))
        frames += len(paths)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "frames": frames, "fps": frames / wall, "cuts": cuts}


def stage(frames_root: Path, out: Path) -> dict:
    from tc139k.keyframes.build import run_keyframes

    t0 = time.perf_counter()
    res = run_keyframes(out=out, frames_root=frames_root, method="pixel")
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "frames": res.n_frames,
        "fps": res.n_frames / wall,
        "videos": res.n_videos,
        "keyframes": res.n_keyframes,
        "scene_cuts": sum(len(v.scene_cuts) for v in res.videos),
        "timings": res.timings,
    }


def stage_workers() -> int:
    """The worker count `run_keyframes` picks for the pixel method on this machine."""
    from tc139k.keyframes import build

    scorer = build.stage_scorer(build.stage_config(params={"method": "pixel"}))
    try:
        return build.default_workers(scorer)
    except TypeError:  # a checkout whose default does not depend on the method
        return build.default_workers()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=None, help="Videos, the sample's replicated [default: 14, as is].")
    ap.add_argument("--rounds", type=int, default=3, help="Interleaved rounds; each measurement keeps its best.")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("TC139K_NO_PROGRESS", "1")
    work = Path(tempfile.mkdtemp(prefix="tc139k-bench-kf-pixel-"))
    try:
        frames_root, videos = build_frames(work, args.videos)
        load_before = os.getloadavg()
        stage(frames_root, work / "warm-up")  # imports and first-call costs, not timed
        rounds: dict[str, list[dict]] = {"bare": [], "stage": []}
        for r in range(args.rounds):
            rounds["bare"].append(bare_loop(videos))
            rounds["stage"].append(stage(frames_root, work / f"out-{r}"))
            if not args.json:
                b, s = rounds["bare"][-1], rounds["stage"][-1]
                print(
                    f"[{r + 1}] bare loop {b['frames']} frames {b['wall_s']:.2f} s {b['fps']:.0f} frames/s; "
                    f"stage {s['wall_s']:.2f} s {s['fps']:.0f} frames/s {s['timings']}",
                    flush=True,
                )
        load_after = os.getloadavg()
        bare = max(rounds["bare"], key=lambda x: x["fps"])
        best = max(rounds["stage"], key=lambda x: x["fps"])
        summary = {
            "videos": best["videos"],
            "frames": best["frames"],
            "rounds": args.rounds,
            "cpu_count": os.cpu_count(),
            "stage_workers": stage_workers(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            "bare_loop_fps": round(bare["fps"], 1),
            "stage_fps": round(best["fps"], 1),
            "stage_over_bare": round(best["fps"] / bare["fps"], 3),
            "stage_timings_s": best["timings"],
            "stage_scene_cuts": best["scene_cuts"],
            "stage_keyframes": best["keyframes"],
            "bare_loop_cuts": bare["cuts"],
        }
        summary["target_met"] = {f"stage >= {TARGET} x bare loop": summary["stage_over_bare"] >= TARGET}
        if args.json:
            print(json.dumps(summary, indent=1))
        else:
            print(
                f"{summary['videos']} videos, {summary['frames']} frames, best of {args.rounds} rounds, "
                f"{summary['cpu_count']} cores, stage workers {summary['stage_workers']}, load average "
                f"{load_before[0]:.2f} before, {load_after[0]:.2f} after"
            )
            print(f"  bare loop (cv2.imread + resize + ContentDetector): {summary['bare_loop_fps']:>8.1f} frames/s")
            print(f"  run_keyframes(method='pixel'):                      {summary['stage_fps']:>8.1f} frames/s")
            met = "met" if summary["stage_over_bare"] >= TARGET else "NOT met"
            print(f"  ratio {summary['stage_over_bare']:.3f} (target >= {TARGET}: {met})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
