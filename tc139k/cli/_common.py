"""What every command shares: the JSON sink and the translation of typed errors into
`Error: ...` on stderr and their exit code."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys

import click

from ..atomic import disk_full_error, is_disk_full, is_not_writable, not_writable_error
from ..errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Tc139kError, Terminated


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
        except Terminated:
            click.echo("Terminated; rerun the same command to resume.", err=True)
            sys.exit(EXIT_TERMINATED)
        except KeyboardInterrupt:
            click.echo("Interrupted; rerun the same command to resume.", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper


def fail(e: Tc139kError):
    """Print `Error: ...` and exit with the error's code."""
    click.echo(f"Error: {e}", err=True)
    sys.exit(e.exit_code)


def handle_sigterm() -> None:
    """SIGTERM raises Terminated in this process's main thread, so that it is handled as
    Ctrl-C is (workers stopped, temporaries removed, one line, exit 143). A process forked
    from this one, or a second SIGTERM during the cleanup, gets the default: it ends at once."""
    main_pid = os.getpid()

    def on_sigterm(signum, frame):
        if os.getpid() != main_pid or getattr(on_sigterm, "fired", False):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        on_sigterm.fired = True  # type: ignore[attr-defined]
        raise Terminated()

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread (the CLI called from a thread): keep the default
        pass
