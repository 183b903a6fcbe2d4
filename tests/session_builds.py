"""Test data built once per pytest session, however many test modules import its fixture (a
fixture imported into several modules is one definition per module to pytest).

Keyed by the session's temporary folder: one process may run several sessions (mutation
testing runs pytest again and again), and pytest deletes the folders of older sessions, so a
build is never reused from a session before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_BUILT: dict[tuple[str, str], object] = {}


def built_once(tmp_path_factory, name: str, build: Callable[[Path], T]) -> T:
    key = (str(tmp_path_factory.getbasetemp()), name)
    if key not in _BUILT:
        _BUILT[key] = build(tmp_path_factory.mktemp(name))
    return _BUILT[key]  # type: ignore[return-value]
