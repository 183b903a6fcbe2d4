"""Progress bars on stderr. Off when TC139K_NO_PROGRESS is set or when the caller says so
(for example under --json, where stdout is for machines)."""

from __future__ import annotations

import os

from tqdm.auto import tqdm


def bars_enabled(requested: bool = True) -> bool:
    return requested and not os.environ.get("TC139K_NO_PROGRESS")


def progress(total=None, desc: str = "", unit: str = "it", enabled: bool = True, **kw) -> tqdm:
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not bars_enabled(enabled),
        dynamic_ncols=True,
        leave=False,
        **kw,
    )
