"""Two runs writing to one output folder at once: the second stops at once with one line
(`another tc139k validate is writing to OUT`), exit 1, and takes nothing from the first
(which used to lose its temporaries to the second's clean-up of "stale" files). Jobs of one
sharded key-frame run share the folder; an unsharded run beside them does not.

The first run is a real subprocess held in the middle of its work (its atomic-write layer
waits before a rename, as in test_sigterm); the second is a real CLI run."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from shard_inputs import make_inputs
from test_sigterm import HELD, _env

from tc139k.cli import main
from tc139k.errors import EXIT_FAILED


@pytest.fixture(scope="module")
def inputs(sample, tmp_path_factory):
    return make_inputs(sample, tmp_path_factory.mktemp("lock-inputs"))


def _hold(tmp_path: Path, args: list[str], nth: int = 1) -> tuple[subprocess.Popen, Path]:
    flag = tmp_path / f"held-{len(list(tmp_path.glob('held-*')))}"
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HELD), str(flag), str(nth), *args],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return proc, flag


def _wait_held(proc, flag: Path, what: str) -> None:
    import time

    deadline = time.monotonic() + 240
    while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert flag.exists(), f"{what} never reached its held write: {proc.stderr.read().decode()[-2000:]}"


@pytest.mark.parametrize("command", ["validate", "keyframes", "shards"])
def test_a_second_run_into_the_same_folder_stops_at_once(inputs, sample, tmp_path, command):
    out = tmp_path / "out"
    frames = str(sample.frames)
    args = {
        "validate": ["validate", str(sample.qa), "--frames-root", frames, "--out", str(out)],
        "keyframes": ["keyframes", "build", "--frames-root", frames, "--method", "pixel", "--out", str(out)],
        "shards": ["shards", "build", "--qa", str(inputs.qa), "--keyframes", str(inputs.keyframes)]
        + ["--frames-root", frames, "--out", str(out)],
    }[command]
    first, flag = _hold(tmp_path, args)
    try:
        _wait_held(first, flag, command)
        held = Path(flag.read_text())
        second = CliRunner().invoke(main, args)
        assert second.exit_code == EXIT_FAILED, second.output
        assert f"another tc139k {args[0]}" in second.output and str(out) in second.output, second.output
        assert held.exists(), "the second run removed the first one's temporary"
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output


SHARD_JOB = HELD.replace(
    'from tc139k.cli import main\nmain(sys.argv[3:], prog_name="tc139k")',
    "from tc139k.keyframes.build import run_keyframes\n"
    "frames, out, index = sys.argv[3:]\n"
    "run_keyframes(out=out, frames_root=frames, method='pixel', videos_per_file=2, num_shards=2, "
    "shard_index=int(index))",
)


def test_jobs_of_a_sharded_run_share_the_folder_and_an_unsharded_run_waits(sample, tmp_path):
    from tc139k.keyframes.build import run_keyframes

    assert SHARD_JOB != HELD
    out = tmp_path / "kf"
    flag = tmp_path / "held"
    first = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SHARD_JOB), str(flag), "1", str(sample.frames), str(out), "0"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = ["keyframes", "build", "--frames-root", str(sample.frames), "--method", "pixel", "--videos-per-file", "2"]
    try:
        _wait_held(first, flag, "shard 0")
        run_keyframes(
            out=out, frames_root=sample.frames, method="pixel", videos_per_file=2, num_shards=2, shard_index=1
        )
        assert Path(flag.read_text()).exists()  # shard 1 wrote beside shard 0 and left its temporary alone
        whole = CliRunner().invoke(main, [*base, "--out", str(out)])
        assert whole.exit_code == EXIT_FAILED and "another tc139k keyframes build" in whole.output, whole.output
    finally:
        first.kill()
        first.wait()
    whole = CliRunner().invoke(main, [*base, "--out", str(out)])
    assert whole.exit_code == 0, whole.output
