"""`tc139k validate`: check QA files, write the valid table and the quarantine."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from ..validate.config import ValidateConfig
from . import _results as results
from ._common import JSON_HELP, check_failed, emit_json, examples, handle_errors
from ._options import options_from, pop_config


@click.command(
    "validate",
    short_help="Check QA files; write the valid table and quarantine.",
    epilog=examples(
        "tc139k validate data --out validated",
        "tc139k validate data/time_chat_online_139k_train_flt.jsonl --frames-root data/frames --out validated",
    ),
)
@click.argument("annotations", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--frames-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Also check that every referenced frame exists under this folder (<source>/<video_id>/<NNNNNN>.jpg).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write valid.parquet, quarantine.jsonl and report.json here [default: only check, write nothing].",
)
@options_from(ValidateConfig)
@click.option(
    "--include-other",
    is_flag=True,
    help="Also check OtherTrainingDataset/*.jsonl (another format, out of scope: skipped by default).",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def validate_cmd(annotations, frames_root, out, include_other, as_json, **params):
    """Check QA annotation files (JSON Lines) and write the normalised table.

    Every problem names the file and line: invalid JSON or UTF-8, missing or mistyped
    fields, roles, <video> tags against frame lists, frame paths, frame order, start/end
    times, empty questions or answers, exact duplicates and, with --frames-root, missing
    frames. Every record ends up in valid.parquet or in quarantine.jsonl with its reasons.

    ANNOTATIONS are QA files or a download folder (its top-level QA files, and its frames/
    as the frames root when --frames-root is not given). The caption
    file and OtherTrainingDataset/*.jsonl (the other corpora the authors trained with, whose
    videos are video files) have other formats and are skipped, with a note on stderr.
    """
    from ..validate.inputs import choose_qa_files, frames_beside
    from ..validate.run import run_validate

    config = pop_config(ValidateConfig, params)

    if frames_root is None and (frames_root := frames_beside(annotations)) is not None:
        click.echo(f"checking frames under {frames_root} too (--frames-root names another folder)", err=True)
    elif frames_root is not None:
        from ..layout import check_frames_root

        check_frames_root(frames_root)  # the download folder, a source folder, ...: say what was meant
    files, skipped = choose_qa_files(annotations, include_other=include_other)
    for s in skipped:
        click.echo(f"skipped {s.path}: {s.reason}", err=True)
    res = run_validate(
        files,
        frames_root=frames_root,
        **asdict(config),
        out_dir=out,
        show_progress=not as_json,
    )
    if as_json:
        emit_json(results.validate(res))
    else:
        for line in validate_summary(res):
            click.echo(line)
    if not res.passed:
        raise check_failed(res.failure())  # the data failed the check; the summary said so


def validate_summary(res) -> list[str]:
    lines = [f"{res.headline()}  ({res.seconds:.1f} s)"]
    if res.reasons:
        width = max(len(code) for code in res.reasons)
        lines.append("")
        lines.append(f"{'reason':<{width}}  records")
        by_count = sorted(res.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        for code, n in by_count:
            lines.append(f"{code:<{width}}  {n:>7}")
        for code, _ in by_count:
            lines.append("")
            lines.append(f"{code}:")
            for ex in res.examples.get(code, [])[:3]:
                lines.append(f"  {ex['file']}:{ex['line']}: {ex['message']}")
    if res.unknown_fields:
        lines.append("")
        lines.append("ignored fields: " + ", ".join(f"{k} ({n})" for k, n in res.unknown_fields.items()))
    if res.outputs:
        lines.append("")
        lines.append(f"valid table: {res.outputs['valid']}")
        lines.append(f"quarantine:  {res.outputs['quarantine']}")
        lines.append(f"report:      {res.outputs['report']}")
    if not res.passed:
        lines += ["", f"FAILED: {res.failure()}"]
    return lines
