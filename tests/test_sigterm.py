"""SIGTERM (`kill`, `timeout`, a batch system's time limit, a pod stopped) is handled as Ctrl-C
is, in every command that writes: one line, "Terminated; rerun the same command to resume.",
exit 143, no traceback, no temporary file left, no worker or semaphore leaked, and a rerun
writes the same bytes as a run never stopped.

Each command runs in a real subprocess and gets a real SIGTERM. So that it arrives in the
middle of the work and not by luck of timing, the subprocess's atomic-write layer holds its
N-th write, finished but not yet renamed into place, until the signal comes; `download` is
stopped in the middle of a throttled transfer instead.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner
from hubserver import HubServer
from shard_inputs import make_inputs

import tc139k
from tc139k.cli import main
from tc139k.errors import EXIT_TERMINATED

HELD = """
import sys, time
from contextlib import contextmanager
from pathlib import Path
import tc139k.atomic as atomic

flag, nth = Path(sys.argv[1]), int(sys.argv[2])
real = atomic.atomic_path
calls = []

@contextmanager
def held_atomic_path(path):
    with real(path) as tmp:
        yield tmp
        calls.append(path)
        if len(calls) == nth:  # written, not yet renamed: wait here for the signal
            flag.write_text(str(tmp))
            time.sleep(300)

atomic.atomic_path = held_atomic_path
from tc139k.cli import main
main(sys.argv[3:], prog_name="tc139k")
"""


def _env() -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(Path(tc139k.__file__).parent.parent),  # the code under test
        "TC139K_NO_PROGRESS": "1",
    }


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _terminate(proc: subprocess.Popen, ready, what: str) -> str:
    """Wait until `ready()` says the work is under way, send SIGTERM, return stderr."""
    deadline = time.monotonic() + 240
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail(f"{what} ended before SIGTERM: {proc.stderr.read().decode()[-3000:]}")
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{what} did not end within 120 s of SIGTERM")
    _, alive = psutil.wait_procs(children, timeout=15)
    assert alive == [], f"{what}: processes outlived it: {alive}"
    return err.decode()


def _assert_terminated(proc, err: str, what: str) -> None:
    assert proc.returncode == EXIT_TERMINATED, (what, proc.returncode, err[-3000:])
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[-1] == "Terminated; rerun the same command to resume.", (what, err[-3000:])
    assert "Traceback" not in err and "leaked" not in err, (what, err[-3000:])


@pytest.fixture(scope="module")
def inputs(sample, tmp_path_factory):
    return make_inputs(sample, tmp_path_factory.mktemp("sigterm-inputs"))


def _commands(inputs, sample, out: Path) -> dict[str, tuple[list[str], Path, int]]:
    """command -> (arguments, the folder it writes, which atomic write to hold)."""
    frames = str(sample.frames)
    return {
        "validate": (
            ["validate", str(sample.qa), "--frames-root", frames, "--out", str(out), "--workers", "2"],
            out,
            2,
        ),
        "keyframes": (
            ["keyframes", "build", "--frames-root", frames, "--method", "pixel", "--videos-per-file", "2"]
            + ["--out", str(out)],
            out,
            3,
        ),
        "shards": (
            ["shards", "build", "--qa", str(inputs.qa), "--keyframes", str(inputs.keyframes), "--frames-root", frames]
            + ["--out", str(out), "--embed-frames", "--min-shards", "4"],
            out,
            2,
        ),
        "export": (
            ["export", "swift", "--qa", str(inputs.qa), "--frames-root", frames, "--split"]
            + ["--out", str(out / "swift.jsonl")],
            out,
            1,
        ),
    }


@pytest.mark.parametrize("command", ["validate", "keyframes", "shards", "export"])
def test_sigterm_is_handled_like_ctrl_c_and_the_rerun_is_identical(inputs, sample, tmp_path, command):
    args, out, nth = _commands(inputs, sample, tmp_path / "stopped")[command]
    flag = tmp_path / "held"
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HELD), str(flag), str(nth), *args],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    err = _terminate(proc, flag.exists, command)
    _assert_terminated(proc, err, command)
    held = Path(flag.read_text())
    assert held.name.endswith(".tmp") and not held.exists(), held  # the held temporary was removed
    assert not [p for p in out.rglob("*.tmp")], sorted(out.rglob("*.tmp"))

    rerun = CliRunner().invoke(main, args)
    assert rerun.exit_code == 0, rerun.output
    clean_args, clean_out, _ = _commands(inputs, sample, tmp_path / "clean")[command]
    assert CliRunner().invoke(main, clean_args).exit_code == 0
    assert _digests(out) == _digests(clean_out) and _digests(out)


def test_sigterm_in_a_transfer_keeps_the_partial_file_and_the_rerun_resumes(sample, tmp_path):
    repo = "yaolily/TimeChat-Online-139K"
    with HubServer({repo: sample.repo}) as hub:
        big = max(sample.repo.rglob("*.tar.gz*"), key=lambda p: p.stat().st_size)
        name = big.relative_to(sample.repo).as_posix()
        hub.throttle = {name: big.stat().st_size // 8}  # about 8 s for that archive
        env = {**_env(), "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf")}
        env.pop("HF_HUB_OFFLINE", None)
        local = tmp_path / "local"
        cmd = [sys.executable, "-m", "tc139k", "download", "--local-dir", str(local), "--no-hf-cache"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        started: list[float] = []

        def transferring() -> bool:  # its partial file exists, and a second of transfer has passed
            if not started and list((local / ".tc139k" / "partial").glob(f"{big.name}.*.part")):
                started.append(time.monotonic())
            return bool(started) and time.monotonic() - started[0] > 1.0

        err = _terminate(proc, transferring, "download")
        _assert_terminated(proc, err, "download")
        kept = list((local / ".tc139k" / "partial").glob(f"{big.name}.*.part"))
        assert len(kept) == 1 and 0 < kept[0].stat().st_size < big.stat().st_size  # what came in was kept
        hub.throttle = {}
        again = subprocess.run(cmd, env=env, capture_output=True, timeout=300)
        assert again.returncode == 0, again.stderr.decode()[-3000:]
        resumed = [e for e in hub.requests("resolve") if e.path == name and e.range]
        assert resumed, "the rerun fetched the archive from zero"
        clean = subprocess.run(
            [*cmd[:-3], "--local-dir", str(tmp_path / "clean"), "--no-hf-cache"], env=env, capture_output=True
        )
        assert clean.returncode == 0, clean.stderr.decode()[-3000:]
    frames = {k: v for k, v in _digests(local / "frames").items()}
    assert frames and frames == _digests(tmp_path / "clean" / "frames")
