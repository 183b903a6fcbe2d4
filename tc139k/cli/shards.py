"""`tc139k shards build` and `tc139k shards verify`."""

from __future__ import annotations

from pathlib import Path

import click

from ..shards.config import ShardsConfig
from . import _results as results
from ._common import JSON_HELP, check_failed, emit_json, examples, handle_errors
from ._options import options_from, pop_config

OPTION_NAMES = {"row_group_bytes": "--row-group-size"}


@click.group("shards")
def shards_group():
    """Build and check Parquet shards for training."""


@shards_group.command(
    "build",
    short_help="Join validated QA and key frames into Parquet shards.",
    epilog=examples(
        "tc139k shards build --qa validated/valid.parquet --keyframes keyframes --frames-root data/frames --out shards",
        "tc139k shards build --qa valid.parquet --keyframes kf --frames-root data/frames --out shards --embed-frames",
        "tc139k shards build --qa valid.parquet --keyframes kf --frames-root data/frames --out shards --min-shards 32",
    ),
)
@click.option(
    "--qa",
    "qa",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="valid.parquet written by `tc139k validate --out`.",
)
@click.option(
    "--keyframes",
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
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: data/*.parquet, README.md (dataset card), manifest, quarantine.",
)
@options_from(ShardsConfig, names=OPTION_NAMES)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def shards_build_cmd(qa, keyframes, frames_root, out, as_json, **params):
    """Join validated QA records with the key-frame output into training shards.

    One row per QA record; split by video; deterministic, atomic and resumable. Records
    whose frames are missing go to OUT/quarantine.jsonl with the reason.
    """
    from ..shards.build import run_shards_build

    config = pop_config(ShardsConfig, params, names=OPTION_NAMES)

    res = run_shards_build(
        qa,
        keyframes,
        frames_root,
        out,
        **config.kwargs(),
        show_progress=not as_json,
    )
    if as_json:
        emit_json(results.shards_build(res.to_dict()))
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
    if res.frames_outside_root:
        click.echo(
            f"  {res.frames_outside_root} embedded frame(s) were read through links leaving the frames root "
            "(shards-manifest.json names some); `shards push` publishes them only with --allow-frames-outside-root"
        )
    click.echo(f"Load with: datasets.load_dataset({str(res.out_dir)!r})")


@shards_group.command("verify", short_help="Check shards against their manifest.")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def shards_verify_cmd(out_dir, as_json):
    """Reopen every shard in OUT_DIR and check schema, rows and checksums against the manifest."""
    from ..shards.build import verify_shards

    res = verify_shards(out_dir)
    if as_json:
        emit_json(results.shards_verify(res.to_dict()))
    else:
        click.echo(f"{res.shards} shard(s), {res.rows} rows: " + ("OK" if res.ok else "PROBLEMS"))
        for p in res.problems:
            click.echo(f"  {p}")
    if not res.ok:  # the data failed the check; the summary said so
        raise check_failed(f"{len(res.problems)} problem(s) in {res.out_dir}: {res.problems[0]}")


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
@click.option(
    "--allow-frames-outside-root",
    is_flag=True,
    help="Publish embedded frames that the build read through links leaving the frames root (refused "
    "by default: a stray link would put a file from elsewhere on this machine on the Hub).",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def shards_push_cmd(
    repo_id, shards_dir, private, revision, create_pr, commit_message, allow_frames_outside_root, as_json
):
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
        allow_frames_outside_root=allow_frames_outside_root,
    )
    if as_json:
        emit_json(results.shards_push(res.to_dict(), shards_dir))
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
