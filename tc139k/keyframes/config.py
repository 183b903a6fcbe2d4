"""The key-frame stage's parameters, declared once (see tc139k.params): the command-line
options of `tc139k keyframes build`, the `keyframes:` keys of a recipe and their checks come
from these fields. Inputs and outputs (frames root, video files, --out) are not parameters;
`run_keyframes` takes them beside these."""

from __future__ import annotations

from dataclasses import dataclass

from .. import published
from ..params import param

METHODS = ("feature", "pixel")
DETECTORS = ("content", "adaptive", "histogram")
DEVICES = ("auto", "cpu", "cuda")
SCENE_RULES = ("combined", "detector")
DEFAULT_THRESHOLDS = {"feature": 0.5, "pixel": 0.05}
PIXEL_FRAME_SIZE = 224
# tau's range per score kind: a cosine lies in [-1, 1], a mean absolute pixel difference in [0, 1]
THRESHOLD_RANGES = {"feature": (-1.0, 1.0), "pixel": (0.0, 1.0)}


@dataclass(frozen=True)
class KeyframesConfig:
    method: str = param(
        "feature",
        choices=METHODS,
        help="feature: cosine of CLIP patch tokens with the previous frame; pixel: mean absolute "
        "RGB difference per 28 px cell of the 224 px frame (no model).",
    )
    model: str | None = param(
        None,
        help="Feature method: open_clip architecture [default: ViT-B-32; with local-dir: the folder's config].",
    )
    pretrained: str | None = param(
        None,
        help="Feature method: open_clip tag (looked up in the local cache, downloaded if allowed), a checkpoint "
        "file, or local-dir:FOLDER (open_clip_config.json + weights) [default: laion2b_s34b_b79k].",
    )
    device: str = param(
        "auto", choices=DEVICES, help="auto: CUDA in half precision when available, else the CPU in fp32."
    )
    threshold: float | None = param(
        None,
        min=-1.0,
        max=1.0,
        help="DTD threshold tau for the stored drop ratios: feature drops a patch when its "
        "cosine > tau (default 0.5, the authors'), pixel when its difference < tau "
        "(default 0.05). Stored scores allow any other tau later.",
    )
    batch_size: int = param(32, min=1, help="Frames per encoder batch (feature method).")
    scene_detector: str = param("content", choices=DETECTORS, help="PySceneDetect detector run over the 1 fps frames.")
    scene_rule: str = param(
        "combined",
        choices=SCENE_RULES,
        help="combined: a detector cut counts only when nearly every part of the picture changed and "
        "the old picture does not come back a second later (not a passing object or a flash); fades "
        "through black and dissolves are one scene start each. detector: PySceneDetect's cuts alone.",
    )
    scene_threshold: float | None = param(
        None, min=0.0, help="Detector threshold [default for 1 fps: content 27, adaptive 3.0, histogram 0.2]."
    )
    min_scene_seconds: float = param(
        1.0,
        min=0.0,
        help="Minimum scene length in seconds; with the combined rule, cuts closer than this keep the "
        "strongest (a weak cut never hides a stronger one after it). 1 s = no limit at 1 fps.",
    )
    target_interval: float = param(
        published.KEYFRAME_INTERVAL_SECONDS,
        min=0.0,
        min_open=True,
        help="Mean key-frame interval in seconds the level is calibrated to, over all videos "
        "of the run (7.14 s is the published figure).",
    )
    level: float | None = param(
        None,
        min=0.0,
        help="Fixed novelty level L (skips calibration): inside a scene, a key frame is due "
        "when the summed novelty (1 - drop ratio) since the last one reaches L.",
    )
    min_gap: float = param(
        2.0, min=0.0, help="Minimum seconds between key frames inside a scene (scene starts always count)."
    )
    cell: int = param(28, min=1, max=PIXEL_FRAME_SIZE, help="Pixel method: cell size in px.")
    num_workers: int | None = param(
        None, min=1, help="Background decoding threads [default: half the CPU cores, at least 1, at most 8]."
    )
    videos_per_file: int = param(64, min=1, help="Videos per output file; a finished file is never redone on a rerun.")

    def cross_check(self) -> tuple[str, str] | None:
        """tau's range depends on the method: a cosine or a pixel difference."""
        lo, hi = THRESHOLD_RANGES.get(self.method, (-1.0, 1.0))
        if self.threshold is not None and not lo <= self.threshold <= hi:
            return "threshold", f"must be in [{lo:g}, {hi:g}] for the {self.method} method, got {self.threshold!r}"
        return None
