"""Recipes, `tc139k run`, sharded key frames, and the demo end to end."""

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from envelope import result_of
from tiny_clip import tiny_clip  # noqa: F401

from tc139k.cli import main
from tc139k.errors import RecipeError
from tc139k.keyframes.build import run_keyframes
from tc139k.pipeline import run as pipeline
from tc139k.pipeline.recipe import available_recipes


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "recipe.yaml"
    p.write_text(text)
    return p


def test_shipped_recipes_parse():
    assert {"default", "annotations-only", "sample"} <= set(available_recipes())
    for name in available_recipes():
        rec = pipeline.load(name)
        assert rec.stages and len(rec.hash) == 16


@pytest.mark.parametrize(
    "text, message",
    [
        ("stages: {download: {}}\nextra: 1\n", r"unknown key\(s\) extra"),
        ("stages: {dowload: {}}\n", r"stages\.dowload: unknown stage \(did you mean download\?\)"),
        (
            "stages: {keyframes: {treshold: 0.5}}\n",
            r"stages\.keyframes\.treshold: unknown parameter \(did you mean threshold\?\)",
        ),
        (
            "stages: {keyframes: {target-interval: 5}}\n",
            r"target-interval: unknown parameter \(did you mean target_interval\?\)",
        ),
        ("stages: {keyframes: {zzz: 5}}\n", r"zzz: unknown parameter; takes"),
        ("stages: {keyframes: {threshold: high}}\n", r"stages\.keyframes\.threshold: expected a number, got 'high'"),
        ("stages: {keyframes: {method: magic}}\n", r"stages\.keyframes\.method: expected one of auto, feature, pixel"),
        ("stages: {shards: {embed_frames: 1}}\n", r"stages\.shards\.embed_frames: expected true or false"),
        ("stages: {stats: {}, download: {}}\n", r"pipeline order"),
        ("version: 2\nstages: {download: {}}\n", r"version: 2 is not supported"),
        ("stages: [download]\n", r"stages: expected a mapping"),
        ("stages: {download: {repo: [unclosed}\n", r"invalid YAML"),
    ],
)
def test_recipe_errors_name_file_and_key(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(RecipeError, match=message) as err:
        pipeline.load(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "stage, message",
    [
        ("shards: {val_fraction: 7.5}", r"stages\.shards\.val_fraction: must be a finite number in \[0, 1\), got 7\.5"),
        ("validate: {max_invalid: -5}", r"stages\.validate\.max_invalid: must be an integer >= 0, got -5"),
        (
            "keyframes: {target_interval: .nan}",
            r"stages\.keyframes\.target_interval: must be a finite number > 0, got nan",
        ),
        ("keyframes: {method: feature, threshold: 3}", r"stages\.keyframes\.threshold: must be .*\[-1, 1\].*, got 3"),
        (
            "keyframes: {method: pixel, threshold: -0.5}",
            r"stages\.keyframes\.threshold: .*\[0, 1\] for the pixel method",
        ),
        # auto without local weights means pixel: its range, checked before any stage
        (
            "keyframes: {method: auto, threshold: -0.5}",
            r"stages\.keyframes\.threshold: .*\[0, 1\] for the pixel method",
        ),
        ("keyframes: {cell: 0}", r"stages\.keyframes\.cell: must be an integer in \[1, 224\], got 0"),
        ("keyframes: {videos_per_file: 2.5}", r"stages\.keyframes\.videos_per_file: expected an integer, got 2\.5"),
        (
            "stats: {thresholds: [0.1, 1.5]}",
            r"stages\.stats\.thresholds: must be a finite number in \[-1, 1\], got 1\.5",
        ),
        ("download: {max_workers: 0}", r"stages\.download\.max_workers: must be an integer >= 1, got 0"),
        (
            "validate: {frames_scope: some}",
            r"stages\.validate\.frames_scope: expected one of downloaded, all, got 'some'",
        ),
    ],
)
def test_bad_values_stop_the_run_before_the_first_stage(tmp_path, stage, message):
    """Every value of every stage is checked when the recipe is read: exit 2 naming the file
    and the key, and the stages before the bad one (sample, download) never ran."""
    download = "" if stage.startswith("download") else "  download: {mirror: '${work}/sample/repo'}\n"
    recipe = _write(tmp_path, f"stages:\n  sample: {{seed: 0}}\n{download}  {stage}\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(recipe), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert f"Error: {recipe}: " in res.output
    assert re.search(message, res.output), res.output
    assert not (out / "sample").exists() and not (out / "data").exists()


def test_demo_overrides_are_checked_like_the_recipe(tmp_path):
    with pytest.raises(RecipeError, match=r"sample\.yaml: stages\.keyframes\.batch_size: must be an integer >= 1"):
        pipeline.run_recipe("sample", tmp_path / "w", overrides={"keyframes": {"batch_size": 0}})
    with pytest.raises(RecipeError, match=r"stages\.keyframes\.modle: unknown parameter"):
        pipeline.run_recipe("sample", tmp_path / "w", overrides={"keyframes": {"modle": "x"}})
    assert not (tmp_path / "w").exists()


def test_recipe_hash_follows_content(tmp_path):
    a = pipeline.load(_write(tmp_path, "stages: {keyframes: {threshold: 0.5}}\n"))
    b = pipeline.load(_write(tmp_path, "# comment\nstages:\n  keyframes:\n    threshold: 0.5\n"))
    c = pipeline.load(_write(tmp_path, "stages: {keyframes: {threshold: 0.6}}\n"))
    assert a.hash == b.hash != c.hash


def test_unknown_recipe_lists_shipped_ones():
    with pytest.raises(RecipeError, match="shipped recipes are .*sample"):
        pipeline.load("no-such-recipe")


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("keyframes-*.parquet"))}


def test_shards_cover_every_batch_exactly_once_and_merge(sample, tmp_path):
    kw = dict(frames_root=sample.frames, method="pixel", videos_per_file=2)
    whole = run_keyframes(out=tmp_path / "whole", **kw)
    n_batches = len(whole.files)
    for n in (2, 3, 5):
        out = tmp_path / f"sharded-{n}"
        scored = []
        for i in range(n):
            res = run_keyframes(out=out, num_shards=n, shard_index=i, **kw)
            assert not res.complete and res.files == []
            scored.append(res.batches_scored)
        assert sum(scored) == n_batches  # every batch scored by exactly one job
        assert sorted(p.name for p in (out / ".work").glob("scores-*.parquet")) == [
            f"scores-{b:05d}.parquet" for b in range(n_batches)
        ]
        merged = run_keyframes(out=out, **kw)  # the unsharded run only calibrates and writes
        assert merged.batches_scored == 0 and merged.complete
        assert _digests(out) == _digests(tmp_path / "whole")


def test_run_rejects_bad_shard_index(tmp_path):
    res = CliRunner().invoke(main, ["run", "sample", "--out", str(tmp_path), "--num-shards", "2", "--shard-index", "2"])
    assert res.exit_code == 2 and "--shard-index" in res.output


def test_annotations_only_recipe_on_a_mirror(sample, tmp_path):
    recipe = _write(
        tmp_path,
        f"""
stages:
  download: {{mirror: {sample.repo}, annotations_only: true}}
  validate: {{check_frames: false}}
  stats: {{dataset: true}}
""",
    )
    res = CliRunner().invoke(main, ["run", str(recipe), "--out", str(tmp_path / "w"), "--json"])
    assert res.exit_code == 0, res.output
    out = result_of(res.stdout, "run")
    names = [s["name"] for s in out["stages"]]
    assert names == ["download", "validate", "stats"]
    assert out["stages"][1]["summary"]["n_invalid"] == 0
    assert out["stages"][1]["summary"]["n_records"] == len(sample.qa.read_text().splitlines())
    assert not (tmp_path / "w" / "data" / "frames").exists()
    assert (tmp_path / "w" / "stats" / "dataset.json").is_file()


@pytest.mark.parametrize("with_weights", [False, True])
def test_demo_end_to_end(tmp_path, with_weights, request):
    from datasets import load_dataset

    args = ["demo", "--out", str(tmp_path / "demo"), "--json"]
    if with_weights:
        tiny = request.getfixturevalue("tiny_clip")
        args += ["--pretrained", tiny.local_dir]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    out = result_of(res.stdout, "demo")
    assert [s["name"] for s in out["stages"]] == ["sample", "download", "validate", "keyframes", "shards", "stats"]
    method = "feature" if with_weights else "pixel"
    assert any(n.startswith(f"key frames: method auto: {method} (") for n in out["notes"])
    stages = {s["name"]: s for s in out["stages"]}
    assert stages["keyframes"]["summary"]["method"] == method
    assert stages["validate"]["summary"]["n_invalid"] == 0
    work = tmp_path / "demo"
    ds = load_dataset(str(work / "shards"))
    assert sum(len(s) for s in ds.values()) == stages["validate"]["summary"]["n_valid"]
    assert ds["train"][0]["frames"][0].size == (160, 120)  # the demo embeds the frames
    assert sorted(p.name for p in (work / "stats" / "plots").glob("*.png"))
    assert json.loads((work / "run-summary.json").read_text())["recipe_hash"] == out["recipe_hash"]
    meta = json.loads(
        __import__("pyarrow.parquet", fromlist=["x"])
        .read_schema(next((work / "keyframes").glob("keyframes-*.parquet")))
        .metadata[b"tc139k"]
    )
    assert meta["recipe_hash"] == out["recipe_hash"]


def test_demo_rerun_reuses_everything(tmp_path):
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "--out", str(tmp_path), "--json"])
    assert first.exit_code == 0, first.output
    again = result_of(runner.invoke(main, ["demo", "--out", str(tmp_path), "--json"]).stdout, "demo")
    stages = {s["name"]: s for s in again["stages"]}
    assert stages["download"]["summary"]["up_to_date"] is True
    assert stages["shards"]["summary"]["n_shards_written"] == 0


def test_calibration_miss_fails_the_recipe_unless_accepted(sample, tmp_path, tiny_clip):  # noqa: F811
    # random weights leave only scene starts: no level reaches the published interval
    def recipe(extra: str) -> Path:
        return _write(
            tmp_path,
            f"""
stages:
  download: {{mirror: {sample.repo}}}
  keyframes: {{method: feature, pretrained: "{tiny_clip.local_dir}"{extra}}}
""",
        )

    out = tmp_path / "w"
    res = CliRunner().invoke(main, ["run", str(recipe("")), "--out", str(out), "--json"])
    assert res.exit_code == 1, res.output
    assert "keyframes: calibration missed its target" in res.output
    assert "keyframes.accept_calibration_miss: true" in res.output
    res = CliRunner().invoke(main, ["run", str(recipe(", accept_calibration_miss: true")), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    notes = result_of(res.stdout, "run")["notes"]
    assert any("calibration missed its target" in n and "accepted" in n for n in notes), notes


def test_validate_stage_failure_is_a_failed_check_not_a_usage_error(sample, tmp_path):
    bad = tmp_path / "repo"
    shutil.copytree(sample.repo, bad)
    qa = bad / "time_chat_online_139k_train_flt.jsonl"
    qa.write_text(qa.read_text() + '{"messages": []}\n')
    recipe = _write(
        tmp_path,
        f"""
stages:
  download: {{mirror: {bad}, annotations_only: true}}
  validate: {{check_frames: false}}
""",
    )
    res = CliRunner().invoke(main, ["run", str(recipe), "--out", str(tmp_path / "w")])
    assert res.exit_code == 1, res.output
    assert "validate: 1 invalid record(s), more than max_invalid 0" in res.output


# ---- a recipe file is read as a recipe and nothing more ------------------------------------


def test_yaml_aliases_are_refused_before_they_expand(tmp_path):
    import time

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 8)]
    path = _write(tmp_path, "description:\n" + "".join(f"  {x}\n" for x in lines) + "stages: {stats: {}}\n")
    t0 = time.perf_counter()
    with pytest.raises(RecipeError, match=r"line 3: YAML aliases \(\*name\) are not accepted") as err:
        pipeline.load(path)
    assert time.perf_counter() - t0 < 1.0 and str(path) in str(err.value)


def test_a_huge_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("stages: {stats: {}}\n" + "# " + "x" * (2 << 20) + "\n")
    with pytest.raises(RecipeError, match=r"2\.1 MB is no recipe"):
        pipeline.load(path)


@pytest.mark.parametrize("data", ["stages: {stats: {}}\ndescription: caf\xe9\n".encode("latin-1"), bytes(range(256))])
def test_a_file_that_is_not_utf8_text_is_named(tmp_path, data):
    path = tmp_path / "latin.yaml"
    path.write_bytes(data)
    with pytest.raises(RecipeError, match=r"not UTF-8 text \(byte \d+\); save the recipe as UTF-8") as err:
        pipeline.load(path)
    assert str(path) in str(err.value)


def test_recipe_file_errors_exit_2_with_one_line(tmp_path):
    from click.testing import CliRunner

    from tc139k.cli import main

    path = tmp_path / "latin.yaml"
    path.write_bytes("stages: {stats: {}}\ndescription: caf\xe9\n".encode("latin-1"))
    res = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "not UTF-8 text" in res.output and "Traceback" not in res.output


def test_a_partial_download_is_counted_alike_by_the_recipe_and_the_command(sample, tmp_path):
    """Records of videos not downloaded are set apart, neither valid nor invalid, and a
    recipe's validate stage says so in the words `tc139k validate` uses."""
    from tc139k.validate.run import run_validate

    recipe = _write(tmp_path, f"stages:\n  download: {{mirror: {sample.repo}, sources: [tvsum]}}\n  validate: {{}}\n")
    out = tmp_path / "w"
    res = CliRunner().invoke(main, ["run", str(recipe), "--out", str(out)])
    assert res.exit_code == 0, res.output
    [line] = [x for x in res.stdout.splitlines() if x.strip().startswith("validate ")]
    direct = run_validate([out / "data" / "time_chat_online_139k_train_flt.jsonl"], frames_root=out / "data" / "frames")
    assert direct.not_downloaded > 0 and line.endswith(direct.headline())
    assert f"{direct.not_downloaded} not downloaded (set apart)" in line and "quarantined" not in line
