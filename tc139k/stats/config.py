"""The statistics stage's parameters, declared once (see tc139k.params): the options of
`tc139k stats redundancy` and the `stats:` keys of a recipe come from these fields. The
key-frame folder, the plot folder and the timeline's video are not parameters;
`redundancy_stats` takes them beside these."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import param
from .choices import BY_CHOICES, PLOT_FORMATS


def _parse_thresholds(text: str) -> tuple[float, ...]:
    from .redundancy import parse_thresholds  # numpy and pyarrow only when a list is parsed

    return parse_thresholds(text)


@dataclass(frozen=True)
class StatsConfig:
    thresholds: tuple[float, ...] | None = param(
        None,
        min=-1.0,
        max=1.0,
        parse=_parse_thresholds,
        help="DTD thresholds to sweep: a list (0.3,0.5,0.7) or a range START:STOP:STEP, inside the score "
        "kind's range (cosine [-1, 1], pixel_mad [0, 1]) [default per kind: cosine 0.1:0.9:0.1 around the "
        "feature method's 0.5; pixel_mad 0.005,0.01,0.02,0.03,0.05,0.075,0.1,0.15,0.2,0.3 around the pixel "
        "method's 0.05].",
    )
    threshold: float | None = param(
        None,
        min=-1.0,
        max=1.0,
        help="Threshold of the headline figure, plots and timeline [default: the threshold stored with the videos].",
    )
    by: str = param(
        "source",
        choices=BY_CHOICES,
        help="Break the drop ratios down by source dataset or by video length (<5, 5-10, 10-20, >=20 min).",
    )
    plot_format: str = param(
        "png",
        choices=PLOT_FORMATS,
        help="Format of the plots: png, or svg and pdf (vector, for a paper); the same statistics give the "
        "same bytes in each.",
    )
