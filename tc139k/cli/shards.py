"""`tc139k shards build` and `tc139k shards verify`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EXIT_FAILED, UsageError
from ..shards import plan
from ._common import emit_json, handle_errors


def _parse_size(text: str, option: str) -> int:
    try:
        return plan.parse_size(text)
    except UsageError as e:  # raised while click calls the command: name the option via click
        raise click.BadParameter(str(e), param_hint=option) from None


@click.group("shards")
def shards_group():
    """Build and check Parquet shards for training."""


@shards_group.command("build", short_help="Join validated QA and key frames into Parquet shards.")
@click.option(
    "--qa",
    "qa",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="valid.parquet written by `tc139k validate --out`.",
)
@click.option(
    "--keyframes",
    "keyframes_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Output folder of `tc139k keyframes`.",
)
@click.option(
    "--frames-root",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder holding <source>/<video_id>/<NNNNNN>.jpg (the download's frames/).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: data/*.parquet, README.md (dataset card), manifest, quarantine.",
)
@click.option("--embed-frames", is_flag=True, help="Store the JPEG bytes in the shards (self-contained).")
@click.option(
    "--keyframes-only",
    is_flag=True,
    help="Keep only the clip frames that stand for key frames (plus each clip's first frame).",
)
@click.option(
    "--max-shard-size",
    default=f"{plan.DEFAULT_MAX_SHARD_SIZE // 10**6}MB",
    show_default=True,
    help="Largest shard, estimated in memory (e.g. 500MB, 2GB).",
)
@click.option(
    "--min-shards",
    type=click.IntRange(min=1),
    default=plan.DEFAULT_MIN_SHARDS,
    show_default=True,
    help="At least this many shards per split when it has the rows: one per DataLoader worker.",
)
@click.option(
    "--row-group-size",
    default=f"{plan.DEFAULT_ROW_GROUP_BYTES // 10**6}MB",
    show_default=True,
    help="Largest Parquet row group, estimated in memory: what a streaming reader holds at once.",
)
@click.option(
    "--row-group-rows",
    type=click.IntRange(min=1),
    default=None,
    help=f"Most rows per row group [default: {plan.DEFAULT_ROW_GROUP_ROWS}, "
    f"{plan.DEFAULT_ROW_GROUP_ROWS_EMBEDDED} with --embed-frames].",
)
@click.option(
    "--val-fraction",
    default=plan.DEFAULT_VAL_FRACTION,
    show_default=True,
    type=float,
    help="Share of videos (not records) that go to the validation split.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["messages", "flat"]),
    default="messages",
    show_default=True,
    help="messages: the ms-swift messages/videos layout; flat: question/answer columns only.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def shards_build_cmd(
    qa,
    keyframes_dir,
    frames_root,
    out_dir,
    embed_frames,
    keyframes_only,
    max_shard_size,
    min_shards,
    row_group_size,
    row_group_rows,
    val_fraction,
    fmt,
    as_json,
):
    """Join validated QA records with the key-frame output into training shards.

    One row per QA record; split by video; deterministic, atomic and resumable. Records
    whose frames are missing go to OUT/quarantine.jsonl with the reason.
    """
    from ..shards.build import run_shards_build

    res = run_shards_build(
        qa,
        keyframes_dir,
        frames_root,
        out_dir,
        embed_frames=embed_frames,
        keyframes_only=keyframes_only,
        max_shard_size=_parse_size(max_shard_size, "--max-shard-size"),
        min_shards=min_shards,
        row_group_bytes=_parse_size(row_group_size, "--row-group-size"),
        row_group_rows=row_group_rows,
        val_fraction=val_fraction,
        fmt=fmt,
        show_progress=not as_json,
    )
    if as_json:
        emit_json(res.to_dict())
        return
    click.echo(
        f"Shards in {res.out_dir} ({res.format} format"
        f"{', frames embedded' if res.embed_frames else ''}"
        f"{', key frames only' if res.keyframes_only else ''})"
    )
    for split, n in res.rows.items():
        files = [s for s in res.shards if s.split == split]
        click.echo(f"  {split:<10} {n:>7} rows in {len(files)} shard(s), {sum(s.bytes for s in files) / 1e6:.1f} MB")
    click.echo(f"  written {res.written}, already done {res.skipped}")
    if res.quarantined:
        click.echo(
            f"  quarantined {res.quarantined} record(s): "
            + ", ".join(f"{k} {v}" for k, v in res.reasons.items())
            + f" (see {res.out_dir}/quarantine.jsonl)"
        )
    click.echo(f"Load with: datasets.load_dataset({str(res.out_dir)!r})")


@shards_group.command("verify", short_help="Check shards against their manifest.")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def shards_verify_cmd(out_dir, as_json):
    """Reopen every shard in OUT_DIR and check schema, rows and checksums against the manifest."""
    from ..shards.build import verify_shards

    res = verify_shards(out_dir)
    if as_json:
        emit_json(res.to_dict())
    else:
        click.echo(f"{res.shards} shard(s), {res.rows} rows: " + ("OK" if res.ok else "PROBLEMS"))
        for p in res.problems:
            click.echo(f"  {p}")
    if not res.ok:
        sys.exit(EXIT_FAILED)  # the data failed the check


@shards_group.command("push", short_help="Upload a shards folder to a dataset repository on the Hub.")
@click.argument("repo_id")
@click.argument(
    "shards_dir", default="shards", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--private", is_flag=True, help="Create the repository as private when it does not exist yet.")
@click.option(
    "--revision",
    default=None,
    help="Branch to push to (created from the default branch when missing); with --create-pr, the "
    "branch the pull request targets. Default: the default branch.",
)
@click.option("--create-pr", is_flag=True, help="Open a pull request with the files instead of writing to the branch.")
@click.option("--message", "commit_message", default=None, help="Commit message (default: says how many rows).")
@click.option("--json", "as_json", is_flag=True, help="Print the result (commit id, URLs, files) as JSON.")
@handle_errors
def shards_push_cmd(repo_id, shards_dir, private, revision, create_pr, commit_message, as_json):
    """Upload SHARDS_DIR (default: ./shards) to the Hub dataset repository REPO_ID (OWNER/NAME).

    The shards are verified first; then the Parquet files the manifest lists, the dataset card
    (README.md) and the manifest (local paths removed) go up in one commit, never .done/,
    work files or the quarantine file. Data files of an earlier push that this build does not
    have are deleted in the same commit. The repository is created when missing. Rerunning
    resumes: what the Hub already holds is not sent again. The token comes from HF_TOKEN or
    `hf auth login` and needs write access; HF_ENDPOINT is honoured.
    """
    from ..shards.push import push_shards

    res = push_shards(
        repo_id,
        shards_dir,
        private=private,
        revision=revision,
        create_pr=create_pr,
        commit_message=commit_message,
        show_progress=not as_json,
    )
    if as_json:
        emit_json(res.to_dict())
        return
    from ..download.run import human_bytes

    where = f"{res.repo_id}" + (f" ({res.revision})" if res.revision else "")
    if not res.committed:
        click.echo(f"Nothing to push: {where} already holds these {len(res.files)} file(s) at commit {res.commit_id}")
        return
    click.echo(f"Pushed {len(res.files)} file(s), {res.rows} rows, {human_bytes(res.bytes_total)} to {where}")
    if res.created_repo:
        click.echo(f"  created:   {'private' if res.private else 'public'} dataset repository {res.repo_id}")
    if res.unchanged:
        click.echo(f"  unchanged: {len(res.unchanged)} file(s) the Hub already had")
    if res.deleted:
        click.echo(f"  deleted:   {len(res.deleted)} data file(s) of an earlier push: {', '.join(res.deleted[:5])}")
    click.echo(f"  commit:    {res.commit_id}")
    click.echo(f"  url:       {res.commit_url}")
    if res.pr_url:
        click.echo(f"  pull request: {res.pr_url}")
    click.echo(f"Load with: datasets.load_dataset({res.repo_id!r}, revision={res.commit_id!r})")
