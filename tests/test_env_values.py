"""Every environment variable tc139k reads, with each value its documentation accepts and
each one it refuses (docs/hub.md, tc139k/progress.py, tc139k/hubenv.py,
tc139k/download/cache.py, `tc139k download --help`):

- TC139K_NO_PROGRESS: 1/true/yes/on (any case, spaces around) switch progress off; 0, false,
  no, off and "" do not; HF_HUB_DISABLE_PROGRESS_BARS: the same words as huggingface_hub
  reads them (not stripped of spaces);
- TC139K_PROGRESS_INTERVAL: seconds between log lines, default 30 (unset, blank or not a
  number), never negative;
- HF_HUB_OFFLINE: 1/true/yes/on, read at call time, as huggingface_hub reads it;
- HF_ENDPOINT: the host looked up; HTTPS_PROXY/https_proxy/ALL_PROXY/all_proxy: no lookup;
- HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub,
  else ~/.cache/huggingface/hub;
- TC139K_TIMEOUT (> 0 s) and TC139K_MAX_WAIT (>= 0 s) for `tc139k download`, refused with
  click's message naming the option and the variable."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tc139k import hubenv
from tc139k import progress as pg
from tc139k.cli import main
from tc139k.download.cache import hub_cache_dir

PROGRESS_VARS = ("TC139K_NO_PROGRESS", "HF_HUB_DISABLE_PROGRESS_BARS", "TC139K_PROGRESS_INTERVAL")
PROXIES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
TRUE = ["1", "true", "TRUE", "Yes", "on", "ON", " 1 ", "\ttrue\n"]
FALSE = ["0", "false", "FALSE", "no", "off", "", "  ", "2", "enabled"]
HUB_TRUE = ["1", "true", "TRUE", "Yes", "on", "ON"]
HUB_FALSE = [*FALSE, " 1 ", "\ttrue\n", "y", "t"]  # huggingface_hub neither strips nor takes y/t


@pytest.fixture
def env(monkeypatch):
    for name in (*PROGRESS_VARS, *PROXIES, "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    pg.set_verbosity(0)
    yield monkeypatch
    pg.set_verbosity(0)


class _Stream:
    """A stderr that is not a terminal: progress there is log lines."""

    def write(self, s):
        return len(s)

    def flush(self):
        pass

    def isatty(self):
        return False


# ---- progress switches -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, value",
    [("TC139K_NO_PROGRESS", v) for v in TRUE] + [("HF_HUB_DISABLE_PROGRESS_BARS", v) for v in HUB_TRUE],
)
def test_a_true_value_switches_progress_off(env, name, value):
    env.setattr(sys, "stderr", _Stream())
    env.setenv(name, value)
    assert pg.progress_disabled_by_env() and not pg.bars_enabled()
    assert isinstance(pg.progress(total=3), pg.NoBar)


@pytest.mark.parametrize("value", HUB_TRUE + HUB_FALSE)
def test_huggingface_hubs_progress_switch_means_what_it_means_to_huggingface_hub(env, value):
    """A value that leaves huggingface_hub's bars on leaves tc139k's on too, and the reverse."""
    from huggingface_hub import constants

    env.setenv("HF_HUB_DISABLE_PROGRESS_BARS", value)
    assert pg.progress_disabled_by_env() is constants._is_true(value)


@pytest.mark.parametrize(
    "name, value",
    [("TC139K_NO_PROGRESS", v) for v in FALSE] + [("HF_HUB_DISABLE_PROGRESS_BARS", v) for v in HUB_FALSE],
)
def test_other_values_leave_progress_on(env, name, value):
    env.setattr(sys, "stderr", _Stream())
    env.setenv(name, value)
    assert not pg.progress_disabled_by_env() and pg.bars_enabled()
    assert isinstance(pg.progress(total=3), pg.LogProgress)


# ---- TC139K_PROGRESS_INTERVAL ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, seconds",
    [
        (None, pg.DEFAULT_INTERVAL),
        ("", pg.DEFAULT_INTERVAL),
        ("   ", pg.DEFAULT_INTERVAL),
        ("soon", pg.DEFAULT_INTERVAL),
        ("5s", pg.DEFAULT_INTERVAL),
        ("2.5", 2.5),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-3", 0.0),
        ("1e-3", 0.001),
    ],
)
def test_progress_interval_values(env, value, seconds):
    assert pg.DEFAULT_INTERVAL == 30.0  # the documented default
    if value is not None:
        env.setenv("TC139K_PROGRESS_INTERVAL", value)
    assert pg.interval_s() == seconds
    assert pg.LogProgress(total=1).interval == seconds


def test_the_interval_spaces_the_log_lines(env, caplog):
    """An interval of 0 writes a line at every update; a long one writes none before close."""
    caplog.set_level(logging.INFO, logger="tc139k.progress")
    env.setenv("TC139K_PROGRESS_INTERVAL", "0")
    bar = pg.LogProgress(total=3, desc="d", unit="video")
    bar.update(1)
    bar.update(1)
    assert len(caplog.records) == 2
    caplog.clear()
    env.setenv("TC139K_PROGRESS_INTERVAL", "3600")
    bar = pg.LogProgress(total=3, desc="d", unit="video")
    bar.update(1)
    bar.update(1)
    assert caplog.records == []


# ---- HF_HUB_OFFLINE ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", HUB_TRUE)
def test_hub_offline_true_values(env, value):
    env.setenv("HF_HUB_OFFLINE", value)
    assert hubenv.hub_offline() is True


@pytest.mark.parametrize("value", [None, *HUB_FALSE])
def test_hub_offline_other_values(env, value):
    if value is not None:
        env.setenv("HF_HUB_OFFLINE", value)
    assert hubenv.hub_offline() is False


@pytest.mark.parametrize(
    "offline, transformers",
    [(v, None) for v in HUB_TRUE + HUB_FALSE] + [(None, "1"), ("", "yes"), ("0", "1"), (None, "y")],
)
def test_hub_offline_agrees_with_huggingface_hub(env, offline, transformers):
    """The toolkit and its Hub client agree on every value, TRANSFORMERS_OFFLINE included."""
    from huggingface_hub import constants

    env.delenv("TRANSFORMERS_OFFLINE", raising=False)
    for name, value in (("HF_HUB_OFFLINE", offline), ("TRANSFORMERS_OFFLINE", transformers)):
        if value is not None:
            env.setenv(name, value)
    import os

    theirs = constants._is_true(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE"))
    assert hubenv.hub_offline() is theirs


@pytest.mark.parametrize("value, offline", [("on", True), ("Yes", True), ("0", False), ("off", False)])
def test_download_reads_hub_offline_at_call_time(env, sample, tmp_path, value, offline):
    """With an empty cache and no local copy, offline mode stops before any request with its
    own message; online, the annotations come from the endpoint."""
    from hubserver import HubServer

    env.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    env.setenv("HF_HUB_OFFLINE", value)
    with HubServer({"yaolily/TimeChat-Online-139K": sample.repo}) as hub:
        r = CliRunner().invoke(
            main,
            ["download", "--local-dir", str(tmp_path / "l"), "--annotations-only"],
            env={"HF_ENDPOINT": hub.endpoint},
        )
        requests = len(hub.log)
    if offline:
        assert r.exit_code == 1 and "offline mode (HF_HUB_OFFLINE or --offline)" in r.output, r.output
        assert requests == 0
    else:
        assert r.exit_code == 0, r.output
        assert requests > 0 and (tmp_path / "l" / "time_chat_online_139k_train_flt.jsonl").is_file()


# ---- HF_ENDPOINT and proxies -------------------------------------------------------------------


def test_the_looked_up_host_is_hf_endpoints(env):
    env.delenv("HF_ENDPOINT", raising=False)
    assert hubenv._host(None) == "huggingface.co"
    env.setenv("HF_ENDPOINT", "")  # empty: the default
    assert hubenv._host(None) == "huggingface.co"
    env.setenv("HF_ENDPOINT", "https://hub.example.org:8443/some/path")
    assert hubenv._host(None) == "hub.example.org"
    env.setenv("HF_ENDPOINT", "http://tc139k-test.invalid")
    why = hubenv.unreachable()
    assert why is not None and why.startswith("tc139k-test.invalid cannot be reached (")
    assert hubenv.unreachable("http://127.0.0.1:9") is None  # an address needs no lookup


@pytest.mark.parametrize("name", PROXIES)
def test_behind_a_proxy_nothing_is_looked_up(env, name):
    env.setenv("HF_ENDPOINT", "http://tc139k-test.invalid")
    assert hubenv.name_lookup_failure() is not None
    env.setenv(name, "http://proxy.example:3128")
    assert hubenv.name_lookup_failure() is None and hubenv.unreachable() is None
    env.setenv(name, "")  # set but empty: no proxy
    assert hubenv.name_lookup_failure() is not None


# ---- the hub cache folder ----------------------------------------------------------------------


def test_hub_cache_folder_precedence(monkeypatch, tmp_path):
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hub_cache_dir() == tmp_path / "home" / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", "~/hf")
    assert hub_cache_dir() == tmp_path / "home" / "hf" / "hub"
    monkeypatch.setenv("HUGGINGFACE_HUB_CACHE", str(tmp_path / "legacy"))
    assert hub_cache_dir() == tmp_path / "legacy"
    monkeypatch.setenv("HF_HUB_CACHE", "~/cache")
    assert hub_cache_dir() == tmp_path / "home" / "cache"
    monkeypatch.setenv("HF_HUB_CACHE", "")  # empty: not set
    assert hub_cache_dir() == tmp_path / "legacy"


def test_huggingface_hub_agrees_on_the_cache_folder(tmp_path):
    """The same variables give the folder huggingface_hub itself uses (read in a fresh
    interpreter: it reads them once, at import)."""
    import subprocess

    code = (
        "from huggingface_hub import constants; from tc139k.download.cache import hub_cache_dir; "
        "print(constants.HF_HUB_CACHE); print(hub_cache_dir())"
    )
    for extra in ({"HF_HOME": str(tmp_path / "hf")}, {"HF_HUB_CACHE": str(tmp_path / "c"), "HF_HOME": "/x"}):
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), **extra}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        theirs, ours = out.stdout.split()
        assert Path(theirs) == Path(ours), extra


# ---- TC139K_TIMEOUT and TC139K_MAX_WAIT ----------------------------------------------------------


def _download(tmp_path, **env) -> str:
    """A download that stops at the offline check once its options are taken (no request)."""
    r = CliRunner().invoke(
        main,
        ["download", "--local-dir", str(tmp_path / "nothing"), "--offline"],
        env={"HF_HUB_CACHE": str(tmp_path / "empty-cache"), **env},
    )
    return f"{r.exit_code} {r.output}"


@pytest.mark.parametrize(
    "name, value",
    [("TC139K_TIMEOUT", "0.001"), ("TC139K_TIMEOUT", " 45 "), ("TC139K_MAX_WAIT", "0"), ("TC139K_MAX_WAIT", "1e4")],
)
def test_download_takes_these_environment_values(tmp_path, name, value):
    out = _download(tmp_path, **{name: value})
    assert out.startswith("1 ") and "offline mode" in out, out


@pytest.mark.parametrize(
    "name, value, why",
    [
        ("TC139K_TIMEOUT", "0", "0.0 is not in the range x>0.0"),
        ("TC139K_TIMEOUT", "-1", "-1.0 is not in the range x>0.0"),
        ("TC139K_TIMEOUT", "soon", "'soon' is not a valid float"),
        ("TC139K_TIMEOUT", "nan", "'nan' is not a finite number"),
        ("TC139K_TIMEOUT", "inf", "'inf' is not a finite number"),
        ("TC139K_MAX_WAIT", "-0.5", "-0.5 is not in the range x>=0.0"),
        ("TC139K_MAX_WAIT", "inf", "'inf' is not a finite number"),
    ],
)
def test_download_refuses_these_environment_values(tmp_path, name, value, why):
    option = {"TC139K_TIMEOUT": "--timeout", "TC139K_MAX_WAIT": "--max-wait"}[name]
    out = _download(tmp_path, **{name: value})
    assert out.startswith("2 "), out
    assert f"Invalid value for '{option}' (env var: '{name}'): {why}" in out, out


def test_the_command_line_wins_over_the_environment(tmp_path):
    r = CliRunner().invoke(
        main,
        ["download", "--local-dir", str(tmp_path / "n"), "--offline", "--timeout", "5", "--max-wait", "1"],
        env={"TC139K_TIMEOUT": "0", "TC139K_MAX_WAIT": "-1", "HF_HUB_CACHE": str(tmp_path / "c")},
    )
    assert r.exit_code == 1 and "offline mode" in r.output, r.output
