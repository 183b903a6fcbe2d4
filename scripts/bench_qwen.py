"""Speed of the qwen2.5-vl encoder of `tc139k keyframes build --method feature` against the
open_clip encoder, measured in the same run.

Both scorers score the same video (random frames, the speed does not depend on the picture)
from frames already decoded at their own working size (qwen2.5-vl: Qwen's resize rule within
the pixel budget, 224 x 420 px by default; open_clip: its input size, at least 224 x 224),
batches as in the key-frame stage; the two are interleaved over rounds and each keeps its best.
Reported: raw frames per second of each and their ratio (qwen2.5-vl / open_clip).

Without --pretrained the models are the tests' tiny randomly initialised ones (a 2-layer
Qwen2.5-VL vision tower, 32 wide; a 2-layer open_clip ViT, 64 wide): the cost of the code
path, not of a real model. With `--pretrained local-dir:FOLDER` (a Qwen2.5-VL checkpoint
folder, e.g. TimeChatOnline-7B) the real vision tower is measured, against open_clip's
default ViT-B-32 (random weights: same speed); the device is chosen automatically (CUDA in
bfloat16 for Qwen, float16 for open_clip, when present), so the same command runs on a GPU.

    .venv/bin/python scripts/bench_qwen.py [--pretrained local-dir:FOLDER] [--frames 64]
                                           [--rounds 3] [--batch-size 32] [--device auto]
                                           [--max-pixels N] [--min-pixels N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the tiny models the tests use


def best_fps(scorer, frames: np.ndarray, rounds: list[float]) -> None:
    t0 = time.perf_counter()
    scorer.score(frames)
    rounds.append(len(frames) / (time.perf_counter() - t0))


def main() -> None:
    from tc139k.keyframes import qwen_frames
    from tc139k.keyframes.scorer import make_scorer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pretrained", default=None, help="local-dir:FOLDER of a Qwen2.5-VL checkpoint [default: tiny].")
    ap.add_argument("--frames", type=int, default=64, help="Raw frames of the video scored per round.")
    ap.add_argument("--rounds", type=int, default=3, help="Interleaved rounds; each encoder keeps its best.")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--min-pixels", type=int, default=qwen_frames.MIN_PIXELS)
    ap.add_argument("--max-pixels", type=int, default=qwen_frames.MAX_PIXELS)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_qwen_") as tmp:
        if args.pretrained:
            import open_clip
            import torch

            qwen_ckpt, label = args.pretrained, args.pretrained
            torch.manual_seed(0)
            clip_ckpt = Path(tmp) / "vit-b-32.bin"
            torch.save(open_clip.create_model("ViT-B-32", pretrained=None).state_dict(), clip_ckpt)
            clip = make_scorer(
                "feature", model="ViT-B-32", pretrained=str(clip_ckpt), device=args.device, batch_size=args.batch_size
            )
            clip_label = "open_clip ViT-B-32"
        else:
            from tiny_clip import build_tiny_clip
            from tiny_qwen import build_tiny_qwen

            qwen_ckpt, label = build_tiny_qwen(Path(tmp) / "qwen").local_dir, "tiny Qwen2.5-VL tower"
            tiny = build_tiny_clip(Path(tmp) / "clip")
            clip = make_scorer("feature", pretrained=tiny.local_dir, device=args.device, batch_size=args.batch_size)
            clip_label = "tiny open_clip ViT"
        qwen = make_scorer(
            "feature",
            encoder="qwen2.5-vl",
            pretrained=qwen_ckpt,
            device=args.device,
            batch_size=args.batch_size,
            min_pixels=args.min_pixels,
            max_pixels=args.max_pixels,
        )
        t0 = time.perf_counter()
        qwen.load(), clip.load()
        print(f"models loaded in {time.perf_counter() - t0:.1f} s", flush=True)
        rng = np.random.default_rng(0)
        inputs = {
            name: rng.integers(0, 256, size=(args.frames, s.frame_size[1], s.frame_size[0], 3), dtype=np.uint8)
            for name, s in (("qwen", qwen), ("clip", clip))
        }
        for s, name in ((qwen, "qwen"), (clip, "clip")):  # warm-up: first calls allocate
            s.score(inputs[name][:4])
        fps = {"qwen": [], "clip": []}
        for _ in range(args.rounds):
            best_fps(qwen, inputs["qwen"], fps["qwen"])
            best_fps(clip, inputs["clip"], fps["clip"])
        q, c = max(fps["qwen"]), max(fps["clip"])
        prov = qwen.provenance()["model"]
        w, h = qwen.frame_size
        print(
            f"{label}: {q:.1f} frames/s ({prov['precision']}, {h} x {w} px, {qwen.grid[0]} x {qwen.grid[1]} tokens "
            f"per DTD frame of 2 raw frames)"
        )
        print(f"{clip_label}: {c:.1f} frames/s ({clip.provenance()['model']['precision']}, {clip.frame_size[0]} px)")
        print(
            f"ratio qwen2.5-vl / open_clip: {q / c:.2f}  ({args.frames} frames, batch {args.batch_size}, best of "
            f"{args.rounds} rounds, device {qwen.tower.device})"
        )


if __name__ == "__main__":
    main()
