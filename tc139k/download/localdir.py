"""The one check on every path `tc139k download` writes to inside the local folder.

The local folder is the only place the tool may write. A symbolic link planted anywhere on
the way (`.tc139k`, `.tc139k/staging`, `.tc139k/partial`, the lock file, `frames`,
`frames/<source>`, the manifest, an annotation's folder) would redirect writes elsewhere, so
every such path is built with `inside(root, ...)`: it resolves the path, links included, and
refuses it (DownloadError naming the link and what to do) unless it stays under `root`.
Links that stay inside are harmless and allowed.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DownloadError

WORK_DIR = ".tc139k"  # inside the local folder: staging, trash, partial downloads, lock


def inside(root: str | os.PathLike, *parts: str) -> Path:
    """`root/parts...`, checked: it must resolve (following every link) to a path under `root`."""
    root = Path(root).resolve()
    path = root.joinpath(*parts)
    try:
        path.resolve().relative_to(root)
        return path
    except ValueError:
        pass
    except (OSError, RuntimeError):  # a link loop
        pass
    raise DownloadError(
        f"{path} resolves outside {root} through {_first_link(root, path) or 'a symbolic link'}; "
        "refusing to write there (nothing is written outside the local folder): remove the link and rerun"
    )


def work_dir(root: str | os.PathLike, *parts: str) -> Path:
    """A checked folder under `<root>/.tc139k`, created if missing."""
    path = inside(root, WORK_DIR, *parts)
    path.mkdir(parents=True, exist_ok=True)
    inside(root, WORK_DIR, *parts)  # a link planted while the folders were made
    return path


def _first_link(root: Path, path: Path) -> str | None:
    """The first symbolic link on the way from `root` to `path`, with its target, for the message."""
    p = root
    for part in path.relative_to(root).parts:
        p = p / part
        if p.is_symlink():
            try:
                return f"the link {p} -> {os.readlink(p)}"
            except OSError:
                return f"the link {p}"
    return None
