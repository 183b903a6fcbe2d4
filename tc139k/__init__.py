"""tc139k: dataset toolkit for TimeChat-Online-139K.

The library entry points, one per command, with the command's options as keyword arguments
(tc139k.api has the details):

    tc139k.download_dataset(...)  tc139k download
    tc139k.validate_qa(...)       tc139k validate
    tc139k.build_keyframes(...)   tc139k keyframes build
    tc139k.build_shards(...)      tc139k shards build
    tc139k.redundancy_stats(...)  tc139k stats redundancy
    tc139k.dataset_stats(...)     tc139k stats dataset
    tc139k.export_swift(...)      tc139k export swift

and `tc139k.data` for training: `decode_frames` and `ClipCollator`, the collate function for
clips of different lengths.

They are resolved on first use (module `__getattr__`), so `import tc139k` imports nothing
else. The lookup names modules as strings: every stage imports this package for
`__version__`, and a static import back would be an import circle.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = (
    "download_dataset",
    "validate_qa",
    "build_keyframes",
    "build_shards",
    "redundancy_stats",
    "dataset_stats",
    "export_swift",
)
_MODULES = ("api", "data")
__all__ = [*_API, "data", "__version__"]


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module("tc139k.api"), name)
    elif name in _MODULES:
        value = importlib.import_module(f"tc139k.{name}")
    else:
        raise AttributeError(f"module 'tc139k' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
