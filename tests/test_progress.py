"""Progress: tqdm bars only on a terminal, log lines through `logging` otherwise, nothing when
switched off (with the usual truthy values), under -q, or for empty work."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tc139k import progress as pg
from tc139k.progress import LogProgress, NoBar, progress

TC139K = str(Path(sys.executable).with_name("tc139k"))
CONTROL = re.compile(r"[\r\x1b]")


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("TC139K_NO_PROGRESS", "HF_HUB_DISABLE_PROGRESS_BARS", "TC139K_PROGRESS_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    pg.set_verbosity(0)
    yield monkeypatch
    pg.set_verbosity(0)


def test_bars_off_do_not_import_tqdm():
    code = (
        "import sys, os; os.environ['TC139K_NO_PROGRESS'] = '1'; from tc139k.progress import progress; "
        "b = progress(total=3); b.update(2); b.close(); print(type(b).__name__, 'tqdm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["NoBar", "False"]


def test_a_bar_on_a_terminal_and_log_lines_elsewhere(clean_env):
    clean_env.setattr(sys, "stderr", TTY())
    bar = progress(total=3, desc="x")
    bar.update(2)
    assert bar.n == 2 and type(bar._bar).__module__.startswith("tqdm")
    bar.close()
    assert "x:" in sys.stderr.getvalue()
    clean_env.setattr(sys, "stderr", io.StringIO())  # a file: not a terminal
    assert isinstance(progress(total=3), LogProgress)
    assert isinstance(progress(total=3, enabled=False), NoBar)


@pytest.mark.parametrize("name", ["TC139K_NO_PROGRESS", "HF_HUB_DISABLE_PROGRESS_BARS"])
@pytest.mark.parametrize(
    "value, off",
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("false", False), ("", False)],
)
def test_switches_take_the_usual_truthy_values(clean_env, name, value, off):
    clean_env.setattr(sys, "stderr", TTY())
    clean_env.setenv(name, value)
    assert isinstance(progress(total=3), NoBar) == off


def test_quiet_and_empty_work_show_nothing(clean_env):
    clean_env.setattr(sys, "stderr", TTY())
    assert isinstance(progress(total=0, desc="empty"), NoBar)
    bar = progress(total=None, desc="download", unit="B", unit_scale=True)
    bar.update(0)
    bar.close()  # no work arrived: no bar was ever drawn
    assert sys.stderr.getvalue() == "" and "tqdm" not in repr(vars(bar))
    pg.set_verbosity(-1)
    assert isinstance(progress(total=5), NoBar)


def test_log_lines_say_done_total_rate_and_eta(clean_env, caplog):
    caplog.set_level(logging.INFO, logger="tc139k.progress")
    bar = LogProgress(total=2_000_000, desc="download", unit="B", unit_scale=True, interval=0.0)
    bar.update(500_000)
    bar.close()
    lines = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(r"download: 500\.0 kB / 2\.0 MB \(25%\), [\d.]+ [kMG]?B/s, ETA \S+", lines[0]), lines
    assert re.fullmatch(r"download: 500\.0 kB done in \S+ \([\d.]+ [kMG]?B/s\)", lines[-1]), lines
    caplog.clear()
    quiet = LogProgress(total=10, desc="key frames", unit="video", interval=3600)
    quiet.update(3)  # within the interval: no line yet
    assert caplog.records == []
    quiet.close()
    assert [r.getMessage().split(" done")[0] for r in caplog.records] == ["key frames: 3 videos"]


@pytest.mark.parametrize(
    "seconds, done, rate",
    [(10, 50, "5.0 videos/s"), (120, 5, "2.5 videos/min"), (600, 2, "5m00s per video"), (3600, 0.5, "2h00m per video")],
)
def test_a_slow_rate_reads_per_minute_or_as_time_per_unit(clean_env, caplog, seconds, done, rate):
    """The feature method on a CPU does a video in tens of seconds: never `0.0 videos/s`."""
    caplog.set_level(logging.INFO, logger="tc139k.progress")
    bar = LogProgress(total=100, desc="key frames", unit="video", interval=0.0)
    bar.t0 -= seconds  # as if the work had started that long ago
    bar.update(done)
    assert f"), {rate}, ETA" in caplog.records[0].getMessage(), caplog.records[0].getMessage()


def _run(args, tmp_path, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in ("TC139K_NO_PROGRESS", "HF_HUB_DISABLE_PROGRESS_BARS")}
    full_env.update(TC139K_PROGRESS_INTERVAL="0.001", **env)
    err = tmp_path / f"stderr-{len(list(tmp_path.glob('stderr-*')))}.txt"
    with open(err, "wb") as fh:  # a real file, as in a batch job's log
        proc = subprocess.run([TC139K, *args], stdout=subprocess.PIPE, stderr=fh, env=full_env, cwd=tmp_path)
    assert proc.returncode == 0, err.read_text()
    return err.read_text()


def test_redirected_stderr_holds_log_lines_and_no_control_characters(sample, tmp_path):
    err = _run(["download", "--mirror", str(sample.repo), "--local-dir", "data"], tmp_path)
    assert not CONTROL.search(err), repr(err[:300])
    assert re.search(r"^\d\d:\d\d:\d\d INFO tc139k\.progress: download: [\d.]+ kB done in", err, re.M), err
    assert re.search(r"tc139k\.progress: extract youcook2: \d+ frames, [\d,.]+ frames/s", err), err

    err = _run(["keyframes", "build", "--frames-root", "data/frames", "--method", "pixel", "--out", "kf"], tmp_path)
    assert not CONTROL.search(err), repr(err[:300])
    rate = r"([\d.]+ videos/(s|min)|\S+ per video)"
    assert re.search(rf"key frames: \d+/14 videos \(\d+%\), {rate}, ETA \S+$", err, re.M), err
    assert "key frames: 14 videos done in" in err

    again = _run(["download", "--mirror", str(sample.repo), "--local-dir", "data"], tmp_path)
    assert again == ""  # up to date: no empty progress of any kind


def test_quiet_and_the_switches_silence_progress_in_a_subprocess(sample, tmp_path):
    args = ["download", "--mirror", str(sample.repo), "--annotations-only", "--local-dir"]
    assert "download:" in _run([*args, "a"], tmp_path, TC139K_NO_PROGRESS="0")
    assert _run(["-q", *args, "b"], tmp_path) == ""
    assert _run([*args, "c"], tmp_path, HF_HUB_DISABLE_PROGRESS_BARS="true") == ""
