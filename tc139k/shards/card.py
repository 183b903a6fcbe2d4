"""The dataset card written beside the shards: DATASET_CARD.md with the computed counts and
a YAML header (`configs`, `dataset_info`) that lets `datasets.load_dataset(out_dir)` find the
splits and decode the features with no arguments."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import yaml

COUNTS_BLOCK = re.compile(r"<!-- tc139k:counts -->.*?<!-- /tc139k:counts -->", re.S)
# The annotations and frames are used under the upstream repository's LICENSE file; the Hub
# wants a name and a link with `license: other`.
LICENSE = {
    "license": "other",
    "license_name": "timechat-online-139k",
    "license_link": "https://huggingface.co/datasets/yaolily/TimeChat-Online-139K/blob/main/LICENSE",
}


def card_template() -> str:
    try:
        return (resources.files("tc139k") / "DATASET_CARD.md").read_text(encoding="utf-8")
    except FileNotFoundError:  # source checkout without the link
        return (Path(__file__).resolve().parents[2] / "DATASET_CARD.md").read_text(encoding="utf-8")


def _counts_table(
    rows: dict,
    n_videos: dict,
    shards,
    quarantined: int,
    fmt: str,
    embed_frames: bool,
    keyframes_only: bool,
    provenance: dict,
    dtd: dict | None = None,
    dtd_bytes: int = 0,
) -> str:
    kf = provenance.get("keyframes_provenance") or {}
    lines = [
        "| split | records | videos | shards | size, MB | largest shard, MB | row groups | largest row group, MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for split, n in rows.items():
        mine = [s for s in shards if s.split == split]
        lines.append(
            f"| {split} | {n} | {n_videos[split]} | {len(mine)} | {sum(s.bytes for s in mine) / 1e6:.1f} | "
            f"{max((s.bytes for s in mine), default=0) / 1e6:.1f} | {sum(s.row_groups for s in mine)} | "
            f"{max((s.max_row_group_bytes for s in mine), default=0) / 1e6:.1f} |"
        )
    rg_bytes, rg_rows = provenance.get("row_group_bytes"), provenance.get("row_group_rows")
    lines += [
        "",
        f"Format `{fmt}`; frames {'embedded' if embed_frames else 'referenced by path'}; "
        f"{'key frames only' if keyframes_only else 'all clip frames'}. "
        f"{quarantined} record(s) were left out and are listed with their reason in `quarantine.jsonl`.",
    ]
    if rg_bytes and rg_rows:
        lines += [
            "",
            f"Row groups hold at most {rg_rows} rows and about {rg_bytes / 1e6:.0f} MB in memory (sizes above are "
            "on disk; row-group sizes are Parquet's uncompressed figures), so a streaming reader holds one "
            "row group at a time.",
        ]
    if kf:
        lines.append("")
        lines.append(
            "Key-frame run: "
            + ", ".join(
                f"{k} `{kf[k]}`"
                for k in ("method", "model", "pretrained", "threshold", "scene_detector")
                if kf.get(k) is not None
            )
            + "."
        )
    if dtd:
        lines += ["", _dtd_sentence(dtd, dtd_bytes, sum(s.bytes for s in shards))]
    return "\n".join(lines)


def _dtd_sentence(dtd: dict, dtd_bytes: int, total_bytes: int) -> str:
    """What --dtd-scores stored, what it costs, and how often each case of the gap rule occurs."""
    kinds = ", ".join(dtd["kinds"]) or "none"
    scorer = f"cosine of {dtd['encoder']} tokens" if dtd["encoder"] else "pixel mean absolute difference"
    grids = ", ".join(f"{h} x {w}" for h, w in dtd["grids"]) or "none"
    cases = dtd["token_frames"]
    total = sum(cases.values()) or 1
    share = ", ".join(f"{k} {v} ({v / total * 100:.1f} %)" for k, v in cases.items())
    gaps = ", ".join(f"{k}: {v}" for k, v in dtd["gap_lengths"].items()) or "none"
    return (
        f"DTD levels (`--dtd-scores`): score kind {kinds} ({scorer}), token grid {grids}, "
        f"{dtd['frames_per_token']} clip frame(s) per token frame; they take {dtd_bytes / 1e6:.2f} MB of the "
        f"{total_bytes / 1e6:.1f} MB ({dtd_bytes / max(total_bytes, 1) * 100:.1f} %). Token frames by case: {share}; "
        f"gaps by length in the key-frame run's steps: {gaps}."
    )


def render_card(
    rows: dict,
    shards,
    schema,
    fmt: str,
    embed_frames: bool,
    keyframes_only: bool,
    provenance: dict,
    n_videos: dict,
    quarantined: int,
    dtd: dict | None = None,
    dtd_bytes: int = 0,
) -> str:
    from datasets import Features

    features = Features.from_arrow_schema(schema)
    splits = [s for s, n in rows.items() if n]
    header = {
        **LICENSE,
        "task_categories": ["video-text-to-text"],
        "tags": ["streaming-video", "video-qa", "timechat-online", "tc139k"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in splits],
            }
        ],
        "dataset_info": {
            "features": features._to_yaml_list(),
            "splits": [
                {"name": s, "num_examples": rows[s], "num_bytes": sum(x.bytes for x in shards if x.split == s)}
                for s in splits
            ],
        },
    }
    body = COUNTS_BLOCK.sub(
        lambda _: _counts_table(
            rows, n_videos, shards, quarantined, fmt, embed_frames, keyframes_only, provenance, dtd, dtd_bytes
        ),
        card_template(),
    )
    return "---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n\n" + body
