"""Benchmark `tc139k shards build`.

1. Rows per second without frames, on the sample's QA records replicated to --rows rows, with
   the default layout (8+ shards per split, bounded row groups) and, as the baseline, one
   shard per split written as one row group.
2. With --embed-frames: MB of JPEG per second written into shards, against `cp -r` of the
   same frame files in the same run (target: at least 0.5 of cp), and the shards' layout
   (shards per split, row groups, the largest row group).
3. Streaming memory: the embedded records in one shard, written once with row groups bounded
   at --row-group-mb and once as a single row group (the layout before row groups were
   bounded); each read back with `load_dataset(..., streaming=True)` in a fresh process,
   peak Arrow memory (pyarrow's pool) and peak RSS above the RSS after importing
   `datasets`, frames left undecoded.

The frames are the sample's, re-encoded at --frame-size so that files have a realistic size
(the sample's own 160x120 frames are under 1 KB, where per-file costs hide everything else).
Every frame is referenced once (records are cut into consecutive clips) so both sides move
the same bytes.

    .venv/bin/python scripts/bench_shards.py [--rows 20000] [--frame-size 896x672] [--rounds 3] [--row-group-mb 8]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from tc139k.keyframes.build import run_keyframes
from tc139k.sample import build_sample
from tc139k.shards.build import run_shards_build
from tc139k.validate.run import run_validate


def drop_caches_best_effort() -> None:
    subprocess.run(["sync"], check=False)


def scaled_frames(src: Path, dst: Path, size: tuple[int, int]) -> int:
    total = 0
    for p in sorted(src.rglob("*.jpg")):
        out = dst / p.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        Image.open(p).convert("RGB").resize(size, Image.BILINEAR).save(buf, format="JPEG", quality=90)
        out.write_bytes(buf.getvalue())
        total += out.stat().st_size
    return total


def replicate(valid: Path, out: Path, rows: int) -> int:
    table = pq.read_table(valid)
    reps = []
    n = 0
    k = 0
    while n < rows:
        take = min(table.num_rows, rows - n)
        part = table.slice(0, take)
        ids = pa.array([f"{r}-{k}" for r in part.column("record_id").to_pylist()])
        reps.append(part.set_column(part.schema.get_field_index("record_id"), "record_id", ids))
        n += take
        k += 1
    pq.write_table(pa.concat_tables(reps), out)
    return n


def clips_covering_every_frame(valid: Path, frames: Path, out: Path) -> tuple[int, int]:
    """One record per 32 consecutive frames of every video: each frame referenced once."""
    base = pq.read_table(valid).slice(0, 1).to_pylist()[0]
    rows = []
    for vdir in sorted(p for p in frames.glob("*/*") if p.is_dir()):
        names = sorted(f.name for f in vdir.glob("*.jpg"))
        for i in range(0, len(names), 32):
            chunk = names[i : i + 32]
            rows.append(
                {
                    **base,
                    "record_id": f"{vdir.name}-{i}",
                    "source": vdir.parent.name,
                    "video_id": vdir.name,
                    "frame_indices": [int(n[:6]) for n in chunk],
                    "frame_paths": [f"{vdir.parent.name}/{vdir.name}/{n}" for n in chunk],
                }
            )
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(valid)), out)
    return len(rows), sum(len(r["frame_paths"]) for r in rows)


STREAM = """
import resource, sys
import pyarrow as pa
from datasets import load_dataset
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = sum(1 for _ in load_dataset(sys.argv[1], split="train", streaming=True).decode(False))
print(n, pa.default_memory_pool().max_memory(), base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def stream_peak_mb(folder: Path) -> dict:
    """Rows streamed by a fresh process reading the shards (frames not decoded), its peak
    Arrow memory and its peak RSS growth after importing datasets, in MB."""
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", STREAM, str(folder)], capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(out.stderr)
    n, arrow, base, peak = map(int, out.stdout.split())
    return {"rows": n, "peak_arrow_mb": round(arrow / 1e6, 1), "peak_rss_mb": round((peak - base) / 1024, 1)}


def layout(res) -> dict:
    return {
        "shards": {s: sum(1 for x in res.shards if x.split == s) for s in res.rows},
        "row_groups": sum(x.row_groups for x in res.shards),
        "largest_row_group_mb": round(max(x.max_row_group_bytes for x in res.shards) / 1e6, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--frame-size", default="896x672")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--row-group-mb", type=float, default=8.0, help="row-group bound of the streaming measurement")
    args = ap.parse_args()
    size = tuple(int(x) for x in args.frame_size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="bench-shards-", dir=args.workdir))
    os.environ["TC139K_NO_PROGRESS"] = "1"
    try:
        info = build_sample(work / "sample", write_frames=True)
        frames = work / "frames"
        frame_bytes = scaled_frames(Path(info.frames_dir), frames, size)
        run_validate(
            [Path(info.repo_dir) / "time_chat_online_139k_train_flt.jsonl"],
            frames_root=frames,
            out_dir=work / "validated",
        )
        run_keyframes(out=work / "kf", frames_root=frames, method="pixel")
        valid = work / "validated" / "valid.parquet"

        big = work / "big.parquet"
        n_rows = replicate(valid, big, args.rows)
        t_rows, t_rows_one = [], []
        for r in range(args.rounds):  # the default layout, and one shard of one row group as a baseline
            t0 = time.perf_counter()
            rows_res = run_shards_build(big, work / "kf", frames, work / f"rows-{r}", show_progress=False)
            t_rows.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            run_shards_build(big, work / "kf", frames, work / f"rows1-{r}", min_shards=1, row_group_bytes=10**12,
                             row_group_rows=10**9, show_progress=False)  # fmt: skip
            t_rows_one.append(time.perf_counter() - t0)

        cover = work / "cover.parquet"
        n_clips, n_frames = clips_covering_every_frame(valid, frames, cover)
        t_embed, t_cp = [], []
        for r in range(args.rounds):  # interleaved so that load on the machine hits both alike
            drop_caches_best_effort()
            t0 = time.perf_counter()
            subprocess.run(["cp", "-r", str(frames), str(work / f"cp-{r}")], check=True)
            subprocess.run(["sync"], check=True)
            t_cp.append(time.perf_counter() - t0)
            drop_caches_best_effort()
            t0 = time.perf_counter()
            embed_res = run_shards_build(
                cover,
                work / "kf",
                frames,
                work / f"embed-{r}",
                embed_frames=True,
                val_fraction=0.0,
                show_progress=False,
            )
            subprocess.run(["sync"], check=True)
            t_embed.append(time.perf_counter() - t0)
            shutil.rmtree(work / f"cp-{r}")
        stream = {}
        for name, bound in (("bounded", int(args.row_group_mb * 1e6)), ("one_group", 10**12)):
            built = run_shards_build(cover, work / "kf", frames, work / f"stream-{name}", embed_frames=True,
                                     val_fraction=0.0, min_shards=1, row_group_bytes=bound, row_group_rows=10**9,
                                     show_progress=False)  # fmt: skip
            stream[name] = {**stream_peak_mb(work / f"stream-{name}"), **layout(built)}
        mb = frame_bytes / 1e6
        result = {
            "rows": n_rows,
            "rows_best_s": round(min(t_rows), 3),
            "rows_per_s": round(n_rows / min(t_rows)),
            "rows_layout": layout(rows_res),
            "rows_one_group_best_s": round(min(t_rows_one), 3),
            "rows_layout_cost": round(min(t_rows) / min(t_rows_one), 2),
            "embed_frames": n_frames,
            "embed_clips": n_clips,
            "jpeg_mb": round(mb, 1),
            "frame_size": args.frame_size,
            "avg_jpeg_kb": round(frame_bytes / n_frames / 1e3, 1),
            "embed_best_s": round(min(t_embed), 3),
            "embed_mb_per_s": round(mb / min(t_embed), 1),
            "cp_best_s": round(min(t_cp), 3),
            "cp_mb_per_s": round(mb / min(t_cp), 1),
            "embed_vs_cp": round(min(t_cp) / min(t_embed), 2),
            "embed_layout": layout(embed_res),
            "stream": stream,
            "stream_arrow_ratio": round(stream["bounded"]["peak_arrow_mb"] / stream["one_group"]["peak_arrow_mb"], 2),
            "rounds": args.rounds,
        }
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
