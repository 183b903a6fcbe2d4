"""tc139k/huberrors.py in process: each of huggingface_hub's and httpx's errors becomes the
toolkit's typed error with a message that says what was being done, where and what to do;
anything else passes through; `retry_after_s` reads every form of wait a server may ask;
`human_seconds` changes unit exactly at its bounds.

The commands' own tests (test_download_faults.py, test_push.py) see these messages through
real subprocesses against the tests' Hub server; these pin the contract of each branch."""

from __future__ import annotations

import email.utils

import httpx2
import pytest
from huggingface_hub import errors as hf

from tc139k.errors import DownloadError, GatedRepoError, PushError, RepoNotFoundError, RevisionNotFoundError
from tc139k.huberrors import (
    HubErrors,
    cannot_reach,
    human_seconds,
    longer_than_allowed,
    name_not_resolved,
    retry_after_s,
)

REPO, ENDPOINT = "org/data", "http://127.0.0.1:9"
WHERE = f"{REPO} on {ENDPOINT}"


def _response(status: int) -> httpx2.Response:
    return httpx2.Response(status, request=httpx2.Request("GET", f"{ENDPOINT}/api/datasets/{REPO}"))


def _translate(e: BaseException, **kw) -> BaseException:
    """What leaves `with HubErrors(...)` when `e` is raised inside it."""
    kw = {"repo_id": REPO, "endpoint": ENDPOINT, **kw}
    with pytest.raises(BaseException) as caught:
        with HubErrors("downloading x.tar", **kw):
            raise e
    return caught.value


def test_a_gated_repository_says_how_to_get_access():
    out = _translate(hf.GatedRepoError("gated", response=_response(403)))
    assert type(out) is GatedRepoError
    assert str(out).startswith(f"{WHERE} is gated: accept its conditions")
    assert "HF_TOKEN" in str(out) and "hf auth login" in str(out)


def test_a_missing_repository_names_it_its_endpoint_and_the_login_hint():
    out = _translate(hf.RepositoryNotFoundError("nope", response=_response(404)), login_hint="LOGIN-HINT")
    assert type(out) is RepoNotFoundError
    assert str(out) == (
        f"dataset repository '{REPO}' not found on {ENDPOINT}, or this token cannot see it "
        "(LOGIN-HINT, or run `hf auth login`)"
    )


def test_a_missing_revision_names_the_revision_and_where():
    out = _translate(hf.RevisionNotFoundError("nope", response=_response(404)), revision="v9")
    assert type(out) is RevisionNotFoundError and str(out) == f"revision 'v9' not found in {WHERE}"


@pytest.mark.parametrize("commit, at", [(None, ""), ("abc123", " at abc123")])
def test_a_missing_file_says_what_was_being_done_and_at_which_commit(commit, at):
    out = _translate(hf.RemoteEntryNotFoundError("nope", response=_response(404)), commit=commit, error=PushError)
    assert type(out) is PushError and str(out) == f"downloading x.tar: file not found in {WHERE}{at}"


def test_offline_mode_is_named():
    out = _translate(hf.OfflineModeIsEnabled("offline"))
    assert type(out) is DownloadError
    assert str(out) == "downloading x.tar: HF_HUB_OFFLINE is set, the Hub cannot be reached"


@pytest.mark.parametrize(
    "status, attempts, hints, expected",
    [
        (401, 1, None, "failed with HTTP 401; the token is missing or invalid: set HF_TOKEN or run `hf auth login`"),
        (403, 1, None, "failed with HTTP 403; this token is not allowed to do that: use a token with the access"),
        (403, 1, {403: "OWN-HINT"}, "failed with HTTP 403; OWN-HINT"),
        (503, 1, None, "failed with HTTP 503; RERUN"),  # a retried status: the rerun hint
        (503, 4, None, "failed with HTTP 503 after 4 attempts; RERUN"),
        (429, 2, {429: "SLOW DOWN"}, "failed with HTTP 429 after 2 attempts; SLOW DOWN"),
        (418, 3, None, "failed with HTTP 418"),  # not retried: no count, no hint
    ],
)
def test_an_http_status_gets_its_hint_and_the_attempts_only_when_retried(status, attempts, hints, expected):
    out = _translate(
        hf.HfHubHTTPError("boom", response=_response(status)), attempts=attempts, http_hints=hints, rerun_hint="RERUN"
    )
    assert type(out) is DownloadError
    assert str(out).startswith(f"downloading x.tar ({WHERE}) {expected}")
    if status == 418:
        assert str(out) == f"downloading x.tar ({WHERE}) failed with HTTP 418"


def test_a_timeout_says_the_attempts_and_how_to_allow_more_time():
    out = _translate(httpx2.ReadTimeout("slow"), attempts=3, rerun_hint="RERUN")
    assert str(out) == (
        f"downloading x.tar: no answer from {ENDPOINT} in time, 3 attempt(s); RERUN, or allow more time with "
        "--timeout (TC139K_TIMEOUT)"
    )
    out = _translate(httpx2.ReadTimeout("slow"), timed_out=lambda e: f"WHY {e}")
    assert str(out).startswith("downloading x.tar: WHY slow, 1 attempt(s); rerun later")


def test_a_refused_connection_and_an_unresolved_name_are_told_apart():
    refused = _translate(httpx2.ConnectError("[Errno 111] Connection refused"))
    assert str(refused) == (
        f"downloading x.tar: cannot reach {ENDPOINT} (ConnectError: [Errno 111] Connection refused); "
        "check the network or HF_ENDPOINT; rerun later"
    )
    for text in ("[Errno -2] Name or service not known", "getaddrinfo failed", "Temporary failure in NAME RESOLUTION"):
        out = _translate(httpx2.ConnectError(text))
        assert str(out) == f"downloading x.tar: {name_not_resolved(ENDPOINT, httpx2.ConnectError(text))}; rerun later"
        assert "its name does not resolve" in str(out)
    assert cannot_reach(ENDPOINT, OSError("nodename nor servname provided")).startswith(
        f"cannot reach {ENDPOINT}: its name does not resolve (nodename nor servname provided)"
    )


def test_other_errors_pass_through_unchanged_and_a_clean_block_is_silent():
    e = ValueError("not a Hub error")
    assert _translate(e) is e
    with HubErrors("x", repo_id=REPO, endpoint=ENDPOINT) as h:
        pass
    assert h.where == WHERE


def test_the_translated_error_hides_the_original_traceback():
    out = _translate(hf.OfflineModeIsEnabled("offline"))
    assert out.__suppress_context__ and out.__cause__ is None


# ---- retry_after_s ---------------------------------------------------------------------------

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    "headers, status, expected",
    [
        ({"Retry-After": "120"}, 503, 120.0),
        ({"retry-after": " 7 "}, 503, 7.0),  # any case, surrounding spaces
        ({"Retry-After": "0"}, 429, 0.0),
        ({"Retry-After": email.utils.formatdate(NOW + 90, usegmt=True)}, 503, 90.0),
        ({"Retry-After": email.utils.formatdate(NOW - 90, usegmt=True)}, 503, 0.0),  # a date past: no wait
        ({"Retry-After": "Fri, 15 Jan 2027 08:00:00"}, 503, None),  # no zone: not a date to trust
        ({"Retry-After": "soon"}, 503, None),
        ({"Retry-After": "-5"}, 503, None),
        ({}, 503, None),
        ({"RateLimit": '"api";r=0;t=55'}, 429, 55.0),  # the Hub's reset, when nothing is left
        ({"RateLimit": '"api";r=3;t=55'}, 429, None),  # requests left: no wait asked
        ({"RateLimit": '"api";r=0;t=55'}, 503, None),  # only a 429 reads the rate limit
        ({"Retry-After": "12", "RateLimit": '"api";r=0;t=55'}, 429, 12.0),  # Retry-After first
    ],
)
def test_retry_after_reads_seconds_dates_and_the_rate_limit_reset(headers, status, expected):
    got = retry_after_s(headers, status, now=NOW)
    assert got == (pytest.approx(expected) if expected is not None else None)


# ---- messages of long waits --------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "0 s"), (119, "119 s"), (120, "2 min"), (7199, "120 min"), (7200, "2.0 h"), (86400, "24.0 h")],
)
def test_human_seconds_changes_unit_at_two_minutes_and_two_hours(seconds, text):
    assert human_seconds(seconds) == text


def test_a_wait_longer_than_allowed_says_what_was_asked_what_was_waited_and_what_to_do():
    e = longer_than_allowed("http://h/f", 429, 86400, 0, 300)
    assert type(e) is DownloadError
    assert str(e) == (
        "http://h/f answered HTTP 429 and asked to wait 24.0 h before trying again, more than --max-wait 300 s "
        "(TC139K_MAX_WAIT) allows; rerun later, or allow a longer wait with --max-wait"
    )
    e = longer_than_allowed("http://h/f", 503, 600, 90, 2.5)
    assert "asked to wait 10 min before trying again after 90 s of waiting, more than --max-wait 2.5 s" in str(e)
