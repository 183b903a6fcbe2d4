"""Benchmark of `tc139k validate` on a QA file the size of the real one.

Generates 139,000 records from the bundled sample's records (their questions, answers and
conversation lengths; 64-frame clips with gaps; about 11,000 distinct videos; about 615 MB)
in a temporary folder, then times, in one run:

  ours  `tc139k validate FILE --out DIR --json` (the command, as a subprocess), with its
        peak memory (all its processes together); also `run_validate()` in this process
  (a)   a straightforward per-record validator: json.loads plus the same checks
  (b)   a bare pyarrow.json.read_json of the file
  (c)   the fastest plain per-line JSON decoder found (msgspec or orjson), parsing only

Targets: ours >= 4x faster than (a), no slower than (b), within 2x of (c), peak memory
under 2 GB. Every timing is the best of --repeat runs. Start and end times are written as
numbers: with the sample's mix of numbers and numeric strings, (b) cannot read the file.

With `--baseline DIR` (a source tree of another version, e.g. `git archive REV tc139k
schemas | tar -x -C DIR`), the same command of that version runs alternately with ours
(PYTHONPATH=DIR), so that both see the same load; its wall and CPU times (user + system, all
processes) are printed beside ours, with the ratio, and its outputs are compared byte for
byte with ours.

    .venv/bin/python scripts/bench_validate.py [--records N] [--repeat R] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import orjson
import psutil
import pyarrow.json as pj

from tc139k.paths import FramePathError, parse_frame_path
from tc139k.sample import build_sample
from tc139k.validate.exact import QARecord
from tc139k.validate.run import run_validate

CLIP_FRAMES = 64
VIDEO_VARIANTS = 790  # x 14 sample videos: about 11,000 distinct videos, as in the dataset


def generate(sample_dir: Path, out: Path, n_records: int) -> int:
    """Write `n_records` QA lines built from the sample's records; returns the file size."""
    qa = Path(build_sample(sample_dir).repo_dir) / "time_chat_online_139k_train_flt.jsonl"
    base = [json.loads(line) for line in qa.read_text().splitlines()]
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n_records):
            rec = base[i % len(base)]
            first = rec["videos"][0][0]
            folder, start = first[:-10].rstrip("/"), int(first[-10:-4])
            folder = f"{folder}{(i // len(base)) % VIDEO_VARIANTS:03d}/"
            step = 1 + (i % 3 == 0)  # some clips keep every second, some every other one
            frames = [f"{folder}{start + k * step + (k > 20 and i % 5 == 0):06d}.jpg" for k in range(CLIP_FRAMES)]
            t0 = float(start) + (i % 1000) / 1000  # also makes every line unique
            f.write(
                json.dumps(
                    {
                        "messages": rec["messages"],
                        "videos": [frames],
                        "start_time": t0,
                        "end_time": t0 + CLIP_FRAMES * step,
                    }
                )
                + "\n"
            )
    return out.stat().st_size


# ---- (a) the straightforward validator -------------------------------------------------------

_NUMERIC = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")


def _seconds(v, problems):
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        problems.append("time_not_numeric")
        return None
    if isinstance(v, str):
        if not _NUMERIC.fullmatch(v):
            problems.append("time_not_numeric")
            return None
        v = float(v)
    if not math.isfinite(v):
        problems.append("time_not_numeric")
        return None
    if v < 0:
        problems.append("time_negative")
        return None
    return float(v)


def per_record_validator(path: Path) -> tuple[int, int]:
    """json.loads per line, then the same checks as `tc139k validate`, record by record."""
    seen, valid, invalid = set(), [], 0
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, 1):
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            problems = []
            digest = hashlib.sha1(raw).digest()
            if digest in seen:
                problems.append("duplicate")
            seen.add(digest)
            try:
                rec = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                invalid += 1
                continue
            if (
                not isinstance(rec, dict)
                or not isinstance(rec.get("messages"), list)
                or not isinstance(rec.get("videos"), list)
            ):
                invalid += 1
                continue
            msgs = rec["messages"]
            roles = [m.get("role") if isinstance(m, dict) else None for m in msgs]
            if len(msgs) < 2 or len(msgs) % 2 or roles != ["user", "assistant"] * (len(msgs) // 2):
                problems.append("bad_roles")
            contents = [m.get("content") if isinstance(m, dict) else None for m in msgs]
            if not all(isinstance(c, str) for c in contents):
                problems.append("wrong_type")
                contents = [c if isinstance(c, str) else "" for c in contents]
            tags = sum(c.count("<video>") for c in contents)
            if tags != len(rec["videos"]):
                problems.append("video_tag_mismatch")
            for i, c in enumerate(contents):
                if not (c.replace("<video>", "").strip() if i % 2 == 0 else c.strip()):
                    problems.append("empty_question" if i % 2 == 0 else "empty_answer")
            videos, indices, relpaths = set(), [], []
            for clip in rec["videos"]:
                prev = -1
                for p in clip if isinstance(clip, list) else []:
                    try:
                        ref = parse_frame_path(p)
                    except (FramePathError, TypeError):
                        problems.append("bad_frame_path")
                        continue
                    if ref.index <= prev:
                        problems.append("frames_not_increasing")
                    prev = ref.index
                    videos.add((ref.source, ref.video_id))
                    indices.append(ref.index)
                    relpaths.append(ref.relpath)
            if len(videos) != 1:
                problems.append("record_spans_videos")
            start, end = _seconds(rec.get("start_time"), problems), _seconds(rec.get("end_time"), problems)
            if start is not None and end is not None and start > end:
                problems.append("time_order")
            if problems:
                invalid += 1
            else:
                valid.append((line_no, contents, indices, relpaths, start, end))
    return len(valid), invalid


# ---- (c) plain per-line decoders, parsing only ------------------------------------------------


def parse_lines(path: Path, decode) -> int:
    """Decode every line of `path` with `decode`; returns the number of lines."""
    n = 0
    with open(path, "rb") as f:
        for line in f:
            decode(line)
            n += 1
    return n


DECODERS = {
    "msgspec (generic)": msgspec.json.Decoder().decode,
    "msgspec (typed struct)": msgspec.json.Decoder(QARecord).decode,
    "orjson": orjson.loads,
}


# ---- measuring ---------------------------------------------------------------------------------


def best_of(repeat: int, fn, *args) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_command(cmd: list[str], pythonpath: str | None = None) -> tuple[float, int, str, float]:
    """Wall time, peak memory of the process tree (sum of RSS, polled), stdout and CPU time
    (user + system of the command and every process it waited for)."""
    env = dict(os.environ, TC139K_NO_PROGRESS="1")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    ps, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    out, err = proc.communicate()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}:\n{err}")
    cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    return wall, peak, out, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=139_000, help="QA records to generate")
    ap.add_argument("--repeat", type=int, default=5, help="runs per measurement (the best counts)")
    ap.add_argument("--baseline", help="source tree of another tc139k version to time alternately with ours")
    args = ap.parse_args()
    cli = str(Path(sys.executable).with_name("tc139k"))
    tmp = Path(tempfile.mkdtemp(prefix="tc139k-bench-validate-"))
    try:
        qa = tmp / "qa.jsonl"
        size = generate(tmp / "sample", qa, args.records)
        os.sync()  # the file's pages are written back now, not while the timings run
        print(f"file: {args.records} records, {size / 1e6:.0f} MB, {CLIP_FRAMES}-frame clips")
        print(f"machine: {os.cpu_count()} CPUs; each time is the best of {args.repeat} run(s)\n")

        ours, ours_cpu, peak, summary = math.inf, math.inf, 0, None
        base, base_cpu = math.inf, math.inf
        for _ in range(args.repeat):
            shutil.rmtree(tmp / "out", ignore_errors=True)
            wall, mem, out, cpu = run_command([cli, "validate", str(qa), "--out", str(tmp / "out"), "--json"])
            ours, ours_cpu, peak = min(ours, wall), min(ours_cpu, cpu), max(peak, mem)
            summary = json.loads(out)["result"]  # the --json envelope
            if args.baseline:
                shutil.rmtree(tmp / "out-base", ignore_errors=True)
                cmd = [cli, "validate", str(qa), "--out", str(tmp / "out-base"), "--json"]
                wall, _, _, cpu = run_command(cmd, pythonpath=args.baseline)
                base, base_cpu = min(base, wall), min(base_cpu, cpu)
        assert summary["n_records"] == args.records == summary["n_valid"], summary
        if args.baseline:
            for name in ("valid.parquet", "quarantine.jsonl", "report.json"):
                same = (tmp / "out" / name).read_bytes() == (tmp / "out-base" / name).read_bytes()
                print(f"{name}: {'byte-identical to' if same else 'DIFFERS from'} the baseline's")
        t_lib, res = best_of(args.repeat, lambda: run_validate([qa], out_dir=tmp / "out-lib"))
        assert res.valid == args.records
        t_a, (a_valid, _) = best_of(1, per_record_validator, qa)
        assert a_valid == args.records
        t_b, table = best_of(args.repeat, pj.read_json, qa)
        assert table.num_rows == args.records
        del table
        t_c = {name: best_of(args.repeat, parse_lines, qa, decode)[0] for name, decode in DECODERS.items()}
        fastest = min(t_c, key=t_c.get)

        print(
            f"ours  tc139k validate --out --json   {ours:6.2f} s  {args.records / ours:9,.0f} records/s  "
            f"peak memory {peak / 2**30:.2f} GiB"
        )
        print(f"      its CPU time (all processes)    {ours_cpu:6.2f} s")
        if args.baseline:
            print(
                f"      baseline {args.baseline}: {base:.2f} s, CPU {base_cpu:.2f} s; ours takes "
                f"{ours / base:.2f}x its time, {ours_cpu / base_cpu:.2f}x its CPU time"
            )
        print(f"      run_validate() in this process  {t_lib:6.2f} s  (the same work without the command's start-up)")
        print(f"(a)   json.loads + same checks        {t_a:6.2f} s")
        print(f"(b)   pyarrow.json.read_json          {t_b:6.2f} s")
        for name, t in t_c.items():
            print(f"(c)   {name:30s}  {t:6.2f} s" + ("   <- fastest" if name == fastest else ""))
        print()
        checks = [
            (f"vs (a): {t_a / ours:.1f}x faster (target >= 4x)", t_a / ours >= 4),
            (f"vs (b): {ours / t_b:.2f}x the time (target <= 1x)", ours <= t_b),
            (f"vs (c): {ours / t_c[fastest]:.2f}x the time (target <= 2x)", ours <= 2 * t_c[fastest]),
            (f"peak memory {peak / 2**30:.2f} GiB (target < 2 GiB)", peak < 2 * 2**30),
        ]
        for text, ok in checks:
            print(f"{'PASS' if ok else 'MISS'}  {text}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
