"""Two environment settings outside the command line.

- TC139K_TORCH_THREADS (tc139k/pipeline/ray_engine.py): the torch threads of each encoder actor
  of the Ray engine, a whole number, at least 1 (0 and below give 1), the machine's CPU count
  when unset.
- MPLCONFIGDIR (tc139k/stats/redundancy.py, `matplotlib_home`): when matplotlib's config or
  cache folder (XDG_CONFIG_HOME or HOME/.config, XDG_CACHE_HOME or HOME/.cache, + /matplotlib)
  cannot be written, the run's plots get PLOT_DIR/.matplotlib, set as MPLCONFIGDIR for the run
  and removed after it; a writable home changes nothing; a user's own MPLCONFIGDIR is kept
  whatever the home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tc139k.stats.redundancy import matplotlib_home

# ---- TC139K_TORCH_THREADS ------------------------------------------------------------------


@pytest.fixture
def actor_threads(monkeypatch):
    """The torch thread count an encoder actor sets for a given TC139K_TORCH_THREADS."""
    torch = pytest.importorskip("torch")
    from tc139k.keyframes.build import ScoringSetup
    from tc139k.keyframes.scenes import SceneParams
    from tc139k.keyframes.scorer import make_scorer
    from tc139k.pipeline.ray_engine import _EncodeActor

    before = torch.get_num_threads()
    monkeypatch.setattr(os, "cpu_count", lambda: 3)  # a count this machine need not have

    def threads(value: str | None) -> int:
        if value is None:
            monkeypatch.delenv("TC139K_TORCH_THREADS", raising=False)
        else:
            monkeypatch.setenv("TC139K_TORCH_THREADS", value)
        torch.set_num_threads(7)  # neither the default nor any value below
        _EncodeActor(ScoringSetup(scorer=make_scorer("pixel"), scenes=SceneParams(), workers=1))
        return torch.get_num_threads()

    yield threads
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    "value, threads", [(None, 3), ("", 3), ("  ", 3), ("1", 1), ("2", 2), (" 4 ", 4), ("0", 1), ("-5", 1)]
)
def test_torch_threads_values(actor_threads, value, threads):
    assert actor_threads(value) == threads


@pytest.mark.parametrize("value", ["abc", "2.5", "1e2", "two"])
def test_a_bad_torch_threads_value_stops_the_ray_engine_before_ray_starts(monkeypatch, value):
    from tc139k.errors import UsageError
    from tc139k.pipeline import ray_engine

    monkeypatch.setenv("TC139K_TORCH_THREADS", value)
    monkeypatch.setattr(ray_engine, "_import_ray", lambda: pytest.fail("Ray was reached"))
    with pytest.raises(UsageError, match=rf"TC139K_TORCH_THREADS must be a whole number of threads, got '{value}'"):
        ray_engine.run_keyframes_ray()


# ---- MPLCONFIGDIR --------------------------------------------------------------------------

XDG = ("XDG_CONFIG_HOME", "XDG_CACHE_HOME")


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in ("MPLCONFIGDIR", *XDG):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    blocked = tmp_path / "a-file"  # a folder can be made nowhere under a file, whoever runs the tests
    blocked.write_text("")
    plots = tmp_path / "plots"
    plots.mkdir()
    return monkeypatch, home, blocked, plots


def _during(plots: Path) -> str | None:
    with matplotlib_home(plots):
        seen = os.environ.get("MPLCONFIGDIR")
        if seen is not None:
            assert Path(seen).is_dir()
    return seen


def test_a_writable_home_changes_nothing(env):
    _, _, _, plots = env
    assert _during(plots) is None
    assert "MPLCONFIGDIR" not in os.environ and list(plots.iterdir()) == []


@pytest.mark.parametrize("unwritable", ["HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"])
def test_an_unwritable_config_or_cache_folder_gives_the_plot_folder_for_the_run(env, unwritable):
    monkeypatch, _, blocked, plots = env
    monkeypatch.setenv(unwritable, str(blocked / "sub"))
    assert _during(plots) == str(plots / ".matplotlib")
    assert "MPLCONFIGDIR" not in os.environ  # unset again after the run
    assert list(plots.iterdir()) == []  # and its folder removed


def test_the_xdg_folders_win_over_home(env, tmp_path):
    monkeypatch, _, blocked, plots = env
    monkeypatch.setenv("HOME", str(blocked))
    for name in XDG:
        (tmp_path / name).mkdir()
        monkeypatch.setenv(name, str(tmp_path / name))
    assert _during(plots) is None


def test_the_users_own_mplconfigdir_is_kept(env, tmp_path):
    monkeypatch, _, blocked, plots = env
    own = tmp_path / "mine"
    monkeypatch.setenv("HOME", str(blocked))
    monkeypatch.setenv("MPLCONFIGDIR", str(own))
    with matplotlib_home(plots):
        assert os.environ["MPLCONFIGDIR"] == str(own)
    assert os.environ["MPLCONFIGDIR"] == str(own) and list(plots.iterdir()) == []


def test_the_run_folder_is_removed_when_the_plots_fail(env):
    monkeypatch, _, blocked, plots = env
    monkeypatch.setenv("HOME", str(blocked))
    with pytest.raises(RuntimeError, match="plot failed"):
        with matplotlib_home(plots):
            (Path(os.environ["MPLCONFIGDIR"]) / "fontlist.json").write_text("{}")
            raise RuntimeError("plot failed")
    assert "MPLCONFIGDIR" not in os.environ and list(plots.iterdir()) == []
