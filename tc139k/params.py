"""Stage parameters, declared once.

Each stage has a frozen dataclass (`tc139k/<stage>/config.py`) whose fields carry the type,
the default, the help text and the allowed range:

    @dataclass(frozen=True)
    class KeyframesConfig:
        min_gap: float = param(2.0, help="Minimum seconds between key frames.", min=0)

From these fields come the command-line options (`cli/_options.options_from`), the checks of
recipe values (`check`, run before the first stage starts), the parameter lists recipes
accept, and what each output records: `records` names the stage's output whose provenance
and completion marker hold the field's value (so that changing it redoes that output and
what follows), None when no output records it (threads, speed, or a stage without markers).

Types: bool, int, float, str, tuple[X, ...] (a list in YAML, comma-separated on the command
line), each optionally `| None` (None means "the stage decides", said in the help).

`check(cls, values, where)` returns `cls(**values)` after checking every value: its type,
its range (NaN and infinities are never accepted for numbers), its choices, and the
combinations the class checks itself (`cross_check`); an error names `where.key`.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable

from .errors import UsageError


def param(
    default,
    *,
    help: str,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    choices: tuple | Callable[[], tuple] | None = None,
    parse: Callable[[str], object] | None = None,
    metavar: str | None = None,
    default_text: str | None = None,
    records: str | None = None,
):
    """A config field. `choices` may be a function returning them (a registry, read when a
    value is checked and when the options are made); `min`/`max` bound numbers (each element
    of a tuple), `*_open` makes the bound exclusive; `parse` turns a string (command line, or
    a string in a recipe) into the value, e.g. "500MB"; `default_text` is what --help shows
    as the default when it is not the value itself (e.g. None meaning "half the CPU cores");
    `records`: see the module docstring."""
    meta = {
        "help": help,
        "min": min,
        "max": max,
        "min_open": min_open,
        "max_open": max_open,
        "choices": choices if callable(choices) else tuple(choices) if choices else None,
        "parse": parse,
        "metavar": metavar,
        "default_text": default_text,
        "records": records,
    }
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Spec:
    """A field, read back: its name, base type, whether None is allowed, and its metadata."""

    name: str
    kind: type  # bool, int, float, str or tuple
    item: type | None  # the element type of a tuple
    optional: bool
    default: object
    help: str
    min: float | None
    max: float | None
    min_open: bool
    max_open: bool
    choices: tuple | None
    parse: Callable | None
    metavar: str | None
    default_text: str | None
    records: str | None  # the output whose provenance holds this value; None: no output depends on it


def specs(cls) -> dict[str, Spec]:
    """The fields of a config class, by name, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        kind, optional = hints[f.name], False
        args = typing.get_args(kind)
        if typing.get_origin(kind) in (typing.Union, types.UnionType):
            optional = type(None) in args
            (kind,) = [a for a in args if a is not type(None)]
            args = typing.get_args(kind)
        item = None
        if typing.get_origin(kind) is tuple:
            kind, item = tuple, args[0]
        if kind not in (bool, int, float, str, tuple):
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported type {kind}")
        m = f.metadata
        out[f.name] = Spec(
            f.name,
            kind,
            item,
            optional,
            f.default,
            m.get("help", ""),
            m.get("min"),
            m.get("max"),
            m.get("min_open", False),
            m.get("max_open", False),
            m["choices"]() if callable(m.get("choices")) else m.get("choices"),
            m.get("parse"),
            m.get("metavar"),
            m.get("default_text"),
            m.get("records"),
        )
    return out


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range_text(s: Spec, kind: type) -> str:
    lo = None if s.min is None else f"{s.min:g}"
    hi = None if s.max is None else f"{s.max:g}"
    if lo is not None and hi is not None:
        bounds = f"in {'(' if s.min_open else '['}{lo}, {hi}{')' if s.max_open else ']'}"
    elif lo is not None:
        bounds = f"{'>' if s.min_open else '>='} {lo}"
    elif hi is not None:
        bounds = f"{'<' if s.max_open else '<='} {hi}"
    else:
        bounds = ""
    what = "an integer" if kind is int else "a finite number"
    return f"{what} {bounds}".strip()


def _in_range(s: Spec, v) -> bool:
    if isinstance(v, float) and not math.isfinite(v):
        return False
    if s.min is not None and (v <= s.min if s.min_open else v < s.min):
        return False
    return not (s.max is not None and (v >= s.max if s.max_open else v > s.max))


def expected(s: Spec) -> str:
    """What a field accepts, in words (for messages and --help)."""
    if s.choices:
        return "one of " + ", ".join(map(str, s.choices))
    if s.kind is tuple:
        return f"a list of {_KIND_WORDS[s.item]}"
    return _KIND_WORDS[s.kind]


_KIND_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _scalar(s: Spec, kind: type, value):
    """The checked value of one scalar (a tuple's element has the tuple's range); raises
    ValueError with the message (without the key)."""
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    given = value
    if kind is int:
        if not _number(value) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected an integer, got {value!r}")
        value = int(value)
    elif kind is float:
        if not _number(value):
            raise ValueError(f"expected a number, got {value!r}")
        value = float(value)
    elif kind is str and not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    if s.choices and value not in s.choices:
        raise ValueError(f"expected one of {', '.join(map(str, s.choices))}, got {value!r}")
    if kind in (int, float) and not _in_range(s, value):
        raise ValueError(f"must be {_range_text(s, kind)}, got {given!r}")
    return value


def convert(s: Spec, value):
    """The checked value of a field, from a recipe value or a command-line string; raises
    ValueError with the message (without the key)."""
    if value is None:
        if s.optional:
            return None
        raise ValueError(f"expected {expected(s)}, got nothing")
    if isinstance(value, str) and s.parse is not None:
        try:
            value = s.parse(value)
        except UsageError as e:
            raise ValueError(str(e)) from None
    if s.kind is tuple:
        if isinstance(value, str) and s.item is str:
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected {expected(s)}, got {value!r}")
        return tuple(_scalar(s, s.item, v) for v in value)
    return _scalar(s, s.kind, value)


def did_you_mean(word, choices) -> str:
    """` (did you mean X?)` for the closest of `choices` to a mistyped `word`, or ""; a dash
    typed for an underscore (the option's spelling in a recipe) counts as the same."""
    import difflib

    word = str(word)
    close = difflib.get_close_matches(word.replace("-", "_"), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def check(cls, values: dict, where: str, error: type[Exception] = UsageError):
    """`cls(**values)` once every value is checked; a problem raises `error` with
    `where.key: ...` (e.g. `my.yaml: stages.keyframes.target_interval: must be ...`)."""
    table = specs(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in table:
            hint = did_you_mean(key, table)
            raise error(f"{where}.{key}: unknown parameter{hint}; takes {', '.join(sorted(table)) or 'no parameters'}")
        try:
            kwargs[key] = convert(table[key], value)
        except ValueError as e:
            raise error(f"{where}.{key}: {e}") from None
    config = cls(**kwargs)
    problem = config.cross_check() if hasattr(config, "cross_check") else None
    if problem:
        key, message = problem
        raise error(f"{where}.{key}: {message}")
    return config


def given(config, keys) -> dict:
    """The config's values of `keys` (checked and normalised), e.g. the keys a recipe gave."""
    return {k: getattr(config, k) for k in keys}


def check_shard(num_shards: int, shard_index: int) -> None:
    """The one check of a job's share: `shard_index` in [0, num_shards), num_shards >= 1."""
    ok = all(_number(v) and int(v) == v for v in (num_shards, shard_index))
    if not ok or num_shards < 1 or not 0 <= shard_index < num_shards:
        raise UsageError(
            f"--shard-index must be in [0, --num-shards) and --num-shards >= 1; got --num-shards "
            f"{num_shards}, --shard-index {shard_index}"
        )
