"""Command-line interface. Parses options, calls the library, prints the result.

Library functions return values; this module alone prints and chooses exit codes.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path

import click

from . import __version__
from .errors import Tc139kError


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


def handle_errors(fn):
    """Turn the toolkit's typed errors into `Error: ...` on stderr and their exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Tc139kError as e:
            click.echo(f"Error: {e}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted; rerun the same command to resume.", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="tc139k")
def main():
    """Dataset toolkit for TimeChat-Online-139K.

    Download the annotations and 1 fps frames, validate the records, rebuild the
    scene-oriented key frames with PySceneDetect and Differential Token Drop (DTD),
    write Parquet shards for training and report how redundant the video is.
    """


# ---- sample -------------------------------------------------------------------------------

@main.command("sample")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, help="Random seed of the generator.")
@click.option("--frames", "write_frames", is_flag=True,
              help="Also write the frames already extracted, under OUT_DIR/frames.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@handle_errors
def sample_cmd(out_dir: Path, seed: int, write_frames: bool, as_json: bool):
    """Generate the bundled miniature dataset in OUT_DIR.

    OUT_DIR/repo is a miniature TimeChat-Online-139K Hub repository (annotations, split
    frame archives); OUT_DIR/ground_truth.json holds the scene cuts the generator drew.
    """
    from .sample import build_sample

    info = build_sample(out_dir, seed=seed, write_frames=write_frames)
    if as_json:
        emit_json(info.to_dict())
        return
    click.echo(f"Sample dataset written to {out_dir}")
    click.echo(f"  repository:   {info.repo_dir}  ({info.repo_bytes / 1e6:.1f} MB)")
    click.echo(f"  videos:       {info.n_videos} from {len(info.sources)} sources ({', '.join(info.sources)})")
    click.echo(f"  frames:       {info.n_frames}")
    click.echo(f"  QA records:   {info.n_qa}")
    click.echo(f"  ground truth: {info.ground_truth_path}")
    if info.frames_dir:
        click.echo(f"  frames:       {info.frames_dir}")


# ---- shards -------------------------------------------------------------------------------

def _parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)[bB]?\s*", text)
    if not m:
        raise click.BadParameter(f"{text!r} is not a size such as 500MB, 2GB or 1000000")
    return int(float(m.group(1)) * {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[m.group(2).lower()])


@main.group("shards")
def shards_group():
    """Build and check Parquet shards for training."""


@shards_group.command("build")
@click.option("--qa", "qa", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="valid.parquet written by `tc139k validate --out`.")
@click.option("--keyframes", "keyframes_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Output folder of `tc139k keyframes`.")
@click.option("--frames-root", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder holding <source>/<video_id>/<NNNNNN>.jpg (the download's frames/).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: data/*.parquet, README.md (dataset card), manifest, quarantine.")
@click.option("--embed-frames", is_flag=True, help="Store the JPEG bytes in the shards (self-contained).")
@click.option("--keyframes-only", is_flag=True,
              help="Keep only the clip frames that stand for key frames (plus each clip's first frame).")
@click.option("--max-shard-size", default="500MB", show_default=True,
              help="Largest shard, estimated in memory (e.g. 500MB, 2GB).")
@click.option("--val-fraction", default=0.05, show_default=True, type=float,
              help="Share of videos (not records) that go to the validation split.")
@click.option("--format", "fmt", type=click.Choice(["messages", "flat"]), default="messages", show_default=True,
              help="messages: the ms-swift messages/videos layout; flat: question/answer columns only.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def shards_build_cmd(qa, keyframes_dir, frames_root, out_dir, embed_frames, keyframes_only,
                     max_shard_size, val_fraction, fmt, as_json):
    """Join validated QA records with the key-frame output into training shards.

    One row per QA record; split by video; deterministic, atomic and resumable. Records
    whose frames are missing go to OUT/quarantine.jsonl with the reason.
    """
    from .shards import run_shards_build

    res = run_shards_build(qa, keyframes_dir, frames_root, out_dir, embed_frames=embed_frames,
                           keyframes_only=keyframes_only, max_shard_size=_parse_size(max_shard_size),
                           val_fraction=val_fraction, fmt=fmt, show_progress=not as_json)
    if as_json:
        emit_json(res.to_dict())
        return
    click.echo(f"Shards in {res.out_dir} ({res.format} format"
               f"{', frames embedded' if res.embed_frames else ''}"
               f"{', key frames only' if res.keyframes_only else ''})")
    for split, n in res.rows.items():
        files = [s for s in res.shards if s.split == split]
        click.echo(f"  {split:<10} {n:>7} rows in {len(files)} shard(s), "
                   f"{sum(s.bytes for s in files) / 1e6:.1f} MB")
    click.echo(f"  written {res.written}, already done {res.skipped}")
    if res.quarantined:
        click.echo(f"  quarantined {res.quarantined} record(s): "
                   + ", ".join(f"{k} {v}" for k, v in res.reasons.items())
                   + f" (see {res.out_dir}/quarantine.jsonl)")
    click.echo(f"Load with: datasets.load_dataset({str(res.out_dir)!r})")


@shards_group.command("verify")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def shards_verify_cmd(out_dir, as_json):
    """Reopen every shard in OUT_DIR and check schema, rows and checksums against the manifest."""
    from .shards import verify_shards

    res = verify_shards(out_dir)
    if as_json:
        emit_json(res.to_dict())
    else:
        click.echo(f"{res.shards} shard(s), {res.rows} rows: " + ("OK" if res.ok else "PROBLEMS"))
        for p in res.problems:
            click.echo(f"  {p}")
    if not res.ok:
        sys.exit(1)


# ---- stats --------------------------------------------------------------------------------

@main.group("stats")
def stats_group():
    """Redundancy statistics of key-frame output, and counts of a downloaded dataset."""


@stats_group.command("redundancy")
@click.argument("keyframes_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--thresholds", default="0.1:0.9:0.1", show_default=True,
              help="DTD thresholds to sweep: a list (0.3,0.5,0.7) or a range START:STOP:STEP.")
@click.option("--threshold", type=float, default=None,
              help="Threshold of the headline figure, plots and timeline "
                   "[default: the threshold stored with the videos].")
@click.option("--by", type=click.Choice(["source", "length"]), default="source", show_default=True,
              help="Break the drop ratios down by source dataset or by video length "
                   "(<5, 5-10, 10-20, >=20 min).")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write PNG plots into this folder.")
@click.option("--video", default=None,
              help="Video id of the drop-ratio timeline plot [default: the longest video].")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@handle_errors
def stats_redundancy_cmd(keyframes_dir, thresholds, threshold, by, plot_dir, video, as_json):
    """Share of visual tokens DTD drops, from the scores stored in KEYFRAMES_DIR.

    Sweeps the thresholds without the model (token-weighted and mean over frames, overall,
    per source and per length bucket) and summarises key frames and trigger times beside
    the published figures.
    """
    from .stats import parse_thresholds, redundancy_stats

    result = redundancy_stats(keyframes_dir, thresholds=parse_thresholds(thresholds), by=by,
                              threshold=threshold, video=video, plot_dir=plot_dir,
                              show_progress=not as_json)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.text_report())


@stats_group.command("dataset")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--qa", "qa_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="QA file [default: ROOT/time_chat_online_139k_train_flt.jsonl].")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@handle_errors
def stats_dataset_cmd(root, qa_file, as_json):
    """Videos, frames and QA records per source of the dataset downloaded into ROOT.

    Also video durations, clip lengths, question and answer lengths, start/end times and
    the frames the QA records reference that are missing under ROOT/frames.
    """
    from .dataset_stats import dataset_stats

    result = dataset_stats(root, qa_file=qa_file, show_progress=not as_json)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.text_report())


# ---- keyframes ----------------------------------------------------------------------------

@main.group("keyframes", invoke_without_command=True)
@click.option("--frames-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding <source>/<video_id>/<NNNNNN>.jpg (1 fps frames, index = second).")
@click.option("--video-ids", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Only these videos of --frames-root: one `video_id` or `source/video_id` per line.")
@click.option("--video", "videos", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A video file to decode at 1 fps with decord (repeatable); video id = file name "
                   "without extension.")
@click.option("--source", "video_source", default=None,
              help="Source name for --video files [default: each file's parent folder name].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder for keyframes-NNNNN.parquet (required unless running `compare`).")
@click.option("--method", type=click.Choice(["feature", "pixel"]), default="feature", show_default=True,
              help="feature: cosine of CLIP patch tokens with the previous frame; pixel: mean absolute "
                   "RGB difference per 28 px cell of the 224 px frame (no model).")
@click.option("--model", default=None,
              help="Feature method: open_clip architecture [default: ViT-B-32; with local-dir: the "
                   "folder's config].")
@click.option("--pretrained", default=None,
              help="Feature method: open_clip tag (looked up in the local cache, downloaded if allowed), a checkpoint "
                   "file, or local-dir:FOLDER (open_clip_config.json + weights) [default: laion2b_s34b_b79k].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto: CUDA in half precision when available, else the CPU in fp32.")
@click.option("--threshold", type=float, default=None,
              help="DTD threshold tau for the stored drop ratios: feature drops a patch when its "
                   "cosine > tau (default 0.5, the authors'), pixel when its difference < tau "
                   "(default 0.05). Stored scores allow any other tau later.")
@click.option("--batch-size", default=32, show_default=True, type=int,
              help="Frames per encoder batch (feature method).")
@click.option("--scene-detector", type=click.Choice(["content", "adaptive", "histogram"]),
              default="content", show_default=True, help="PySceneDetect detector run over the 1 fps frames.")
@click.option("--scene-threshold", type=float, default=None,
              help="Detector threshold [default for 1 fps: content 27, adaptive 3.0, histogram 0.2].")
@click.option("--min-scene-len", "min_scene_seconds", type=float, default=3.0, show_default=True,
              help="Minimum scene length in seconds.")
@click.option("--target-interval", type=float, default=7.14, show_default=True,
              help="Mean key-frame interval in seconds the level is calibrated to, over all videos "
                   "of the run (7.14 s is the published figure).")
@click.option("--level", type=float, default=None,
              help="Fixed novelty level L (skips calibration): inside a scene, a key frame is due "
                   "when the summed novelty (1 - drop ratio) since the last one reaches L.")
@click.option("--min-gap", type=float, default=2.0, show_default=True,
              help="Minimum seconds between key frames inside a scene (scene starts always count).")
@click.option("--cell", type=int, default=28, show_default=True, help="Pixel method: cell size in px.")
@click.option("--num-workers", type=int, default=None,
              help="Background decoding threads [default: half the CPU cores, at least 1, at most 8].")
@click.option("--videos-per-file", type=int, default=64, show_default=True,
              help="Videos per output file; a finished file is never redone on a rerun.")
@click.option("--json", "as_json", is_flag=True,
              help="Print per video {video_id, n_frames, scene_cuts, keyframes, trigger_times} "
                   "(seconds) with a run summary, as JSON.")
@click.pass_context
@handle_errors
def keyframes_group(ctx, frames_root, video_ids, videos, video_source, out_dir, method, model, pretrained,
                    device, threshold, batch_size, scene_detector, scene_threshold, min_scene_seconds,
                    target_interval, level, min_gap, cell, num_workers, videos_per_file, as_json):
    """Rebuild scene-oriented key frames with PySceneDetect and DTD.

    \b
    tc139k keyframes --frames-root DIR [--video-ids FILE] --out OUT
    tc139k keyframes --video FILE [--video FILE ...] --out OUT
    tc139k keyframes compare PRED REF [--what keyframes|scene_cuts] [--tolerance S]

    Every frame is decoded once and shared by the scene detector and the encoder. DTD scores
    each patch against the same position of the previous frame and keeps the 8-bit scores.
    Key frames: every scene start, plus, inside a scene, the first frame at which the summed
    novelty (1 - drop ratio) since the last key frame reaches the level L, at least --min-gap
    seconds after it; L is calibrated so that the mean interval over the run (total span /
    number of key frames) is nearest --target-interval, unless --level fixes it. Trigger
    times: the 10 % of frames with the lowest drop ratio. Output: OUT/keyframes-NNNNN.parquet
    (schema keyframes.v1, provenance in the file metadata); OUT/.work keeps the scores so that
    another --threshold, --level or --target-interval reruns in seconds. Reruns skip finished
    work; an interrupted run resumes with byte-identical results.
    """
    if ctx.invoked_subcommand is not None:
        return
    if out_dir is None:
        raise click.UsageError("--out is required")
    from .keyframes import run_keyframes

    res = run_keyframes(
        out=out_dir, frames_root=frames_root, video_ids=video_ids, videos=list(videos) or None,
        video_source=video_source, method=method, model=model, pretrained=pretrained, device=device,
        threshold=threshold, batch_size=batch_size, scene_detector=scene_detector,
        scene_threshold=scene_threshold, min_scene_seconds=min_scene_seconds,
        target_interval=target_interval, level=level, min_gap=min_gap, cell=cell,
        num_workers=num_workers, videos_per_file=videos_per_file, show_progress=not as_json)
    if as_json:
        d = res.to_dict()
        d["videos"] = [{"video_id": v.video_id, "source": v.source, "status": v.status, "error": v.error,
                        "n_frames": v.n_frames, "n_bad_frames": v.n_bad_frames, "scene_cuts": v.scene_cuts,
                        "keyframes": v.keyframes, "trigger_times": v.trigger_times} for v in res.videos]
        emit_json(d)
        return
    model_text = (f"{res.model['model']} ({res.model['pretrained']}, {res.model['precision']})"
                  if res.model else "none")
    click.echo(f"Key frames in {res.out_dir}: {len(res.files)} file(s), {res.files_written} written, "
               f"{res.files_reused} already done")
    click.echo(f"  method {res.method}, model {model_text}, threshold {res.threshold:g}")
    click.echo(f"  videos {res.n_videos} ({res.n_ok} ok, {res.n_failed} failed), frames {res.n_frames}, "
               f"bad frames {res.n_bad_frames}")
    how = f"calibrated to {res.target_interval:g} s" if res.calibrated else "fixed"
    click.echo(f"  key frames {res.n_keyframes}, mean interval {res.mean_interval:.2f} s "
               f"(level {res.level:.4g}, {how})")
    for v in res.videos:
        if v.status != "ok":
            click.echo(f"  failed: {v.source}/{v.video_id}: {v.error}")


@keyframes_group.command("compare")
@click.argument("pred", type=click.Path(exists=True, path_type=Path))
@click.argument("ref", type=click.Path(exists=True, path_type=Path))
@click.option("--what", type=click.Choice(["keyframes", "scene_cuts"]), default="keyframes", show_default=True,
              help="Compare key frames or scene cuts.")
@click.option("--tolerance", type=float, default=1.0, show_default=True,
              help="Largest distance in seconds at which a predicted time matches a reference time.")
@click.option("--json", "as_json", is_flag=True, help="Print the result, with per-video counts, as JSON.")
@handle_errors
def keyframes_compare_cmd(pred, ref, what, tolerance, as_json):
    """Precision, recall and F1 of PRED against REF, matched one-to-one within --tolerance.

    PRED and REF may each be a key-frame output folder, the caption file
    annotations_caption_flt.jsonl (its caption times are key frames), a JSONL or Parquet
    table of video_id (+ source) and seconds, or a ground_truth.json of `tc139k sample`.
    """
    from .compare import compare_times

    res = compare_times(pred, ref, what=what, tolerance=tolerance)
    if as_json:
        emit_json(res.to_dict())
        return
    click.echo(f"{what} of {res.pred} ({res.pred_layout}) against {res.ref} ({res.ref_layout}), "
               f"tolerance {res.tolerance:g} s")
    click.echo(f"  videos compared {res.n_videos}; only in PRED {len(res.pred_only)}, only in REF "
               f"{len(res.ref_only)}, failed in PRED {res.pred_failed}")
    click.echo(f"  predicted {res.n_pred}, reference {res.n_ref}, matched {res.matched}")
    click.echo(f"  precision {res.precision:.3f}  recall {res.recall:.3f}  F1 {res.f1:.3f}")


# ---- download -----------------------------------------------------------------------------

@main.command("download")
@click.option("--repo", default="yaolily/TimeChat-Online-139K", show_default=True,
              help="Dataset repository on the Hub (wyccccc/TimeChat-Online-139K holds the "
                   "annotations only).")
@click.option("--revision", default=None,
              help="Branch, tag or commit to download (default: the default branch). The "
                   "commit it resolves to is pinned for the whole run and recorded.")
@click.option("--local-dir", default="./TimeChat-Online-139K", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder to download into; nothing is written outside it.")
@click.option("--mirror", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Read the repository from this local or network-mounted folder (same layout "
                   "as on the Hub) instead of the Hub.")
@click.option("--annotations-only", is_flag=True, help="Fetch the annotation files only, no frames.")
@click.option("--sources", default=None, metavar="A,B",
              help="Comma-separated source datasets whose frames to fetch (case-insensitive, "
                   "e.g. youcook2,COIN). Default: all.")
@click.option("--video-ids", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="File with one video id per line: extract only these videos' frames. Without "
                   "--sources, only the archives of the sources that hold them (read from the "
                   "annotations, which are fetched first) are fetched; archives are fetched whole.")
@click.option("--no-extract", is_flag=True, help="Fetch and verify the frame archives, do not extract them.")
@click.option("--keep-archives", is_flag=True,
              help="Keep the archives after extraction (default: delete them once extracted).")
@click.option("--max-workers", default=4, show_default=True, type=click.IntRange(min=1),
              help="Files transferred in parallel.")
@click.option("--max-member-mb", default=64, show_default=True, type=click.IntRange(min=1),
              help="Refuse archive members larger than this (MiB).")
@click.option("--dry-run", is_flag=True,
              help="Show what would be fetched and extracted, the sizes, the total and the free "
                   "disk; change nothing.")
@click.option("--verify", is_flag=True,
              help="Re-check the downloaded files (size and hash) and the frame count of every "
                   "video against the manifest; no network.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@handle_errors
def download_cmd(repo, revision, local_dir, mirror, annotations_only, sources, video_ids, no_extract,
                 keep_archives, max_workers, max_member_mb, dry_run, verify, as_json):
    """Download TimeChat-Online-139K: annotations, then each source's frame archive.

    Every file is checked against the size and hash the Hub publishes. Archives (split parts
    are streamed in order, never joined on disk) are extracted safely into
    LOCAL_DIR/frames/<source>/<video_id>/<NNNNNN>.jpg. A manifest records what is present:
    rerunning fetches only what is missing and resumes interrupted transfers. A token, when
    needed, comes from HF_TOKEN or `hf auth login`; HF_ENDPOINT and HF_HOME are honoured.
    """
    from .download import run_download

    res = run_download(
        repo=repo, revision=revision, local_dir=local_dir, mirror=mirror,
        annotations_only=annotations_only, sources=sources, video_ids=video_ids,
        no_extract=no_extract, keep_archives=keep_archives, max_workers=max_workers,
        max_member_bytes=max_member_mb * 1024 * 1024, dry_run=dry_run, verify=verify,
        show_progress=not as_json)
    if as_json:
        emit_json(res.to_dict())
        return
    for line in download_summary(res):
        click.echo(line)


def download_summary(res) -> list[str]:
    """A one-screen, human-readable account of a download result."""
    from .download import human_bytes

    origin = f"mirror {res.mirror}" if res.origin == "mirror" else res.repo
    commit = res.resolved_commit[:12] if res.resolved_commit else "(no commit id)"
    rev = f" ({res.requested_revision})" if res.requested_revision else ""
    if res.verify_only:
        return [f"Verified {res.local_dir} ({origin} @ {commit}): {len(res.files_present)} files "
                f"and {res.frames_total} frames in {res.videos_total} videos match the manifest."]
    if res.dry_run:
        todo = [e for e in res.plan if e["action"] not in ("present", "up to date")]
        lines = [f"Dry run: {origin} @ {commit}{rev} -> {res.local_dir}"]
        for e in todo[:40]:
            lines.append(f"  {e['action']:6s} {human_bytes(e['size']):>9s}  {e['path']}")
        if len(todo) > 40:
            lines.append(f"  ... and {len(todo) - 40} more")
        present = len(res.plan) - len(todo)
        lines.append(f"  {len(todo)} file(s) to handle, {present} already present")
        lines.append(f"  to fetch: {human_bytes(res.bytes_to_fetch)}; disk needed: about "
                     f"{human_bytes(res.bytes_needed)}; free: {human_bytes(res.free_bytes)}")
        if res.selected_sources:
            lines.append(f"  sources: {', '.join(res.selected_sources)} "
                         f"(available: {', '.join(res.available_sources)})")
        if res.requested_video_ids:
            lines += _located_lines(res)
        return lines
    if res.up_to_date:
        return [f"Up to date: {res.local_dir} already holds {origin} @ {commit}{rev} "
                f"({len(res.files_present)} files, {res.frames_total} frames in {res.videos_total} "
                "videos); nothing fetched, nothing extracted.",
                f"  manifest: {res.manifest}"]
    lines = [f"Downloaded {origin} @ {commit}{rev} -> {res.local_dir}",
             f"  fetched:   {len(res.files_fetched)} file(s), {human_bytes(res.bytes_fetched)}"
             f"; already present: {len(res.files_present)}"]
    if res.files_streamed:
        lines.append(f"  streamed:  {len(res.files_streamed)} archive file(s) read in place from the mirror")
    if res.files_unverified:
        lines.append(f"  note:      {len(res.files_unverified)} file(s) had no published hash; "
                     "their sha256 is recorded in the manifest")
    for src, info in sorted(res.sources_extracted.items()):
        lines.append(f"  extracted: {src:12s} {info['videos']:5d} videos {info['frames']:8d} frames"
                     f"  ({info['archive']})")
    if res.sources_up_to_date:
        lines.append(f"  unchanged: {', '.join(res.sources_up_to_date)}")
    if res.archives_deleted:
        lines.append(f"  archives:  {len(res.archives_deleted)} deleted after extraction "
                     "(--keep-archives keeps them)")
    if res.requested_video_ids:
        lines += _located_lines(res)
    if res.missing_video_ids:
        shown = ", ".join(res.missing_video_ids[:10])
        more = f" and {len(res.missing_video_ids) - 10} more" if len(res.missing_video_ids) > 10 else ""
        lines.append(f"  not found: {len(res.missing_video_ids)} requested video id(s): {shown}{more}")
    lines.append(f"  total:     {res.frames_total} frames in {res.videos_total} videos; "
                 f"{res.elapsed_s:.1f} s")
    lines.append(f"  manifest:  {res.manifest}")
    return lines


def _located_lines(res) -> list[str]:
    if res.video_sources is None:
        if res.dry_run:
            return ["  note:      the sources that hold the requested videos are read from the "
                    "annotations, once fetched; until then every selected source is listed"]
        return []
    holding = sorted({s for found in res.video_sources.values() for s in found})
    return [f"  located:   {len(res.video_sources)} of {res.requested_video_ids} requested video(s) in "
            f"the annotations, in: {', '.join(holding) or 'none'} (only these archives are fetched)"]


# ---- run / demo ---------------------------------------------------------------------------

def _print_run(res) -> None:
    click.echo(f"Recipe {res.recipe} (hash {res.recipe_hash}), engine {res.engine}"
               + (f", shard {res.shard_index + 1} of {res.num_shards}" if res.num_shards > 1 else ""))
    for st in res.stages:
        click.echo(f"  {st.name:<10} {st.seconds:>6.1f} s  {st.line}")
    for note in res.notes:
        click.echo(f"  note: {note}")
    click.echo("Outputs:")
    rows = [(f"{st.name}.{name}", path) for st in res.stages for name, path in st.outputs.items()]
    rows.append(("run summary", str(Path(res.work_dir) / "run-summary.json")))
    width = max(len(k) for k, _ in rows)
    for key, path in rows:
        click.echo(f"  {key:<{width}}  {path}")


def _stage_echo(as_json: bool):
    return None if as_json else (lambda name: click.echo(f"== {name}", err=True))


@main.command("run")
@click.argument("recipe")
@click.option("--out", "work_dir", default="tc139k-run", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for every stage's output (data/, validated/, keyframes/, shards/, stats/).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="ray: run the key-frame stage as a Ray Data pipeline (needs `pip install tc139k[ray]`; "
                   "joins the cluster in RAY_ADDRESS, else starts a local one).")
@click.option("--num-shards", default=1, show_default=True, type=click.IntRange(min=1),
              help="Split the videos into this many deterministic shares (e.g. a Slurm array).")
@click.option("--shard-index", default=0, show_default=True, type=click.IntRange(min=0),
              help="Which share this job processes, from 0.")
@click.option("--stages", "only", default=None,
              help="Comma-separated subset of the recipe's stages to run (e.g. keyframes).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@handle_errors
def run_cmd(recipe, work_dir, engine, num_shards, shard_index, only, as_json):
    """Run RECIPE: a shipped recipe name (default, annotations-only, sample) or a YAML file.

    Stages run in order: sample, download, validate, keyframes, shards, stats. With
    --num-shards N --shard-index I, the key-frame stage processes a deterministic 1/N of the
    videos; run the N jobs with --stages keyframes into the same --out, then the rest once.
    """
    from .pipeline import run_recipe

    if shard_index >= num_shards:
        raise click.BadParameter(f"must be below --num-shards ({num_shards})", param_hint="--shard-index")
    res = run_recipe(recipe, work_dir, engine=engine, num_shards=num_shards, shard_index=shard_index,
                     only=[s.strip() for s in only.split(",")] if only else None,
                     show_progress=not as_json, on_stage=_stage_echo(as_json))
    if as_json:
        emit_json(res.to_dict())
    else:
        _print_run(res)


@main.command("demo")
@click.option("--out", "work_dir", default="demo-out", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder for everything the demo writes.")
@click.option("--model", default=None, help="open_clip model name for the feature method (e.g. ViT-B-32).")
@click.option("--pretrained", default=None,
              help="Local open_clip weights (file or local-dir: folder). Without them the demo uses the pixel method.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@handle_errors
def demo_cmd(work_dir, model, pretrained, as_json):
    """Run the whole pipeline on the bundled sample (recipe `sample`), offline.

    Generates the sample, fetches it from a local mirror, validates, rebuilds key frames,
    builds shards and writes statistics with plots, then says where everything is.
    """
    from .pipeline import run_recipe

    overrides = {"keyframes": {"model": model, "pretrained": pretrained}}
    res = run_recipe("sample", work_dir, overrides=overrides, show_progress=not as_json,
                     on_stage=_stage_echo(as_json))
    if as_json:
        emit_json(res.to_dict())
        return
    _print_run(res)
    shards = Path(work_dir) / "shards"
    click.echo(f"Load the shards with: datasets.load_dataset({str(shards)!r})")


# ---- validate -----------------------------------------------------------------------------

@main.command("validate")
@click.argument("annotations", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--frames-root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Also check that every referenced frame exists under this folder "
                   "(<source>/<video_id>/<NNNNNN>.jpg).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write valid.parquet, quarantine.jsonl and report.json here "
                   "[default: only check, write nothing].")
@click.option("--max-invalid", type=click.IntRange(min=0), default=0, show_default=True,
              help="Exit 0 when at most this many records are invalid, 1 otherwise.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes checking records [default: one per CPU for large inputs, 1 for small].")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"records", "valid", "invalid", "reasons"} as JSON.')
@handle_errors
def validate_cmd(annotations, frames_root, out_dir, max_invalid, workers, as_json):
    """Check QA annotation files (JSON Lines) and write the normalised table.

    Every problem names the file and line: invalid JSON or UTF-8, missing or mistyped
    fields, roles, <video> tags against frame lists, frame paths, frame order, start/end
    times, empty questions or answers, exact duplicates and, with --frames-root, missing
    frames. Every record ends up in valid.parquet or in quarantine.jsonl with its reasons.
    """
    from .validate import run_validate

    res = run_validate(list(annotations), frames_root=frames_root, out_dir=out_dir,
                       max_invalid=max_invalid, workers=workers, show_progress=not as_json)
    if as_json:
        emit_json(res.summary())
    else:
        for line in validate_summary(res):
            click.echo(line)
    if not res.passed:
        sys.exit(1)


def validate_summary(res) -> list[str]:
    lines = [f"{res.records} record(s) in {len(res.inputs)} file(s): {res.valid} valid, "
             f"{res.invalid} invalid" + (f", {res.blank_lines} blank line(s) skipped" if res.blank_lines else "")
             + f"  ({res.seconds:.1f} s)"]
    if res.reasons:
        width = max(len(code) for code in res.reasons)
        lines.append("")
        lines.append(f"{'reason':<{width}}  records")
        for code, n in sorted(res.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"{code:<{width}}  {n:>7}")
        for code, n in sorted(res.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
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
        lines.append("")
        lines.append(f"FAILED: {res.invalid} invalid record(s), more than --max-invalid {res.max_invalid}")
    return lines


if __name__ == "__main__":  # pragma: no cover
    main()
