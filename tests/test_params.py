"""Stage parameters declared once: the config classes' checks, and their defaults against
the keyword defaults of the stage entry points (which tests and the Ray engine call)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from tc139k.download.config import DownloadConfig
from tc139k.errors import UsageError
from tc139k.export.config import SwiftExportConfig
from tc139k.keyframes.config import KeyframesConfig
from tc139k.params import check, check_shard
from tc139k.shards.config import ShardsConfig
from tc139k.stats.config import StatsConfig
from tc139k.validate.config import ValidateConfig


def _defaults(fn) -> dict:
    return {n: p.default for n, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}


def _entry_points():
    from tc139k.download.run import run_download
    from tc139k.export.swift import run_export_swift
    from tc139k.shards.build import run_shards_build
    from tc139k.stats.redundancy import redundancy_stats
    from tc139k.validate.run import run_validate

    return [
        (DownloadConfig().kwargs(), run_download),
        (dataclasses.asdict(ValidateConfig()), run_validate),
        (ShardsConfig().kwargs(), run_shards_build),
        (dataclasses.asdict(StatsConfig()), redundancy_stats),
        (dataclasses.asdict(SwiftExportConfig()), run_export_swift),
    ]


def test_the_key_frame_stage_runs_its_config():
    # run_keyframes takes a KeyframesConfig and any of its fields as keywords, checked as on the command line
    from tc139k.keyframes.build import stage_config

    assert stage_config() == KeyframesConfig()
    assert stage_config(KeyframesConfig(method="pixel"), {"min_gap": 1}) == KeyframesConfig(method="pixel", min_gap=1.0)
    with pytest.raises(UsageError, match=r"^keyframes\.min_gap: must be a finite number >= 0, got -1$"):
        stage_config(None, {"min_gap": -1})
    with pytest.raises(
        UsageError, match=r"^keyframes\.mingap: unknown parameter \(did you mean min_gap\?\); takes batch"
    ):
        stage_config(None, {"mingap": 1})
    with pytest.raises(UsageError, match=r"^keyframes\.threshold: must be in \[0, 1\] for the pixel method, got -0.5$"):
        stage_config(None, {"method": "pixel", "threshold": -0.5})


def test_config_defaults_are_the_entry_points_defaults():
    for config, fn in _entry_points():
        signature = _defaults(fn)
        for key, value in config.items():
            assert key in signature, f"{fn.__name__} has no keyword {key}"
            assert signature[key] == value, f"{fn.__name__}({key}=...): {signature[key]!r} != config {value!r}"


@pytest.mark.parametrize(
    "cls, values, message",
    [
        (KeyframesConfig, {"min_gap": float("inf")}, r"k\.min_gap: must be a finite number >= 0, got inf"),
        (KeyframesConfig, {"batch_size": True}, r"k\.batch_size: expected an integer, got True"),
        (KeyframesConfig, {"device": "tpu"}, r"k\.device: expected one of auto, cpu, cuda, got 'tpu'"),
        (KeyframesConfig, {"level": -1}, r"k\.level: must be a finite number >= 0, got -1"),
        (ShardsConfig, {"max_shard_size": "lots"}, r"k\.max_shard_size: 'lots' is not a size"),
        (ShardsConfig, {"max_shard_size": 0}, r"k\.max_shard_size: must be an integer >= 1, got 0"),
        (DownloadConfig, {"sources": "coin"}, None),
        (DownloadConfig, {"max_extract_gb": 0}, r"k\.max_extract_gb: must be a finite number > 0, got 0"),
        (StatsConfig, {"thresholds": "0.1:nope"}, r"k\.thresholds: thresholds '0\.1:nope': expected a list"),
        (ValidateConfig, {"max_invalid": None}, r"k\.max_invalid: expected an integer, got nothing"),
        (
            ValidateConfig,
            {"max_invalids": 3},
            r"k\.max_invalids: unknown parameter \(did you mean max_invalid\?\); takes frames_scope, max_invalid",
        ),
    ],
)
def test_check_names_the_key_and_what_it_accepts(cls, values, message):
    if message is None:
        assert check(cls, values, "k").sources == ("coin",)
        return
    with pytest.raises(UsageError, match=message):
        check(cls, values, "k")


def test_values_are_normalised():
    assert check(ShardsConfig, {"max_shard_size": "2GB", "val_fraction": 0}, "k").max_shard_size == 2 * 10**9
    assert check(StatsConfig, {"thresholds": "0.2:0.4:0.1"}, "k").thresholds == (0.2, 0.3, 0.4)
    assert check(DownloadConfig, {"sources": ["a", "B"]}, "k").sources == ("a", "B")
    assert check(KeyframesConfig, {"min_gap": 1}, "k").min_gap == 1.0
    assert check(DownloadConfig, {"max_member_mb": 2}, "k").kwargs()["max_member_bytes"] == 2 * 1024 * 1024


@pytest.mark.parametrize("n, i", [(0, 0), (2, 2), (2, -1), (3, 1.5)])
def test_one_shard_check(n, i):
    with pytest.raises(UsageError, match=r"--shard-index must be in \[0, --num-shards\)"):
        check_shard(n, i)
    check_shard(3, 2)


@pytest.mark.parametrize(
    "config, name",
    [
        (DownloadConfig, "download_dataset"),
        (ValidateConfig, "validate_qa"),
        (KeyframesConfig, "build_keyframes"),
        (ShardsConfig, "build_shards"),
        (StatsConfig, "redundancy_stats"),
    ],
)
def test_the_python_api_takes_every_option_with_the_config_default(config, name):
    import tc139k

    signature = _defaults(getattr(tc139k, name))
    for key, value in dataclasses.asdict(config()).items():
        assert key in signature, f"tc139k.{name} has no keyword {key}"
        assert signature[key] == value, f"tc139k.{name}({key}=...): {signature[key]!r} != config {value!r}"


@pytest.mark.parametrize(
    "command, name",
    [
        (["download"], "download_dataset"),
        (["validate"], "validate_qa"),
        (["keyframes", "build"], "build_keyframes"),
        (["shards", "build"], "build_shards"),
        (["stats", "redundancy"], "redundancy_stats"),
        (["stats", "dataset"], "dataset_stats"),
        (["export", "swift"], "export_swift"),
    ],
)
def test_the_python_api_names_the_folders_and_files_as_the_options_do(command, name):
    """`--out` is `out`, `--qa` is `qa`, `--keyframes` is `keyframes`, `--plot` is `plot`,
    in every function; the earlier names still work, with a DeprecationWarning."""
    import inspect
    import warnings

    import click

    import tc139k
    from tc139k.cli import main

    cmd = main
    for part in command:
        cmd = cmd.commands[part]
    paths = {"--out", "--qa", "--keyframes", "--frames-root", "--local-dir", "--plot", "--mirror", "--video-ids"}
    flags = {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts if o in paths}
    params = set(inspect.signature(getattr(tc139k, name)).parameters)
    assert flags and {f[2:].replace("-", "_") for f in flags} <= params, (flags, params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(TypeError, match="got both 'qa_file' and its new name 'qa'"):
            tc139k.dataset_stats(qa_file="a", qa="b")
        with pytest.raises(UsageError):  # the old name reaches the new parameter
            tc139k.dataset_stats(qa_file="/no/such/qa.jsonl", show_progress=False)
    assert any("dataset_stats(qa_file=...) is now qa=..." in str(w.message) for w in caught)


def test_each_stage_config_gives_its_functions_keywords():
    """`kwargs()` turns a stage's config into its function's keywords (sizes in bytes, names
    the function uses); `kwargs(keys)` only those fields."""
    import inspect

    from tc139k.download.config import DownloadConfig
    from tc139k.download.run import run_download
    from tc139k.shards.build import run_shards_build
    from tc139k.shards.config import ShardsConfig

    d = DownloadConfig(max_member_mb=3, max_extract_gb=1.5, offline=False, no_hf_cache=True).kwargs()
    assert set(d) <= set(inspect.signature(run_download).parameters)
    assert d["max_member_bytes"] == 3 * 1024 * 1024 and d["max_extract_bytes"] == 1_500_000_000
    assert d["offline"] is None  # not asked for: HF_HUB_OFFLINE decides
    assert d["use_hf_cache"] is False and "no_hf_cache" not in d and "max_member_mb" not in d
    assert DownloadConfig(offline=True).kwargs()["offline"] is True
    assert DownloadConfig(max_extract_gb=None).kwargs()["max_extract_bytes"] is None
    assert DownloadConfig(no_hf_cache=False).kwargs()["use_hf_cache"] is True
    assert DownloadConfig(max_workers=3).kwargs(keys={"max_workers", "max_extract_gb"}) == {
        "max_workers": 3,
        "max_extract_bytes": DownloadConfig().kwargs()["max_extract_bytes"],
    }
    assert DownloadConfig().kwargs(keys=set()) == {}

    s = ShardsConfig(format="parquet").kwargs()
    assert set(s) <= set(inspect.signature(run_shards_build).parameters)
    assert s["fmt"] == "parquet" and "format" not in s
    assert ShardsConfig(min_shards=3).kwargs(keys={"min_shards"}) == {"min_shards": 3}
    assert ShardsConfig().kwargs(keys={"format"}) == {"fmt": ShardsConfig().format}
