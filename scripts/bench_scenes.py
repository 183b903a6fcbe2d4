"""Scene-cut quality: the project's rule against PySceneDetect alone, on a video with ground truth
and on the bundled sample, in one run.

    .venv/bin/python scripts/bench_scenes.py [VIDEO] [TRUTH.json] [--sample-dir DIR] [--json]

VIDEO defaults to ../shared/eval/realcuts/realcuts.mp4 (next to the project folder) and TRUTH
to realcuts.json beside it; when the video is absent the script says so and exits 0 (it is
evaluation material that is never shipped with the project). TRUTH holds `cuts_s` (hard cuts,
seconds) and `fade_intervals_s` ([start, end] of each gradual transition).

Frames are decoded as `tc139k keyframes build` decodes them (1 fps, 224 x 224, decord), and
each method sees the same frames. Scoring (the realcuts protocol C): a predicted cut matches a
hard cut within 1.0 s, or a gradual transition when it lies inside its span +- 1.0 s; matching
is greedy one-to-one (closest pairs first), so a transition counts once however many cuts fall
in it. Precision = matched / predicted, recall = matched / true cuts and transitions.

The bundled sample (`tc139k sample`, seed 0, written to a temporary folder unless
--sample-dir names one) is scored the same way against its ground_truth.json (hard cuts only).

Speed of the scene stage (the part of `tc139k keyframes build` this rule changes), on the
sample's frames already decoded: the rule as it was before (ContentDetector, 3 s minimum,
frames flipped to BGR with a numpy copy) against the current default, interleaved over
--speed-rounds rounds, best of each; reported as a ratio (> 1: the current stage is faster).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_VIDEO = ROOT.parent / "shared" / "eval" / "realcuts" / "realcuts.mp4"
TOLERANCE = 1.0
SIZE = (224, 224)


def methods():
    """(name, function frames -> cut positions); the first is the project's default rule."""
    from tc139k.keyframes.scenes import SceneParams, detect_cuts, detector_cuts

    return [
        ("tc139k combined (content 27 + change share + transitions)", lambda f: detect_cuts(f, SceneParams())),
        ("PySceneDetect content 27, min scene 1 frame", lambda f: detector_cuts(f, SceneParams(), 1)),
        ("PySceneDetect content 27, min scene 3 s (previous default)", lambda f: detector_cuts(f, SceneParams(), 3)),
        ("PySceneDetect adaptive 3.0, min scene 1 frame", lambda f: detector_cuts(f, SceneParams("adaptive"), 1)),
    ]


def match(pred: list[float], cuts: list[float], spans: list[list[float]], tol: float = TOLERANCE) -> dict:
    """Greedy one-to-one matching, closest first; a span matches anything inside it +- tol."""
    pairs = []
    for i, p in enumerate(pred):
        for j, c in enumerate(cuts):
            if abs(p - c) <= tol:
                pairs.append((abs(p - c), i, j))
        for k, (a, b) in enumerate(spans):
            d = max(a - p, 0.0, p - b)
            if d <= tol:
                pairs.append((d, i, len(cuts) + k))
    used_p, used_t = set(), set()
    for _, i, j in sorted(pairs):
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    tp, n_pred, n_true = len(used_p), len(pred), len(cuts) + len(spans)
    precision = tp / n_pred if n_pred else 1.0
    recall = tp / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    in_span = [sum(a - tol <= p <= b + tol for p in pred) for a, b in spans]
    return {
        "tp": tp,
        "n_pred": n_pred,
        "n_true": n_true,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "hard_cuts_found": len([j for j in used_t if j < len(cuts)]),
        "hard_cuts": len(cuts),
        "transitions_found": len([j for j in used_t if j >= len(cuts)]),
        "cuts_in_each_transition_span": in_span,
    }


def pool(results: list[dict]) -> dict:
    tp = sum(r["tp"] for r in results)
    n_pred = sum(r["n_pred"] for r in results)
    n_true = sum(r["n_true"] for r in results)
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_true if n_true else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "tp": tp,
        "n_pred": n_pred,
        "n_true": n_true,
        "precision": round(p, 3),
        "recall": round(r, 3),
        "f1": round(f1, 3),
    }


def bench_video(video: Path, truth_path: Path) -> dict:
    from tc139k.keyframes.frames import decode, video_file_specs

    truth = json.loads(truth_path.read_text())
    cuts, spans = list(truth["cuts_s"]), [list(s) for s in truth.get("fade_intervals_s", [])]
    decoded = decode(video_file_specs([video], "eval")[0], SIZE)
    if not decoded.ok:
        raise SystemExit(f"could not decode {video}: {decoded.error}")
    out = {"video": str(video), "frames": decoded.n_frames, "methods": {}}
    for name, fn in methods():
        t0 = time.perf_counter()
        positions = fn(decoded.frames)
        seconds = time.perf_counter() - t0
        pred = decoded.seconds[positions].tolist()
        out["methods"][name] = {**match(pred, cuts, spans), "pred_s": pred, "seconds": round(seconds, 3)}
    return out


def bench_sample(sample_dir: Path | None) -> dict:
    from tc139k.keyframes.frames import decode, list_frame_videos
    from tc139k.sample import build_sample

    with tempfile.TemporaryDirectory(prefix="tc139k-bench-scenes-") as tmp:
        folder = sample_dir or Path(tmp)
        truth_path = folder / "ground_truth.json"
        frames_dir = folder / "frames"
        if not truth_path.is_file() or not frames_dir.is_dir():
            info = build_sample(folder, seed=0, write_frames=True)
            truth_path, frames_dir = Path(info.ground_truth_path), Path(info.frames_dir)
        truth = json.loads(truth_path.read_text())["videos"]
        per_method: dict[str, list[dict]] = {name: [] for name, _ in methods()}
        timing = dict.fromkeys(per_method, 0.0)
        specs = list_frame_videos(frames_dir)
        for spec in specs:
            decoded = decode(spec, SIZE)
            ref = [float(c) for c in truth[spec.video_id]["scene_cuts"]]
            for name, fn in methods():
                t0 = time.perf_counter()
                positions = fn(decoded.frames)
                timing[name] += time.perf_counter() - t0
                per_method[name].append(match(decoded.seconds[positions].tolist(), ref, []))
        return {
            "videos": len(specs),
            "methods": {k: {**pool(v), "seconds": round(timing[k], 3)} for k, v in per_method.items()},
        }


def previous_stage(frames: np.ndarray) -> None:
    """The scene stage as it was: ContentDetector 27, 3 s minimum, BGR by a numpy copy."""
    from scenedetect import FrameTimecode
    from scenedetect.detectors import ContentDetector

    detector = ContentDetector(threshold=27.0, min_scene_len=3)
    for i in range(len(frames)):
        detector.process_frame(FrameTimecode(i, fps=1.0), np.ascontiguousarray(frames[i, :, :, ::-1]))
    detector.post_process(FrameTimecode(max(len(frames) - 1, 0), fps=1.0))


def bench_speed(sample_dir: Path | None, rounds: int) -> dict:
    from tc139k.keyframes.frames import decode, list_frame_videos
    from tc139k.keyframes.scenes import SceneParams, detect_scenes
    from tc139k.sample import build_sample

    with tempfile.TemporaryDirectory(prefix="tc139k-bench-scenes-") as tmp:
        folder = sample_dir or Path(tmp)
        frames_dir = folder / "frames"
        if not frames_dir.is_dir():
            frames_dir = Path(build_sample(folder, seed=0, write_frames=True).frames_dir)
        videos = [decode(spec, SIZE).frames for spec in list_frame_videos(frames_dir)]
    n = sum(len(v) for v in videos)
    stages = {"previous": previous_stage, "current": lambda f: detect_scenes(f, SceneParams())}
    for fn in stages.values():
        fn(videos[0])  # imports and first-call costs out of the timing
    best = dict.fromkeys(stages, float("inf"))
    for _ in range(rounds):
        for name, fn in stages.items():
            t0 = time.perf_counter()
            for v in videos:
                fn(v)
            best[name] = min(best[name], time.perf_counter() - t0)
    return {
        "frames": n,
        "rounds": rounds,
        "previous_s": round(best["previous"], 3),
        "current_s": round(best["current"], 3),
        "previous_ms_per_frame": round(1e3 * best["previous"] / n, 3),
        "current_ms_per_frame": round(1e3 * best["current"] / n, 3),
        "speed_ratio_current_over_previous": round(best["previous"] / best["current"], 3),
    }


def table(title: str, rows: dict) -> str:
    lines = [title, f"  {'method':<60} {'P':>6} {'R':>6} {'F1':>6} {'pred':>5} {'true':>5} {'time s':>7}"]
    for name, r in rows.items():
        lines.append(
            f"  {name:<60} {r['precision']:>6.3f} {r['recall']:>6.3f} {r['f1']:>6.3f} "
            f"{r['n_pred']:>5} {r['n_true']:>5} {r['seconds']:>7.2f}"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("video", nargs="?", type=Path, default=DEFAULT_VIDEO, help="Video with ground truth.")
    ap.add_argument("truth", nargs="?", type=Path, default=None, help="Its truth [default: realcuts.json beside it].")
    ap.add_argument("--sample-dir", type=Path, default=None, help="A `tc139k sample` folder to reuse.")
    ap.add_argument("--no-sample", action="store_true", help="Skip the bundled sample.")
    ap.add_argument("--speed-rounds", type=int, default=5, help="Rounds of the speed comparison (0: skip it).")
    ap.add_argument("--json", action="store_true", help="Print the results as JSON.")
    args = ap.parse_args()
    report: dict = {"tolerance_s": TOLERANCE, "frame_size": list(SIZE)}
    truth = args.truth or args.video.with_name("realcuts.json")
    if args.video.is_file() and truth.is_file():
        report["video"] = bench_video(args.video, truth)
    else:
        missing = args.video if not args.video.is_file() else truth
        print(f"skipped the real-content video: {missing} is absent (evaluation material, not shipped)")
        report["video"] = None
    if not args.no_sample:
        report["sample"] = bench_sample(args.sample_dir)
    if args.speed_rounds > 0:
        report["speed"] = bench_speed(args.sample_dir, args.speed_rounds)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    v = report["video"]
    if v:
        print(table(f"{v['video']} ({v['frames']} frames at 1 fps), protocol C, tolerance 1 s", v["methods"]))
        for name, r in v["methods"].items():
            print(
                f"  {name}: hard cuts {r['hard_cuts_found']}/{r['hard_cuts']}, transitions "
                f"{r['transitions_found']}/{len(r['cuts_in_each_transition_span'])}, predicted cuts in each "
                f"transition span +-1 s {r['cuts_in_each_transition_span']}"
            )
    if report.get("sample"):
        s = report["sample"]
        print(table(f"bundled sample ({s['videos']} videos), hard cuts, tolerance 1 s", s["methods"]))
    if report.get("speed"):
        sp = report["speed"]
        print(
            f"scene stage on the sample ({sp['frames']} frames, best of {sp['rounds']} interleaved rounds): "
            f"previous {sp['previous_s']:.2f} s ({sp['previous_ms_per_frame']:.2f} ms/frame), current "
            f"{sp['current_s']:.2f} s ({sp['current_ms_per_frame']:.2f} ms/frame): "
            f"{sp['speed_ratio_current_over_previous']:.2f}x the previous speed"
        )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
