"""Command-line options made from config fields (cli/_options.py): type, default, help and
range come from the field; values are checked as a recipe's are."""

from __future__ import annotations

import dataclasses
import json

import click
from click.testing import CliRunner

from tc139k.cli._options import options_from, pop_config
from tc139k.keyframes.config import KeyframesConfig
from tc139k.params import param
from tc139k.pipeline.configs import ValidateParams
from tc139k.shards.config import ShardsConfig
from tc139k.stats.config import StatsConfig


def _command(cls, **kw):
    @click.command()
    @options_from(cls, **kw)
    def cmd(**kwargs):
        config = pop_config(cls, kwargs, names=kw.get("names"))
        click.echo(json.dumps(dataclasses.asdict(config)))

    return cmd


def _run(cmd, *args):
    return CliRunner().invoke(cmd, list(args))


def test_every_field_is_an_option_with_its_default_help_and_range():
    cmd = _command(KeyframesConfig, names={"min_scene_seconds": "--min-scene-len"})
    text = " ".join(_run(cmd, "--help").output.split())
    assert "--target-interval FLOAT RANGE Mean key-frame interval" in text
    assert "[default: 7.14; x>0.0]" in text
    assert "--method [auto|feature|pixel]" in text and "--min-scene-len" in text
    assert "--cell INTEGER RANGE Pixel method: cell size in px. [default: 28; 1<=x<=224]" in text
    out = json.loads(_run(cmd).output)
    assert out == dataclasses.asdict(KeyframesConfig())  # no option given: the config's defaults


def test_values_are_checked_like_recipe_values():
    cmd = _command(KeyframesConfig)
    for args, hint in [
        (["--target-interval", "nan"], "--target-interval"),
        (["--target-interval", "0"], "--target-interval"),
        (["--cell", "500"], "--cell"),
        (["--method", "pixel", "--threshold", "-0.5"], "--threshold"),  # tau's range per method
        (["--videos-per-file", "0"], "--videos-per-file"),
    ]:
        res = _run(cmd, *args)
        assert res.exit_code == 2 and hint in res.output, (args, res.output)
    assert "for the pixel method" in _run(cmd, "--method", "pixel", "--threshold", "-0.5").output
    assert json.loads(_run(cmd, "--threshold", "-0.5").output)["threshold"] == -0.5  # fine for feature


def test_parsed_and_list_fields():
    shards = _command(ShardsConfig)
    out = json.loads(_run(shards, "--max-shard-size", "2GB", "--embed-frames").output)
    assert out["max_shard_size"] == 2 * 10**9 and out["embed_frames"] is True
    res = _run(shards, "--max-shard-size", "huge")
    assert res.exit_code == 2 and "'huge' is not a size" in res.output
    assert "[default: 500MB]" in " ".join(_run(shards, "--help").output.split())
    stats = _command(StatsConfig)
    assert json.loads(_run(stats, "--thresholds", "0.2:0.4:0.1").output)["thresholds"] == [0.2, 0.3, 0.4]
    assert json.loads(_run(stats).output)["thresholds"] is None  # the stage picks them per score kind
    res = _run(stats, "--thresholds", "0.5,3")
    assert res.exit_code == 2 and "--thresholds" in res.output and "[-1, 1]" in res.output
    files = _command(ValidateParams)  # a list with a default: the field's default when not given
    assert json.loads(_run(files).output)["files"] == ["time_chat_online_139k_train_flt.jsonl"]
    assert json.loads(_run(files, "--files", "a.jsonl, b.jsonl").output)["files"] == ["a.jsonl", "b.jsonl"]


def test_an_option_left_to_the_stage_parser_is_parsed_by_pop_config():
    from tc139k.errors import UsageError

    stats = _command(StatsConfig, extra={"thresholds": {"type": str}})
    assert json.loads(_run(stats, "--thresholds", "0.1,0.2").output)["thresholds"] == [0.1, 0.2]
    res = _run(stats, "--thresholds", "x")
    assert isinstance(res.exception, UsageError) and str(res.exception).startswith("thresholds 'x': expected")


def test_the_commands_options_are_the_config_fields():
    """Each stage command's parameters come from its config: same name, default and help."""
    from tc139k.cli import main
    from tc139k.cli.keyframes import OPTION_NAMES as KEYFRAMES_NAMES
    from tc139k.cli.shards import OPTION_NAMES as SHARDS_NAMES
    from tc139k.download.config import DownloadConfig
    from tc139k.params import specs
    from tc139k.validate.config import ValidateConfig

    commands = {
        ("download",): (DownloadConfig, {}),
        ("validate",): (ValidateConfig, {}),
        ("keyframes", "build"): (KeyframesConfig, KEYFRAMES_NAMES),
        ("shards", "build"): (ShardsConfig, SHARDS_NAMES),
        ("stats", "redundancy"): (StatsConfig, {}),
    }
    for path, (cls, names) in commands.items():
        cmd = main
        for part in path:
            cmd = cmd.commands[part]
        options = {o.name: o for o in cmd.params if isinstance(o, click.Option)}
        for s in specs(cls).values():
            o = options[s.name]
            assert o.opts[0] == names.get(s.name, "--" + s.name.replace("_", "-")), (path, s.name)
            assert o.help.startswith(s.help), (path, s.name)
            if s.kind is not tuple and s.kind is not bool:
                assert o.default == s.default, (path, s.name)


@dataclasses.dataclass(frozen=True)
class _Fields:
    """One field of each kind the option maker treats differently."""

    names: tuple[str, ...] = param(("a",), help="Names.")  # a list, no metavar
    label: str = param("x", help="A label.", parse=str.upper)  # parsed, no metavar
    size: int = param(5, help="A size.", parse=int, metavar="SIZE")
    ratio: float = param(0.5, help="A ratio.", min=0.0, max=1.0, max_open=True)
    count: int = param(3, help="A count.")  # no bounds
    check: bool = param(True, help="Check.")  # on by default: --check/--no-check
    verbose: bool = param(False, help="Talk.")  # off by default: a flag
    workers: int | None = param(None, help="Workers.", default_text="half the cores")
    limit: int | None = param(None, help="A limit.")
    threads: int = param(2, help="Threads.", default_text="two")  # a value, shown as words


def _help_line(cmd, option: str) -> str:
    """`--option METAVAR help [default]` as --help shows it, on one line."""
    ctx = click.Context(cmd)
    o = next(p for p in cmd.params if option in p.opts)
    return " ".join(" ".join(o.get_help_record(ctx)).split())


def test_each_kind_of_field_gets_its_kind_of_option():
    cmd = _command(_Fields)
    assert _help_line(cmd, "--names").startswith("--names LIST Names.")
    assert _help_line(cmd, "--label").startswith("--label TEXT A label.")
    assert _help_line(cmd, "--size").startswith("--size SIZE A size.")
    # a True boolean is switched off by --no-<name>, a False one is a plain flag
    assert _help_line(cmd, "--check").startswith("--check / --no-check Check. [default: check]")
    assert _help_line(cmd, "--verbose") == "--verbose Talk."
    out = json.loads(_run(cmd, "--no-check", "--verbose", "--label", "abc", "--names", "p, q").output)
    assert out == {**dataclasses.asdict(_Fields(check=False, verbose=True)), "label": "ABC", "names": ["p", "q"]}
    assert json.loads(_run(cmd).output)["check"] is True
    # a default shown as words is shown once, as the words; no default (None) is not shown
    assert _help_line(cmd, "--workers").endswith("Workers. [default: half the cores]")
    assert _help_line(cmd, "--limit") == "--limit INTEGER A limit."
    assert _help_line(cmd, "--threads") == "--threads INTEGER Threads. [default: two]"
    assert "[default: 3]" in _help_line(cmd, "--count")


def test_an_unbounded_int_takes_any_integer_and_a_bounded_float_keeps_its_open_end():
    cmd = _command(_Fields)
    assert json.loads(_run(cmd, "--count", "-7").output)["count"] == -7
    assert _help_line(cmd, "--count").startswith("--count INTEGER A count.")  # no RANGE
    assert json.loads(_run(cmd, "--ratio", "0").output)["ratio"] == 0.0
    res = _run(cmd, "--ratio", "1")
    assert res.exit_code == 2 and "0<=x<1" in res.output
    assert "Usage: cmd [OPTIONS]" in res.output  # the refusal knows its command
    for bad in ("inf", "nan"):
        res = _run(cmd, "--ratio", bad)
        assert res.exit_code == 2 and "--ratio" in res.output


def test_a_non_finite_number_is_refused_with_the_option_named():
    cmd = _command(KeyframesConfig)
    res = _run(cmd, "--target-interval", "inf")
    assert res.exit_code == 2
    assert "Invalid value for '--target-interval'" in res.output
    assert "'inf' is not a finite number" in res.output
