"""Command-line options made from a stage's config fields (tc139k.params), so a parameter's
type, default, help and range are written once, in tc139k/<stage>/config.py.

    @click.command("build")
    @options_from(KeyframesConfig, names={"min_scene_seconds": "--min-scene-len"})
    def build_cmd(**kwargs):
        config = pop_config(KeyframesConfig, kwargs)   # the frozen config; kwargs keep the rest

Each field becomes `--field-name` (or the name given in `names`): a choice is a click.Choice,
a bounded int or float a click.IntRange / FloatRange (NaN and infinities refused), a field
with a parser (sizes such as 500MB, threshold ranges) or a tuple a string converted by the
same code that checks recipe values; False booleans are flags, True ones `--x/--no-x`. The
default is shown unless it is None (the help then says what the stage decides).
"""

from __future__ import annotations

import math

import click

from ..errors import UsageError
from ..params import Spec, convert, specs


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf (a NaN compares false to any bound)."""

    def convert(self, value, param, ctx):
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return rv


class FieldType(click.ParamType):
    """A string option converted (and checked) by params.convert: tuples, sizes, ranges."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.name = spec.metavar or ("LIST" if spec.kind is tuple else "TEXT")

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value  # a default, already a value
        try:
            return convert(self.spec, value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


def click_type(s: Spec):
    if s.parse is not None or s.kind is tuple:
        return FieldType(s)
    if s.choices:
        return click.Choice([str(c) for c in s.choices])
    bounded = s.min is not None or s.max is not None
    if s.kind is int:
        return click.IntRange(s.min, s.max, min_open=s.min_open, max_open=s.max_open) if bounded else int
    if s.kind is float:
        return FiniteFloatRange(s.min, s.max, min_open=s.min_open, max_open=s.max_open)
    return str


def option_name(s: Spec, names: dict[str, str]) -> str:
    return names.get(s.name, "--" + s.name.replace("_", "-"))


def option_for(s: Spec, names: dict[str, str], **extra):
    """The click option of one field; `extra` adds click settings (e.g. envvar)."""
    name = option_name(s, names)
    help_text = s.help + (f"  [default: {s.default_text}]" if s.default_text else "")
    if s.kind is bool:
        decls = [name] if not s.default else [f"{name}/--no-{name[2:]}"]
        kw = dict(is_flag=True, default=s.default, help=help_text, show_default=bool(s.default))
        return click.option(*decls, s.name, **{**kw, **extra})
    kw = dict(
        type=click_type(s),
        default=None if s.kind is tuple else s.default,  # click would read a tuple as several values
        show_default=s.default is not None and not s.default_text,
        help=help_text,
    )
    if s.metavar:
        kw["metavar"] = s.metavar
    return click.option(name, s.name, **{**kw, **extra})


def options_from(cls, *, exclude=(), names: dict[str, str] | None = None, extra: dict[str, dict] | None = None):
    """A decorator adding one option per field of the config class `cls` (in field order),
    except those in `exclude`; `names` renames options (field -> "--flag"), `extra` adds click
    settings per field."""
    names, extra = names or {}, extra or {}
    table = [s for s in specs(cls).values() if s.name not in exclude]

    def decorate(fn):
        for s in reversed(table):  # click applies decorators bottom-up: keep the field order
            fn = option_for(s, names, **extra.get(s.name, {}))(fn)
        return fn

    return decorate


def pop_config(cls, kwargs: dict, names: dict[str, str] | None = None, defaults: dict | None = None):
    """The config made of the options `options_from(cls)` added (removed from `kwargs`);
    fields left out of the options take `defaults` or their own default. A combination the
    class refuses (`cross_check`) is a usage error naming the option."""
    table = specs(cls)
    given = {k: kwargs.pop(k) for k in list(kwargs) if k in table}
    for k, v in given.items():
        # a string left for the stage's own parser (an option whose click type is overridden
        # to str, e.g. so that its message is the parser's): parsed and checked here
        if isinstance(v, str) and table[k].kind is not str:
            try:
                given[k] = convert(table[k], v)
            except ValueError as e:
                raise UsageError(str(e)) from None
    # None from an option whose field cannot be None (a tuple's default): the field's default
    values = {**(defaults or {}), **{k: v for k, v in given.items() if v is not None or table[k].optional}}
    config = cls(**values)
    problem = config.cross_check() if hasattr(config, "cross_check") else None
    if problem:
        key, message = problem
        raise click.BadParameter(message, param_hint=f"'{option_name(table[key], names or {})}'")
    return config
