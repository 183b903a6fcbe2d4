"""One translation of huggingface_hub's and its HTTP client's errors into the toolkit's typed
errors, for every command that talks to the Hub (download, shards push): a repository or
revision not found, a gated repository, offline mode, an HTTP status, a timeout, a refused
connection or a name that does not resolve. Each message says what was being done, where,
and what to do next; nothing of the request (headers, token) is quoted.

`HubErrors(doing, where=..., ...)` is a context manager: inside it, those errors become the
toolkit's; anything else passes through. `retry_after_s(headers)` reads how long a server
asks a client to wait (`Retry-After` in seconds or as an HTTP date, or the Hub's rate-limit
reset) and `longer_than_allowed` says so in one line, for the commands that cap waits.
"""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime

from .errors import DownloadError, GatedRepoError, RepoNotFoundError, RevisionNotFoundError, Tc139kError

RETRY_STATUS = (408, 429, 500, 502, 503, 504)
_HTTP_HINTS = {
    401: "the token is missing or invalid: set HF_TOKEN or run `hf auth login`",
    403: "this token is not allowed to do that: use a token with the access it needs",
}
# A connect error whose cause is a name lookup: retrying cannot fix it.
_NAME_LOOKUP = re.compile(r"name or service not known|nodename nor servname|getaddrinfo|name resolution", re.I)


class HubErrors:
    """Inside `with HubErrors(...)`, huggingface_hub's and httpx's errors become the toolkit's.

    `doing`: what was being done ("downloading x.tar.gz"); `repo_id` and `endpoint`: where;
    `error`: the class for failures that are not a missing repository, revision or access
    (DownloadError, PushError); `http_hints`: status -> what to do, overriding the default;
    `attempts`: how many times the request was made; `timed_out`: describes a timeout."""

    def __init__(
        self,
        doing: str,
        *,
        repo_id: str,
        endpoint: str,
        revision: str | None = None,
        commit: str | None = None,
        error: type[Tc139kError] = DownloadError,
        http_hints: dict[int, str] | None = None,
        attempts: int = 1,
        timed_out=None,
        login_hint: str = "set HF_TOKEN to a token that can read it",
        rerun_hint: str = "rerun later",
    ):
        self.doing, self.repo_id, self.endpoint, self.revision = doing, repo_id, endpoint, revision
        self.where = f"{repo_id} on {endpoint}"
        self.commit = commit
        self.error, self.http_hints, self.attempts = error, http_hints or {}, attempts
        self.timed_out, self.login_hint, self.rerun_hint = timed_out, login_hint, rerun_hint

    def __enter__(self):
        return self

    def __exit__(self, typ, e, tb):
        if e is None:
            return False
        translated = self.translate(e)
        if translated is None:
            return False
        raise translated from None

    def translate(self, e: BaseException) -> Tc139kError | None:
        import httpx2
        from huggingface_hub import errors as hf

        if isinstance(e, hf.GatedRepoError):
            return GatedRepoError(
                f"{self.where} is gated: accept its conditions on its page and set HF_TOKEN (or run "
                "`hf auth login`) with an account that has access"
            )
        if isinstance(e, hf.RepositoryNotFoundError):
            return RepoNotFoundError(
                f"dataset repository {self.repo_id!r} not found on {self.endpoint}, or this token cannot see it "
                f"({self.login_hint}, or run `hf auth login`)"
            )
        if isinstance(e, hf.RevisionNotFoundError):
            return RevisionNotFoundError(f"revision {self.revision!r} not found in {self.where}")
        if isinstance(e, hf.RemoteEntryNotFoundError):
            at = f" at {self.commit}" if self.commit else ""
            return self.error(f"{self.doing}: file not found in {self.where}{at}")
        if isinstance(e, hf.OfflineModeIsEnabled):
            return self.error(f"{self.doing}: HF_HUB_OFFLINE is set, the Hub cannot be reached")
        if isinstance(e, hf.HfHubHTTPError):
            status = e.response.status_code if e.response is not None else "?"
            hint = self.http_hints.get(status) or _HTTP_HINTS.get(status)
            after = ""
            if status in RETRY_STATUS:
                after = f" after {self.attempts} attempts" if self.attempts > 1 else ""
                hint = hint or self.rerun_hint
            return self.error(
                f"{self.doing} ({self.where}) failed with HTTP {status}{after}" + (f"; {hint}" if hint else "")
            )
        if isinstance(e, httpx2.TimeoutException):
            why = self.timed_out(e) if self.timed_out else f"no answer from {self.endpoint} in time"
            return self.error(
                f"{self.doing}: {why}, {self.attempts} attempt(s); {self.rerun_hint}, or allow more time with "
                "--timeout (TC139K_TIMEOUT)"
            )
        if isinstance(e, httpx2.TransportError):
            return self.error(f"{self.doing}: {cannot_reach(self.endpoint, e)}; {self.rerun_hint}")
        return None


def cannot_reach(endpoint: str, e: BaseException) -> str:
    """One line for a connection that failed: a name lookup, a refusal, a reset."""
    if _NAME_LOOKUP.search(str(e)):
        return name_not_resolved(endpoint, e)
    return f"cannot reach {endpoint} ({e.__class__.__name__}: {e}); check the network or HF_ENDPOINT"


def name_not_resolved(endpoint: str, why) -> str:
    """One line for an endpoint whose host name does not resolve (no retry can help)."""
    return (
        f"cannot reach {endpoint}: its name does not resolve ({why}); check the network, a proxy "
        "(HTTPS_PROXY) or HF_ENDPOINT"
    )


def retry_after_s(headers, status: int, now: float | None = None) -> float | None:
    """Seconds the server asks to wait before the next request, or None when it does not say.

    `Retry-After` as seconds or as an HTTP date; for 429, the Hub's `RateLimit` reset."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is not None:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - (time.time() if now is None else now))
    if status == 429:
        from huggingface_hub.utils import parse_ratelimit_headers

        info = parse_ratelimit_headers(headers)
        if info is not None and info.remaining == 0:
            return float(info.reset_in_seconds)
    return None


def longer_than_allowed(url: str, status: int, wait_s: float, waited_s: float, max_wait_s: float) -> DownloadError:
    """The error for a server that asks a longer wait than --max-wait allows."""
    already = f" after {human_seconds(waited_s)} of waiting" if waited_s else ""
    return DownloadError(
        f"{url} answered HTTP {status} and asked to wait {human_seconds(wait_s)} before trying again{already}, "
        f"more than --max-wait {max_wait_s:g} s (TC139K_MAX_WAIT) allows; rerun later, or allow a longer wait "
        "with --max-wait"
    )


def human_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"
