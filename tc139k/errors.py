"""Typed errors and the exit codes of the CLI. Every error the toolkit raises on purpose
derives from Tc139kError; the CLI (cli/_common.handle_errors) turns them into a one-line
`Error: ...` and the error's exit code.

The exit-code rule, the same for every command:

    0    ok
    1    the run failed: the data failed a check, the run made nothing useful (every video
         failed, zero rows, zero shards), a file is damaged, the disk is full, or the Hub or
         the network gave no usable answer
    2    usage: a bad option or combination, a path that does not exist, a folder that is
         not laid out as the option expects (e.g. --frames-root pointing at the download
         folder instead of its frames/), a bad recipe value, model weights that are not there
    130  interrupted (Ctrl-C, SIGINT); rerun the same command to resume
    143  terminated (SIGTERM: `kill`, `timeout`, a batch system's time limit, a pod stopped);
         handled as Ctrl-C is (workers stopped, temporary files removed); rerun to resume

A second SIGTERM while the first is being handled ends the process at once.
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, what shells and batch systems report for it

# The same rule for `tc139k --help` (click keeps lines after a \b line as they are).
EXIT_CODES_HELP = """\b
Exit codes, the same for every command:
  0    ok
  1    the run failed: the data failed a check, the run made nothing useful
       (every video failed, 0 rows, 0 shards), a file is damaged, the disk is full,
       the Hub or the network gave no usable answer
  2    usage: a bad option, a path that does not exist, a folder laid out otherwise
       (e.g. --frames-root DATA instead of DATA/frames), a bad recipe value
  130  interrupted (Ctrl-C); rerun the same command to resume
  143  terminated (SIGTERM: kill, timeout, a batch time limit); rerun to resume"""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by the CLI's handler: every path that cleans up
    after Ctrl-C (KeyboardInterrupt) cleans up after it too."""


class Tc139kError(Exception):
    """Base class. `exit_code` is what the CLI exits with."""

    exit_code = EXIT_FAILED


class UsageError(Tc139kError):
    """Bad option values or combinations, a missing path, a folder laid out otherwise."""

    exit_code = EXIT_USAGE


class RepoNotFoundError(Tc139kError):
    pass


class RevisionNotFoundError(Tc139kError):
    pass


class GatedRepoError(Tc139kError):
    pass


class DownloadError(Tc139kError):
    """Network failure or an unusable answer from the Hub or a mirror."""


class PushError(Tc139kError):
    """The Hub refused or failed an upload."""


class IntegrityError(Tc139kError):
    """A file's size or hash differs from what the Hub or the manifest states."""


class NotWritableError(Tc139kError):
    """A folder or file the run must write is read-only or not the user's (EROFS, EACCES, EPERM)."""


class FolderBusyError(Tc139kError):
    """Another run is writing to the same output folder."""


class DiskFullError(Tc139kError):
    """No space left (ENOSPC or a quota) while writing; the message names the file."""


class DamagedFileError(Tc139kError):
    """A file an earlier run wrote is truncated, empty or not what it should be; the message
    names it and the command that rebuilds it."""


class CheckFailedError(Tc139kError):
    """The data failed a check: more invalid records than allowed, a calibration that missed
    its target."""


class EmptyResultError(Tc139kError):
    """The run finished but made nothing useful (every video failed, zero rows or shards)."""


class HostileArchiveError(Tc139kError):
    """An archive member that could write outside its folder or is otherwise unsafe."""


class SchemaError(Tc139kError):
    """A schema file, or a file whose layout the toolkit does not understand."""


class ModelNotFoundError(Tc139kError):
    """Model weights are not available locally: the user must point --pretrained elsewhere."""

    exit_code = EXIT_USAGE


class RecipeError(Tc139kError):
    """A pipeline recipe with an unknown key or a bad value, or no such recipe."""

    exit_code = EXIT_USAGE
