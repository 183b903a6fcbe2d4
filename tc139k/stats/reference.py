"""The authors' published drop-ratio curve beside a run, and whether the two can be compared.

The curve (`published.AUTHORS_DROP_CURVE`, tau -> share of tokens dropped) was measured with
DTD on the merged visual tokens of fine-tuned Qwen2.5-VL. A key-frame folder scored with the
qwen2.5-vl encoder measures the same kind of tokens, so the curve is laid beside it as
comparable (exactly the authors' setting with their fine-tuned checkpoint, TimeChatOnline-7B;
another Qwen2.5-VL checkpoint differs only in its weights, which the provenance names). A run
on open_clip patch tokens measures other features at the same thresholds: the curve is shown
labelled "different tokens". Pixel-mode scores are mean pixel differences, another scale:
no curve.

The encoder of a run is read from each file's provenance (`model.encoder`); a feature-method
model recorded without one is open_clip, the only encoder before there were two.
"""

from __future__ import annotations

from pathlib import Path

from .. import published
from ..keyframes import store as kfio

AUTHORS_ENCODER = "qwen2.5-vl"
COMPARABLE = "comparable"
DIFFERENT = "different tokens"


def run_encoders(files: list[Path]) -> list[str]:
    """The encoders recorded in the files' provenance, sorted; model-free runs record none."""
    found = set()
    for f in files:
        model = kfio.read_provenance(f).get("model")
        if isinstance(model, dict):
            found.add(model.get("encoder") or "open_clip")
    return sorted(found)


def reference_curve(files: list[Path], score_kind: str | None) -> dict | None:
    """The published curve with its comparison to this run, or None for pixel scores."""
    if score_kind != "cosine":
        return None
    encoders = run_encoders(files)
    comparison = COMPARABLE if encoders == [AUTHORS_ENCODER] else DIFFERENT
    tokens = " and ".join(encoders) or "unknown"
    return {
        "thresholds": [t for t, _ in published.AUTHORS_DROP_CURVE],
        "drop_ratio": [r for _, r in published.AUTHORS_DROP_CURVE],
        "tokens": encoders,
        "comparison": comparison,
        "label": f"authors (fine-tuned Qwen2.5-VL tokens), {comparison}: this folder has {tokens} tokens",
    }
