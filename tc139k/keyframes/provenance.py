"""What the key-frame outputs depend on: the provenance in each file's metadata and the
parameters of each completion marker, assembled from the stage's config.

- `scores_record`: what pass 1's work files depend on: the tool version, the method, the
  scorer's own account of itself (model with its weights' hash and precision, batch size,
  pixel cell: Scorer.provenance), the frame size and the resolved scene parameters.
- `keyframes_record`: pass 3's files add the recipe, tau, the score kind, the trigger share
  and the key-frame rule with the level it used and the interval it reached.
- `marker_params`: a record plus the videos of one file.

Every field of KeyframesConfig names in `records` the pass whose record holds it, so that
changing it redoes that pass and what follows, and nothing else (tests change each field in
turn). Records are JSON-normalised (tuples become lists) so they compare equal to a marker
read back from disk; their key order is the order of the files' metadata.
"""

from __future__ import annotations

import json

from .. import __version__
from . import dtd, interval
from .config import KeyframesConfig
from .scenes import SceneParams
from .scorer import Scorer

WORK_FORMAT = 2  # 2: the work files keep each frame's motion novelty (older ones are redone)


def scene_params(cfg: KeyframesConfig) -> SceneParams:
    """The resolved scene parameters (the detector's 1 fps threshold when none is given), with
    the stage's device for a network detector (not part of their record: `to_dict`)."""
    return SceneParams(
        cfg.scene_detector, cfg.scene_threshold, cfg.min_scene_seconds, cfg.scene_rule, device=cfg.device
    ).resolved()


def scores_record(cfg: KeyframesConfig, scorer: Scorer) -> dict:
    own = scorer.provenance()
    return _json(
        {
            "tool_version": __version__,
            "work_format": WORK_FORMAT,
            "method": cfg.method,
            "model": own["model"],
            "frame_size": list(scorer.frame_size),
            "batch_size": own["batch_size"],
            "pixel_cell": own["pixel_cell"],
            "scenes": scene_params(cfg).to_dict(),
        }
    )


def keyframes_record(
    scores: dict,
    cfg: KeyframesConfig,
    *,
    tau: float,
    score_kind: str,
    level: float,
    mean_interval: float,
    target_reached: bool | None,
    recipe_hash: str | None,
) -> dict:
    calibrated = cfg.level is None
    return _json(
        {
            **scores,
            "recipe_hash": recipe_hash,
            "threshold": tau,
            "score_kind": score_kind,
            "trigger_share": dtd.TRIGGER_SHARE,
            "keyframes": {
                "rule": "scene starts + accumulated novelty >= level, min gap",
                "novelty": cfg.keyframe_novelty,
                "level": level,
                "calibrated": calibrated,
                "min_gap": cfg.min_gap,
                "target_interval": cfg.target_interval if calibrated else None,
                "mean_interval": mean_interval,
                "interval_definition": interval.DEFINITION,
                "target_reached": target_reached,
            },
        }
    )


def marker_params(record: dict, videos: list[str]) -> dict:
    return _json({**record, "videos": videos})


def _json(d: dict) -> dict:
    return json.loads(json.dumps(d))
