"""The validation stage's parameters, declared once (see tc139k.params): the options of
`tc139k validate` and the `validate:` keys of a recipe come from these fields. The input
files, the frames root and the output folder are not parameters; `run_validate` takes them
beside these."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import param


@dataclass(frozen=True)
class ValidateConfig:
    frames_scope: str | None = param(
        None,
        choices=("downloaded", "all"),
        help="With --frames-root: 'downloaded' sets the records of videos that the download manifest "
        "(tc139k-manifest.json beside the frames root) says were not downloaded apart as not_downloaded: "
        "left out of the valid table, not counted as invalid; 'all' wants every video on disk "
        "[default: downloaded when that manifest exists, else all].",
    )
    max_invalid: int = param(0, min=0, help="Exit 0 when at most this many records are invalid, 1 otherwise.")
    workers: int | None = param(
        None, min=1, help="Processes checking records [default: one per CPU for large inputs, 1 for small]."
    )
