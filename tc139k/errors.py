"""Typed errors. Every error the toolkit raises on purpose derives from Tc139kError;
the CLI turns them into a one-line message and a non-zero exit code."""


class Tc139kError(Exception):
    """Base class. `exit_code` is what the CLI exits with."""

    exit_code = 1


class UsageError(Tc139kError):
    """Bad option values or combinations."""

    exit_code = 2


class RepoNotFoundError(Tc139kError):
    pass


class RevisionNotFoundError(Tc139kError):
    pass


class GatedRepoError(Tc139kError):
    pass


class DownloadError(Tc139kError):
    """Network failure or an unusable answer from the Hub or a mirror."""


class IntegrityError(Tc139kError):
    """A file's size or hash differs from what the Hub or the manifest states."""


class DiskFullError(Tc139kError):
    pass


class HostileArchiveError(Tc139kError):
    """An archive member that could write outside its folder or is otherwise unsafe."""


class SchemaError(Tc139kError):
    """A schema file, or a file whose layout the toolkit does not understand."""


class ModelNotFoundError(Tc139kError):
    """Model weights are not available locally."""


class RecipeError(Tc139kError):
    """A pipeline recipe with an unknown key or a bad value."""
