"""What every command shares: the JSON sink and the translation of typed errors into
`Error: ...` on stderr and their exit code."""

from __future__ import annotations

import functools
import json
import sys

import click

from ..errors import Tc139kError


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


def handle_errors(fn):
    """Turn the toolkit's typed errors into `Error: ...` on stderr and their exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Tc139kError as e:
            click.echo(f"Error: {e}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted; rerun the same command to resume.", err=True)
            sys.exit(130)

    return wrapper
