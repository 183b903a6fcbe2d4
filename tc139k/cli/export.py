"""`tc139k export swift`: validated records to ms-swift JSONL."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from ..export.config import SwiftExportConfig
from . import _results as results
from ._common import JSON_HELP, emit_json, examples, handle_errors
from ._options import options_from, pop_config


@click.group("export", short_help="Export the records for training code (ms-swift).")
def export_group():
    """Write the validated records in the formats training code reads."""


@export_group.command(
    "swift",
    short_help="ms-swift messages/videos JSONL with local frame paths.",
    epilog=examples(
        "tc139k export swift --qa validated/valid.parquet --frames-root data/frames --out swift.jsonl",
        "tc139k export swift --qa validated/valid.parquet --frames-root data/frames --out swift.jsonl --split",
    ),
)
@click.option(
    "--qa",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="valid.parquet written by `tc139k validate --out`.",
)
@click.option(
    "--frames-root",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder holding <source>/<video_id>/<NNNNNN>.jpg (the download's frames/); paths are written absolute.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSONL file to write; with --split, two beside it: swift.jsonl gives swift.train.jsonl and "
    "swift.validation.jsonl.",
)
@click.option(
    "--keyframes",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Output folder of `tc139k keyframes build` (read with --keyframes-only).",
)
@options_from(SwiftExportConfig)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def export_swift_cmd(qa, frames_root, out, keyframes, as_json, **params):
    """Write validated QA records as ms-swift JSONL with absolute local frame paths.

    Each line is {"messages", "videos"} (plus start_time/end_time when the record had them),
    the layout ms-swift reads with `swift sft --dataset OUT.jsonl` (and `--val_dataset
    OUT.validation.jsonl` with --split). Every written frame path exists; records with a
    missing frame (or, with --keyframes-only, no key-frame output) are left out and counted.
    The output passes `tc139k validate OUT.jsonl --frames-root FRAMES`.
    """
    from ..export.swift import run_export_swift

    config = pop_config(SwiftExportConfig, params)
    res = run_export_swift(qa, frames_root, out, keyframes_dir=keyframes, **asdict(config), show_progress=not as_json)
    if as_json:
        emit_json(results.export_swift(res.to_dict()))
        return
    click.echo(
        f"Exported {res.written} of {res.records} record(s), {res.frames} frame path(s)"
        + (" (key frames only)" if res.keyframes_only else "")
    )
    for name, path in res.files.items():
        click.echo(f"  {name:<10} {res.rows[name]:>7} records  {path}")
    for reason, n in res.skipped.items():
        click.echo(f"  left out: {reason} {n}")
    for ex in res.examples[:3]:
        click.echo(f"    {ex['record_id']} ({ex['video']}): {ex['reason']}")
    dataset = (
        " ".join(res.files.values())
        if not config.split
        else f"{res.files['train']} --val_dataset {res.files['validation']}"
    )
    click.echo(f"Train with: swift sft --dataset {dataset} ...")
