"""The `tc139k` command group: one module per command in this package, each over the
library; this module only assembles them."""

from __future__ import annotations

import click

from .. import __version__
from ..errors import EXIT_CODES_HELP
from .download import download_cmd
from .export import export_group
from .keyframes import keyframes_group
from .run import demo_cmd, run_cmd
from .sample import sample_cmd
from .shards import shards_group
from .stats import stats_group
from .validate import validate_cmd

GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")


class _FlagsAnywhere(click.Group):
    """-q/-v are taken anywhere on the line (`tc139k download ... -q`), as `hf` takes them:
    they are moved before the command, up to a `--`."""

    def parse_args(self, ctx, args):
        from ._common import remember_argv

        remember_argv(ctx, args)
        cut = args.index("--") if "--" in args else len(args)
        flags = [a for a in args[:cut] if a in GLOBAL_FLAGS]
        rest = [a for a in args[:cut] if a not in GLOBAL_FLAGS]
        return super().parse_args(ctx, flags + rest + args[cut:])

    def invoke(self, ctx):
        """A usage error of a command run with --json is its envelope on stdout and one
        `Error:` line on stderr, exit 2 (tc139k.cli._common), not click's usage block."""
        import sys

        from ._common import usage_error_envelope

        try:
            return super().invoke(ctx)
        except click.ClickException as e:
            if usage_error_envelope(ctx, e):
                sys.exit(e.exit_code)
            raise


@click.group(
    cls=_FlagsAnywhere,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, prog_name="tc139k")
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress and no log lines, only warnings, errors and results (anywhere)."
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Debug log lines (and huggingface_hub's messages) on stderr (anywhere)."
)
def main(quiet, verbose):
    """Dataset toolkit for TimeChat-Online-139K.

    Download the annotations and 1 fps frames, validate the records, rebuild the
    scene-oriented key frames with PySceneDetect and Differential Token Drop (DTD),
    write Parquet shards for training and report how redundant the video is.

    Progress goes to stderr: a bar on a terminal; otherwise (a file, a pipe, a batch
    job's log) a log line every TC139K_PROGRESS_INTERVAL seconds (default 30) with
    done/total, rate and ETA. TC139K_NO_PROGRESS=1 or HF_HUB_DISABLE_PROGRESS_BARS=1
    turn both off.
    """
    from ..progress import configure_logging
    from ._common import handle_sigterm

    handle_sigterm()
    if quiet and verbose:
        raise click.UsageError("-q/--quiet and -v/--verbose cannot be combined")
    configure_logging(-1 if quiet else 1 if verbose else 0)


for command in (download_cmd, validate_cmd, keyframes_group, shards_group, stats_group, run_cmd, demo_cmd, sample_cmd):
    main.add_command(command)
main.add_command(export_group)
