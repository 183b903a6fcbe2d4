"""The library entry points behind `import tc139k`: one function per command, with the
command's options as keyword arguments under the options' own names (`--out` is `out`,
`--keyframes` is `keyframes`, `--frames-root` is `frames_root`, `--qa` is `qa`, `--plot` is
`plot`), the same defaults, and the command's result object instead of its printout.
`show_progress` replaces `--json`'s silence. Errors are the typed errors of tc139k.errors,
as in the CLI. Earlier keyword names (`out_dir`, `keyframes_dir`, `qa_file`, `plot_dir`) are
still taken, with a DeprecationWarning.

    import tc139k
    tc139k.download_dataset(local_dir="data", annotations_only=True)
    tc139k.validate_qa(["data/time_chat_online_139k_train_flt.jsonl"], out="validated")
    tc139k.build_keyframes(frames_root="data/frames", out="keyframes", method="pixel")
    tc139k.build_shards("validated/valid.parquet", "keyframes", "data/frames", "shards")
    tc139k.redundancy_stats("keyframes").text_report()

The names differ from the commands' where a subpackage has the command's name
(`tc139k.download` is the package). Each function imports its stage when called, so
`import tc139k` stays light.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from pathlib import Path

from .shards import plan

PathLike = str | Path


def _renamed(**old_to_new: str):
    """Take a parameter's earlier keyword name too, with a DeprecationWarning."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {old!r} and its new name {new!r}")
                    warnings.warn(f"{fn.__name__}({old}=...) is now {new}=...", DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return inner

    return wrap


def download_dataset(
    repo: str = "yaolily/TimeChat-Online-139K",
    revision: str | None = None,
    local_dir: PathLike = "./TimeChat-Online-139K",
    mirror: PathLike | None = None,
    annotations_only: bool = False,
    sources: str | Sequence[str] | None = None,
    video_ids: PathLike | None = None,
    no_extract: bool = False,
    keep_archives: bool = False,
    offline: bool = False,
    no_hf_cache: bool = False,
    max_workers: int = 4,
    max_member_mb: int = 64,
    max_expansion_ratio: float = 10.0,
    max_extract_gb: float | None = None,
    timeout: float = 30.0,
    max_wait: float = 300.0,
    dry_run: bool = False,
    verify: bool = False,
    show_progress: bool = True,
):
    """`tc139k download`: annotations and frame archives into `local_dir`; returns the
    DownloadResult (what was fetched, extracted, and the manifest's path)."""
    from .download.run import run_download

    return run_download(
        repo=repo,
        revision=revision,
        local_dir=local_dir,
        mirror=mirror,
        annotations_only=annotations_only,
        sources=sources,
        video_ids=video_ids,
        no_extract=no_extract,
        keep_archives=keep_archives,
        max_workers=max_workers,
        max_member_bytes=max_member_mb * 1024 * 1024,
        max_expansion_ratio=max_expansion_ratio,
        max_extract_bytes=None if max_extract_gb is None else int(max_extract_gb * 1e9),
        timeout=timeout,
        max_wait=max_wait,
        dry_run=dry_run,
        verify=verify,
        show_progress=show_progress,
        offline=offline or None,
        use_hf_cache=not no_hf_cache,
    )


@_renamed(out_dir="out")
def validate_qa(
    annotations: PathLike | Sequence[PathLike],
    frames_root: PathLike | None = None,
    frames_scope: str | None = None,
    out: PathLike | None = None,
    max_invalid: int = 0,
    workers: int | None = None,
    include_other: bool = False,
    show_progress: bool = True,
):
    """`tc139k validate`: check QA files (one path or several, or a download folder: its QA
    files; OtherTrainingDataset/*.jsonl only with `include_other`); with `out`, write
    valid.parquet, quarantine.jsonl and report.json. Returns the ValidateResult (its
    `passed` is what the command's exit code says)."""
    from .validate.inputs import choose_qa_files
    from .validate.run import run_validate

    paths = [annotations] if isinstance(annotations, str | Path) else list(annotations)
    files, _ = choose_qa_files(paths, include_other=include_other)
    return run_validate(
        files,
        frames_root=frames_root,
        frames_scope=frames_scope,
        out_dir=out,
        max_invalid=max_invalid,
        workers=workers,
        show_progress=show_progress,
    )


@_renamed(out_dir="out")
def build_keyframes(
    out: PathLike,
    frames_root: PathLike | None = None,
    video_ids: PathLike | None = None,
    videos: Sequence[PathLike] = (),
    video_source: str | None = None,
    method: str = "auto",
    encoder: str = "open_clip",
    model: str | None = None,
    pretrained: str | None = None,
    device: str = "auto",
    threshold: float | None = None,
    batch_size: int = 32,
    scene_detector: str = "content",
    scene_rule: str = "combined",
    scene_threshold: float | None = None,
    min_scene_seconds: float = 1.0,
    target_interval: float = 7.14,
    level: float | None = None,
    keyframe_novelty: str = "motion",
    min_gap: float = 2.0,
    cell: int = 28,
    min_pixels: int = 100352,
    max_pixels: int = 105369,
    num_workers: int | None = None,
    videos_per_file: int = 64,
    accept_calibration_miss: bool = False,
    show_progress: bool = True,
):
    """`tc139k keyframes build`: scene cuts, DTD scores, key frames and trigger times of the
    frame folders under `frames_root` (or the video files `videos`) into `out`. Returns
    the KeyframesResult. As the command, raises when calibration cannot bring the mean
    interval near `target_interval` (the key frames are written), unless
    `accept_calibration_miss`."""
    from .errors import CheckFailedError
    from .keyframes.build import run_keyframes

    res = run_keyframes(
        out=out,
        frames_root=frames_root,
        video_ids=video_ids,
        videos=list(videos) or None,
        video_source=video_source,
        method=method,
        encoder=encoder,
        model=model,
        pretrained=pretrained,
        device=device,
        threshold=threshold,
        batch_size=batch_size,
        scene_detector=scene_detector,
        scene_threshold=scene_threshold,
        min_scene_seconds=min_scene_seconds,
        scene_rule=scene_rule,
        target_interval=target_interval,
        level=level,
        keyframe_novelty=keyframe_novelty,
        min_gap=min_gap,
        cell=cell,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        num_workers=num_workers,
        videos_per_file=videos_per_file,
        show_progress=show_progress,
    )
    if res.calibration_miss() and not accept_calibration_miss:
        raise CheckFailedError(
            f"{res.calibration_miss()}; pass accept_calibration_miss=True to keep them, or change "
            "target_interval, threshold or min_gap"
        )
    return res


def _size(value: int | str) -> int:
    return plan.parse_size(value) if isinstance(value, str) else int(value)


@_renamed(keyframes_dir="keyframes", out_dir="out")
def build_shards(
    qa: PathLike,
    keyframes: PathLike,
    frames_root: PathLike,
    out: PathLike,
    embed_frames: bool = False,
    keyframes_only: bool = False,
    max_shard_size: int | str = plan.DEFAULT_MAX_SHARD_SIZE,
    min_shards: int = plan.DEFAULT_MIN_SHARDS,
    row_group_bytes: int | str = plan.DEFAULT_ROW_GROUP_BYTES,
    row_group_rows: int | None = None,
    val_fraction: float = plan.DEFAULT_VAL_FRACTION,
    format: str = "messages",
    dtd_scores: bool = False,
    show_progress: bool = True,
):
    """`tc139k shards build`: Parquet shards of the validated records joined with the key
    frames, split by video, into `out` (sizes as bytes or text such as "500MB"); with
    `dtd_scores`, each row's DTD levels per visual token (`ClipCollator(dtd_tau=...)`).
    Returns the ShardsResult; `datasets.load_dataset(out)` reads the output."""
    from .shards.build import run_shards_build

    return run_shards_build(
        qa,
        keyframes,
        frames_root,
        out,
        embed_frames=embed_frames,
        keyframes_only=keyframes_only,
        max_shard_size=_size(max_shard_size),
        min_shards=min_shards,
        row_group_bytes=_size(row_group_bytes),
        row_group_rows=row_group_rows,
        val_fraction=val_fraction,
        fmt=format,
        dtd_scores=dtd_scores,
        show_progress=show_progress,
    )


@_renamed(plot_dir="plot")
def redundancy_stats(
    keyframes_dir: PathLike,
    thresholds: str | Sequence[float] | None = None,
    threshold: float | None = None,
    by: str = "source",
    plot: PathLike | None = None,
    video: str | None = None,
    show_progress: bool = True,
    plot_format: str = "png",
):
    """`tc139k stats redundancy`: the share of visual tokens DTD drops, from the scores stored
    in `keyframes_dir`, over a sweep of thresholds. Returns the RedundancyStats
    (`.text_report()` is the command's printout, `.to_dict()` its --json)."""
    from .stats.redundancy import redundancy_stats as run

    return run(
        keyframes_dir,
        thresholds=thresholds,
        by=by,
        threshold=threshold,
        video=video,
        plot_dir=plot,
        show_progress=show_progress,
        plot_format=plot_format,
    )


@_renamed(qa_file="qa")
def dataset_stats(
    root: PathLike | None = None,
    frames_root: PathLike | None = None,
    qa: PathLike | None = None,
    show_progress: bool = True,
):
    """`tc139k stats dataset`: videos, frames and QA records per source of a download (its
    folder `root`, or `frames_root` and/or `qa`: the QA file as downloaded or the valid.parquet
    of `validate_qa`). Returns the DatasetStats."""
    from .stats.dataset import dataset_stats as run

    return run(root, qa_file=qa, frames_root=frames_root, show_progress=show_progress)


@_renamed(keyframes_dir="keyframes")
def export_swift(
    qa: PathLike,
    frames_root: PathLike,
    out: PathLike,
    keyframes: PathLike | None = None,
    keyframes_only: bool = False,
    split: bool = False,
    val_fraction: float = plan.DEFAULT_VAL_FRACTION,
    show_progress: bool = True,
):
    """`tc139k export swift`: the validated records as ms-swift JSONL with absolute frame
    paths (`swift sft --dataset OUT`). Returns the SwiftExportResult."""
    from .export.swift import run_export_swift

    return run_export_swift(
        qa,
        frames_root,
        out,
        keyframes_dir=keyframes,
        keyframes_only=keyframes_only,
        split=split,
        val_fraction=val_fraction,
        show_progress=show_progress,
    )
