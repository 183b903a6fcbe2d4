"""The export stage's parameters, declared once (see tc139k.params): the options of
`tc139k export swift` come from these fields. The QA table, the frames root, the key-frame
folder and --out are inputs and outputs, not parameters; `run_export_swift` takes them beside
these. The exports write no provenance, so no field names an output in `records`."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import param
from ..shards.config import val_fraction_param


@dataclass(frozen=True)
class SwiftExportConfig:
    keyframes_only: bool = param(
        False, help="Keep only the clip frames that stand for key frames, plus each clip's first frame."
    )
    split: bool = param(False, help="One file per split, by video, with the rule of `tc139k shards build`.")
    val_fraction: float = val_fraction_param()
