"""Files shipped with the package: schema files and pipeline recipes.

In a wheel they are the packages `tc139k._schemas` and `tc139k._pipelines`; in a source
checkout (editable install, tests) they are the top-level `schemas/` and `pipelines/`.
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir(package: str, repo_folder: str):
    try:
        importlib.import_module(package)
        return resources.files(package)
    except ModuleNotFoundError:
        return _REPO_ROOT / repo_folder


def schemas_dir():
    return data_dir("tc139k._schemas", "schemas")


def pipelines_dir():
    return data_dir("tc139k._pipelines", "pipelines")
