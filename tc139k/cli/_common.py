"""What every command shares: the `--json` envelope (one sink for results and errors) and the
translation of typed errors into `Error: ...` on stderr and their exit code.

The envelope. A command run with `--json` prints exactly one JSON object on stdout, on
success and on failure alike, and exits with the same code as without `--json`:

    {"command": "shards build",      the command's words after `tc139k`
     "version": "0.4.0",             tc139k's version
     "ok": true,                     exit code 0
     "result": {...},                the command's result (tc139k/cli/_results.py), or null
                                     when the run failed before it had one
     "error": null}                  or {"code": 1, "type": "CheckFailedError",
                                          "message": "the one-line message"}

On failure stderr carries the same one `Error: ...` line as without `--json` (and the
command's own Note lines), never a usage block. A failure after the result was made (a
check that failed, a calibration that missed its target) keeps the result beside the error.
The shapes are JSON Schema files: schemas/cli/envelope.json and schemas/cli/<command>.json.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys

import click

from ..atomic import disk_full_error, is_disk_full, is_not_writable, not_writable_error
from ..errors import EXIT_INTERRUPTED, EXIT_TERMINATED, CheckFailedError, Tc139kError, Terminated

_RESULT = "tc139k.json.result"  # ctx.meta key: the result a --json command handed over
_ARGV = "tc139k.argv"  # ctx.meta key: the command line, to tell --json on a usage error
JSON_HELP = "Print the envelope {command, version, ok, result, error} as JSON on stdout (see docs/json.md)."


def command_name(ctx: click.Context) -> str:
    """The command's words after `tc139k`, e.g. "shards build"."""
    words = []
    while ctx.parent is not None:
        words.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(words))


def takes_json(command: click.Command | None) -> bool:
    return command is not None and any(p.name == "as_json" for p in command.params)


def envelope(ctx: click.Context, result: dict | None, error: dict | None) -> dict:
    from .. import __version__

    return {
        "command": command_name(ctx),
        "version": __version__,
        "ok": error is None,
        "result": result,
        "error": error,
    }


def emit_envelope(ctx: click.Context, error: dict | None = None) -> None:
    """Print the envelope of `ctx`'s command with the result it handed to `emit_json`."""
    obj = envelope(ctx, ctx.meta.get(_RESULT), error)
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


def emit_json(result: dict) -> None:
    """Hand the command's result to the envelope, which `handle_errors` prints once the
    command returns or fails."""
    click.get_current_context().meta[_RESULT] = result


def error_object(code: int, exc: BaseException, message: str) -> dict:
    return {"code": code, "type": type(exc).__name__, "message": message}


def handle_errors(fn):
    """Turn the toolkit's typed errors into `Error: ...` on stderr and their exit code (the
    rule is in tc139k.errors), and with `--json` print the envelope. A full disk met outside
    an atomic write (a folder being created, a log) gets the same message as one met inside;
    a write the system refuses (a read-only disk, another user's folder) names the path, exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        as_json = bool(kwargs.get("as_json"))
        try:
            rv = fn(*args, **kwargs)
        except Tc139kError as e:
            fail(e, as_json)
        except OSError as e:
            if is_disk_full(e):
                fail(disk_full_error(e.filename or "the output folder", e), as_json)
            if is_not_writable(e):
                fail(not_writable_error(e), as_json)
            raise
        except Terminated as e:
            _stop(e, EXIT_TERMINATED, "Terminated; rerun the same command to resume.", as_json)
        except KeyboardInterrupt as e:
            _stop(e, EXIT_INTERRUPTED, "Interrupted; rerun the same command to resume.", as_json)
        if as_json:
            emit_envelope(click.get_current_context())
        return rv

    return wrapper


def fail(e: Tc139kError, as_json: bool = False):
    """Print `Error: ...` (and with `as_json` the envelope) and exit with the error's code.
    An error marked `reported` (the text summary already said FAILED) prints no line in text."""
    message = str(e)
    if as_json:
        emit_envelope(click.get_current_context(), error_object(e.exit_code, e, message))
    if as_json or not getattr(e, "reported", False):
        click.echo(f"Error: {message}", err=True)
    sys.exit(e.exit_code)


def check_failed(message: str) -> CheckFailedError:
    """The data failed a check the command's text summary has already reported: exit 1 with no
    further line; under `--json` the envelope's error and the `Error:` line carry `message`."""
    e = CheckFailedError(message)
    e.reported = True  # type: ignore[attr-defined]
    return e


def _stop(e: BaseException, code: int, line: str, as_json: bool):
    if as_json:
        emit_envelope(click.get_current_context(), error_object(code, e, line))
    click.echo(line, err=True)
    sys.exit(code)


def usage_error_envelope(ctx: click.Context, e: click.ClickException) -> bool:
    """With `--json` on the line of a command that takes it, print the envelope of a usage
    error click raised (a bad option, a missing path) and its one `Error:` line; True when
    done (the caller exits with e.exit_code), False to let click print its usage block."""
    sub = getattr(e, "ctx", None)
    argv = ctx.meta.get(_ARGV, [])
    cut = argv.index("--") if "--" in argv else len(argv)
    if sub is None or sub is ctx or not takes_json(sub.command) or "--json" not in argv[:cut]:
        return False
    message = e.format_message()
    click.echo(json.dumps(envelope(sub, None, error_object(e.exit_code, e, message)), indent=2, sort_keys=True))
    click.echo(f"Error: {message}", err=True)
    return True


def remember_argv(ctx: click.Context, args: list[str]) -> None:
    ctx.meta[_ARGV] = list(args)


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


def examples(*lines: str) -> str:
    """A command's `--help` epilog: examples as typed, kept line by line."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
