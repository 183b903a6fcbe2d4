"""`tc139k download` against a faulty Hub, hostile archives and planted links.

The real huggingface_hub client talks to tests/hubserver.py on 127.0.0.1, whose `faults`
inject status codes, stalls and non-JSON answers; archives are real tar.gz files built here;
links are real symbolic links.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from hubserver import STALL, HubServer, Raw
from test_extract import tar_gz

from tc139k.download.extract import EXPANSION_FLOOR, WORK_DIR, extract_frames
from tc139k.download.hub import MANIFEST_NAME
from tc139k.download.run import run_download
from tc139k.errors import DownloadError, HostileArchiveError

REPO = "yaolily/TimeChat-Online-139K"
FAST = {"retries": 2, "backoff": 0.01, "show_progress": False}
MiB = 1 << 20


def zeros_bomb(n: int, member_bytes: int) -> bytes:
    """`n` frames of zeros, each under the member cap: a tiny archive that expands enormously."""
    return tar_gz([(f"frames/bomb/v1/{i:06d}.jpg", bytes(member_bytes)) for i in range(n)])


@pytest.fixture(scope="module")
def repos(sample, tmp_path_factory):
    base = tmp_path_factory.mktemp("fault-repos")
    bomb = base / "bomb"
    bomb.mkdir()
    shutil.copy(sample.repo / "README.md", bomb / "README.md")
    (bomb / "Bomb.tar.gz").write_bytes(zeros_bomb(40, 2 * MiB))  # 80 MiB from about 80 KB
    return {"sample": sample.repo, "bomb": bomb}


@pytest.fixture(scope="module")
def hub(repos):
    with HubServer({REPO: repos["sample"], "test/bomb": repos["bomb"]}) as server:
        yield server


@pytest.fixture(autouse=True)
def clean_hub(request):
    if "hub" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("hub")
    server.reset()
    yield
    server.reset()  # also ends any stall still holding a connection


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under `folder` with its bytes (None for folders): any write shows."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))
    }


def cli(hub, tmp_path, *args, **env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env.update(
        HF_ENDPOINT=hub.endpoint,
        HF_HOME=str(tmp_path / "hf-home"),
        TC139K_NO_PROGRESS="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        **env_extra,
    )
    return subprocess.run(
        [sys.executable, "-m", "tc139k", "download", *args], capture_output=True, text=True, env=env, timeout=120
    )


# ---- 1. the repository-info call is retried ----------------------------------------------------


@pytest.mark.parametrize("status", [503, 500, 429])
def test_one_failed_info_call_is_retried(hub, tmp_path, status):
    hub.faults["info"] = [status]
    res = run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, annotations_only=True, **FAST)
    assert res.resolved_commit == hub.repos[REPO].commit and res.files_fetched
    assert [e.status for e in hub.requests("info")] == [status, 200]


def test_info_failing_every_time_gives_up_after_the_retries(hub, tmp_path):
    hub.faults["info"] = [503] * 10
    with pytest.raises(DownloadError) as err:
        run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, annotations_only=True, **FAST)
    msg = str(err.value)
    assert "reading the repository information" in msg and "HTTP 503 after 3 attempts" in msg
    assert len(hub.requests("info")) == 3 and not (tmp_path / "l").exists()


def test_failed_tree_pages_are_retried(hub, tmp_path):
    hub.page_size = 4
    hub.faults["tree"] = [502, 503]
    res = run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, annotations_only=True, **FAST)
    assert len(res.files_fetched) == 7  # every annotation file, listed across pages
    assert [e.status for e in hub.requests("tree")][:3] == [502, 503, 200]


def busy(wait: str, status: int = 429) -> Raw:
    return Raw(status, "application/json", b'{"error": "slow down"}', {"Retry-After": wait})


@pytest.mark.parametrize("kind", ["info", "tree", "resolve"])
def test_a_day_long_retry_after_stops_at_once_with_what_asked(hub, tmp_path, kind):
    """A Hub or proxy asking to come back in a day (429/503 + Retry-After) is not waited for:
    one error naming what answered, how long it asked and --max-wait; nothing sleeps."""
    hub.faults[kind] = [busy("86400", 503 if kind == "tree" else 429)]
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as err:
        run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, annotations_only=True, max_workers=1, **FAST)
    msg = str(err.value)
    assert time.monotonic() - t0 < 10
    assert "asked to wait 24.0 h" in msg and "--max-wait 300 s" in msg and "rerun later" in msg, msg
    status = 429 if kind != "tree" else 503
    assert hub.endpoint in msg and f"answered HTTP {status}" in msg, msg
    deadline = time.monotonic() + 5  # the server logs an answer after sending it
    while not any(e.status == status for e in hub.requests(kind)) and time.monotonic() < deadline:
        time.sleep(0.01)
    asked = [e for e in hub.requests(kind) if e.status == status]
    assert len(asked) == 1 and [e.path for e in hub.requests(kind)].count(asked[0].path) == 1  # not retried


def test_a_short_retry_after_is_waited_for_within_max_wait(hub, tmp_path):
    hub.faults["info"] = [busy("1", 503)]
    t0 = time.monotonic()
    res = run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, annotations_only=True, max_wait=5, **FAST)
    assert time.monotonic() - t0 >= 1.0  # as asked, not the 0.01 s backoff
    assert len(res.files_fetched) == 7 and [e.status for e in hub.requests("info")] == [503, 200]


def test_max_wait_bounds_the_total_of_several_waits(hub, tmp_path):
    """Each wait is within --max-wait, their sum is not: the run stops before passing it."""
    hub.faults["info"] = [busy("1"), busy("1"), busy("1")]
    with pytest.raises(DownloadError, match=r"after 2 s of waiting, more than --max-wait 3 s"):
        run_download(
            local_dir=tmp_path / "l", endpoint=hub.endpoint, annotations_only=True, max_wait=3, **{**FAST, "retries": 5}
        )
    deadline = time.monotonic() + 5  # the server logs an answer after sending it
    while len(hub.requests("info")) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(hub.requests("info")) == 2


def test_max_wait_from_the_command_line_and_the_environment(hub, tmp_path):
    hub.faults["info"] = [busy("600")]
    env = dict(os.environ, HF_ENDPOINT=hub.endpoint, TC139K_NO_PROGRESS="1", TC139K_MAX_WAIT="1000")
    env.pop("HF_HUB_OFFLINE", None)
    args = [sys.executable, "-m", "tc139k", "download", "--annotations-only", "--local-dir", str(tmp_path / "l")]
    r = subprocess.run([*args, "--max-wait", "10"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith("Error: ") and "asked to wait 10 min" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    hub.faults["info"] = [busy("0")]  # the environment's 1000 s allow a wait of 1 s
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr


# ---- 2. timeouts on every request ----------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, doing",
    [
        ("info", "reading the repository information"),
        ("tree", "listing the repository"),
        ("resolve", "transfer failed after 1 retries"),
    ],
)
def test_a_stalling_server_ends_with_the_host_and_the_timeout(hub, tmp_path, kind, doing):
    hub.faults[kind] = [STALL] * 10
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as err:
        run_download(
            local_dir=tmp_path / "l",
            endpoint=hub.endpoint,
            annotations_only=True,
            timeout=0.3,
            max_workers=1,
            **{**FAST, "retries": 1},
        )
    elapsed = time.monotonic() - t0
    msg = str(err.value)
    host = hub.endpoint.removeprefix("http://")
    assert doing in msg and f"no data from {host} within the 0.3 s timeout" in msg, msg
    per_target: dict = {}
    for e in hub.requests(kind):
        per_target[e.path] = per_target.get(e.path, 0) + 1
    assert set(per_target.values()) == {2}  # the first attempt and one retry
    assert elapsed < 5, elapsed  # not the 10 s the server would stall


def test_a_stalled_file_transfer_is_retried_and_completes(hub, sample, tmp_path):
    hub.faults["resolve"] = [STALL]
    local = tmp_path / "l"
    run_download(local_dir=local, endpoint=hub.endpoint, sources="tvsum", timeout=0.5, max_workers=1, **FAST)
    assert len([e for e in hub.requests("resolve") if e.status == 0]) == 1  # the stalled one
    assert len(list((local / "frames" / "tvsum").rglob("*.jpg"))) == sum(
        v["n_frames"] for v in sample.truth.values() if v["source"] == "tvsum"
    )


def test_a_transfer_stalling_mid_file_resumes_from_its_last_byte(hub, sample, tmp_path):
    part = "TVSum.tar.gz"
    hub.stall_after[part] = [200_000, 1]  # headers and 200 KB, then silence
    local = tmp_path / "l"
    t0 = time.monotonic()
    run_download(local_dir=local, endpoint=hub.endpoint, sources="tvsum", timeout=0.5, **FAST)
    assert time.monotonic() - t0 < 6  # not the 10 s the server stays silent
    gets = [e for e in hub.content_requests() if e.path == part]
    assert [e.range for e in gets] == [None, "bytes=200000-"]
    assert len(list((local / "frames" / "tvsum").rglob("*.jpg"))) == sum(
        v["n_frames"] for v in sample.truth.values() if v["source"] == "tvsum"
    )


def test_cli_timeout_from_the_environment(hub, tmp_path):
    """TC139K_TIMEOUT reaches every request: a stalled info call is cut short and retried."""
    hub.faults["info"] = [STALL]
    t0 = time.monotonic()
    r = cli(hub, tmp_path, "--local-dir", str(tmp_path / "l"), "--annotations-only", TC139K_TIMEOUT="0.5")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 8  # the stall alone lasts 10 s
    assert [e.status for e in hub.requests("info")] == [0, 200]
    assert "--timeout" in cli(hub, tmp_path, "--help").stdout


# ---- 3. answers that are not JSON --------------------------------------------------------------


PROXY_PAGE = b"<html><head><title>Sign in</title></head><body>corporate proxy</body></html>"


@pytest.mark.parametrize("kind, url_part", [("info", f"/api/datasets/{REPO}"), ("tree", f"/api/datasets/{REPO}/tree/")])
def test_a_200_answer_that_is_not_json_is_named(hub, tmp_path, kind, url_part):
    hub.faults[kind] = [Raw(200, "text/html; charset=utf-8", PROXY_PAGE)]
    with pytest.raises(DownloadError) as err:
        run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, annotations_only=True, **FAST)
    msg = str(err.value)
    assert f"{hub.endpoint}{url_part}" in msg and "answered HTTP 200" in msg and "is not JSON" in msg
    assert "text/html" in msg and "<html><head><title>Sign in" in msg
    assert "HF_ENDPOINT" in msg
    assert len(hub.requests(kind)) == 1  # a wrong kind of answer is not retried


@pytest.mark.parametrize(
    "kind, body, reason",
    [
        ("info", b'{"id": "x"}', "gives no commit id"),
        ("info", b"[1, 2]", "gives no commit id"),
        ("tree", b'{"error": "nope"}', "is not a list of files"),
        ("tree", b'[{"type": "file", "path": "a.jsonl", "size": "12", "oid": "x"}]', "holds an entry"),
        ("tree", b"[7]", "holds an entry"),
    ],
)
def test_json_of_the_wrong_shape_is_named(hub, tmp_path, kind, body, reason):
    hub.faults[kind] = [Raw(200, "application/json", body)]
    with pytest.raises(DownloadError, match=reason) as err:
        run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, annotations_only=True, **FAST)
    assert hub.endpoint in str(err.value)


def test_a_next_page_on_another_host_is_not_followed(hub, tmp_path):
    """The token travels with every listing request: it must not be sent elsewhere."""
    hub.faults["tree"] = [Raw(200, "application/json", b"[]", {"Link": '<http://198.51.100.7/steal>; rel="next"'})]
    with pytest.raises(DownloadError, match="198.51.100.7/steal.*not on 127.0.0.1"):
        run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, annotations_only=True, **FAST)


def test_cli_non_json_answer_is_an_error_line_not_a_traceback(hub, tmp_path):
    hub.faults["info"] = [Raw(200, "text/html", PROXY_PAGE)]
    r = cli(hub, tmp_path, "--local-dir", str(tmp_path / "l"), "--annotations-only")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "JSONDecodeError" not in r.stderr
    assert r.stderr.startswith(f"Error: {hub.endpoint}/api/datasets/{REPO} answered HTTP 200 (text/html"), r.stderr


# ---- 4. the total expansion of an archive is bounded ----------------------------------------------


def test_a_decompression_bomb_is_refused_with_the_member_named(tmp_path):
    arc = tmp_path / "Bomb.tar.gz"
    arc.write_bytes(zeros_bomb(12, 4 * MiB))  # 48 MiB of frames from about 50 KB
    assert arc.stat().st_size * 10 < EXPANSION_FLOOR < 48 * MiB
    local = tmp_path / "local"
    with pytest.raises(HostileArchiveError) as err:
        extract_frames([arc], source="bomb", label="Bomb.tar.gz", local_dir=local)
    msg = str(err.value)
    assert msg.startswith("Bomb.tar.gz: refusing member 'frames/bomb/v1/000003.jpg'"), msg
    assert f"expands past {EXPANSION_FLOOR} bytes" in msg and f"{arc.stat().st_size} compressed bytes" in msg
    assert "--max-expansion-ratio" in msg
    assert not (local / "frames").exists() and not any((local / WORK_DIR / "staging").iterdir())

    # the bound is the flag's: a trusted archive passes with a higher one
    res = extract_frames([arc], source="bomb", label="Bomb.tar.gz", local_dir=local, max_expansion_ratio=100_000)
    assert res.frames == 12


def test_a_bomb_after_the_tar_end_marker_is_refused(tmp_path):
    """tarfile stops at the end marker; checking the gzip trailer inflates the rest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("p/v1/000000.jpg")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"\xff\xd8abc"))
    arc = tmp_path / "Trail.tar.gz"
    arc.write_bytes(gzip.compress(raw.getvalue() + bytes(40 * MiB), mtime=0))
    with pytest.raises(HostileArchiveError, match=r"^Trail.tar.gz: refusing the archive: it expands past"):
        extract_frames([arc], source="trail", label="Trail.tar.gz", local_dir=tmp_path / "local")
    assert not (tmp_path / "local" / "frames").exists()


def test_absolute_cap_on_the_extracted_size(sample, tmp_path):
    coin = sample.repo / "COIN.tar.gz"
    with pytest.raises(HostileArchiveError, match="COIN.tar.gz: .*the 1000000-byte cap"):
        extract_frames([coin], source="coin", label="COIN.tar.gz", local_dir=tmp_path / "a", max_extract_bytes=10**6)
    assert not (tmp_path / "a" / "frames").exists()
    # real frame archives pass the defaults
    res = extract_frames([coin], source="coin", label="COIN.tar.gz", local_dir=tmp_path / "b")
    assert res.frames == sum(v["n_frames"] for v in sample.truth.values() if v["source"] == "coin")


def test_cli_refuses_the_bomb_and_the_dry_run_says_what_it_cannot_know(hub, tmp_path):
    local = tmp_path / "l"
    r = cli(hub, tmp_path, "--repo", "test/bomb", "--local-dir", str(local), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "estimate:" in r.stdout and "known only once extracted" in r.stdout
    assert "--max-expansion-ratio" in r.stdout and "16.8 MB at most" in r.stdout  # the 16 MiB floor

    r = cli(hub, tmp_path, "--repo", "test/bomb", "--local-dir", str(local))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("Error: Bomb.tar.gz: refusing member 'frames/bomb/v1/000007.jpg'"), r.stderr
    assert not (local / "frames").exists()
    assert sum(p.stat().st_size for p in local.rglob("*") if p.is_file()) < MiB  # not 80 MiB

    r = cli(hub, tmp_path, "--repo", "test/bomb", "--local-dir", str(local), "--max-expansion-ratio", "0.5")
    assert r.returncode == 2 and "--max-expansion-ratio" in r.stderr


def test_dry_run_reports_the_bound(hub, sample, tmp_path):
    res = run_download(local_dir=tmp_path / "l", endpoint=hub.endpoint, sources="coin,tvsum", dry_run=True, **FAST)
    sizes = [(sample.repo / n).stat().st_size for n in ("COIN.tar.gz", "TVSum.tar.gz")]
    assert res.frames_bytes_limit == sum(max(10 * s, EXPANSION_FLOOR) for s in sizes)
    res = run_download(
        local_dir=tmp_path / "l",
        endpoint=hub.endpoint,
        sources="coin,tvsum",
        dry_run=True,
        max_extract_bytes=10**6,
        **FAST,
    )
    assert res.frames_bytes_limit == 2 * 10**6


# ---- 5. duplicate members ------------------------------------------------------------------------


@pytest.mark.parametrize("second", ["p/v1/000001.jpg", "other/prefix/v1/000001.jpg"], ids=["same name", "same tail"])
def test_duplicate_frame_members_are_refused(tmp_path, second):
    arc = tmp_path / "Dup.tar.gz"
    arc.write_bytes(
        tar_gz([("p/v1/000000.jpg", b"\xff\xd80"), ("p/v1/000001.jpg", b"\xff\xd8first"), (second, b"\xff\xd8second")])
    )
    local = tmp_path / "local"
    with pytest.raises(HostileArchiveError) as err:
        extract_frames([arc], source="dup", label="Dup.tar.gz", local_dir=local)
    assert str(err.value).startswith(f"Dup.tar.gz: refusing member {second!r}: duplicate frame, v1/000001.jpg")
    assert not (local / "frames").exists() and not any((local / WORK_DIR / "staging").iterdir())


# ---- 6. planted links never redirect a write -------------------------------------------------------


@pytest.mark.parametrize(
    "link, kind",
    [
        (WORK_DIR, "dir"),
        (f"{WORK_DIR}/staging", "dir"),
        (f"{WORK_DIR}/partial", "dir"),
        (f"{WORK_DIR}/lock", "file"),
        ("frames", "dir"),
        ("frames/tvsum", "dir"),
        (MANIFEST_NAME, "file"),
        ("OtherTrainingDataset", "dir"),
    ],
)
def test_a_planted_link_never_redirects_a_write(hub, tmp_path, link, kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me\n")
    target = outside / "precious.txt" if kind == "file" else outside
    local = tmp_path / "local"
    planted = local / link
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.symlink_to(target)
    before = snapshot(outside)
    with pytest.raises(DownloadError) as err:
        run_download(local_dir=local, endpoint=hub.endpoint, sources="tvsum", max_workers=1, **FAST)
    msg = str(err.value)
    assert "resolves outside" in msg and f"the link {planted} -> {target}" in msg and "remove the link" in msg
    assert snapshot(outside) == before
    assert planted.is_symlink()  # left for the user to look at


def test_a_link_loop_is_refused(hub, tmp_path):
    local = tmp_path / "local"
    local.mkdir()
    (local / WORK_DIR).symlink_to(local / WORK_DIR)
    with pytest.raises(DownloadError, match="resolves outside"):
        run_download(local_dir=local, endpoint=hub.endpoint, annotations_only=True, **FAST)


def test_links_that_stay_inside_are_allowed(hub, sample, tmp_path):
    local = tmp_path / "local"
    (local / "elsewhere-inside").mkdir(parents=True)
    (local / WORK_DIR).symlink_to(local / "elsewhere-inside")
    res = run_download(local_dir=local, endpoint=hub.endpoint, sources="tvsum", **FAST)
    assert res.frames_total == sum(v["n_frames"] for v in sample.truth.values() if v["source"] == "tvsum")


def test_retry_after_is_read_as_seconds_as_a_date_and_from_the_rate_limit():
    from email.utils import formatdate

    from tc139k.huberrors import retry_after_s

    now = 1_800_000_000.0
    assert retry_after_s({"retry-after": " 120 "}, 503, now) == 120
    assert retry_after_s({"Retry-After": formatdate(now + 90, usegmt=True)}, 503, now) == pytest.approx(90)
    assert retry_after_s({"Retry-After": formatdate(now - 90, usegmt=True)}, 503, now) == 0  # already past
    assert retry_after_s({"Retry-After": "soon"}, 503, now) is None
    limited = {"RateLimit": '"api";r=0;t=55', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'}
    assert retry_after_s(limited, 429, now) == 55
    assert retry_after_s(limited, 503, now) is None  # the rate-limit reset is a 429's
