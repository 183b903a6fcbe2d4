"""Cost of DTD keep masks in the shards and the collate (`shards build --dtd-scores`,
`ClipCollator(dtd_tau=...)`), each against a baseline measured in the same run.

1. Size: the sample's shards built from one key-frame run with and without --dtd-scores
   (path-based, so the scores are not hidden behind JPEG bytes), per score kind: the pixel
   method (8 x 8 grid, one token frame per clip frame) and the qwen2.5-vl encoder (the tests'
   tiny random tower at Qwen's default working size, 8 x 15 tokens, one token frame per two
   clip frames; random weights make the levels noisier than a trained tower's, so they
   compress worse: an upper bound). Reported: bytes per clip frame added, the share of the
   shards, and the full dataset scaled up (139K records at the sample's mean clip length).
2. Collate: the same rows (read once, in this process) batched by ClipCollator with frames
   decoded and resized to 224 x 224, without and with dtd_tau, interleaved over rounds, best
   round of each: the extra time per batch and the ratio.
3. A batch's tokens_kept at two tau values and the sample's token frames per gap case.

    .venv/bin/python scripts/bench_dtd.py [--rounds 5] [--batch-size 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the tiny qwen2.5-vl tower the tests use

PUBLISHED_RECORDS = 139_000


def shard_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in (folder / "data").glob("*.parquet"))


def clip_frames(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(
        sum(len(x) for x in pq.read_table(p, columns=["frame_paths"]).column("frame_paths").to_pylist())
        for p in (folder / "data").glob("*.parquet")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()

    import pyarrow.parquet as pq
    from tiny_qwen import build_tiny_qwen

    from tc139k.data import ClipCollator
    from tc139k.keyframes.build import run_keyframes
    from tc139k.sample import build_sample
    from tc139k.shards.build import run_shards_build
    from tc139k.validate.run import run_validate

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        info = build_sample(tmp / "sample", seed=0, write_frames=True)
        frames = Path(info.frames_dir)
        run_validate([Path(info.repo_dir) / "time_chat_online_139k_train_flt.jsonl"], frames_root=frames,
                     out_dir=tmp / "v")  # fmt: skip
        qa = tmp / "v" / "valid.parquet"
        run_keyframes(out=tmp / "kf_pixel", frames_root=frames, method="pixel", show_progress=False)
        qwen = build_tiny_qwen(tmp / "qwen").local_dir
        run_keyframes(out=tmp / "kf_qwen", frames_root=frames, encoder="qwen2.5-vl", pretrained=qwen,
                      level=2.0, show_progress=False)  # fmt: skip

        print("1. Shard size with and without DTD levels (path-based shards of the sample)")
        print(f"{'scores':<12} {'clip frames':>11} {'without, B':>11} {'with, B':>9} {'added B/frame':>13} "
              f"{'share':>6} {'139K records':>13}")  # fmt: skip
        counts = {}
        for kind in ("pixel", "qwen"):
            plain = run_shards_build(qa, tmp / f"kf_{kind}", frames, tmp / f"plain_{kind}", show_progress=False)
            dtd = run_shards_build(qa, tmp / f"kf_{kind}", frames, tmp / f"dtd_{kind}", dtd_scores=True,
                                   show_progress=False)  # fmt: skip
            counts[kind] = dtd.dtd
            n = clip_frames(tmp / f"dtd_{kind}")
            records = sum(plain.rows.values())
            a, b = shard_bytes(tmp / f"plain_{kind}"), shard_bytes(tmp / f"dtd_{kind}")
            scaled = (b - a) / records * PUBLISHED_RECORDS
            print(f"{kind:<12} {n:>11} {a:>11} {b:>9} {(b - a) / n:>13.1f} {(b - a) / b * 100:>5.1f}% "
                  f"{scaled / 1e6:>10.1f} MB")  # fmt: skip

        rows = [r for p in sorted((tmp / "dtd_pixel" / "data").glob("train-*.parquet"))
                for r in pq.read_table(p).to_pylist()]  # fmt: skip
        bs = args.batch_size
        batches = [rows[i : i + bs] for i in range(0, len(rows) - bs + 1, bs)]
        plain_c = ClipCollator(frames_root=frames, size=(224, 224))
        dtd_c = ClipCollator(frames_root=frames, size=(224, 224), dtd_tau=0.05)
        best = {"without": float("inf"), "with": float("inf"), "masks only": float("inf")}
        for _ in range(args.rounds):
            for name, fn in (
                ("without", plain_c),
                ("with", dtd_c),
                ("masks only", lambda b: dtd_c._dtd_masks(b, [len(r["frame_paths"]) for r in b])),
            ):
                t0 = time.perf_counter()
                for b in batches:
                    fn(b)
                best[name] = min(best[name], (time.perf_counter() - t0) / len(batches))
        print(f"\n2. Collate cost per batch of {bs} (pixel scores, frames resized to 224 x 224, "
              f"{len(batches)} batches, best of {args.rounds} rounds)")  # fmt: skip
        for name, t in best.items():
            print(f"  {name:<11} {t * 1e3:8.2f} ms")
        extra = best["masks only"] / best["without"]
        print(f"  masks only / without: {extra:.4f} (the masks' share of a collate that decodes frames)")
        print(f"  with / without: {best['with'] / best['without']:.3f} "
              f"(+{(best['with'] - best['without']) * 1e3:.2f} ms per batch)")  # fmt: skip

        print("\n3. The first batch's tokens_kept (pixel scores, 8 x 8 grid; per clip, summed over its token frames)")
        for tau in (0.02, 0.05):
            out = ClipCollator(frames_root=frames, dtd_tau=tau)(batches[0])
            kept = out["tokens_kept"].sum(dim=1).tolist()
            total = [int(n) * 64 for n in out["token_frames"]]
            print(f"  tau {tau}: kept {kept} of {total} tokens")
        print("\nToken frames by case on the sample:")
        for kind, c in counts.items():
            print(f"  {kind}: {json.dumps(c['token_frames'])}; gaps by length: {json.dumps(c['gap_lengths'])}")


if __name__ == "__main__":
    main()
