"""`tc139k stats redundancy` and `tc139k stats dataset`."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import emit_json, handle_errors


@click.group("stats", short_help="Redundancy statistics and dataset counts.")
def stats_group():
    """Redundancy statistics of key-frame output, and counts of a downloaded dataset."""


@stats_group.command("redundancy", short_help="Share of visual tokens DTD drops, per threshold.")
@click.argument("keyframes_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--thresholds",
    default=None,
    help="DTD thresholds to sweep: a list (0.3,0.5,0.7) or a range START:STOP:STEP, inside the score "
    "kind's range (cosine [-1, 1], pixel_mad [0, 1]) [default per kind: cosine 0.1:0.9:0.1 around the "
    "feature method's 0.5; pixel_mad 0.005,0.01,0.02,0.03,0.05,0.075,0.1,0.15,0.2,0.3 around the pixel "
    "method's 0.05].",
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Threshold of the headline figure, plots and timeline [default: the threshold stored with the videos].",
)
@click.option(
    "--by",
    type=click.Choice(["source", "length"]),
    default="source",
    show_default=True,
    help="Break the drop ratios down by source dataset or by video length (<5, 5-10, 10-20, >=20 min).",
)
@click.option(
    "--plot",
    "plot_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write PNG plots into this folder.",
)
@click.option("--video", default=None, help="Video id of the drop-ratio timeline plot [default: the longest video].")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@handle_errors
def stats_redundancy_cmd(keyframes_dir, thresholds, threshold, by, plot_dir, video, as_json):
    """Share of visual tokens DTD drops, from the scores stored in KEYFRAMES_DIR.

    Sweeps the thresholds without the model (token-weighted and mean over frames, overall,
    per source and per length bucket) and summarises key frames and trigger times beside
    the published figures.
    """
    from ..stats.redundancy import parse_thresholds, redundancy_stats

    result = redundancy_stats(
        keyframes_dir,
        thresholds=parse_thresholds(thresholds) if thresholds is not None else None,
        by=by,
        threshold=threshold,
        video=video,
        plot_dir=plot_dir,
        show_progress=not as_json,
    )
    if as_json:
        emit_json(result.to_dict())
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
    "qa_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="QA file (JSON Lines) [default: ROOT/time_chat_online_139k_train_flt.jsonl].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@handle_errors
def stats_dataset_cmd(root, frames_root, qa_file, as_json):
    """Videos, frames and QA records per source of a downloaded dataset.

    Give the download folder ROOT, or --frames-root and --qa as the other commands take
    them (either alone: the other is looked for beside it, as a download lays them out).
    Also video durations, clip lengths, question and answer lengths, start/end times and
    the frames the QA records reference that are missing under the frames root.
    """
    from ..stats.dataset import dataset_stats

    result = dataset_stats(root, qa_file=qa_file, frames_root=frames_root, show_progress=not as_json)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.text_report())
