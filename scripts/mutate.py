"""Mutation testing of the whole package, or of the files a change touched: `make mutate`.

mutmut copies the package into a mutants/ folder, mutates functions one change at a time and
runs, for each mutant, only the tests that cover it (found by one traced run of the tests it
is given). This script gives mutmut one source file at a time: every file under tc139k/ is
found from the file tree, and runs in its own folder mutants/units/<module>/ with a
configuration written there (a copy of pyproject.toml whose [tool.mutmut] names that file and
its tests; pyproject.toml itself is never changed). Its tests are the test files that import
it, found by reading the imports of tests/ (see `test_files_for`), so the traced run stays
small. Each file runs under a wall-clock budget, then the scores are printed and written to
mutants/scores.json.

    python scripts/mutate.py                      # every module of tc139k/ (overnight)
    python scripts/mutate.py --module tc139k/jsonl.py tc139k/paths.py
    python scripts/mutate.py --changed            # changed against the merge base with main (on main: HEAD~1)
    python scripts/mutate.py --changed --list     # which files and tests, and their budgets; nothing run
    python scripts/mutate.py --changed HEAD~3     # ... against another base
    python scripts/mutate.py dtd atomic           # the hand-picked groups of [tool.mutmut]
    python scripts/mutate.py --report             # only the scores of what already ran
    python scripts/mutate.py --table              # docs/testing.md's table of every module

The CLI glue (tc139k/cli/*) is sampled: a fixed subset of its mutants (`CLI_FRACTION`, drawn
with `CLI_SEED` per file), because its tests run the whole command for each mutant.

Named groups (`dtd`, `atomic`, ...) are the older hand-picked scope: they run in the
repository's own mutants/ folder with the [tool.mutmut] configuration of pyproject.toml and its
focused test list.

Score = detected / mutants checked; a timeout (the tests hung on the mutant) counts as detected.
Survivors of a module: `cd mutants/units/<module> && mutmut results`, one of them:
`mutmut show NAME` there. docs/testing.md has the latest scores and the survivors judged
equivalent.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tc139k"
TESTS = "tests"
UNITS = ROOT / "mutants" / "units"
MUTMUT = str(Path(sys.executable).parent / "mutmut")
# Copied into each module's mutants/ besides [tool.mutmut]'s also_copy: files the tests read
# (the documentation's examples, README's tour, the scripts they run).
UNIT_ALSO_COPY = ["docs/", "scripts/", "README.md"]
# Seconds added to a module's tests' normal time before the time limit (timeout_constant, 3 s
# in [tool.mutmut]): a mutant run pays for session fixtures (the sample dataset) that the traced
# run charged to some other test, and with 3 s a slow survivor was counted as a timeout.
UNIT_TIMEOUT_CONSTANT = 30.0
SEP = "\u01c1"  # mutmut's separator in the names of methods: x<SEP>Class<SEP>method

# The CLI glue: a fixed share of each file's mutants, drawn with a fixed seed (per file, so
# that a change to one file does not redraw the others).
CLI_GLOB = f"{PACKAGE}/cli/*"
CLI_FRACTION = 0.25
CLI_SEED = 139

# Wall-clock budget of one module when --minutes is not given: SECONDS_PER_MUTANT for each of
# its mutants (or of its sample), within [MIN_MINUTES, MAX_MINUTES]. docs/testing.md has the
# rates measured and the total this gives.
SECONDS_PER_MUTANT = 1.0
MIN_MINUTES = 2.0
MAX_MINUTES = 15.0
# --module and --changed: a file is given at least this long (the run on your change should
# finish, not stop part-way; a one-file change has taken 1 to 7.5 min).
CHANGED_MINUTES = 10.0
UNKNOWN_TEST_FILE_SECONDS = 15.0  # a test file no earlier run has timed (measured: 0 to 38 s)


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


# Named groups (the older hand-picked scope, run with pyproject.toml's [tool.mutmut]):
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


# --- which files, which tests (pure functions of the file tree; tests/test_mutate_script.py) ---


def discover(root: Path = ROOT) -> list[str]:
    """Every Python source file of the package, as sorted paths relative to `root`."""
    return sorted(
        p.relative_to(root).as_posix() for p in (root / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts
    )


def module_name(relpath: str) -> str:
    """`tc139k/download/hub.py` -> `tc139k.download.hub`; a package's `__init__.py` -> the package."""
    parts = relpath.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


_DOTTED = re.compile(rf"{PACKAGE}(?:\.[A-Za-z_]\w*)+")
_RELATIVE = re.compile(r"(?:\.[A-Za-z_]\w*)+")


def references(source: str, module: str, is_package: bool, known: set[str], strings: bool = True) -> set[str]:
    """The names of `known` that a file (named `module`) uses: its imports, absolute or
    relative, at any depth of the file (imports inside test functions count), and strings that
    are a dotted name (`monkeypatch.setattr("tc139k.x.f", ...)`, `import_module("tc139k.api")`;
    not a name inside a longer text such as a docstring), or a relative dotted name
    (`".scorer_qwen"`, a module a registry imports by name).
    A name imported from a module counts as that module (`from tc139k.jsonl import sniff` ->
    `tc139k.jsonl`); a submodule imported from a package counts as the submodule."""
    out: set[str] = set()

    def add(name: str) -> None:
        while name and name not in known:  # the longest known prefix
            name = name.rpartition(".")[0]
        if name:
            out.add(name)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for a in node.names:
                add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            for a in node.names:
                add(f"{mod}.{a.name}")
        elif strings and isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _DOTTED.fullmatch(node.value):
                add(node.value)
            elif _RELATIVE.fullmatch(node.value):  # import_module(".scorer_qwen", __package__)
                name = (module if is_package else module.rpartition(".")[0]) + node.value
                if name in known:  # a module of that name, not any ".jpg"
                    out.add(name)
    return out


def words(source: str) -> set[str]:
    """The string constants of a source that are one identifier (`"validate"`, `"run"`)."""
    return {
        n.value
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.isidentifier()
    }


@dataclass
class ImportMap:
    """Who uses whom: the package's modules and the test files, from their sources."""

    uses: dict[str, set[str]]  # package module -> the package modules it uses
    test_uses: dict[str, set[str]]  # test file (relative path) -> the package modules it uses
    test_words: dict[str, set[str]] = field(default_factory=dict)  # test file -> its one-word strings

    @classmethod
    def read(cls, root: Path = ROOT) -> ImportMap:
        files = discover(root)
        mods = {module_name(f): f for f in files}
        helpers = {p.stem: p for p in sorted((root / TESTS).glob("*.py")) if not p.name.startswith("test_")}
        helpers.pop("conftest", None)  # fixtures are not followed
        known = set(mods) | set(helpers)
        uses = {
            m: references((root / f).read_text(), m, f.endswith("__init__.py"), known) - {m} - set(helpers)
            for m, f in mods.items()
        }
        helper_refs = {h: references(p.read_text(), h, False, known) for h, p in helpers.items()}
        test_uses, test_words = {}, {}
        for p in sorted((root / TESTS).glob("test_*.py")):
            source = p.read_text()
            test_words[p.relative_to(root).as_posix()] = words(source)
            # names in strings count in a file that imports something of the package or of tests/
            # (not in one that only talks about module names, as the tests of this script do)
            imported = references(source, p.stem, False, known, strings=False)
            refs = references(source, p.stem, False, known) if imported else set()
            seen: set[str] = set()
            todo = [r for r in refs if r in helpers]
            while todo:  # a test helper (tests/shard_inputs.py) passes its own uses on
                h = todo.pop()
                if h not in seen:
                    seen.add(h)
                    refs |= helper_refs[h]
                    todo += [r for r in helper_refs[h] if r in helpers]
            test_uses[p.relative_to(root).as_posix()] = refs - set(helpers)
        return cls(uses, test_uses, test_words)

    def test_files_for(self, module: str, depth: int = 0) -> tuple[list[str], int]:
        """The test files that use `module` directly (level 0), or through at most `depth`
        modules between (a test of the `shards` stage reaches `jsonl` through `shards.build`).
        When no test file is found within `depth`, the nearest level that has one is taken; of
        the files found only through other modules, those that name the module's own name in
        a string are kept when there are any (a CLI command: `invoke(main, ["validate", ...])`
        for tc139k/cli/validate.py). Returns the files and the level reached (-1: no test file
        uses the module at all). At any level, a file named after the module (the module's
        name as whole words of the file's: `test_keyframes_provenance.py` for
        keyframes/provenance.py) is kept, as that is where its contract is tested even when it
        is driven through another module; and a command's module (tc139k/cli/<command>.py)
        keeps the files that name the command: a file that imports it only to read its
        options runs none of its code."""
        users_of: dict[str, set[str]] = {}
        for m, used in self.uses.items():
            for u in used:
                users_of.setdefault(u, set()).add(m)
        stem = module.rpartition(".")[2]
        reach, frontier, level = {module}, {module}, 0
        while True:
            files = sorted(t for t, used in self.test_uses.items() if used & reach)
            if (files and level >= depth) or not frontier:
                if not files:
                    return [], -1
                named = [t for t in files if level and stem in self.test_words.get(t, ())]
                everywhere = self._reaching(reach, frontier, users_of)
                chosen = set(named or files) | {t for t in everywhere if named_after(t, stem)}
                if is_command(module):
                    chosen |= {t for t in everywhere if stem in self.test_words.get(t, ())}
                return sorted(chosen), level
            frontier = {u for m in frontier for u in users_of.get(m, ())} - reach
            reach |= frontier
            level += 1

    def _reaching(self, reach: set[str], frontier: set[str], users_of: dict[str, set[str]]) -> list[str]:
        """The test files that reach a module of `reach` at any depth."""
        reach = set(reach)
        while frontier:
            frontier = {u for m in frontier for u in users_of.get(m, ())} - reach
            reach |= frontier
        return [t for t, used in self.test_uses.items() if used & reach]


def named_after(test_file: str, stem: str) -> bool:
    """Whether the words of `stem` appear together among the test file's name's words
    (`provenance` in test_keyframes_provenance.py; `data` not in test_dataset_stats.py)."""
    words, want = Path(test_file).stem.split("_")[1:], stem.split("_")
    return stem != "__init__" and any(words[i : i + len(want)] == want for i in range(len(words)))


def git(*args: str, root: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def default_base(root: Path = ROOT) -> str:
    """The merge base of HEAD with main; on main itself (the merge base is HEAD), HEAD~1."""
    try:
        base = git("merge-base", "HEAD", "main", root=root).strip()
    except subprocess.CalledProcessError:
        return "HEAD~1"
    return "HEAD~1" if base == git("rev-parse", "HEAD", root=root).strip() else base


def changed_sources(names: Iterable[str], discovered: Iterable[str]) -> list[str]:
    """Of the paths a diff names, the package's source files that still exist (`discovered`)."""
    known = set(discovered)
    return sorted({n for n in names if n in known})


def changed_files(base: str, root: Path = ROOT) -> list[str]:
    """The package's source files that differ between `base` and the working tree (committed or
    not), and the new files not yet added."""
    diff = git("diff", "--name-only", base, "--", PACKAGE, root=root).split()
    new = git("ls-files", "--others", "--exclude-standard", "--", PACKAGE, root=root).split()
    return changed_sources(diff + new, discover(root))


def sample_names(names: Iterable[str], fraction: float, seed: str) -> list[str]:
    """A fixed share of `names` (at least one when there are any), the same for the same seed."""
    pool = sorted(names)
    if not pool:
        return []
    k = max(1, round(len(pool) * fraction))
    return sorted(random.Random(seed).sample(pool, k))


def is_cli(relpath: str) -> bool:
    return fnmatch.fnmatchcase(relpath, CLI_GLOB)


def is_command(module: str) -> bool:
    """tc139k.cli.<command>: a command's module (not the app, not a shared helper)."""
    package, _, stem = module.rpartition(".")
    return package == "tc139k.cli" and stem != "app" and not stem.startswith("_")


def budget_minutes(mutants: int, trace_seconds: float = 0.0) -> float:
    """SECONDS_PER_MUTANT a mutant within [MIN_MINUTES, MAX_MINUTES], plus twice the time of
    the module's tests (mutmut runs them once traced and once clean before any mutant), so
    that a module with slow tests is not stopped before its first mutant on every run."""
    return min(MAX_MINUTES, max(MIN_MINUTES, mutants * SECONDS_PER_MUTANT / 60)) + 2 * trace_seconds / 60


def test_file_seconds(durations: dict[str, float]) -> dict[str, float]:
    """Seconds of each test file, from mutmut's times of single tests (`file::test[...]`)."""
    out: dict[str, float] = {}
    for test, seconds in durations.items():
        f = test.split("::", 1)[0]
        out[f] = out.get(f, 0.0) + seconds
    return out


def known_test_seconds() -> dict[str, float]:
    """Each test file's time as the earlier runs of any module measured it (the longest)."""
    out: dict[str, float] = {}
    for stats in UNITS.glob("*/mutants/mutmut-stats.json"):
        try:
            durations = json.loads(stats.read_text())["duration_by_test"]
        except (OSError, ValueError, KeyError):
            continue
        for f, t in test_file_seconds(durations).items():
            out[f] = max(out.get(f, 0.0), t)
    return out


def trace_seconds(tests: list[str], known: dict[str, float]) -> float:
    """The time of a module's tests: measured before, else UNKNOWN_TEST_FILE_SECONDS a file."""
    return sum(known.get(t, UNKNOWN_TEST_FILE_SECONDS) for t in tests)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


def unit_pyproject(text: str, files: list[str], tests: list[str]) -> str:
    """pyproject.toml with its [tool.mutmut] section naming only `files` and `tests` (the
    other settings kept)."""
    import tomllib

    cfg = dict(tomllib.loads(text).get("tool", {}).get("mutmut", {}))
    cfg["only_mutate"] = files
    cfg["pytest_add_cli_args_test_selection"] = tests
    cfg["timeout_constant"] = max(float(cfg.get("timeout_constant", 0.0)), UNIT_TIMEOUT_CONSTANT)
    cfg["also_copy"] = [*cfg.get("also_copy", []), *(p for p in UNIT_ALSO_COPY if p not in cfg.get("also_copy", []))]
    section = "[tool.mutmut]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in cfg.items())
    out, n = re.subn(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", lambda _: section + "\n", text, count=1)
    if n != 1 or not cfg:
        raise SystemExit("mutate: no [tool.mutmut] section in pyproject.toml")
    return out


# --- mutants of a file and their results ---


@dataclass
class Unit:
    """One source file run alone: its folder, tests and (for the CLI) sample of mutants."""

    file: str
    tests: list[str] = field(default_factory=list)
    level: int = -1
    mutants: list[str] = field(default_factory=list)  # every mutant of the file
    hashes: dict[str, str] = field(default_factory=dict)  # function -> hash of its source
    sample: list[str] | None = None
    trace_seconds: float = 0.0  # the expected time of one run of its tests

    @property
    def name(self) -> str:
        return module_name(self.file)

    @property
    def dir(self) -> Path:
        return UNITS / self.name

    @property
    def selected(self) -> list[str]:
        return self.sample if self.sample is not None else self.mutants


def mutants_of(relpath: str, root: Path = ROOT) -> tuple[list[str], dict[str, str]]:
    """The names mutmut gives the mutants of a file, and the hashes of its functions (mutmut's
    own code, run here; no test is run)."""
    import warnings

    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = mutate_file_contents(relpath, (root / relpath).read_text())
    return [get_mutant_name(Path(relpath), n) for n in mf.mutant_names], dict(mf.hash_by_function_name)


def _status(code) -> str:
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code[code]


def _meta(folder: Path, relpath: str) -> dict:
    meta = folder / "mutants" / f"{relpath}.meta"
    return json.loads(meta.read_text()) if meta.exists() else {}


def to_run(unit: Unit, timeouts_too: bool = False) -> list[str]:
    """The mutants of a unit still to check: those with no result or of a function changed
    since (with `timeouts_too`, the timeouts as well: the time limits changed). When there are
    none, the undetected ones, checked again (a test may have been added since). New ones come
    first so that a module stopped by its budget gets further on each run."""
    meta = _meta(unit.dir, unit.file)
    codes = meta.get("exit_code_by_key", {})
    old_hashes = meta.get("hash_by_function_name", {})
    new, undetected = [], []
    for n in unit.selected:
        func = n.partition("__mutmut_")[0].rpartition(".")[2]
        status = _status(codes.get(n))
        if status == "not checked" or old_hashes.get(func) != unit.hashes.get(func):
            new.append(n)
        elif status == "timeout" and timeouts_too:
            new.append(n)
        elif status not in DETECTED:
            undetected.append(n)
    return new or undetected


def files_digest(paths: list[str], root: Path = ROOT) -> str:
    """One sha256 over the contents of `paths` (the test files of a module, and the helpers of
    tests/ they may use), in order."""
    h = hashlib.sha256()
    tests = sorted((root / TESTS).glob("*.py"))
    helpers = [p.relative_to(root).as_posix() for p in tests if not p.name.startswith("test_")]
    for rel in [*paths, *helpers]:
        h.update(rel.encode() + b"\0" + ((root / rel).read_bytes() if (root / rel).is_file() else b"") + b"\0")
    return h.hexdigest()


def _time_limits(pyproject: Path) -> list[float] | None:
    import tomllib

    if not pyproject.exists():
        return None
    cfg = tomllib.loads(pyproject.read_text()).get("tool", {}).get("mutmut", {})
    return [cfg.get("timeout_multiplier"), cfg.get("timeout_constant")]


def count(statuses: Iterable[str]) -> dict:
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    total = sum(counts.values())
    checked = total - counts.get("not checked", 0)
    detected = sum(counts.get(s, 0) for s in DETECTED)
    return {
        "mutants": total,
        "checked": checked,
        "detected": detected,
        "score": round(detected / checked, 4) if checked else None,
        "counts": dict(sorted(counts.items())),
    }


def unit_scores() -> dict[str, dict]:
    """Per module that ran (mutants/units/*): the counts over its mutants (or its sample)."""
    out = {}
    for info_path in sorted(UNITS.glob("*/unit.json")):
        info = json.loads(info_path.read_text())
        codes = _meta(info_path.parent, info["file"]).get("exit_code_by_key", {})
        names = info["sample"] if info["sample"] is not None else list(codes)
        statuses = {n: "no tests" if info.get("reached") is False else _status(codes.get(n)) for n in names}
        r = count(statuses.values())
        r.update(
            file=info["file"],
            tests=info["tests"],
            level=info["level"],
            sampled=info["sample"] is not None,
            survivors=sorted(n for n, s in statuses.items() if s == "survived"),
            no_tests=sorted(n for n, s in statuses.items() if s == "no tests"),
        )
        if "seconds" in info:
            r["seconds"] = info["seconds"]
        out[info["file"]] = r
    return out


def group_scores() -> dict[str, dict]:
    """Per named group that ran (the repository's own mutants/): the counts of its patterns."""
    out = {}
    for name, (files, patterns) in MODULES.items():
        statuses, survivors = [], []
        for f in files:
            for key, code in _meta(ROOT, f).get("exit_code_by_key", {}).items():
                if any(fnmatch.fnmatchcase(key, p) for p in patterns):
                    statuses.append(_status(code))
                    if statuses[-1] == "survived":
                        survivors.append(key)
        out[name] = {**count(statuses), "survivors": sorted(survivors)}
    return out


# --- running mutmut ---


def prepare(unit: Unit) -> None:
    """The unit's folder: links to the sources and tests, and its own pyproject.toml."""
    import tomllib

    text = (ROOT / "pyproject.toml").read_text()
    also = tomllib.loads(text)["tool"]["mutmut"].get("also_copy", []) + UNIT_ALSO_COPY
    links = [PACKAGE, TESTS] + [p.rstrip("/") for p in also]
    unit.dir.mkdir(parents=True, exist_ok=True)
    for name in links:
        link = unit.dir / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    conf = unit.dir / "pyproject.toml"
    new = unit_pyproject(text, [unit.file], unit.tests)
    if not conf.exists() or conf.read_text() != new:
        conf.write_text(new)


def _mutmut(args: list[str], cwd: Path, minutes: float, what: str, log: Path | None = None) -> tuple[float, int | None]:
    """Run mutmut in its own process group (so that the budget stops its workers too), its
    output to `log` when given."""
    t0 = time.monotonic()
    out = open(log, "w") if log else None  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [MUTMUT, *args],
        cwd=cwd,
        env={**os.environ, "TC139K_NO_PROGRESS": "1"},
        start_new_session=True,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
    )
    try:
        proc.wait(timeout=minutes * 60)
    except subprocess.TimeoutExpired:
        print(f"mutate: {what} passed its {minutes:.1f} min budget; stopping it (finished mutants are kept)")
        os.killpg(proc.pid, signal.SIGTERM)  # mutmut records each result as it comes
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # it waits for workers whose tests hang
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return time.monotonic() - t0, None
    finally:
        if out:
            out.close()
    return time.monotonic() - t0, proc.returncode


def run_unit(unit: Unit, max_children: int, minutes: float | None, at_least: float = 0.0) -> dict:
    info_path = unit.dir / "unit.json"
    before = json.loads(info_path.read_text()) if info_path.exists() else {}
    prepare(unit)
    limits = _time_limits(unit.dir / "pyproject.toml")
    # Other tests than last time: mutmut forgets every result and traces again, so all run.
    names = (
        list(unit.selected)
        if before.get("tests", unit.tests) != unit.tests
        else to_run(unit, timeouts_too=before.get("time_limits") != limits)
    )
    # The same test files with other contents: mutmut would run each mutant against the tests
    # its old trace found for the function, missing a test added since; trace again.
    tests_digest = files_digest(unit.tests)
    if before.get("tests_digest") not in (None, tests_digest):
        (unit.dir / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    budget = minutes if minutes is not None else max(at_least, budget_minutes(len(unit.selected), unit.trace_seconds))
    info = {
        "file": unit.file,
        "tests": unit.tests,
        "tests_digest": tests_digest,
        "level": unit.level,
        "sample": unit.sample,
        "time_limits": limits,
    }
    if not unit.tests:
        print(f"mutate: {unit.file}: no test file uses it; its {len(unit.selected)} mutants are not run")
    elif not names:
        print(f"mutate: {unit.file}: every mutant already detected, nothing to run")
    else:
        print(
            f"mutate: {unit.file}: {len(names)} of {len(unit.selected)} mutants, tests (level {unit.level}):"
            f" {' '.join(unit.tests)}; budget {budget:.0f} min",
            flush=True,
        )
        # Names rather than a pattern: mutmut then checks exactly these and keeps other results.
        args = ["run", "--max-children", str(max_children), *names]
        log = unit.dir / "mutmut.log"
        seconds, code = _mutmut(args, unit.dir, budget, unit.file, log)
        info["seconds"] = round(seconds)
        text = log.read_text(errors="replace") if code not in (0, None) else ""
        if "could not find any test case for any mutant" in text or "Unable to force test failures" in text:
            # the traced tests reach none of its functions (or none that a test depends on:
            # with every mutant switched on at once the tests still pass): all undetected
            print(f"mutate: {unit.file}: the traced tests call none of its functions")
            info["reached"] = False
        elif code not in (0, None):
            tail = text.replace("\r", "\n").splitlines()[-15:]
            print("\n".join(tail))
            print(f"mutate: mutmut failed on {unit.file} (exit code {code}); its output: {log}")
            info["failed"] = code
    (unit.dir / "unit.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def run_group(name: str, max_children: int, minutes: float) -> float:
    """Run mutmut on one named group's patterns (pyproject.toml's [tool.mutmut], the
    repository's mutants/); returns the wall-clock seconds it took."""
    seconds, code = _mutmut(["run", "--max-children", str(max_children), *MODULES[name][1]], ROOT, minutes, name)
    if code not in (0, None) and not (code == 1 and group_scores()[name]["checked"]):
        raise SystemExit(f"mutate: mutmut failed on {name} (exit code {code})")
    return seconds


def make_units(files: list[str], depth: int, cli_all: bool = False) -> list[Unit]:
    imports = ImportMap.read()
    known = known_test_seconds()
    units = []
    for f in files:
        tests, level = imports.test_files_for(module_name(f), depth)
        mutants, hashes = mutants_of(f)
        u = Unit(f, tests, level, mutants, hashes, trace_seconds=trace_seconds(tests, known))
        if is_cli(f) and not cli_all:
            u.sample = sample_names(mutants, CLI_FRACTION, f"{CLI_SEED}:{f}")
        units.append(u)
    return units


# --- the report ---


def print_report(units: dict[str, dict], groups: dict[str, dict], min_score: float) -> list[str]:
    low = []
    print(
        f"\n{'module':<34} {'mutants':>8} {'checked':>8} {'detected':>9} {'timeout':>8} {'score':>7}"
        "  survivors  no tests  time"
    )
    rows = [(f, r) for f, r in units.items()] + [(f"group {g}", r) for g, r in groups.items() if r["checked"]]
    for name, r in rows:
        if not r["mutants"]:
            print(f"{name:<34} {0:>8}")
            continue
        score = f"{r['score']:>7.1%}" if r["score"] is not None else f"{'-':>7}"
        print(
            f"{name:<34} {r['mutants']:>8} {r['checked']:>8} {r['detected']:>9} {r['counts'].get('timeout', 0):>8}"
            f" {score}  {len(r['survivors']):>9}"
            f"  {r['counts'].get('no tests', 0):>8}" + (f"  {r['seconds']} s" if "seconds" in r else "")
        )
        if r["score"] is not None and r["score"] < min_score:
            low.append(name)
    return low


def markdown_table(files: list[str], units: dict[str, dict]) -> str:
    """A row for every module: its scores when it ran, else "not run yet" (docs/testing.md)."""
    rows = [
        "| module | mutants | tests (level) | detected (timeouts) | no tests | score | survivors | time | judged |",
        "|---|" + "---:|" * 7 + "---|",
    ]
    for f in files:
        r = units.get(f)
        if r is None or not r["checked"]:
            if r is None:
                names = mutants_of(f)[0]
                n = len(sample_names(names, CLI_FRACTION, f"{CLI_SEED}:{f}") if is_cli(f) else names)
            else:
                n = r["mutants"]
            note = "no mutants" if n == 0 else "not run yet"
            if r is not None and not r["tests"]:
                note = "no test file uses it"
            rows.append(f"| `{f}` | {n}{' (sample)' if n and is_cli(f) else ''} | | {note} | | | | | |")
            continue
        sample = " (sample)" if r["sampled"] else ""
        partial = "" if r["checked"] == r["mutants"] else f" of {r['checked']} checked"
        rows.append(
            f"| `{f}` | {r['mutants']}{sample} | {len(r['tests'])} ({r['level']}) | {r['detected']}{partial}"
            f" ({r['counts'].get('timeout', 0)})"
            f" | {r['counts'].get('no tests', 0)} | {r['score']:.1%} | {len(r['survivors'])}"
            f" | {r.get('seconds', '')} s | |"
        )
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("groups", nargs="*", help=f"named groups of pyproject.toml's files: {', '.join(MODULES)}")
    ap.add_argument("--module", nargs="+", metavar="PATH", help="source files of tc139k/ to mutate")
    ap.add_argument(
        "--changed",
        nargs="?",
        const="",
        metavar="BASE",
        help="the files of tc139k/ changed against BASE (default: the merge base with main, or HEAD~1 on main)",
    )
    ap.add_argument("--depth", type=int, default=0, help="also the tests that reach a module through N others")
    ap.add_argument("--cli-all", action="store_true", help="every mutant of tc139k/cli/*, not a sample")
    ap.add_argument("--list", action="store_true", help="print the files, their tests and budgets; run nothing")
    ap.add_argument("--max-children", type=int, default=int(os.environ.get("MUTATE_CHILDREN", "2")))
    ap.add_argument(
        "--minutes",
        type=float,
        default=float(os.environ["MUTATE_MINUTES"]) if os.environ.get("MUTATE_MINUTES") else None,
        help=f"budget per module (default: {SECONDS_PER_MUTANT:g} s a mutant, {MIN_MINUTES:g} to {MAX_MINUTES:g} min)",
    )
    ap.add_argument("--report", action="store_true", help="print the scores of earlier runs, run nothing")
    ap.add_argument("--table", action="store_true", help="a Markdown table of every module (docs/testing.md)")
    ap.add_argument("--min-score", type=float, default=0.85, help="exit 1 when a module scores below it")
    args = ap.parse_args()
    unknown = [m for m in args.groups if m not in MODULES]
    if unknown:
        ap.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}, or use --module PATH")

    if args.table:
        print(markdown_table(discover(), unit_scores()))
        return 0
    files: list[str] = []
    if args.module:
        known = set(discover())
        for p in args.module:
            rel = Path(p).resolve().relative_to(ROOT).as_posix() if Path(p).exists() else p
            if rel not in known:
                ap.error(f"{p} is not a source file of {PACKAGE}/")
            files.append(rel)
    if args.changed is not None:
        base = args.changed or default_base()
        changed = changed_files(base)
        print(f"mutate: changed against {base}: {' '.join(changed) or 'no file of ' + PACKAGE + '/'}")
        files += [f for f in changed if f not in files]
        if not changed and not args.module:
            return 0
    elif not args.groups and not args.module and not args.report:
        files = discover()

    if not args.report:
        t0 = time.monotonic()
        units = make_units(files, args.depth, args.cli_all)
        at_least = CHANGED_MINUTES if (args.module or args.changed is not None) else 0.0
        if args.list:
            for u in units:
                n = len(u.selected)
                budget = args.minutes if args.minutes is not None else max(at_least, budget_minutes(n, u.trace_seconds))
                if not n or not u.tests:
                    print(f"{u.file:<40} {n:>5} mutants  not run: {'no mutants' if not n else 'no test file uses it'}")
                    continue
                print(f"{u.file:<40} {n:>5} mutants  {budget:>4.1f} min  level {u.level}: {' '.join(u.tests)}")
            total = sum(
                args.minutes or max(at_least, budget_minutes(len(u.selected), u.trace_seconds))
                for u in units
                if u.selected and u.tests
            )
            print(f"{len(units)} files, {sum(len(u.selected) for u in units)} mutants, budgets {total / 60:.1f} h")
            return 0
        for u in units:
            if not u.selected:
                continue
            info = run_unit(u, args.max_children, args.minutes, at_least)
            while info.get("reached") is False:  # its tests only import it: those one level further
                (wider,) = make_units([u.file], u.level + 1, args.cli_all)
                if wider.tests == u.tests:
                    break
                print(f"mutate: {u.file}: the tests of level {wider.level} instead")
                u, info = wider, run_unit(wider, args.max_children, args.minutes, at_least)
        for name in args.groups:
            minutes = args.minutes if args.minutes is not None else 30.0
            (ROOT / "mutants" / f"{name}.seconds").write_text(f"{run_group(name, args.max_children, minutes):.0f}\n")
        print(f"mutate: {time.monotonic() - t0:.0f} s in all")

    units = unit_scores()
    groups = group_scores()
    for name, g in groups.items():
        t = ROOT / "mutants" / f"{name}.seconds"
        if t.exists():
            g["seconds"] = int(t.read_text())
    (ROOT / "mutants").mkdir(exist_ok=True)
    (ROOT / "mutants" / "scores.json").write_text(json.dumps({"modules": units, "groups": groups}, indent=2) + "\n")
    shown = units if args.report or not files else {f: r for f, r in units.items() if f in files}
    low = print_report(shown, groups if (args.report or args.groups) else {}, args.min_score)
    if low:
        print(f"below {args.min_score:.0%}: {', '.join(low)}; see `mutmut results` in its folder and docs/testing.md")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
