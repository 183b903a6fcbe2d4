"""The shard stage's parameters, declared once (see tc139k.params): the options of
`tc139k shards build` and the `shards:` keys of a recipe come from these fields. The QA
table, the key-frame folder, the frames root and --out are not parameters;
`run_shards_build` takes them beside these (`ShardsConfig.kwargs()`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..params import param
from .plan import (
    DEFAULT_MAX_SHARD_SIZE,
    DEFAULT_MIN_SHARDS,
    DEFAULT_ROW_GROUP_BYTES,
    DEFAULT_ROW_GROUP_ROWS,
    DEFAULT_ROW_GROUP_ROWS_EMBEDDED,
    DEFAULT_VAL_FRACTION,
    parse_size,
)

FORMATS = ("messages", "flat")


def val_fraction_param(**kw):
    """The split rule's share of videos, one declaration for the shards and the exports."""
    return param(
        DEFAULT_VAL_FRACTION,
        min=0.0,
        max=1.0,
        max_open=True,
        help="Share of videos (not records) that go to the validation split.",
        **kw,
    )


@dataclass(frozen=True)
class ShardsConfig:
    embed_frames: bool = param(False, help="Store the JPEG bytes in the shards (self-contained).")
    keyframes_only: bool = param(
        False, help="Keep only the clip frames that stand for key frames (plus each clip's first frame)."
    )
    dtd_scores: bool = param(
        False,
        help="Store per token frame the DTD level of every visual token (from the key-frame run's scores), so "
        "tc139k.data.ClipCollator(dtd_tau=...) gives keep masks at any tau without the vision tower.",
    )
    max_shard_size: int = param(
        DEFAULT_MAX_SHARD_SIZE,
        min=1,
        parse=parse_size,
        metavar="SIZE",
        default_text="500MB",
        help="Largest shard, estimated in memory (e.g. 500MB, 2GB).",
    )
    min_shards: int = param(
        DEFAULT_MIN_SHARDS,
        min=1,
        help="At least this many shards per split when it has the rows. Streaming gives each reader whole "
        "files, so make it at least ranks x DataLoader workers per rank (8 GPUs x 4 workers: 32); under DDP, "
        "datasets.distributed.split_dataset_by_node gives each rank its share of the files, and a worker "
        "left without one reads nothing.",
    )
    row_group_bytes: int = param(
        DEFAULT_ROW_GROUP_BYTES,
        min=1,
        parse=parse_size,
        metavar="SIZE",
        default_text=f"{DEFAULT_ROW_GROUP_BYTES // 10**6}MB",
        help="Largest Parquet row group, estimated in memory: what a streaming reader holds at once.",
    )
    row_group_rows: int | None = param(
        None,
        min=1,
        help=f"Most rows per row group [default: {DEFAULT_ROW_GROUP_ROWS}, "
        f"{DEFAULT_ROW_GROUP_ROWS_EMBEDDED} with --embed-frames].",
    )
    val_fraction: float = val_fraction_param()
    format: str = param(
        "messages",
        choices=FORMATS,
        help="messages: the ms-swift messages/videos layout; flat: question/answer columns only.",
    )

    def kwargs(self, keys=None) -> dict:
        """The keyword arguments of `run_shards_build` (`format` is its `fmt`), of every field
        or of `keys`."""
        d = {k: v for k, v in asdict(self).items() if keys is None or k in keys}
        if "format" in d:
            d["fmt"] = d.pop("format")
        return d
