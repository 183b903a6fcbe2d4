"""Progress bars on stderr. Off when TC139K_NO_PROGRESS is set or when the caller says so
(for example under --json, where stdout is for machines)."""

from __future__ import annotations

import os


class NoBar:
    """What `progress` returns when bars are off: tqdm is then not even imported (its
    import costs about 60 ms, which short commands notice)."""

    def update(self, n=1) -> None:
        pass

    def close(self) -> None:
        pass


def bars_enabled(requested: bool = True) -> bool:
    return requested and not os.environ.get("TC139K_NO_PROGRESS")


def progress(total=None, desc: str = "", unit: str = "it", enabled: bool = True, **kw):
    """A tqdm bar, or a NoBar when bars are off; both have `update(n)` and `close()`."""
    if not bars_enabled(enabled):
        return NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False, **kw)
