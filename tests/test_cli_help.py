"""Every command's one-line summary in `--help` listings is a whole sentence, never cut."""

from click.testing import CliRunner

from tc139k.cli import main


def _listing_lines(args):
    out = CliRunner().invoke(main, [*args, "--help"], terminal_width=80).output
    lines = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [line for line in lines if line.strip()]


def test_help_summaries_are_whole_sentences():
    groups = [()] + [(name,) for name, cmd in main.commands.items() if hasattr(cmd, "commands")]
    assert len(groups) >= 4
    for args in groups:
        lines = _listing_lines(args)
        names = [line.split()[0] for line in lines if not line.startswith("    ")]
        group = main if not args else main.commands[args[0]]
        assert sorted(names) == sorted(group.commands), (args, lines)  # one line each: nothing wrapped
        for line in lines:
            assert line.rstrip().endswith(".") and not line.rstrip().endswith("..."), (args, line)


def test_quiet_and_verbose_are_taken_anywhere_on_the_line(sample, tmp_path):
    """`tc139k validate FILE --out DIR -q`, as `hf` takes its flags; `--` ends that."""
    import logging

    out = tmp_path / "v"
    for flags, level in ((["-q"], logging.WARNING), (["--verbose"], logging.DEBUG), ([], logging.INFO)):
        res = CliRunner().invoke(main, ["validate", str(sample.qa), "--out", str(out), *flags])
        assert res.exit_code == 0, res.output
        assert logging.getLogger("tc139k").level == level, flags
    both = CliRunner().invoke(main, ["validate", str(sample.qa), "-q", "--out", str(out), "-v"])
    assert both.exit_code == 2 and "cannot be combined" in both.output
    literal = CliRunner().invoke(main, ["validate", "--out", str(out), "--", "-q"])
    assert literal.exit_code == 2 and "Path '-q' does not exist" in literal.output


def _commands(group, path=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def test_each_option_states_one_default():
    """An option's help never carries a default of its own beside the one click shows."""
    import click

    seen = 0
    for path, cmd in _commands(main):
        ctx = click.Context(cmd, info_name=" ".join(path))
        for param in cmd.params:
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is None:
                continue
            seen += 1
            assert record[1].count("default:") <= 1, (path, record)
    assert seen > 50


def test_the_main_commands_show_examples_that_they_accept():
    """Each example in a `--help` names the command it is under and only options it has."""
    import shlex

    import click

    shown = 0
    for path, cmd in _commands(main):
        if not cmd.epilog or "Examples:" not in cmd.epilog:
            continue
        options = {o for p in cmd.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}
        for line in cmd.epilog.split("Examples:\n", 1)[1].splitlines():
            words = shlex.split(line)
            assert words[: 1 + len(path)] == ["tc139k", *path], (path, line)
            unknown = [w.split("=")[0] for w in words if w.startswith("-") and w.split("=")[0] not in options]
            assert not unknown, (path, line, unknown)
            shown += 1
    assert shown >= 14
    for args in (["download"], ["validate"], ["keyframes", "build"], ["shards", "build"], ["stats", "redundancy"]):
        assert "Examples:\n    tc139k " in CliRunner().invoke(main, [*args, "--help"]).output


def test_the_readme_tour_runs_commands_that_exist_with_their_options():
    """README's tour: each line names a command and only options that command has; its links
    to the documentation pages point at files that exist."""
    import re
    import shlex
    from pathlib import Path

    import click

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    tour = readme[readme.index("## A tour") :]
    block = tour[tour.index("```bash\n") + 8 : tour.index("```", tour.index("```bash\n") + 8)]
    commands = dict(_commands(main))
    checked = 0
    for line in block.splitlines():
        words = shlex.split(line.split("#", 1)[0])
        assert words[0] == "tc139k", line
        path = next(p for p in sorted(commands, key=len, reverse=True) if tuple(words[1 : 1 + len(p)]) == p)
        options = {o for p in commands[path].params if isinstance(p, click.Option) for o in p.opts}
        assert not [w for w in words if w.startswith("--") and w not in options], line
        checked += 1
    assert checked >= 6
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (root / target).is_file(), target
