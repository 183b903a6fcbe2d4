"""Mutation testing of the modules where a silent bug costs most: `make mutate`.

mutmut (configuration: [tool.mutmut] in pyproject.toml) copies the package into mutants/,
mutates the listed functions one change at a time and runs, for each mutant, only the tests
that cover it. This script runs one module at a time (the machine stays usable), each bounded
by a wall-clock budget, then prints the score per module and writes mutants/scores.json.

    python scripts/mutate.py                 # every module below
    python scripts/mutate.py dtd atomic      # some of them
    python scripts/mutate.py --report        # only the scores of what already ran

Score = killed / mutants checked; a timeout (the tests hung on the mutant) counts as detected.
Survivors: `mutmut results`, one of them: `mutmut show NAME`. docs/testing.md has the latest
scores and the survivors judged equivalent.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = str(Path(sys.executable).parent / "mutmut")
SEP = "\u01c1"  # mutmut's separator in the names of methods: x<SEP>Class<SEP>method


def _fn(module: str, *names: str) -> list[str]:
    """mutmut name patterns of functions (`f`) and methods (`Class.m`, `Class.*`) of `module`."""
    out = []
    for n in names:
        if "." in n:
            cls, meth = n.split(".")
            out.append(f"{module}.x{SEP}{cls}{SEP}{meth if meth != '*' else ''}*")
        else:
            out.append(f"{module}.x_{n}__mutmut_*")
    return out


# name -> (source files, mutant name patterns)
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "dtd": (["tc139k/keyframes/dtd.py"], ["tc139k.keyframes.dtd.*"]),
    "keyframe-rule": (
        ["tc139k/keyframes/build.py"],
        _fn(
            "tc139k.keyframes.build",
            "select_keyframes",
            "trigger_positions",
            "mean_interval",
            "calibrate_level",
            "_AllVideos.*",
            "VideoCurve.*",
        ),
    ),
    "atomic": (["tc139k/atomic.py"], ["tc139k.atomic.*"]),
    "extract": (["tc139k/download/extract.py"], ["tc139k.download.extract.*"]),
    "transfer": (
        ["tc139k/download/hub.py"],
        _fn(
            "tc139k.download.hub",
            "resumable_fetch",
            "_fill",
            "hash_file",
            "check_repo_path",
            "ContentHasher.*",
            "HubSource.fetch",
            "HubSource._stream",
        ),
    ),
    "qa": (["tc139k/qa.py"], ["tc139k.qa.*"]),
    "shards": (
        ["tc139k/shards/build.py", "tc139k/shards/plan.py"],
        _fn("tc139k.shards.build", "_existing_frames", "_record_row", "_read_frames", "_write_shard")
        + _fn("tc139k.shards.plan", "keyframe_flags", "video_split", "plan_shards", "plan_row_groups"),
    ),
}

DETECTED = {"killed", "timeout"}


def _status(code) -> str:
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code[code]


def scores() -> dict[str, dict]:
    """Per module: counts of each status over the mutants its patterns select."""
    out = {}
    for name, (files, patterns) in MODULES.items():
        counts: dict[str, int] = {}
        survivors = []
        for f in files:
            meta = ROOT / "mutants" / f"{f}.meta"
            if not meta.exists():
                continue
            for key, code in json.loads(meta.read_text())["exit_code_by_key"].items():
                if not any(fnmatch.fnmatchcase(key, p) for p in patterns):
                    continue
                status = _status(code)
                counts[status] = counts.get(status, 0) + 1
                if status == "survived":
                    survivors.append(key)
        total = sum(counts.values())
        checked = total - counts.get("not checked", 0)
        detected = sum(counts.get(s, 0) for s in DETECTED)
        out[name] = {
            "mutants": total,
            "checked": checked,
            "detected": detected,
            "score": round(detected / checked, 4) if checked else None,
            "counts": dict(sorted(counts.items())),
            "survivors": sorted(survivors),
        }
    return out


def run_module(name: str, max_children: int, minutes: float) -> float:
    """Run mutmut on one module's patterns; returns the wall-clock seconds it took."""
    t0 = time.monotonic()
    cmd = [MUTMUT, "run", "--max-children", str(max_children), *MODULES[name][1]]
    # its own process group, so that the budget stops its workers too
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "TC139K_NO_PROGRESS": "1"}, start_new_session=True)
    try:
        proc.wait(timeout=minutes * 60)
    except subprocess.TimeoutExpired:
        print(f"mutate: {name} passed its {minutes:g} min budget; stopping it (finished mutants are kept)")
        os.killpg(proc.pid, signal.SIGTERM)  # mutmut records each result as it comes
        proc.wait()
        return time.monotonic() - t0
    if proc.returncode != 0 and not (proc.returncode == 1 and _ran(name)):
        raise SystemExit(f"mutate: mutmut failed on {name} (exit code {proc.returncode})")
    return time.monotonic() - t0


def _ran(name: str) -> bool:
    return bool(scores()[name]["checked"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help=f"modules to run (default: all): {', '.join(MODULES)}")
    ap.add_argument("--max-children", type=int, default=int(os.environ.get("MUTATE_CHILDREN", "2")))
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("MUTATE_MINUTES", "30")), help="per module")
    ap.add_argument("--report", action="store_true", help="print the scores of earlier runs, run nothing")
    ap.add_argument("--min-score", type=float, default=0.85, help="exit 1 when a module scores below it")
    args = ap.parse_args()
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        ap.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    times = {}
    if not args.report:
        for name in args.modules or list(MODULES):
            times[name] = run_module(name, args.max_children, args.minutes)
    result = scores()
    for name, t in times.items():
        result[name]["seconds"] = round(t)
    (ROOT / "mutants").mkdir(exist_ok=True)
    (ROOT / "mutants" / "scores.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{'module':<15} {'mutants':>8} {'checked':>8} {'detected':>9} {'score':>7}  survivors")
    low = []
    for name, r in result.items():
        if not r["checked"]:
            continue
        print(
            f"{name:<15} {r['mutants']:>8} {r['checked']:>8} {r['detected']:>9} {r['score']:>7.1%}"
            f"  {len(r['survivors'])}" + (f"  ({times[name]:.0f} s)" if name in times else "")
        )
        if r["score"] < args.min_score:
            low.append(name)
    if low:
        print(f"below {args.min_score:.0%}: {', '.join(low)}; see `mutmut results` and docs/testing.md")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
