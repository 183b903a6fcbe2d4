"""tc139k/download/localdir.py from its contract: every path the download writes is checked to
resolve under the local folder, links followed; a folder it makes is checked again once made
(a link planted while it was being made); the refusal names the link and what to do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tc139k.download.localdir import WORK_DIR, inside, work_dir
from tc139k.errors import DownloadError


def test_a_path_under_the_folder_passes_links_inside_included(tmp_path):
    root = tmp_path / "l"
    (root / "real").mkdir(parents=True)
    os.symlink(root / "real", root / "alias")
    assert inside(root, "frames", "coin") == root.resolve() / "frames" / "coin"
    assert inside(root, "alias", "x.jsonl") == root.resolve() / "alias" / "x.jsonl"


def test_a_link_out_of_the_folder_is_refused_and_named(tmp_path):
    root, outside = tmp_path / "l", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "frames")
    with pytest.raises(DownloadError) as err:
        inside(root, "frames", "coin")
    assert str(err.value) == (
        f"{root.resolve() / 'frames' / 'coin'} resolves outside {root.resolve()} through the link "
        f"{root.resolve() / 'frames'} -> {outside}; refusing to write there (nothing is written outside the "
        "local folder): remove the link and rerun"
    )


def test_a_parent_reference_is_refused_without_a_link_to_name(tmp_path):
    root = tmp_path / "l"
    root.mkdir()
    with pytest.raises(DownloadError) as err:
        inside(root, "..", "x")
    assert str(err.value).startswith(
        f"{root.resolve() / '..' / 'x'} resolves outside {root.resolve()} through a symbolic link;"
    )


def test_a_link_loop_is_refused(tmp_path):
    root = tmp_path / "l"
    root.mkdir()
    os.symlink(root / "loop", root / "loop")
    with pytest.raises(DownloadError, match="through the link .*loop -> "):
        inside(root, "loop", "x")


def test_the_work_folder_is_made_and_checked_again_once_made(tmp_path, monkeypatch):
    root, outside = tmp_path / "l", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    assert work_dir(root, "staging") == root.resolve() / WORK_DIR / "staging"
    assert (root / WORK_DIR / "staging").is_dir()

    made = Path.mkdir

    def mkdir_then_plant_a_link(self, *args, **kwargs):
        made(self, *args, **kwargs)
        if self.name == "partial":  # another process swaps the new folder for a link out
            os.rmdir(self)
            os.symlink(outside, self)

    monkeypatch.setattr(Path, "mkdir", mkdir_then_plant_a_link)
    with pytest.raises(DownloadError, match="partial resolves outside"):
        work_dir(root, "partial")
    assert list(outside.iterdir()) == []
