"""The log lines of progress off a terminal (tc139k/progress.py), word for word, on a clock the
test moves: amounts with thousands separators or SI prefixes, durations, rates that never
read `0.0 videos/s`, the ETA, a line at most every interval, one closing line whose rate ends
at the last unit of work."""

from __future__ import annotations

import logging

import pytest

from tc139k import progress as pg
from tc139k.progress import LogProgress, _duration, _human


class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch, caplog):
    c = Clock()
    monkeypatch.setattr(pg.time, "monotonic", c)
    monkeypatch.delenv("TC139K_PROGRESS_INTERVAL", raising=False)
    caplog.set_level(logging.INFO, logger="tc139k.progress")
    return c


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tc139k.progress"]


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0.04, "0.0s"),
        (9.94, "9.9s"),
        (10, "10s"),
        (59.4, "59s"),
        (59.6, "1m00s"),
        (61, "1m01s"),
        (3599, "59m59s"),
        (3600, "1h00m"),
        (7265, "2h01m"),
        (36000 + 59 * 60 + 59, "10h59m"),
    ],
)
def test_durations(seconds, text):
    assert _duration(seconds) == text


@pytest.mark.parametrize(
    "n, unit, text",
    [
        (1234, "video", "1,234 videos"),
        (3, "video", "3 videos"),
        (3, "files", "3 files"),  # already plural
        (3, "", "3"),
        (0.8, "video", "0.8 videos"),  # a rate below one
        (9.96, "video", "10.0 videos"),
        (12.4, "video", "12 videos"),
        (1_000_000, "video", "1,000,000 videos"),
    ],
)
def test_counted_amounts(n, unit, text):
    assert _human(n, unit, False) == text


@pytest.mark.parametrize(
    "n, text",
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (2_500_000, "2.5 MB"), (3.2e9, "3.2 GB"), (5e12, "5.0 TB")],
)
def test_scaled_amounts_use_powers_of_ten(n, text):
    assert _human(n, "B", True) == text


@pytest.mark.parametrize(
    "per_s, unit, scale, text",
    [
        (12, "video", False, "12 videos/s"),
        (1, "video", False, "1 videos/s"),
        (0.5, "video", False, "30 videos/min"),
        (1 / 60, "video", False, "1 videos/min"),
        (1 / 61, "video", False, "1m01s per video"),
        (1 / 100, "videos", False, "1m40s per video"),
        (1 / 100, "", False, "1m40s per unit"),
        (0, "video", False, "0 videos/s"),
        (0.5, "B", True, "0 B/s"),  # bytes are never per minute
        (2_000_000, "B", True, "2.0 MB/s"),
    ],
)
def test_rates(per_s, unit, scale, text):
    assert LogProgress(unit=unit, unit_scale=scale)._rate(per_s) == text


def test_a_line_at_most_every_interval_counting_from_the_start(clock, caplog):
    bar = LogProgress(total=10, desc="key frames", unit="video", interval=30)
    clock.t += 29.9
    bar.update(3)
    assert lines(caplog) == []
    clock.t += 0.1  # exactly one interval after the start
    bar.update(0)
    assert lines(caplog) == ["key frames: 3/10 videos (30%), 6 videos/min, ETA 1m10s"]
    clock.t += 29.9
    bar.update(1)
    assert len(lines(caplog)) == 1  # the next one a whole interval after the last line
    clock.t += 0.1
    bar.update(1)
    assert lines(caplog)[1] == "key frames: 5/10 videos (50%), 5 videos/min, ETA 1m00s"


def test_no_line_before_any_work(clock, caplog):
    bar = LogProgress(total=10, desc="x", unit="video", interval=0)
    bar.update(0)
    clock.t += 5
    bar.close()
    assert lines(caplog) == []


def test_without_a_total_the_line_says_the_time_elapsed(clock, caplog):
    bar = LogProgress(desc="", unit="file", interval=0)
    clock.t += 4
    bar.update(10)
    assert lines(caplog) == ["progress: 10 files, 2.5 files/s, 4.0s elapsed"]


def test_bytes_with_a_total(clock, caplog):
    bar = LogProgress(total=8_000_000, desc="download", unit="B", unit_scale=True, interval=0)
    clock.t += 2
    bar.update(2_000_000)
    assert lines(caplog) == ["download: 2.0 MB / 8.0 MB (25%), 1.0 MB/s, ETA 6.0s"]


def test_one_closing_line_with_the_rate_up_to_the_last_work(clock, caplog):
    bar = LogProgress(total=4, desc="key frames", unit="video", interval=3600)
    clock.t += 8
    bar.update(4)
    clock.t += 100  # waiting after the work does not lower its rate
    bar.close()
    bar.close()
    assert lines(caplog) == ["key frames: 4 videos done in 8.0s (30 videos/min)"]


def test_the_interval_comes_from_the_environment_when_not_given(clock, monkeypatch):
    monkeypatch.setenv("TC139K_PROGRESS_INTERVAL", "7.5")
    assert LogProgress().interval == 7.5
    assert LogProgress(interval=2).interval == 2
