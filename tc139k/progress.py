"""Progress on stderr, the way the Python ecosystem does it; the one place that decides.

`progress(total, desc, unit, enabled)` returns an object with `update(n)` and `close()`:

- on a terminal: a tqdm bar (tqdm's `disable=None` idea: bars only where they can redraw);
- otherwise (a file, a pipe, a Slurm log): a `LogProgress` that writes one concise line through
  Python `logging` (logger `tc139k.progress`, level INFO) every `TC139K_PROGRESS_INTERVAL`
  seconds (default 30) with done/total, rate and ETA, and one closing line;
- nothing at all (`NoBar`, tqdm not even imported) when the caller says so (`enabled=False`,
  e.g. under --json), when `TC139K_NO_PROGRESS` holds a true value (1/true/yes/on in any
  case; "0", "false", "no", "off" and "" do not disable) or `HF_HUB_DISABLE_PROGRESS_BARS`
  does as huggingface_hub reads it (the same words, not stripped of spaces), under `-q`
  (`set_verbosity(-1)`), or for work that is empty (`total == 0`).

A bar or a log line appears only once some work was done, so an up-to-date run shows none.
`configure_logging(verbosity)` is what the CLI's global -q/-v call: -q warnings only and no
progress, -v debug messages of tc139k and info messages of huggingface_hub.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from .hubenv import hub_true

LOG = logging.getLogger("tc139k.progress")
TRUE_VALUES = {"1", "true", "yes", "on", "y", "t"}
DEFAULT_INTERVAL = 30.0
_state = {"verbosity": 0}  # -1 quiet, 0 normal, 1 verbose


def env_true(name: str) -> bool:
    """The usual truthy reading of an environment switch (as huggingface_hub reads its own)."""
    return os.environ.get(name, "").strip().lower() in TRUE_VALUES


def progress_disabled_by_env() -> bool:
    # huggingface_hub's own switch means what it means to huggingface_hub's bars
    return env_true("TC139K_NO_PROGRESS") or hub_true(os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS"))


def set_verbosity(level: int) -> None:
    _state["verbosity"] = level


class _StderrHandler(logging.StreamHandler):
    """A handler on whatever `sys.stderr` is when a record is emitted (test runners and
    notebooks replace it), never on a stream that was closed since."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


HF_DUPLICATE_LOGGERS = (
    "huggingface_hub.utils._http",
    "huggingface_hub.hf_api",
    "huggingface_hub._commit_api",
    "huggingface_hub._upload_pipeline",
)


def configure_logging(verbosity: int = 0) -> None:
    """Log records of tc139k (and, with -v, huggingface_hub's; without it, not its duplicates) to
    stderr, one line each, with a timestamp: what a batch log needs. Idempotent."""
    set_verbosity(verbosity)
    root = logging.getLogger("tc139k")
    if not any(getattr(h, "_tc139k", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        handler._tc139k = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False
    root.setLevel(logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO)
    # huggingface_hub's own warnings for events tc139k reports itself (its retries, "No files
    # have been modified") would stand beside tc139k's one line: shown with -v only. Levels go
    # on the modules' own loggers, which huggingface_hub leaves alone when it is imported
    # (it sets its package logger's level then), and no environment variable is touched.
    for name in HF_DUPLICATE_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbosity > 0 else logging.ERROR)
    if verbosity > 0:
        logging.getLogger("huggingface_hub").setLevel(logging.INFO)


def stderr_is_terminal() -> bool:
    stream = sys.stderr
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def interval_s() -> float:
    raw = os.environ.get("TC139K_PROGRESS_INTERVAL", "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL
    return max(0.0, value)


class NoBar:
    """What `progress` returns when there is nothing to show: tqdm is then not even imported
    (its import costs about 60 ms, which short commands notice)."""

    n = 0

    def update(self, n=1) -> None:
        pass

    def close(self) -> None:
        pass


def _human(n: float, unit: str, scale: bool) -> str:
    """`1,234 videos`, `0.8 videos` (rates), `3.4 MB` (with unit_scale)."""
    if not scale:
        plural = unit if unit.endswith("s") or not unit else unit + "s"
        return (f"{n:,.0f}" if n >= 10 or n == int(n) else f"{n:.1f}") + f" {plural}".rstrip()
    for prefix in ("", "k", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if not prefix else f"{n:.1f} {prefix}{unit}"
        n /= 1000
    return f"{n:.1f} T{unit}"


def _duration(s: float) -> str:
    if s < 10:
        return f"{s:.1f}s"
    s = int(round(s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class LogProgress:
    """Progress as log lines: `desc: done/total (pct), rate, ETA` at most every `interval`
    seconds, and `desc: done ... in T (rate)` when closed after some work."""

    def __init__(self, total=None, desc: str = "", unit: str = "it", unit_scale: bool = False, interval=None, **_):
        self.total, self.desc, self.unit, self.scale = total, desc or "progress", unit, bool(unit_scale)
        self.interval = interval_s() if interval is None else interval
        self.n = 0
        self.t0 = time.monotonic()
        self._last = self.t0
        self._t_work = self.t0  # time of the last update: the closing line's rate ends there
        self._closed = False

    def _amount(self, n: float) -> str:
        return _human(n, self.unit, self.scale)

    def _rate(self, per_s: float) -> str:
        """`12 videos/s`; a slow rate per minute (`2.5 videos/min`) or as time per unit
        (`40s per video`), never `0.0 videos/s`."""
        if self.scale or per_s >= 1 or per_s <= 0:
            return f"{self._amount(per_s)}/s"
        if per_s * 60 >= 1:
            return f"{_human(per_s * 60, self.unit, False)}/min"
        return f"{_duration(1 / per_s)} per {self.unit.removesuffix('s') or 'unit'}"

    def update(self, n=1) -> None:
        self.n += n
        now = self._t_work = time.monotonic()
        if now - self._last >= self.interval and self.n > 0:
            self._last = now
            LOG.info(self._line(now))

    def _line(self, now: float) -> str:
        elapsed = max(now - self.t0, 1e-9)
        rate = self.n / elapsed
        if self.total and not self.scale:
            done = f"{self.n:,}/{self._amount(self.total)}"
        elif self.total:
            done = f"{self._amount(self.n)} / {self._amount(self.total)}"
        else:
            done = self._amount(self.n)
        if self.total:
            pct = 100.0 * self.n / self.total
            eta = (self.total - self.n) / rate if rate > 0 else float("inf")
            eta_s = _duration(eta) if eta != float("inf") else "?"
            return f"{self.desc}: {done} ({pct:.0f}%), {self._rate(rate)}, ETA {eta_s}"
        return f"{self.desc}: {done}, {self._rate(rate)}, {_duration(elapsed)} elapsed"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.n > 0:
            elapsed = max(self._t_work - self.t0, 1e-3)
            LOG.info(
                f"{self.desc}: {self._amount(self.n)} done in {_duration(elapsed)} ({self._rate(self.n / elapsed)})"
            )


class _LazyBar:
    """A tqdm bar created at the first unit of work, so that no empty bar is ever drawn."""

    def __init__(self, kwargs: dict):
        self._kwargs = kwargs
        self._bar = None
        self.n = 0

    def update(self, n=1) -> None:
        if self._bar is None:
            if n <= 0:
                return
            from tqdm.auto import tqdm

            self._bar = tqdm(**self._kwargs)
        self._bar.update(n)
        self.n = self._bar.n

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def bars_enabled(requested: bool = True) -> bool:
    """Whether progress of any kind (bar or log lines) is shown."""
    return requested and _state["verbosity"] >= 0 and not progress_disabled_by_env()


def progress(total=None, desc: str = "", unit: str = "it", enabled: bool = True, **kw):
    """A tqdm bar (terminal), a LogProgress (not a terminal) or a NoBar (off or empty work);
    each has `update(n)`, `close()` and `n`."""
    if not bars_enabled(enabled) or total == 0:
        return NoBar()
    if stderr_is_terminal() or "ipykernel" in sys.modules:
        return _LazyBar(dict(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False, **kw))
    return LogProgress(total=total, desc=desc, unit=unit, unit_scale=kw.get("unit_scale", False))
