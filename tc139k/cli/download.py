"""`tc139k download`: fetch, verify and extract from the Hub or a mirror."""

from __future__ import annotations

from pathlib import Path

import click

from ..download.config import DownloadConfig
from . import _results as results
from ._common import JSON_HELP, emit_json, examples, handle_errors
from ._options import options_from, pop_config

# what only the command line has: paths checked by click, the timeout and wait from the environment
OPTION_EXTRA = {
    "mirror": {"type": click.Path(file_okay=False, path_type=Path)},
    "video_ids": {"type": click.Path(dir_okay=False, path_type=Path)},
    "timeout": {"envvar": "TC139K_TIMEOUT", "show_envvar": True},
    "max_wait": {"envvar": "TC139K_MAX_WAIT", "show_envvar": True},
}


@click.command(
    "download",
    short_help="Fetch annotations and frame archives from the Hub.",
    epilog=examples(
        "tc139k download --annotations-only",
        "tc139k download --sources youcook2,coin --local-dir data",
        "tc139k download --local-dir data --dry-run",
        "tc139k download --local-dir data --verify",
    ),
)
@options_from(DownloadConfig, extra=OPTION_EXTRA)
@click.option(
    "--local-dir",
    default="./TimeChat-Online-139K",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to download into; nothing is written outside it.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what would be fetched and extracted, the sizes, the total and the free disk; change nothing.",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Re-check the downloaded files (size and hash) and the frame count of every "
    "video against the manifest; no network.",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def download_cmd(local_dir, dry_run, verify, as_json, **params):
    """Download TimeChat-Online-139K: annotations, then each source's frame archive.

    Every file is checked against the size and hash the Hub publishes. Archives (split parts
    are streamed in order, never joined on disk) are extracted safely into
    LOCAL_DIR/frames/<source>/<video_id>/<NNNNNN>.jpg. A manifest records what is present:
    rerunning fetches only what is missing and resumes interrupted transfers. A token, when
    needed, comes from HF_TOKEN or `hf auth login`; HF_ENDPOINT and HF_HOME are honoured.
    """
    from ..download.run import run_download
    from ..layout import check_mirror

    config = pop_config(DownloadConfig, params)

    if config.mirror is not None:
        check_mirror(config.mirror)  # missing, or the folder above the repository copy: a usage error
    res = run_download(
        **config.kwargs(),
        local_dir=local_dir,
        dry_run=dry_run,
        verify=verify,
        show_progress=not as_json,
    )
    if as_json:
        emit_json(results.download(res.to_dict()))
        return
    for line in download_summary(res):
        click.echo(line)


def download_summary(res) -> list[str]:
    """A one-screen, human-readable account of a download result."""
    from ..download.run import human_bytes

    origin = f"mirror {res.mirror}" if res.origin == "mirror" else res.repo
    commit = res.resolved_commit[:12] if res.resolved_commit else "(no commit id)"
    rev = f" ({res.requested_revision})" if res.requested_revision else ""
    if res.verify_only:
        return [
            f"Verified {res.local_dir} ({origin} @ {commit}): {len(res.files_present)} files "
            f"and {res.frames_total} frames in {res.videos_total} videos match the manifest."
        ]
    if res.dry_run:
        todo = [e for e in res.plan if e["action"] not in ("present", "up to date")]
        lines = [f"Dry run: {origin} @ {commit}{rev} -> {res.local_dir}"]
        for e in todo[:40]:
            via = "  (HF cache)" if e.get("from") == "hf-cache" or e["action"] == "cache" else ""
            lines.append(f"  {e['action']:7s} {human_bytes(e['size']):>9s}  {e['path']}{via}")
        if len(todo) > 40:
            lines.append(f"  ... and {len(todo) - 40} more")
        present = len(res.plan) - len(todo)
        lines.append(f"  {len(todo)} file(s) to handle, {present} already present")
        lines.append(
            f"  to fetch: {human_bytes(res.bytes_to_fetch)}; disk needed: about "
            f"{human_bytes(res.bytes_needed)}; free: {human_bytes(res.free_bytes)}"
        )
        if res.frames_bytes_limit:
            lines.append(
                "  estimate:  frames are counted at their archives' size (JPEGs barely compress); "
                "their real size is known only once extracted. An archive expanding past "
                f"--max-expansion-ratio (or --max-extract-gb) is refused: {human_bytes(res.frames_bytes_limit)} at most"
            )
        if res.selected_sources:
            lines.append(
                f"  sources: {', '.join(res.selected_sources)} (available: {', '.join(res.available_sources)})"
            )
        if res.requested_video_ids:
            lines += _located_lines(res)
        if res.missing_files:
            lines.append(
                f"  offline:   {len(res.missing_files)} file(s) are neither in the local folder nor in the "
                "HF cache (marked missing); go online to fetch them"
            )
        return lines
    if res.up_to_date:
        return [
            f"Up to date{' (offline)' if res.offline else ''}: {res.local_dir} already holds {origin} @ {commit}{rev} "
            f"({len(res.files_present)} files, {res.frames_total} frames in {res.videos_total} "
            "videos); nothing fetched, nothing extracted.",
            f"  manifest: {res.manifest}",
        ]
    lines = [
        f"Downloaded {origin} @ {commit}{rev} -> {res.local_dir}",
        f"  fetched:   {len(res.files_fetched)} file(s), {human_bytes(res.bytes_fetched)}"
        f"; already present: {len(res.files_present)}",
    ]
    if res.files_from_cache:
        lines.append(
            f"  HF cache:  {len(res.files_from_cache)} file(s), {human_bytes(res.bytes_from_cache)} verified and "
            f"used from {res.hf_cache} instead of fetched"
        )
    if res.files_streamed and res.origin == "mirror":
        lines.append(f"  streamed:  {len(res.files_streamed)} archive file(s) read in place from the mirror")
    if res.files_unverified:
        lines.append(
            f"  note:      {len(res.files_unverified)} file(s) had no published hash; "
            "their sha256 is recorded in the manifest"
        )
    for src, info in sorted(res.sources_extracted.items()):
        lines.append(
            f"  extracted: {src:12s} {info['videos']:5d} videos {info['frames']:8d} frames  ({info['archive']})"
        )
    if res.sources_up_to_date:
        lines.append(f"  unchanged: {', '.join(res.sources_up_to_date)}")
    if res.archives_deleted:
        names = ", ".join(res.archives_deleted[:5]) + (", ..." if len(res.archives_deleted) > 5 else "")
        lines.append(
            f"  archives:  deleted {len(res.archives_deleted)} after extraction ({names}; "
            f"{human_bytes(res.bytes_deleted)} freed); --keep-archives keeps them"
        )
    if res.archives_kept:
        lines.append(
            f"  kept:      {len(res.archives_kept)} archive(s) that were already in the local folder "
            "(e.g. from `hf download`); tc139k deletes only archives it fetched"
        )
    if res.requested_video_ids:
        lines += _located_lines(res)
    if res.missing_video_ids:
        shown = ", ".join(res.missing_video_ids[:10])
        more = f" and {len(res.missing_video_ids) - 10} more" if len(res.missing_video_ids) > 10 else ""
        lines.append(f"  not found: {len(res.missing_video_ids)} requested video id(s): {shown}{more}")
    lines.append(f"  total:     {res.frames_total} frames in {res.videos_total} videos; {res.elapsed_s:.1f} s")
    lines.append(f"  manifest:  {res.manifest}")
    return lines


def _located_lines(res) -> list[str]:
    if res.video_sources is None:
        if res.dry_run:
            return [
                "  note:      the sources that hold the requested videos are read from the "
                "annotations, once fetched; until then every selected source is listed"
            ]
        return []
    holding = sorted({s for found in res.video_sources.values() for s in found})
    return [
        f"  located:   {len(res.video_sources)} of {res.requested_video_ids} requested video(s) in "
        f"the annotations, in: {', '.join(holding) or 'none'} (only these archives are fetched)"
    ]
