"""The `result` object of every command's `--json` envelope (see _common.py), made from the
library's result. The library's own dictionaries (run-summary.json, report.json, the
manifests) keep their shapes; this module alone decides what the command line promises, and
schemas/cli/<command>.json states it (tests/test_json_envelope.py holds the two together).

Conventions, the same in every result:

- Every key is always there, with one type: null when a value does not apply or is not
  known (a model of the pixel method, a commit of a mirror), 0 for a count of nothing, []
  and {} for empty lists and maps. No key appears or disappears with the data.
- Counts are `n_<things>` (n_videos, n_records, n_shards); a bare plural is the list of the
  things themselves (`shards`: one object per shard; `keyframes`: the key-frame seconds).
  A map from a key to a count is `n_<things>_by_<key>` (n_rows_by_split, n_records_by_reason).
  The one exception is a distribution summary (stats), {count, min, p10, median, mean, p90, max}.
- Sizes are in bytes and durations in seconds, and their names say so (`repo_bytes`,
  `elapsed_seconds`, `mean_interval_seconds`); a setting echoed from an option keeps the
  option's name (threshold, tolerance, target_interval, num_shards, shard_index).
- Paths on this machine are absolute (the path as given made absolute, symbolic links not
  resolved). Names inside a Hub repository (a download's files, a push's files) and frame
  paths as written in the QA records stay as they are there: relative, with `/`.
"""

from __future__ import annotations

import os
from pathlib import Path


def abspath(p) -> str | None:
    return None if p is None else os.path.abspath(os.fspath(p))


def _renamed(d: dict, names: dict[str, str]) -> dict:
    return {names.get(k, k): v for k, v in d.items()}


def _counts(d: dict) -> dict:
    """A map of counts whose keys are all counts: every key gets the `n_` prefix."""
    return {f"n_{k}": v for k, v in d.items()}


# ---- sample ------------------------------------------------------------------------------


def sample(d: dict) -> dict:
    """From SampleInfo.to_dict()."""
    return {
        "out_dir": abspath(d["out_dir"]),
        "repo_dir": abspath(d["repo_dir"]),
        "frames_dir": abspath(d["frames_dir"]),
        "ground_truth_path": abspath(d["ground_truth_path"]),
        "sources": list(d["sources"]),
        "n_videos": d["n_videos"],
        "n_frames": d["n_frames"],
        "n_qa_records": d["n_qa"],
        "repo_bytes": d["repo_bytes"],
    }


# ---- download ----------------------------------------------------------------------------

DOWNLOAD_NAMES = {
    "requested_video_ids": "n_requested_video_ids",
    "videos_total": "n_videos",
    "frames_total": "n_frames",
    "elapsed_s": "elapsed_seconds",
}


def download(d: dict) -> dict:
    """From DownloadResult.to_dict()."""
    out = _renamed(d, DOWNLOAD_NAMES)
    for key in ("local_dir", "manifest", "mirror", "hf_cache"):
        out[key] = abspath(out[key])
    out["plan"] = [
        {
            "path": e["path"],
            "bytes": e["size"],
            "kind": e["kind"],
            "source": e["source"],
            "action": e["action"],
            "from": e.get("from"),
        }
        for e in d["plan"]
    ]
    out["sources_extracted"] = {
        src: {"archive": info["archive"], **_counts({k: v for k, v in info.items() if k != "archive"})}
        for src, info in d["sources_extracted"].items()
    }
    return out


# ---- validate ----------------------------------------------------------------------------


def validate(res) -> dict:
    """From a ValidateResult."""
    paths = {i.name: abspath(i.path) for i in res.inputs}
    return {
        "passed": res.passed,
        "failure": res.failure(),
        "n_records": res.records,
        "n_valid": res.valid,
        "n_invalid": res.invalid,
        "n_not_downloaded": res.not_downloaded,
        "n_blank_lines": res.blank_lines,
        "max_invalid": res.max_invalid,
        "n_records_by_reason": dict(res.reasons),
        "examples_by_reason": {
            code: [{**ex, "file": paths.get(ex["file"], ex["file"])} for ex in examples]
            for code, examples in res.examples.items()
        },
        "n_records_by_ignored_field": dict(res.unknown_fields),
        "inputs": [abspath(i.path) for i in res.inputs],
        "outputs": {k: abspath(res.outputs.get(k)) for k in ("valid", "quarantine", "report")},
        "seconds": res.seconds,
    }


def validate_summary(d: dict) -> dict:
    """From ValidateResult.summary() (a recipe's validate stage)."""
    return {
        "n_records": d["records"],
        "n_valid": d["valid"],
        "n_invalid": d["invalid"],
        "n_not_downloaded": d.get("not_downloaded", 0),
        "n_records_by_reason": dict(d["reasons"]),
    }


# ---- keyframes ---------------------------------------------------------------------------

KEYFRAMES_NAMES = {
    "mean_interval": "mean_interval_seconds",
    "batches_scored": "n_batches_scored",
    "batches_reused": "n_batches_reused",
    "files_written": "n_files_written",
    "files_reused": "n_files_reused",
    "stale_removed": "n_stale_removed",
    "timings": "seconds_by_phase",
}


def keyframes_build(d: dict) -> dict:
    """From KeyframesResult.to_dict()."""
    out = _renamed(d, KEYFRAMES_NAMES)
    out["out_dir"] = abspath(d["out_dir"])
    out["files"] = [abspath(f) for f in d["files"]]
    return out


def keyframes_compare(d: dict) -> dict:
    """From CompareResult.to_dict()."""
    out = _renamed(d, {"matched": "n_matched", "pred_failed": "n_pred_failed"})
    out["pred"], out["ref"] = abspath(d["pred"]), abspath(d["ref"])
    out["videos"] = [_renamed(v, {"matched": "n_matched"}) for v in d["videos"]]
    return out


def keyframes_report(res) -> dict:
    """From a ReportResult."""
    return {
        "out_dir": abspath(res.out_dir),
        "index": abspath(Path(res.out_dir) / "index.html"),
        "n_videos": res.n_videos,
        "n_failed": res.n_failed,
        "n_thumbnails": res.n_thumbs,
        "n_sprites_made": res.sprites_made,
        "n_sprites_reused": res.sprites_reused,
        "n_files_written": res.files_written,
        "n_files_unchanged": res.files_unchanged,
        "n_files_removed": res.files_removed,
        "n_missing_frames": res.missing_frames,
        "n_qa_records": res.qa_records,
        "n_qa_records_shown": res.qa_records_shown,
        "videos_without_frames": list(res.videos_without_frames),
        "duplicate_videos": list(res.duplicates),
    }


# ---- shards ------------------------------------------------------------------------------


def shards_build(d: dict) -> dict:
    """From ShardsResult.to_dict()."""
    out = _renamed(
        d,
        {
            "records": "n_records",
            "rows": "n_rows_by_split",
            "quarantined": "n_quarantined",
            "reasons": "n_quarantined_by_reason",
            "written": "n_shards_written",
            "skipped": "n_shards_skipped",
            "frames_outside_root": "n_frames_outside_root",
        },
    )
    out["out_dir"] = abspath(d["out_dir"])
    if d["dtd"] is not None:
        out["dtd"] = _renamed(d["dtd"], {"token_frames": "n_token_frames_by_case", "gap_lengths": "n_gaps_by_length"})
    out["n_shards"] = len(d["shards"])
    out["shards"] = [
        {
            **_renamed(s, {"rows": "n_rows", "row_groups": "n_row_groups"}),
            "path": abspath(Path(d["out_dir"]) / s["path"]),
        }
        for s in d["shards"]
    ]
    return out


def shards_verify(d: dict) -> dict:
    """From VerifyResult.to_dict()."""
    return {
        "out_dir": abspath(d["out_dir"]),
        "ok": d["ok"],
        "n_shards": d["shards"],
        "n_rows": d["rows"],
        "problems": list(d["problems"]),
    }


def shards_push(d: dict, shards_dir) -> dict:
    """From PushResult.to_dict()."""
    out = _renamed(d, {"rows": "n_rows", "elapsed_s": "elapsed_seconds"})
    out["shards_dir"] = abspath(shards_dir)
    return out


# ---- stats -------------------------------------------------------------------------------

GROUP_NAMES = {"videos": "n_videos", "frames": "n_frames", "tokens": "n_tokens"}


def stats_redundancy(d: dict) -> dict:
    """From RedundancyStats.to_dict()."""
    out = _renamed(
        d,
        {
            **GROUP_NAMES,
            "videos_failed": "n_videos_failed",
            "failed_by_source": "n_failed_by_source",
            "stored_thresholds": "n_videos_by_stored_threshold",
        },
    )
    out["keyframes_dir"] = abspath(d["keyframes_dir"])
    out["plots"] = [abspath(p) for p in d["plots"]]
    out["by_source"] = {k: _renamed(g, GROUP_NAMES) for k, g in d["by_source"].items()}
    out["by_length"] = {k: _renamed(g, GROUP_NAMES) for k, g in d["by_length"].items()}
    out["stored_check"] = _renamed(
        d["stored_check"], {"videos_checked": "n_videos_checked", "videos_mismatched": "n_videos_mismatched"}
    )
    hist = d["frame_drop_ratio"]["histogram"]
    out["frame_drop_ratio"] = {**d["frame_drop_ratio"], "histogram": {"n_bins": hist["bins"], "counts": hist["counts"]}}
    out["keyframes"] = _renamed(d["keyframes"], {"videos": "n_videos"})
    return out


DATASET_NAMES = {
    "videos_on_disk": "n_videos_on_disk",
    "frames_on_disk": "n_frames_on_disk",
    "other_files_under_frames": "n_other_files_under_frames",
    "qa_records": "n_qa_records",
    "bad_lines": "n_bad_lines",
    "frame_references": "n_frame_references",
    "bad_frame_paths": "n_bad_frame_paths",
    "times": "n_records_by_time_problem",
}


def stats_dataset(d: dict) -> dict:
    """From DatasetStats.to_dict()."""
    out = _renamed(d, DATASET_NAMES)
    root = d["root"]
    out["root"] = abspath(root)
    out["qa_file"], out["frames_dir"] = abspath(d["qa_file"]), abspath(d["frames_dir"])
    out["annotation_files"] = [abspath(Path(root) / f) for f in d["annotation_files"]]
    out["by_source"] = {k: _counts(v) for k, v in d["by_source"].items()}
    out["missing"] = _counts(d["missing"])
    return out


# ---- export ------------------------------------------------------------------------------


def export_swift(d: dict) -> dict:
    """From SwiftExportResult.to_dict()."""
    return {
        "qa": abspath(d["qa"]),
        "frames_root": abspath(d["frames_root"]),
        "keyframes_only": d["keyframes_only"],
        "n_records": d["records"],
        "n_records_written": d["written"],
        "n_frames": d["frames"],
        "files": {k: abspath(v) for k, v in d["files"].items()},
        "n_rows_by_split": dict(d["rows"]),
        "n_skipped_by_reason": dict(d["skipped"]),
        "examples": list(d["examples"]),
    }


# ---- run and demo ------------------------------------------------------------------------


def _stage_summary(name: str, d: dict) -> dict:
    """A recipe stage's key figures, named as in the command's own result."""
    if name == "sample":
        return sample(d)
    if name == "download":
        return _renamed(d, DOWNLOAD_NAMES)
    if name == "validate":
        return validate_summary(d)
    if name == "keyframes":
        return _renamed(d, {"mean_interval": "mean_interval_seconds"})
    if name == "shards":
        return {
            "n_rows_by_split": d["rows"],
            "n_quarantined": d["quarantined"],
            "n_shards": d["shards"],
            "n_shards_written": d["written"],
            "n_shards_skipped": d["skipped"],
        }
    if name == "stats":
        dataset = d.get("dataset")
        return {
            "dataset": None if dataset is None else _renamed(dataset, DATASET_NAMES),
            "headline": d.get("headline"),
        }
    return dict(d)


def run(d: dict) -> dict:
    """From RunResult.to_dict()."""
    return {
        "recipe": abspath(d["recipe"]),
        "recipe_hash": d["recipe_hash"],
        "work_dir": abspath(d["work_dir"]),
        "run_summary": abspath(Path(d["work_dir"]) / "run-summary.json"),
        "engine": d["engine"],
        "num_shards": d["num_shards"],
        "shard_index": d["shard_index"],
        "notes": list(d["notes"]),
        "stages": [
            {
                "name": st["name"],
                "seconds": st["seconds"],
                "line": st["line"],
                "outputs": {k: abspath(v) for k, v in st["outputs"].items()},
                "summary": _stage_summary(st["name"], st["summary"]),
            }
            for st in d["stages"]
        ],
    }
