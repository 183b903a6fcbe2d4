"""What each stage of a recipe accepts: the stage's own config class (tc139k/<stage>/config.py,
also the source of the command's options) plus the few keys only a recipe has, because the
pipeline wires the stages' inputs and outputs itself (e.g. `validate.files`, `stats.plots`).
`STAGE_CONFIGS` lists them in pipeline order."""

from __future__ import annotations

from dataclasses import dataclass

from ..download.config import DownloadConfig
from ..keyframes.config import KeyframesConfig
from ..params import param
from ..shards.config import ShardsConfig
from ..stats.config import StatsConfig
from ..validate.config import ValidateConfig

QA_FILE = "time_chat_online_139k_train_flt.jsonl"


@dataclass(frozen=True)
class SampleParams:
    seed: int = param(0, min=0, help="Random seed of the sample generator.")


@dataclass(frozen=True)
class DownloadParams(DownloadConfig):
    local_dir: str | None = param(None, help="Folder to download into [default: OUT/data].")


@dataclass(frozen=True)
class ValidateParams(ValidateConfig):
    files: tuple[str, ...] = param((QA_FILE,), help="QA files to check, relative to the download folder.")
    check_frames: bool = param(True, help="Check that every referenced frame was downloaded.")


@dataclass(frozen=True)
class KeyframesParams(KeyframesConfig):
    video_ids: str | None = param(None, help="Only these videos: one `video_id` or `source/video_id` per line.")
    accept_calibration_miss: bool = param(
        False, help="Keep going when calibration cannot reach target_interval (the stage fails otherwise)."
    )


@dataclass(frozen=True)
class StatsParams(StatsConfig):
    plots: bool = param(True, help="Write the plots into OUT/stats/plots.")
    dataset: bool = param(True, help="Also count the downloaded dataset (stats dataset).")


STAGE_CONFIGS: dict[str, type] = {
    "sample": SampleParams,
    "download": DownloadParams,
    "validate": ValidateParams,
    "keyframes": KeyframesParams,
    "shards": ShardsConfig,
    "stats": StatsParams,
}
