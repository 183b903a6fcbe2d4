"""scripts/mutate.py's choices, without running mutmut: which files are the package's modules,
which test files use a module (directly, or through other modules), which files a diff
changed, the fixed sample of the CLI's mutants, and the per-run configuration it writes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mutate():
    spec = importlib.util.spec_from_file_location("mutate_script", ROOT / "scripts" / "mutate.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    yield mod
    del sys.modules[spec.name]


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


# a package: core <- mid <- top (each uses the one before), cli/run.py and cli/app.py glue
TREE = {
    "tc139k/__init__.py": "",
    "tc139k/core.py": "def f(): return 1\n",
    "tc139k/mid.py": "from .core import f\n",
    "tc139k/top.py": "from tc139k import mid\n",
    "tc139k/lonely.py": "X = 1\n",
    "tc139k/sub/__init__.py": "from .leaf import g\n",
    "tc139k/sub/leaf.py": "from ..core import f\ndef g(): return f()\n",
    "tc139k/sub/__pycache__/leaf.cpython-311.py": "",
    "tc139k/cli/__init__.py": "from .app import main\n",
    "tc139k/cli/app.py": "from . import run, stats\nmain = None\n",
    "tc139k/cli/stats.py": "OPTIONS = []\n",
    "tc139k/cli/run.py": "from ..top import mid\n",
    "tests/conftest.py": "from tc139k import lonely\n",
    "tests/helper.py": "from tc139k.sub.leaf import g\n",
    "tests/test_core.py": "from tc139k.core import f\n",
    "tests/test_top.py": "def test():\n    import tc139k.top\n",
    "tests/test_via_helper.py": "from helper import g\n",
    "tests/test_patch.py": "import tc139k\ndef test(monkeypatch):\n    monkeypatch.setattr('tc139k.mid.f', None)\n",
    "tests/test_cli_run.py": "from tc139k.cli import main\nARGS = ['run', '--help']\n",
    "tests/test_cli_other.py": "from tc139k.cli import main\nARGS = ['stats']\n",
    "tests/test_core_contract.py": "from tc139k import sub\n",  # named after core, reaches it via sub
    "tests/test_cli_options.py": "from tc139k.cli.stats import OPTIONS\n",  # reads options, runs nothing
    "tests/test_names_only.py": "NAMES = ['tc139k.core', 'tc139k.cli.run']\n",  # imports nothing
}


def test_discover_finds_every_source_file_and_names_modules(mutate, tmp_path):
    root = write(tmp_path, TREE)
    found = mutate.discover(root)
    assert found == sorted(f for f in TREE if f.startswith("tc139k/") and "__pycache__" not in f)
    assert mutate.module_name("tc139k/sub/leaf.py") == "tc139k.sub.leaf"
    assert mutate.module_name("tc139k/sub/__init__.py") == "tc139k.sub"
    assert mutate.module_name("tc139k/__init__.py") == "tc139k"


def test_the_real_package_is_discovered_whole(mutate):
    found = mutate.discover()
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tc139k").rglob("*.py") if "__pycache__" not in p.parts}
    assert set(found) == on_disk
    assert {"tc139k/jsonl.py", "tc139k/cli/app.py", "tc139k/download/hub.py"} <= set(found)


def test_references_resolve_relative_imports_submodules_and_strings(mutate):
    known = {"tc139k", "tc139k.core", "tc139k.sub", "tc139k.sub.leaf", "tc139k.lazy"}
    # a relative import from a package's __init__ starts at the package itself
    assert mutate.references("from .leaf import g\n", "tc139k.sub", True, known) == {"tc139k.sub.leaf"}
    # from a plain module, at its parent; two dots go one further up
    assert mutate.references("from ..core import f\n", "tc139k.sub.leaf", False, known) == {"tc139k.core"}
    # a name of a module counts as the module, a submodule as the submodule
    assert mutate.references("from tc139k.core import f\n", "t", False, known) == {"tc139k.core"}
    assert mutate.references("from tc139k import sub\n", "t", False, known) == {"tc139k.sub"}
    assert mutate.references("from tc139k import download_dataset\n", "t", False, known) == {"tc139k"}
    # an import inside a function, and a dotted name in a string
    src = "def t(m):\n    import tc139k.sub.leaf\n    m.setattr('tc139k.core.f', 1)\n    x = 'tc139k.lazy'\n"
    assert mutate.references(src, "t", False, known) == {"tc139k.sub.leaf", "tc139k.core", "tc139k.lazy"}
    assert mutate.references("import numpy\nx = 'tc139k'\n", "t", False, known) == set()
    # a module a registry imports by a relative name
    assert mutate.references("REG = {'g': ('.leaf', 'G')}\n", "tc139k.sub", True, known) == {"tc139k.sub.leaf"}
    assert mutate.references("X = ('..core', '.jpg', '.leaf.g')\n", "tc139k.sub.leaf", False, known) == set()
    # a name inside a longer text (a docstring, a code sample) is not a use
    assert mutate.references('"""Tests tc139k.core."""\nx = "from tc139k.sub import g"\n', "t", False, known) == set()


def test_test_files_are_chosen_by_level(mutate, tmp_path):
    imports = mutate.ImportMap.read(write(tmp_path, TREE))
    # level 0: the tests that use the module themselves (the string counts as a use)
    assert imports.test_files_for("tc139k.core") == (["tests/test_core.py", "tests/test_core_contract.py"], 0)
    assert imports.test_files_for("tc139k.mid") == (["tests/test_patch.py"], 0)
    # a helper module of tests/ passes its uses on to the test files importing it
    assert imports.test_files_for("tc139k.sub.leaf") == (["tests/test_via_helper.py"], 0)
    # depth 1 adds the tests of the modules that use it
    assert imports.test_files_for("tc139k.core", depth=1) == (
        ["tests/test_core.py", "tests/test_core_contract.py", "tests/test_patch.py", "tests/test_via_helper.py"],
        1,
    )
    # a file named after the module is its test at any depth; the name is read as whole words
    assert mutate.named_after("tests/test_keyframes_provenance.py", "provenance")
    assert mutate.named_after("tests/test_scorer_qwen.py", "scorer_qwen")
    assert not mutate.named_after("tests/test_dataset_stats.py", "data")
    assert not mutate.named_after("tests/test_qwen_scorer.py", "scorer_qwen")
    assert not mutate.named_after("tests/test_init.py", "__init__")
    # no test file of its own: the nearest level that has one
    assert imports.test_files_for("tc139k.top") == (["tests/test_top.py"], 0)
    # conftest's imports are not followed: nothing uses `lonely`
    assert imports.test_files_for("tc139k.lonely") == ([], -1)


def test_cli_glue_keeps_the_tests_naming_its_command(mutate, tmp_path):
    imports = mutate.ImportMap.read(write(tmp_path, TREE))
    # cli/run.py is reached through cli/app.py and the cli package (level 2); of those tests,
    # the one that says "run" is kept
    assert imports.test_files_for("tc139k.cli.run") == (["tests/test_cli_run.py"], 2)
    # app.py: no test names "app", so every test of the cli package stays
    assert imports.test_files_for("tc139k.cli.app") == (["tests/test_cli_other.py", "tests/test_cli_run.py"], 1)
    # a file that imports a command's module only for its options runs none of its code: the
    # tests that run the command (they name it) come too, whatever their level
    assert imports.test_files_for("tc139k.cli.stats") == (["tests/test_cli_options.py", "tests/test_cli_other.py"], 0)
    assert not mutate.is_command("tc139k.cli.app") and not mutate.is_command("tc139k.cli._common")
    assert mutate.is_command("tc139k.cli.stats") and not mutate.is_command("tc139k.stats")


def test_changed_files_against_a_git_base(mutate, tmp_path):
    root = write(tmp_path, TREE)

    def git(*args):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    (root / "tc139k/core.py").write_text("def f(): return 2\n")  # changed, not committed
    (root / "tc139k/new.py").write_text("Y = 1\n")  # new, not added
    (root / "tc139k/lonely.py").unlink()  # deleted: nothing to mutate
    (root / "tests/test_core.py").write_text("# tests are not sources\n")
    assert mutate.changed_files("HEAD", root) == ["tc139k/core.py", "tc139k/new.py"]
    # on main itself the merge base is HEAD, so the default base is the commit before
    assert mutate.default_base(root) == "HEAD~1"
    assert mutate.changed_sources(["tc139k/a.py", "README.md", "tc139k/b.py"], ["tc139k/b.py"]) == ["tc139k/b.py"]


def test_cli_sample_is_fixed_and_a_share(mutate):
    names = [f"tc139k.cli.x.x_f__mutmut_{i}" for i in range(1, 101)]
    a = mutate.sample_names(names, 0.25, "139:tc139k/cli/x.py")
    assert len(a) == 25 and set(a) <= set(names)
    assert a == mutate.sample_names(list(reversed(names)), 0.25, "139:tc139k/cli/x.py")  # order-free
    assert a != mutate.sample_names(names, 0.25, "139:tc139k/cli/y.py")
    assert mutate.sample_names(names[:1], 0.25, "s") == names[:1]  # at least one
    assert mutate.sample_names([], 0.25, "s") == []
    assert mutate.is_cli("tc139k/cli/_results.py") and not mutate.is_cli("tc139k/clip.py")


def test_budget_bounds_and_the_time_of_the_tests(mutate):
    assert mutate.budget_minutes(0) == mutate.MIN_MINUTES
    assert mutate.budget_minutes(10**6) == mutate.MAX_MINUTES
    n = 400
    assert mutate.budget_minutes(n) == pytest.approx(
        min(mutate.MAX_MINUTES, max(mutate.MIN_MINUTES, n * mutate.SECONDS_PER_MUTANT / 60))
    )
    # the tests run twice before the first mutant: that time is added beyond the bounds
    assert mutate.budget_minutes(10**6, 90) == pytest.approx(mutate.MAX_MINUTES + 3)
    files = mutate.test_file_seconds({"tests/a.py::t[1]": 1.5, "tests/a.py::t[2]": 2.0, "tests/b.py::u": 4.0})
    assert files == {"tests/a.py": 3.5, "tests/b.py": 4.0}
    assert mutate.trace_seconds(["tests/a.py", "tests/new.py"], files) == 3.5 + mutate.UNKNOWN_TEST_FILE_SECONDS


def test_unit_config_names_one_file_and_keeps_the_rest(mutate):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+, as the mutation runs
    text = (ROOT / "pyproject.toml").read_text()
    out = mutate.unit_pyproject(text, ["tc139k/jsonl.py"], ["tests/test_compare.py", "tests/a b.py"])
    new, old = tomllib.loads(out), tomllib.loads(text)
    assert new["tool"]["mutmut"]["only_mutate"] == ["tc139k/jsonl.py"]
    assert new["tool"]["mutmut"]["pytest_add_cli_args_test_selection"] == ["tests/test_compare.py", "tests/a b.py"]
    # the files the tests read are copied too
    assert new["tool"]["mutmut"]["also_copy"] == old["tool"]["mutmut"]["also_copy"] + ["docs/", "scripts/", "README.md"]
    assert new["tool"]["mutmut"]["timeout_constant"] == max(old["tool"]["mutmut"]["timeout_constant"], 30.0)
    changed = {"only_mutate", "pytest_add_cli_args_test_selection", "also_copy", "timeout_constant"}
    for key in set(old["tool"]["mutmut"]) - changed:
        assert new["tool"]["mutmut"][key] == old["tool"]["mutmut"][key]
    old["tool"].pop("mutmut"), new["tool"].pop("mutmut")
    assert new == old
    with pytest.raises(SystemExit):
        mutate.unit_pyproject("[project]\nname = 'x'\n", ["a.py"], [])


def test_new_mutants_are_checked_before_survivors_again(mutate, tmp_path, monkeypatch):
    pytest.importorskip("mutmut")
    monkeypatch.setattr(mutate, "UNITS", tmp_path)
    names = [f"tc139k.m.x_f__mutmut_{i}" for i in (1, 2, 3, 4)] + ["tc139k.m.x_g__mutmut_1"]
    unit = mutate.Unit("tc139k/m.py", mutants=names, hashes={"x_f": "a", "x_g": "b"})
    assert mutate.to_run(unit) == names  # nothing ran yet
    meta = tmp_path / "tc139k.m" / "mutants" / "tc139k" / "m.py.meta"
    meta.parent.mkdir(parents=True)

    def ran(codes, hashes):
        meta.write_text(json.dumps({"exit_code_by_key": dict(zip(names, codes)), "hash_by_function_name": hashes}))

    # killed, survived, timeout, not checked yet (the budget stopped it), no tests
    ran([1, 0, 36, None, 33], {"x_f": "a", "x_g": "b"})
    assert mutate.to_run(unit) == [names[3]]  # the unchecked one first
    assert mutate.to_run(unit, timeouts_too=True) == [names[2], names[3]]
    ran([1, 0, 36, 1, 33], {"x_f": "a", "x_g": "b"})
    assert mutate.to_run(unit) == [names[1], names[4]]  # then the undetected, again
    ran([1, 0, 36, 1, 33], {"x_f": "a", "x_g": "old"})
    assert mutate.to_run(unit) == [names[4]]  # a changed function: all its mutants
    unit.sample = [names[0], names[1]]
    ran([1, 0, 36, 1, 1], {"x_f": "a", "x_g": "b"})
    assert mutate.to_run(unit) == [names[1]]  # only the sample


def test_the_digest_of_a_modules_tests_follows_their_contents_and_the_helpers(mutate, tmp_path):
    """A test added to a test file already in a module's list must be traced: the runner keys
    that on the files' contents, helpers of tests/ included."""
    root = write(tmp_path, TREE)
    tests = ["tests/test_core.py"]
    first = mutate.files_digest(tests, root)
    assert mutate.files_digest(tests, root) == first
    (root / "tests" / "test_core.py").write_text(TREE["tests/test_core.py"] + "def test_new(): pass\n")
    second = mutate.files_digest(tests, root)
    assert second != first
    (root / "tests" / "helper.py").write_text("X = 2\n")
    third = mutate.files_digest(tests, root)
    assert third != second
    (root / "tests" / "test_top.py").write_text("")  # another module's test file: no change
    assert mutate.files_digest(tests, root) == third
