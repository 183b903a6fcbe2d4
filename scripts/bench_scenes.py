"""Scene-cut quality and speed: tc139k's rules beside PySceneDetect and TransNetV2, in one run.

    .venv/bin/python scripts/bench_scenes.py [--sets tune,heldout,realcuts,sample] [--methods ...]
                                             [--media DIR] [--realcuts VIDEO] [--json]

Sets (each skipped with a note when its media are absent; media are never shipped):
- tune / heldout: the two halves of the corpus in scripts/scenecorpus/clips.json (real footage
  from public repositories, truth checked by eye; fetch the media with
  scripts/scenecorpus/build.py). The split is fixed by the clip ids (corpus.split_of).
- realcuts: ../shared/eval/realcuts/realcuts.mp4 with realcuts.json beside it.
- sample: the bundled sample (`tc139k sample`, seed 0), hard cuts only.

Every method sees the same frames: 1 fps (of the clip slowed by its factor), 224 x 224, decoded
with decord as `tc139k keyframes build` decodes. Scoring (the realcuts protocol C): greedy
one-to-one matching, closest pairs first; a predicted cut matches a hard cut within 1.0 s, or a
gradual transition when it lies inside its span +- 1.0 s, once. Precision = matched / predicted,
recall = matched / (hard cuts + transitions), pooled over the clips of a set. A false cut is
charged to every hard-negative class whose span (+- 1 s) holds it, else to "other".

Also per method: frames/s of the scene stage alone (frames already decoded). Per corpus half,
with the default rule: key frames per minute inside shots (pixel method, the level calibrated
over the set to the published 7.14 s mean interval, as a dataset run does) within the spans of
each hard-negative class and outside them ("normal"): a rule that bursts on shake or a pan
shows there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("TC139K_TREE", str(ROOT)))  # another checkout's rule, for before/after
sys.path.insert(1, str(ROOT / "scripts" / "scenecorpus"))

from corpus import CLIPS, DEFAULT_MEDIA, decode_clip, load_clips  # noqa: E402

DEFAULT_REALCUTS = ROOT.parent / "shared" / "eval" / "realcuts" / "realcuts.mp4"
TOLERANCE = 1.0
SIZE = (224, 224)


def method_table() -> dict:
    """name -> function(frames) -> cut positions. The first is the project's default rule."""
    from tc139k.keyframes.scenes import SceneParams, detect_cuts, detector_cuts

    table = {
        "tc139k default": lambda f: detect_cuts(f, SceneParams()),
        "PySceneDetect content 27, min 1 frame": lambda f: detector_cuts(f, SceneParams("content"), 1),
        "PySceneDetect adaptive 3.0, min 1 frame": lambda f: detector_cuts(f, SceneParams("adaptive"), 1),
    }
    try:
        from tc139k.keyframes import transnet

        if transnet.available():
            table["TransNetV2 0.5 (tc139k --scene-detector transnetv2)"] = lambda f: detect_cuts(
                f, SceneParams("transnetv2")
            )
            table["TransNetV2 0.3"] = lambda f: transnet.transnet_cuts(f, 0.3)
    except ImportError:
        pass
    return table


def ablations() -> dict:
    """The default rule with one of its checks switched off (scenes.Checks)."""
    import dataclasses

    from tc139k.keyframes.scenes import Checks, SceneParams, detect_cuts

    out = {}
    for f in dataclasses.fields(Checks):
        checks = Checks(**{f.name: False})
        out[f"tc139k default without {f.name}"] = lambda frames, c=checks: detect_cuts(frames, SceneParams(), c)
    return out


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
    used_p: set[int] = set()
    used_t: set[int] = set()
    for _, i, j in sorted(pairs):
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return {
        "tp": len(used_p),
        "n_pred": len(pred),
        "n_true": len(cuts) + len(spans),
        "false": [p for i, p in enumerate(pred) if i not in used_p],
        "missed": [c for j, c in enumerate(cuts) if j not in used_t]
        + [s for k, s in enumerate(spans) if len(cuts) + k not in used_t],
    }


def prf(tp: int, n_pred: int, n_true: int) -> dict:
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_true if n_true else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f1, 3)}


def false_by_class(false: list[float], negatives: list[tuple[str, float, float]]) -> dict:
    out: dict[str, int] = {}
    for p in false:
        hit = {k for k, a, b in negatives if a - TOLERANCE <= p <= b + TOLERANCE}
        for k in hit or {"other"}:
            out[k] = out.get(k, 0) + 1
    return out


# ---- sets: (name, clips as dicts with frames, seconds, truth) -------------------------------


def corpus_set(split: str, media: Path, clips_path: Path) -> tuple[list[dict], str | None]:
    clips = [c for c in load_clips(clips_path) if c.split == split]
    absent = [c.id for c in clips if not c.media_path(media).is_file()]
    if absent:
        return (
            [],
            f"{len(absent)} of {len(clips)} media absent under {media} (scripts/scenecorpus/build.py fetches them)",
        )
    out = []
    for c in clips:
        frames, native = decode_clip(c, media, SIZE)
        cuts, spans = c.truth(native)
        out.append(
            {
                "id": c.id,
                "frames": frames,
                "seconds": np.arange(len(frames), dtype=np.float64),
                "cuts": cuts,
                "spans": spans,
                "negatives": c.negative_spans(),
            }
        )
    return out, None


def realcuts_set(video: Path) -> tuple[list[dict], str | None]:
    from tc139k.keyframes.frames import decode, video_file_specs

    truth_path = video.with_name("realcuts.json")
    if not video.is_file() or not truth_path.is_file():
        return [], f"{video} or its realcuts.json is absent (evaluation material, not shipped)"
    truth = json.loads(truth_path.read_text())
    d = decode(video_file_specs([video], "eval")[0], SIZE)
    clip = {
        "id": "realcuts",
        "frames": d.frames,
        "seconds": d.seconds,
        "cuts": list(truth["cuts_s"]),
        "spans": [list(s) for s in truth.get("fade_intervals_s", [])],
        "negatives": [],
    }
    return [clip], None


def sample_set(tmp: Path) -> tuple[list[dict], str | None]:
    from tc139k.keyframes.frames import decode, list_frame_videos
    from tc139k.sample import build_sample

    info = build_sample(tmp / "sample", seed=0, write_frames=True)
    truth = json.loads(Path(info.ground_truth_path).read_text())["videos"]
    out = []
    for spec in list_frame_videos(Path(info.frames_dir)):
        d = decode(spec, SIZE)
        out.append(
            {
                "id": spec.video_id,
                "frames": d.frames,
                "seconds": d.seconds,
                "cuts": [float(c) for c in truth[spec.video_id]["scene_cuts"]],
                "spans": [],
                "negatives": [],
            }
        )
    return out, None


# ---- measurements -----------------------------------------------------------------------------


def run_method(fn, clips: list[dict]) -> dict:
    tp = n_pred = n_true = frames = 0
    seconds = 0.0
    by_class: dict[str, int] = {}
    per_clip = {}
    for c in clips:
        t0 = time.perf_counter()
        pos = np.asarray(fn(c["frames"]), dtype=np.int64)
        seconds += time.perf_counter() - t0
        frames += len(c["frames"])
        pred = c["seconds"][pos].tolist()
        m = match(pred, c["cuts"], c["spans"])
        tp, n_pred, n_true = tp + m["tp"], n_pred + m["n_pred"], n_true + m["n_true"]
        for k, v in false_by_class(m["false"], c["negatives"]).items():
            by_class[k] = by_class.get(k, 0) + v
        per_clip[c["id"]] = {"pred": pred, "false": m["false"], "missed": m["missed"]}
    return {
        **prf(tp, n_pred, n_true),
        "tp": tp,
        "n_pred": n_pred,
        "n_true": n_true,
        "false_by_class": dict(sorted(by_class.items())),
        "frames_per_s": round(frames / seconds, 1) if seconds else None,
        "clips": per_clip,
    }


def keyframes_per_minute(clips: list[dict]) -> dict:
    """Key frames per minute inside shots (scene starts left out) by the key-frame rule with the
    default scene rule and the pixel method, the level calibrated over the set to the published
    7.14 s mean interval as a dataset run does: within each hard-negative class's spans, and on
    the frames outside every span ("normal")."""
    from tc139k import published
    from tc139k.keyframes.build import VideoCurve, calibrate_level, select_keyframes
    from tc139k.keyframes.dtd import frame_drop_ratio
    from tc139k.keyframes.scenes import SceneParams, detect_scenes
    from tc139k.keyframes.scorer_pixel import pixel_scores

    curves = []
    for c in clips:
        q, _ = pixel_scores(c["frames"], 28)
        scenes = detect_scenes(c["frames"], SceneParams())
        motion = getattr(scenes, "motion_novelty", None)  # None in a tree from before it existed
        curves.append(VideoCurve(c["seconds"], frame_drop_ratio(q, "pixel_mad", 0.05), scenes.cuts, motion))
    level, _ = calibrate_level(curves, published.KEYFRAME_INTERVAL_SECONDS, 2.0)
    counts: dict[str, list[float]] = {}
    for c, cv in zip(clips, curves):
        picks = set(select_keyframes(cv.seconds, cv.drop_ratio, cv.cuts, level, 2.0, cv.motion).tolist())
        in_shot = picks - {0, *cv.cuts.tolist()}
        for i, sec in enumerate(c["seconds"]):
            classes = {k for k, a, b in c["negatives"] if a <= sec <= b} or {"normal"}
            for k in classes:
                n = counts.setdefault(k, [0, 0.0])
                n[0] += i in in_shot
                n[1] += 1 / 60.0
    return {k: round(n / m, 2) for k, (n, m) in sorted(counts.items()) if m}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="tune,heldout,realcuts,sample")
    ap.add_argument("--methods", default=None, help="Comma-separated substrings of method names [default: all].")
    ap.add_argument("--media", type=Path, default=DEFAULT_MEDIA)
    ap.add_argument("--clips", type=Path, default=CLIPS)
    ap.add_argument("--realcuts", type=Path, default=DEFAULT_REALCUTS)
    ap.add_argument("--details", action="store_true", help="Per clip: predicted, false and missed cuts.")
    ap.add_argument("--ablation", action="store_true", help="Also the default rule with each of its checks off.")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    methods = method_table()
    if args.ablation:
        methods.update(ablations())
    if args.methods:
        wanted = args.methods.split(",")
        methods = {k: v for k, v in methods.items() if any(w.lower() in k.lower() for w in wanted)}
    report: dict = {"tolerance_s": TOLERANCE, "frame_size": list(SIZE), "sets": {}}
    with tempfile.TemporaryDirectory(prefix="tc139k-bench-scenes-") as tmp:
        for name in args.sets.split(","):
            if name in ("tune", "heldout"):
                clips, why = corpus_set(name, args.media, args.clips)
            elif name == "realcuts":
                clips, why = realcuts_set(args.realcuts)
            elif name == "sample":
                clips, why = sample_set(Path(tmp))
            else:
                raise SystemExit(f"unknown set {name!r}")
            if why:
                report["sets"][name] = {"skipped": why}
                continue
            entry = {
                "clips": len(clips),
                "frames": sum(len(c["frames"]) for c in clips),
                "true": sum(len(c["cuts"]) + len(c["spans"]) for c in clips),
                "methods": {m: run_method(fn, clips) for m, fn in methods.items()},
            }
            if name in ("tune", "heldout"):
                entry["keyframes_per_minute"] = keyframes_per_minute(clips)
            report["sets"][name] = entry
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    for name, s in report["sets"].items():
        if "skipped" in s:
            print(f"{name}: skipped: {s['skipped']}")
            continue
        print(f"{name}: {s['clips']} clip(s), {s['frames']} frames, {s['true']} cuts and transitions")
        print(f"  {'method':<52} {'P':>6} {'R':>6} {'F1':>6} {'pred':>5} {'fr/s':>8}  false cuts by class")
        for m, r in s["methods"].items():
            fc = ", ".join(f"{k} {v}" for k, v in r["false_by_class"].items()) or "-"
            figures = f"{r['precision']:>6.3f} {r['recall']:>6.3f} {r['f1']:>6.3f} {r['n_pred']:>5}"
            print(f"  {m:<52} {figures} {r['frames_per_s']:>8}  {fc}")
            if args.details:
                for cid, d in r["clips"].items():
                    if d["false"] or d["missed"]:
                        print(f"      {cid}: false {d['false']} missed {d['missed']}")
        if "keyframes_per_minute" in s:
            kpm = ", ".join(f"{k} {v}" for k, v in s["keyframes_per_minute"].items())
            print(f"  key frames per minute inside shots (default rule, pixel method): {kpm}")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
