"""What each stage of a recipe accepts: the stage's own config class (tc139k/<stage>/config.py,
also the source of the command's options) plus the few keys only a recipe has, because the
pipeline wires the stages' inputs and outputs itself (e.g. `validate.files`, `stats.plots`).
`STAGE_CONFIGS` lists them in pipeline order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..download.config import DownloadConfig
from ..keyframes.config import KeyframesConfig, methods
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
    method: str = param(
        "auto",
        choices=lambda: ("auto", *methods()),
        help="auto: feature when `pretrained` names local weights, else pixel; or feature, pixel.",
    )
    video_ids: str | None = param(None, help="Only these videos: one `video_id` or `source/video_id` per line.")
    accept_calibration_miss: bool = param(
        False, help="Keep going when calibration cannot reach target_interval (the stage fails otherwise)."
    )

    def resolved_method(self) -> str:
        if self.method != "auto":
            return self.method
        return "feature" if weights_available(self.pretrained) else "pixel"

    def cross_check(self) -> tuple[str, str] | None:
        # with `auto` the method, hence tau's range, is known only once ${work} is expanded
        return None if self.method == "auto" else super().cross_check()


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


def weights_available(pretrained: str | None) -> bool:
    if not pretrained:
        return False
    local = pretrained[len("local-dir:") :] if pretrained.startswith("local-dir:") else pretrained
    return Path(local).exists()
