"""`tc139k keyframes build`: rebuild key frames; `compare`: against a reference; `list`: the
scenes as CSV or JSON; `report`: a static HTML report to look at."""

from __future__ import annotations

from pathlib import Path

import click

from ..keyframes.config import KeyframesConfig
from . import _results as results
from ._common import JSON_HELP, emit_json, examples, handle_errors
from ._options import options_from, pop_config

OPTION_NAMES = {"min_scene_seconds": "--min-scene-len"}


@click.group("keyframes", short_help="Rebuild key frames, score, list them, report them in HTML.")
def keyframes_group():
    """Rebuild scene-oriented key frames (build), score them against a reference (compare),
    list their scenes as CSV or JSON (list) and look at them in a static HTML report (report)."""


@keyframes_group.command(
    "build",
    epilog=examples(
        "tc139k keyframes build --frames-root data/frames --out keyframes",
        "tc139k keyframes build --frames-root data/frames --method pixel --out keyframes",
        "tc139k keyframes build --video clip.mp4 --out kf",
        "tc139k keyframes build --frames-root data/frames --encoder qwen2.5-vl --pretrained local-dir:MODEL --out kf",
    ),
)
@click.option(
    "--frames-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding <source>/<video_id>/<NNNNNN>.jpg (1 fps frames, index = second).",
)
@click.option(
    "--video-ids",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Only these videos of --frames-root: one `video_id` or `source/video_id` per line.",
)
@click.option(
    "--video",
    "videos",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A video file to decode at 1 fps with decord (repeatable); video id = file name without extension.",
)
@click.option(
    "--source",
    "video_source",
    default=None,
    help="Source name for --video files [default: each file's parent folder name].",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder for keyframes-NNNNN.parquet.",
)
@options_from(KeyframesConfig, names=OPTION_NAMES)
@click.option(
    "--accept-calibration-miss",
    is_flag=True,
    help="Exit 0 even when calibration cannot bring the mean interval within 5 % (or one key "
    "frame) of --target-interval (the scores allow no such level; the summary says so either way).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help=JSON_HELP[:-1] + "; the result has per video {video_id, n_frames, scene_cuts, keyframes, trigger_times} "
    "(seconds) with a run summary.",
)
@handle_errors
def keyframes_build_cmd(frames_root, video_ids, videos, video_source, out, accept_calibration_miss, as_json, **params):
    """Rebuild scene-oriented key frames with PySceneDetect and DTD.

    \b
    tc139k keyframes build --frames-root DIR [--video-ids FILE] --out OUT
    tc139k keyframes build --video FILE [--video FILE ...] --out OUT

    Every frame is decoded once and shared by the scene detector and the encoder. DTD scores
    each patch against the same position of the previous frame and keeps the 8-bit scores.
    Key frames: every scene start, plus, inside a scene, the first frame at which the summed
    novelty (1 - drop ratio) since the last key frame reaches the level L, at least --min-gap
    seconds after it; L is calibrated so that the mean interval over the run (total span /
    number of key frames) is nearest --target-interval, unless --level fixes it. Trigger
    times: the 10 % of frames with the lowest drop ratio. Output: OUT/keyframes-NNNNN.parquet
    (schema keyframes.v2, provenance in the file metadata); OUT/.work keeps the scores so that
    another --threshold, --level or --target-interval reruns in seconds. Reruns skip finished
    work; an interrupted run resumes with byte-identical results.
    """
    from ..errors import CheckFailedError
    from ..keyframes.build import run_keyframes
    from ..keyframes.interval import DEFINITION

    config = pop_config(KeyframesConfig, params, names=OPTION_NAMES)

    res = run_keyframes(
        out=out,
        frames_root=frames_root,
        video_ids=video_ids,
        videos=list(videos) or None,
        video_source=video_source,
        config=config,
        show_progress=not as_json,
    )
    if as_json:  # the notes are in the result: stdout stays one JSON document
        emit_json(results.keyframes_build({**res.to_dict(), "calibration_note": res.calibration_note()}))
    else:
        _summary_text(res, DEFINITION)
        for note in (res.method_note, res.calibration_note()):
            if note:
                click.echo(f"Note: {note}", err=True)
    if res.calibration_miss() and not accept_calibration_miss:
        raise CheckFailedError(
            f"{res.calibration_miss()}; pass --accept-calibration-miss to keep them, or change "
            "--target-interval, --threshold or --min-gap (or the model: random weights leave only scene starts)"
        )


def _summary_text(res, definition: str) -> None:
    from ..keyframes.build import model_words

    model_text = model_words(res.model)
    click.echo(
        f"Key frames in {res.out_dir}: {len(res.files)} file(s), {res.files_written} written, "
        f"{res.files_reused} already done"
    )
    click.echo(f"  method {res.method}, model {model_text}, threshold {res.threshold:g}")
    click.echo(
        f"  videos {res.n_videos} ({res.n_ok} ok, {res.n_failed} failed), frames {res.n_frames}, "
        f"bad frames {res.n_bad_frames}"
    )
    if not res.calibrated:
        how = "fixed level"
    elif res.target_reached:
        how = f"calibrated to {res.target_interval:g} s"
    else:
        how = f"target {res.target_interval:g} s NOT reached: no level gets there with these scores"
    click.echo(
        f"  key frames {res.n_keyframes}, mean interval {res.mean_interval:.2f} s (level {res.level:.4g}, {how})"
    )
    click.echo(f"  mean interval = {definition}")
    for v in res.videos:
        if v.status != "ok":
            click.echo(f"  failed: {v.source}/{v.video_id}: {v.error}")


@keyframes_group.command("compare", short_help="Score key frames or scene cuts against a reference.")
@click.argument("pred", type=click.Path(exists=True, path_type=Path))
@click.argument("ref", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--what",
    type=click.Choice(["keyframes", "scene_cuts"]),
    default="keyframes",
    show_default=True,
    help="Compare key frames or scene cuts.",
)
@click.option(
    "--tolerance",
    type=float,
    default=1.0,
    show_default=True,
    help="Largest distance in seconds at which a predicted time matches a reference time.",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def keyframes_compare_cmd(pred, ref, what, tolerance, as_json):
    """Precision, recall and F1 of PRED against REF, matched one-to-one within --tolerance.

    PRED and REF may each be a key-frame output folder, the caption file
    annotations_caption_flt.jsonl (its caption times are key frames), a JSONL or Parquet
    table of video_id (+ source) and seconds, or a ground_truth.json of `tc139k sample`.
    """
    from ..keyframes.compare import compare_times

    res = compare_times(pred, ref, what=what, tolerance=tolerance)
    if as_json:
        emit_json(results.keyframes_compare(res.to_dict()))
        return
    click.echo(
        f"{what} of {res.pred} ({res.pred_layout}) against {res.ref} ({res.ref_layout}), tolerance {res.tolerance:g} s"
    )
    click.echo(
        f"  videos compared {res.n_videos}; only in PRED {len(res.pred_only)}, only in REF "
        f"{len(res.ref_only)}, failed in PRED {res.pred_failed}"
    )
    click.echo(f"  predicted {res.n_pred}, reference {res.n_ref}, matched {res.matched}")
    click.echo(f"  precision {res.precision:.3f}  recall {res.recall:.3f}  F1 {res.f1:.3f}")


@keyframes_group.command("list", short_help="List scenes, cuts, key frames and trigger times as CSV or JSON.")
@click.argument("keyframes_dir", metavar="KEYFRAMES", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="csv: one row per scene; json: one object per video with its scenes.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the listing to this file (atomically) [default: standard output].",
)
@handle_errors
def keyframes_list_cmd(keyframes_dir, fmt, out):
    """The scenes of every video of the key-frame folder KEYFRAMES, one row per scene (as
    PySceneDetect's list-scenes), with the key frames and trigger times inside each.

    \b
    tc139k keyframes list keyframes > scenes.csv
    tc139k keyframes list keyframes --format json --out scenes.json

    \b
    CSV columns:
      source, video_id, status   the video; a failed video gets one row, no scene
      scene                      scene number, from 1
      start_seconds, end_seconds, length_seconds
                                 [start, end): a scene ends where the next starts,
                                 the last 1 s after its last frame (1 fps)
      start_timecode, end_timecode   the same as HH:MM:SS.mmm
      n_frames                   frames of the scene that were scored
      starts_with                video (first scene), cut or transition
      transition_start, transition_end   the gradual transition that opened it
      n_keyframes, keyframe_seconds      key frames in the scene (space-separated)
      trigger_seconds            trigger times in the scene (space-separated)
      error                      why a failed video failed

    JSON: {"videos": [{source, video_id, status, error, n_frames, duration_seconds,
    scene_cuts, transitions, keyframes, trigger_times, scenes: [...]}]}, each scene with the
    CSV's fields (transition as [start, end] or null). Times are in seconds.
    """
    import sys

    from ..keyframes.listing import list_scenes

    res = list_scenes(keyframes_dir, fmt, out, stream=None if out else sys.stdout)
    if out is not None:
        failed = f" ({res.n_failed} failed)" if res.n_failed else ""
        click.echo(f"Listed {res.n_scenes} scene(s) of {res.n_videos} video(s){failed} to {out} ({fmt})")


@keyframes_group.command("report", short_help="Write a static HTML report of the key frames to look at.")
@click.argument("keyframes_dir", metavar="KEYFRAMES", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--frames-root",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder holding <source>/<video_id>/<NNNNNN>.jpg: the frames the thumbnails are made from.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder (new, empty, or an earlier report; not inside --frames-root).",
)
@click.option(
    "--qa",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="valid.parquet written by `tc139k validate --out`: each page shows the spans of the QA records of its video.",
)
@click.option("--thumb-width", type=int, default=96, show_default=True, help="Thumbnail width in pixels (16 to 640).")
@click.option(
    "--max-thumbs",
    type=int,
    default=100,
    show_default=True,
    help="Thumbnails per video, beyond the key frames, cut and transition frames that are always shown.",
)
@click.option("--num-workers", type=int, default=2, show_default=True, help="Threads that decode frames.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def keyframes_report_cmd(keyframes_dir, frames_root, out, qa, thumb_width, max_thumbs, num_workers, as_json):
    """A static HTML report of the key-frame folder KEYFRAMES in OUT: open OUT/index.html in a
    browser (relative links, no server, no network; copy or zip OUT as a whole).

    \b
    tc139k keyframes report keyframes --frames-root data/frames --out report
    tc139k keyframes report keyframes --frames-root data/frames --qa validated/valid.parquet --out report

    The index lists every video with a search box, source and status filters, sort orders and
    a pager (workable at 11,000 videos). Each video's page has the drop-ratio curve with the
    trigger times, scene cuts and transitions, the key frames and the QA record spans on one
    timeline (inline SVG), a strip of thumbnails (key frames outlined, cuts and transitions
    marked; every frame of a short video, else the key, cut and transition frames plus evenly
    spaced ones up to --max-thumbs), the times as text and the QA records. OUT/scenes.csv is
    the listing of `tc139k keyframes list`. Thumbnails are one JPEG sprite per video (about
    100-250 KB at the defaults). A rerun gives the same bytes, reuses the thumbnails of
    unchanged frames and removes the pages of videos no longer in KEYFRAMES.
    """
    from ..keyframes.report import QA_COLUMNS, QA_OPTIONAL, build_report
    from ..validate.table import read_valid_table

    qa_rows = read_valid_table(qa, QA_COLUMNS, QA_OPTIONAL) if qa is not None else None
    res = build_report(
        keyframes_dir,
        frames_root,
        out,
        qa_rows=qa_rows,
        thumb_width=thumb_width,
        max_thumbs=max_thumbs,
        workers=num_workers,
        show_progress=not as_json,
    )
    if as_json:
        emit_json(results.keyframes_report(res))
        return
    failed = f" ({res.n_failed} failed)" if res.n_failed else ""
    click.echo(f"Report in {out / 'index.html'}: {res.n_videos} video(s){failed}")
    click.echo(
        f"  thumbnails {res.n_thumbs} ({res.sprites_made} sprite(s) made, {res.sprites_reused} reused), "
        f"files {res.files_written} written, {res.files_unchanged} unchanged, {res.files_removed} removed"
    )
    if qa is not None:
        other = res.qa_records - res.qa_records_shown
        click.echo(
            f"  QA records {res.qa_records_shown} shown" + (f", {other} on videos not in KEYFRAMES" if other else "")
        )
    if res.videos_without_frames:
        names = ", ".join(res.videos_without_frames[:5])
        more = f" and {len(res.videos_without_frames) - 5} more" if len(res.videos_without_frames) > 5 else ""
        click.echo(f"  no frames under {frames_root} for {len(res.videos_without_frames)} video(s): {names}{more}")
    if res.missing_frames:
        click.echo(f"  {res.missing_frames} thumbnail frame(s) missing or unreadable (hatched tiles)")
