"""Every command that takes `--json` prints one envelope {command, version, ok, result,
error} on stdout, on success and on failure, with the exit code it has without `--json`; each
result has the shape of schemas/cli/<command>.json (every key there, one type each, counts
`n_*`, local paths absolute). Run on the bundled sample; download and push go through the
tests' Hub server with the real huggingface_hub client."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from envelope import SCHEMAS, failure_of, problems, result_of, schema, schema_name
from hubserver import HubServer

from tc139k.cli import main
from tc139k.errors import Terminated

REPO = "yaolily/TimeChat-Online-139K"
TOKEN = "hf_test_write_token_0123456789"


def json_commands(group: click.Group = main, words: tuple[str, ...] = ()) -> set[str]:
    """Every command of the CLI that has a --json option, as "shards build"."""
    out = set()
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out |= json_commands(cmd, (*words, name))
        elif any("--json" in p.opts for p in cmd.params):
            out.add(" ".join((*words, name)))
    return out


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def hub(sample, tmp_path_factory):
    import huggingface_hub.constants

    mp = pytest.MonkeyPatch()
    mp.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)  # the server speaks LFS
    mp.setenv("HF_TOKEN", TOKEN)
    mp.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf-home")))
    with HubServer({REPO: sample.repo}) as server:
        server.store.write_token = TOKEN
        mp.setenv("HF_ENDPOINT", server.endpoint)
        yield server
    mp.undo()


@pytest.fixture(scope="module")
def runs(sample, hub, tmp_path_factory):
    """command -> the CliRunner result of its --json run, in pipeline order (each run's output
    feeds the next), with relative paths given where the command takes them."""
    w = tmp_path_factory.mktemp("json")
    ids = w / "ids.txt"
    ids.write_text("\n".join(sample.shortest(3)) + "\n")
    recipe = w / "recipe.yaml"
    recipe.write_text(f"stages:\n  download: {{mirror: {sample.repo}, annotations_only: true}}\n"
                      "  validate: {check_frames: false}\n  stats: {dataset: true}\n")  # fmt: skip
    frames = sample.frames
    plan = {
        "sample": ["sample", "sample-out"],
        "download": ["download", "--local-dir", "data", "--sources", "coin"],
        "validate": ["validate", sample.qa, "--frames-root", frames, "--out", "validated"],
        "keyframes build": [
            "keyframes",
            "build",
            "--frames-root",
            frames,
            "--video-ids",
            ids,
            "--method",
            "pixel",
            "--out",
            "kf",
        ],  # fmt: skip
        "keyframes compare": ["keyframes", "compare", "kf", sample.dir / "ground_truth.json"],
        "keyframes report": [
            "keyframes",
            "report",
            "kf",
            "--frames-root",
            frames,
            "--qa",
            "validated/valid.parquet",
            "--out",
            "report",
        ],  # fmt: skip
        "shards build": [
            "shards",
            "build",
            "--qa",
            "validated/valid.parquet",
            "--keyframes",
            "kf",
            "--frames-root",
            frames,
            "--out",
            "shards",
        ],  # fmt: skip
        "shards verify": ["shards", "verify", "shards"],
        "shards push": ["shards", "push", "me/tc139k-shards", "shards"],
        "stats redundancy": ["stats", "redundancy", "kf"],
        "stats dataset": ["stats", "dataset", "data"],
        "export swift": [
            "export",
            "swift",
            "--qa",
            "validated/valid.parquet",
            "--frames-root",
            frames,
            "--out",
            "swift.jsonl",
        ],  # fmt: skip
        "run": ["run", recipe, "--out", "run"],
    }
    out, cwd = {}, os.getcwd()
    os.chdir(w)
    try:
        for command, args in plan.items():
            out[command] = invoke(*args, "--json")
    finally:
        os.chdir(cwd)
    return w, out


def test_every_json_command_has_a_schema_and_a_run_here(runs):
    commands = json_commands()
    assert len(commands) >= 14
    files = {p.name[:-5] for p in SCHEMAS.glob("*.json")} - {"envelope"}
    assert files == {schema_name(c) for c in commands}
    # demo runs the whole pipeline; test_pipeline.test_demo_end_to_end checks its envelope
    assert set(runs[1]) | {"demo"} == commands


@pytest.mark.parametrize("command", sorted(json_commands() - {"demo"}))
def test_the_envelope_and_the_result_match_the_schema(runs, command):
    work, results = runs
    res = results[command]
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("{") and res.stdout.endswith("}\n")  # one document, nothing else
    result = result_of(res.stdout, command)

    def paths(obj, key=""):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from paths(v, k)
        elif isinstance(obj, list):
            for v in obj:
                yield from paths(v, key)
        elif isinstance(obj, str) and obj.startswith(str(work)):
            yield key, obj

    found = list(paths(result))
    assert found or command == "shards push"  # every command names some local file...
    for key, p in found:  # ...given relative, printed absolute
        assert Path(p).is_absolute() and os.path.exists(p), (key, p)


def test_counts_lists_and_paths_follow_one_convention(runs, hub):
    r = {c: json.loads(res.stdout)["result"] for c, res in runs[1].items()}
    built, verified = r["shards build"], r["shards verify"]
    # the issue's own example: `shards` was a list here and a count there
    assert isinstance(built["shards"], list) and built["n_shards"] == len(built["shards"]) == verified["n_shards"]
    assert sum(built["n_rows_by_split"].values()) == verified["n_rows"] == sum(s["n_rows"] for s in built["shards"])
    # `not_downloaded` was printed only when non-zero
    assert r["validate"]["n_not_downloaded"] == 0 and r["validate"]["n_records"] == r["validate"]["n_valid"]
    assert r["keyframes build"]["n_videos"] == len(r["keyframes build"]["videos"]) == 3
    assert r["keyframes report"]["n_videos"] == r["keyframes compare"]["n_videos"] == 3
    assert r["download"]["selected_sources"] == ["coin"] and r["download"]["n_videos"] > 0
    assert r["download"]["resolved_commit"] == hub.repos[REPO].commit and r["download"]["mirror"] is None
    assert r["shards push"]["committed"] and r["shards push"]["files"]  # names in the repository
    assert all(not f.startswith("/") for f in r["shards push"]["files"] + r["download"]["files_fetched"])
    assert r["stats dataset"]["n_videos_on_disk"] == r["download"]["n_videos"]
    assert [s["name"] for s in r["run"]["stages"]] == ["download", "validate", "stats"]
    validated = r["run"]["stages"][1]["summary"]
    assert validated["n_records"] == r["validate"]["n_records"] and validated["n_not_downloaded"] == 0

    def keys(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield k, v
                yield from keys(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from keys(v)

    for command, result in r.items():
        for k, v in keys(result):
            if k.startswith("n_"):  # a count, or a map of counts
                counts = list(v.values()) if "_by_" in k else [v]
                assert all(isinstance(n, int) and not isinstance(n, bool) for n in counts), (command, k, v)
            assert not k.endswith("_s"), (command, k)  # durations say `seconds`


def test_schemas_say_every_key_is_always_there():
    """additionalProperties false and every property required, in every object of every schema
    (maps keyed by data, such as n_rows_by_split, are the only open objects)."""

    def objects(s, where):
        if isinstance(s, dict):
            if "properties" in s:
                assert s.get("additionalProperties") is False, where
                assert sorted(s["required"]) == sorted(s["properties"]), where
            for k, v in s.items():
                yield from objects(v, f"{where}.{k}")
        elif isinstance(s, list):
            for i, v in enumerate(s):
                yield from objects(v, f"{where}[{i}]")

    for path in SCHEMAS.glob("*.json"):
        list(objects(json.loads(path.read_text()), path.name))
        try:
            import jsonschema
        except ImportError:  # the checker in tests/envelope.py is what the tests rely on
            continue
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_the_checker_catches_a_missing_key_a_wrong_type_and_an_extra_key(runs):
    good = json.loads(runs[1]["shards verify"].stdout)["result"]
    sch = schema("shards_verify")
    assert problems(good, sch) == []
    assert problems({k: v for k, v in good.items() if k != "problems"}, sch) == ["$: missing key 'problems'"]
    assert problems({**good, "n_shards": [1]}, sch)[0].startswith("$.n_shards: list")
    assert problems({**good, "shards": 3}, sch) == ["$: key 'shards' is not in the schema"]
    assert problems({**good, "out_dir": "shards"}, sch)[0].startswith("$.out_dir: 'shards' does not match")


# ---- failures: the envelope too, the same exit code, one Error: line -----------------------

USAGE = {  # a usage error (exit 2) of every command: click's own, or the toolkit's UsageError
    "sample": (["sample", "out", "--seed", "x"], "BadParameter"),
    "download": (["download", "--mirror", "no-such-mirror", "--local-dir", "d"], "UsageError"),
    "validate": (["validate", "no-such.jsonl"], "BadParameter"),
    "keyframes build": (["keyframes", "build", "--out", "kf2"], "UsageError"),
    "keyframes compare": (["keyframes", "compare", "kf", "kf", "--what", "nothing"], "BadParameter"),
    "keyframes report": (["keyframes", "report", "kf", "--out", "r"], "MissingParameter"),
    "shards build": (["shards", "build", "--qa", "no-such.parquet"], "BadParameter"),
    "shards verify": (["shards", "verify", "no-such-folder"], "BadParameter"),
    "shards push": (["shards", "push", "me/x", "no-such-folder"], "BadParameter"),
    "stats redundancy": (["stats", "redundancy", "kf", "--thresholds", "x"], "UsageError"),
    "stats dataset": (["stats", "dataset", "no-such-folder"], "UsageError"),
    "export swift": (["export", "swift", "--qa", "no-such.parquet"], "BadParameter"),
    "run": (["run", "no-such-recipe", "--out", "r"], "RecipeError"),
    "demo": (["demo", "--out", "ids.txt"], "BadParameter"),  # a file, not a folder
}


def test_every_json_command_has_a_usage_error_here():
    assert set(USAGE) == json_commands()


@pytest.mark.parametrize("command", sorted(USAGE))
def test_a_usage_error_is_the_envelope_exit_2_and_one_error_line(runs, command, monkeypatch):
    monkeypatch.chdir(runs[0])
    args, kind = USAGE[command]
    res = invoke(*args, "--json")
    assert res.exit_code == 2, res.output
    env = failure_of(res.stdout, command, code=2)
    assert env["result"] is None and env["error"]["type"] == kind
    assert res.stderr == f"Error: {env['error']['message']}\n"  # no usage block, nothing else
    without = invoke(*args)
    assert without.exit_code == 2 and without.stdout == "" and f"Error: {env['error']['message']}" in without.stderr


def test_a_failed_check_keeps_its_result_beside_the_error(runs, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n')
    res = invoke("validate", bad, "--json")
    assert res.exit_code == 1
    env = failure_of(res.stdout, "validate", code=1)
    assert env["error"]["type"] == "CheckFailedError" and env["result"]["n_invalid"] == 1
    assert env["result"]["failure"] == env["error"]["message"] and env["result"]["passed"] is False
    assert res.stderr == f"Error: {env['error']['message']}\n"
    text = invoke("validate", bad)  # the text summary already says FAILED: no Error: line there
    assert text.exit_code == 1 and "FAILED: 1 invalid record(s)" in text.stdout and text.stderr == ""


def test_a_failed_run_without_a_result_is_the_envelope_exit_1(runs, tmp_path):
    shards = tmp_path / "shards"
    shutil.copytree(runs[0] / "shards", shards)
    victim = next((shards / "data").glob("*.parquet"))
    victim.write_bytes(victim.read_bytes()[:-100])  # truncated: verify fails, push refuses
    res = invoke("shards", "verify", shards, "--json")
    env = failure_of(res.stdout, "shards verify", code=1)
    assert env["result"]["ok"] is False and env["result"]["problems"]
    assert res.stderr == f"Error: {env['error']['message']}\n"
    res = invoke("shards", "push", "me/broken", shards, "--json")
    env = failure_of(res.stdout, "shards push", code=1)
    assert env["result"] is None and env["error"]["type"] in ("IntegrityError", "CheckFailedError", "DamagedFileError")
    assert res.stderr == f"Error: {env['error']['message']}\n"


def test_the_help_of_every_json_option_names_the_envelope():
    for command in json_commands():
        res = invoke(*command.split(), "--help")
        text = " ".join(res.stdout.split())
        assert "the envelope" in text and "(see docs/json.md)" in text, command


def test_the_readme_examples_are_envelopes_of_this_version(runs):
    """The README's `shards verify --json` examples: an envelope of this version whose result
    has the keys a real run gives (the success) and the usage error's error object."""
    readme = (Path(__file__).resolve().parents[1] / "docs" / "json.md").read_text()
    section = readme[readme.index("# The `--json` envelope") :]
    block = section[section.index("```") + 3 : section.index("```", section.index("```") + 3)]
    docs, lines = [], None
    for line in block.splitlines():  # each example: from a line "{" to a line "}"
        lines = [line] if line == "{" else lines if lines is None else [*lines, line]
        if line == "}" and lines:
            docs.append(json.loads("\n".join(lines)))
            lines = None
    ok, failed = docs
    real = json.loads(runs[1]["shards verify"].stdout)
    assert result_of(json.dumps(ok), "shards verify").keys() == real["result"].keys()
    assert failure_of(json.dumps(failed), "shards verify", code=2)["error"]["type"] == "BadParameter"


@pytest.mark.parametrize("stop, code", [(KeyboardInterrupt, 130), (Terminated, 143)])
def test_an_interrupted_run_is_the_envelope_too(runs, monkeypatch, stop, code):
    import tc139k.shards.build

    def interrupted(*args, **kwargs):
        raise stop()

    monkeypatch.setattr(tc139k.shards.build, "verify_shards", interrupted)
    res = invoke("shards", "verify", runs[0] / "shards", "--json")
    assert res.exit_code == code
    env = failure_of(res.stdout, "shards verify", code=code)
    assert env["result"] is None and env["error"]["type"] == stop.__name__
    assert res.stderr == env["error"]["message"] + "\n" and "rerun the same command" in res.stderr
