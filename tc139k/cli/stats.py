"""`tc139k stats redundancy` and `tc139k stats dataset`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from ..stats.config import StatsConfig
from . import _results as results
from ._common import JSON_HELP, emit_json, examples, handle_errors
from ._options import options_from, pop_config


@click.group("stats", short_help="Redundancy statistics and dataset counts.")
def stats_group():
    """Redundancy statistics of key-frame output, and counts of a downloaded dataset."""


@stats_group.command(
    "redundancy",
    short_help="Share of visual tokens DTD drops, per threshold.",
    epilog=examples(
        "tc139k stats redundancy keyframes",
        "tc139k stats redundancy keyframes --plot plots --plot-format svg --by length",
    ),
)
@click.argument("keyframes_dir", type=click.Path(file_okay=False, path_type=Path))
@options_from(StatsConfig, extra={"thresholds": {"type": str}})
@click.option(
    "--plot",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the plots (see --plot-format) into this folder.",
)
@click.option("--video", default=None, help="Video id of the drop-ratio timeline plot [default: the longest video].")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def stats_redundancy_cmd(keyframes_dir, plot, video, as_json, **params):
    """Share of visual tokens DTD drops, from the scores stored in KEYFRAMES_DIR.

    Sweeps the thresholds without the model (token-weighted and mean over frames, overall,
    per source and per length bucket) and summarises key frames and trigger times beside
    the published figures.
    """
    from ..stats.redundancy import redundancy_stats

    config = pop_config(StatsConfig, params)

    result = redundancy_stats(
        keyframes_dir,
        **asdict(config),
        video=video,
        plot_dir=plot,
        show_progress=not as_json,
    )
    if as_json:
        emit_json(results.stats_redundancy(result.to_dict()))
    else:
        click.echo(result.text_report())


@stats_group.command("dataset", short_help="Videos, frames and QA records per source.")
@click.argument("root", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--frames-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder holding <source>/<video_id>/<NNNNNN>.jpg [default: ROOT/frames].",
)
@click.option(
    "--qa",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="QA records: the JSON Lines file as downloaded, or the valid.parquet written by `tc139k validate "
    "--out` [default: ROOT/time_chat_online_139k_train_flt.jsonl].",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def stats_dataset_cmd(root, frames_root, qa, as_json):
    """Videos, frames and QA records per source of a downloaded dataset.

    Give the download folder ROOT, or --frames-root and --qa as the other commands take
    them (either alone: the other is looked for beside it, as a download lays them out).
    Also video durations, clip lengths, question and answer lengths, start/end times and
    the frames the QA records reference that are missing under the frames root.
    """
    from ..stats.dataset import dataset_stats

    result = dataset_stats(root, qa_file=qa, frames_root=frames_root, show_progress=not as_json)
    if as_json:
        emit_json(results.stats_dataset(result.to_dict()))
    else:
        click.echo(result.text_report())
