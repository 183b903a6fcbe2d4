"""What every command shares: the JSON sink and the translation of typed errors into
`Error: ...` on stderr and their exit code."""

from __future__ import annotations

import functools
import json
import sys

import click

from ..atomic import disk_full_error, is_disk_full, is_not_writable, not_writable_error
from ..errors import EXIT_INTERRUPTED, Tc139kError


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


def handle_errors(fn):
    """Turn the toolkit's typed errors into `Error: ...` on stderr and their exit code (the
    rule is in tc139k.errors). A full disk met outside an atomic write (a folder being
    created, a log) gets the same message as one met inside; a write the system refuses (a
    read-only disk, another user's folder) names the path, exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Tc139kError as e:
            fail(e)
        except OSError as e:
            if is_disk_full(e):
                fail(disk_full_error(e.filename or "the output folder", e))
            if is_not_writable(e):
                fail(not_writable_error(e))
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted; rerun the same command to resume.", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper


def fail(e: Tc139kError):
    """Print `Error: ...` and exit with the error's code."""
    click.echo(f"Error: {e}", err=True)
    sys.exit(e.exit_code)
