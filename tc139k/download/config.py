"""The download stage's parameters, declared once (see tc139k.params): the options of
`tc139k download` and the `download:` keys of a recipe come from these fields. The target
folder and the modes (--dry-run, --verify) are not parameters; `run_download` takes them
beside these (`DownloadConfig.kwargs()` gives its keyword arguments)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..params import param
from .hub import DEFAULT_MAX_WAIT, DEFAULT_TIMEOUT


@dataclass(frozen=True)
class DownloadConfig:
    repo: str = param(
        "yaolily/TimeChat-Online-139K",
        help="Dataset repository on the Hub (wyccccc/TimeChat-Online-139K holds the annotations only).",
    )
    revision: str | None = param(
        None,
        help="Branch, tag or commit to download (default: the default branch). The "
        "commit it resolves to is pinned for the whole run and recorded.",
    )
    mirror: str | None = param(
        None,
        help="Read the repository from this local or network-mounted folder (same layout "
        "as on the Hub) instead of the Hub: a copy, a folder made by `hf download --local-dir`, or a "
        "snapshot in the HF cache (.../datasets--OWNER--NAME/snapshots/COMMIT, whose commit and file "
        "hashes are then known).",
    )
    annotations_only: bool = param(False, help="Fetch the annotation files only, no frames.")
    sources: tuple[str, ...] | None = param(
        None,
        metavar="A,B",
        help="Comma-separated source datasets whose frames to fetch (case-insensitive, e.g. youcook2,COIN). "
        "Default: all.",
    )
    video_ids: str | None = param(
        None,
        help="File with one video id per line: extract only these videos' frames. Without "
        "--sources, only the archives of the sources that hold them (read from the "
        "annotations, which are fetched first) are fetched; archives are fetched whole.",
    )
    no_extract: bool = param(False, help="Fetch and verify the frame archives, do not extract them.")
    keep_archives: bool = param(
        False,
        help="Keep the archives after extraction (default: delete the archives this command fetched once "
        "extracted; archives that were already in --local-dir, e.g. from `hf download`, are always kept).",
    )
    offline: bool = param(
        False,
        help="No network (also HF_HUB_OFFLINE=1): check the local copy against the file list kept in its "
        "manifest (or a snapshot in the HF cache), complete it from the HF cache, and say what is missing.",
    )
    no_hf_cache: bool = param(
        False,
        help="Do not look in the HF cache (HF_HUB_CACHE or HF_HOME/hub) for verified copies of the files.",
    )
    max_workers: int = param(4, min=1, help="Files transferred in parallel.")
    max_member_mb: int = param(64, min=1, help="Refuse archive members larger than this (MiB).")
    max_expansion_ratio: float = param(
        10.0,
        min=1.0,
        help="Refuse an archive whose content is larger than this many times its compressed size "
        "(archives under 16 MiB may always expand to 16 MiB). Frame archives hold JPEGs and "
        "expand about 1:1; a higher ratio means a decompression bomb or a wrong file.",
    )
    max_extract_gb: float | None = param(
        None,
        min=0.0,
        min_open=True,
        help="Refuse an archive whose content is larger than this (GB, 10^9 bytes). Default: no absolute cap.",
    )
    timeout: float = param(
        DEFAULT_TIMEOUT,
        min=0.0,
        min_open=True,
        help="Seconds to wait for the Hub to connect or to send the next bytes; a request that "
        "stalls longer is retried with backoff, then the run stops saying which host timed out.",
    )
    max_wait: float = param(
        DEFAULT_MAX_WAIT,
        min=0.0,
        help="Longest wait, in seconds, for one request when the Hub or a proxy answers 429/503 and "
        "asks to come back later (Retry-After); a longer wait stops the run with what answered and "
        "how long it asked.",
    )

    def kwargs(self, keys=None) -> dict:
        """The keyword arguments of `run_download` (sizes in bytes), of every field or of `keys`."""
        d = {k: v for k, v in asdict(self).items() if keys is None or k in keys}
        if "max_member_mb" in d:
            d["max_member_bytes"] = d.pop("max_member_mb") * 1024 * 1024
        if "max_extract_gb" in d:
            gb = d.pop("max_extract_gb")
            d["max_extract_bytes"] = None if gb is None else int(gb * 1e9)
        if "offline" in d:
            d["offline"] = d["offline"] or None  # not given: HF_HUB_OFFLINE decides
        if "no_hf_cache" in d:
            d["use_hf_cache"] = not d.pop("no_hf_cache")
        return d
