"""tc139k/layout.py: which folder a user passed, told from a few of its entries.

check_frames_root stops a download folder (frames/ inside it), one video's folder (frame files
at its top), one source's folder (its children hold frame files) and a folder of video files
(unless it also holds source folders), each with a message naming what was meant; a frames
root, and a layout no rule recognises, pass. Hidden entries are not looked at. check_outside
stops an output that is the frames root or inside it, links followed. check_mirror stops a
mirror that does not exist and the folder above a repository copy (annotation files or frame
archives in a child, none at the top). missing_keyframes_hint names a child holding key-frame
files, else the build command for a folder of frames, else the generic advice."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tc139k.errors import UsageError
from tc139k.layout import check_frames_root, check_mirror, check_outside, missing_keyframes_hint


def _video(folder: Path, frames: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        (folder / f"{i:06d}.jpg").write_bytes(b"")
    return folder


@pytest.fixture
def root(tmp_path) -> Path:
    """A download folder: data/frames/<source>/<video_id>/<NNNNNN>.jpg."""
    frames = tmp_path / "data" / "frames"
    _video(frames / "coin" / "v1")
    _video(frames / "coin" / "v2")
    _video(frames / "tvsum" / "w1")
    return frames


def _refused(path, match: str, **kw) -> str:
    with pytest.raises(UsageError, match=match) as e:
        check_frames_root(path, **kw)
    return str(e.value)


def test_a_frames_root_passes(root):
    check_frames_root(root)


def test_a_download_folder_points_at_its_frames(root):
    msg = _refused(root.parent, "is a download folder")
    assert f"did you mean --frames-root {root}?" in msg


def test_one_videos_folder_points_two_levels_up(root):
    msg = _refused(root / "coin" / "v1", "holds frame files itself: it is one video's folder")
    assert msg.endswith(f"use the folder two levels up: --frames-root {root.resolve()}")


def test_one_sources_folder_points_at_its_parent(root):
    msg = _refused(root / "coin", "is one source's folder")
    assert msg.endswith(f"use its parent: --frames-root {root.resolve()}")


def test_the_option_named_is_the_one_given(root):
    msg = _refused(root / "coin", "is one source's folder", option="--frames")
    assert f"--frames {root / 'coin'}" in msg and "--frames-root" not in msg


def test_a_missing_folder_is_refused(tmp_path):
    _refused(tmp_path / "nope", r"--frames-root .*nope is not a folder")
    (tmp_path / "file").write_text("x")
    _refused(tmp_path / "file", "is not a folder")


@pytest.mark.parametrize("n", [3, 4])
def test_a_folder_of_video_files_says_to_use_video(tmp_path, n):
    names = ["a.mp4", "b.mkv", "c.MOV", "d.webm"][:n]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    msg = _refused(tmp_path, "holds video files")
    listed = re.search(r"holds video files \((.*?)\), not frame folders", msg).group(1).split(", ")
    assert len(listed) == min(n, 3) + (n > 3)  # at most three named, then "..."
    assert set(listed[:3]) <= set(names) and (listed[3:] == ["..."]) == (n > 3)
    assert "use --video FILE" in msg


def test_video_files_beside_source_folders_pass(root):
    (root / "trailer.mp4").write_bytes(b"")
    check_frames_root(root)


def test_hidden_entries_are_not_looked_at(tmp_path):
    _video(tmp_path / ".cache")  # a hidden child of frame files is no video folder
    (tmp_path / ".000001.jpg").write_bytes(b"")
    (tmp_path / ".clip.mp4").write_bytes(b"")
    check_frames_root(tmp_path)


def test_an_unrecognised_layout_passes(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    check_frames_root(tmp_path)


# ---- outputs inside the frames root ---------------------------------------------------------


def test_an_output_at_or_inside_the_frames_root_is_refused(root):
    for out in (root, root / "kf", root / "coin" / "kf"):
        with pytest.raises(UsageError, match="is inside the frames root") as e:
            check_outside(out, root)
        assert f"--out {out} " in str(e.value) and str(root.resolve().parent) in str(e.value)


def test_an_output_beside_the_frames_root_passes(root):
    check_outside(root.parent / "kf", root)
    check_outside(root.parent / (root.name + "2"), root)  # a name that only starts like it


def test_links_are_followed(root, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(root / "coin")
    with pytest.raises(UsageError, match="is inside the frames root"):
        check_outside(link / "kf", root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "frames-link").symlink_to(root)
    with pytest.raises(UsageError, match="is inside the frames root"):
        check_outside(elsewhere / ".." / "data" / "frames" / "kf", tmp_path / "frames-link")


# ---- mirrors ---------------------------------------------------------------------------------


def test_a_mirror_that_is_not_a_folder_is_refused(tmp_path):
    with pytest.raises(UsageError, match="does not exist or is not a folder"):
        check_mirror(tmp_path / "nope")


@pytest.mark.parametrize("name", ["time_chat_online_139k_train_flt.jsonl", "COIN.tar.gz", "Youcook2.tar.gz.001"])
def test_a_repository_copy_passes_and_its_parent_points_at_it(tmp_path, name):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / name).write_bytes(b"")
    check_mirror(repo)
    with pytest.raises(UsageError, match=re.escape(f"did you mean --mirror {repo}?")):
        check_mirror(tmp_path)


def test_a_mirror_with_no_repository_files_anywhere_passes(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "readme.txt").write_text("x")
    check_mirror(tmp_path)


# ---- where the key frames are ----------------------------------------------------------------


def test_missing_keyframes_hints(root, tmp_path):
    run = tmp_path / "run"
    (run / "keyframes").mkdir(parents=True)
    (run / "keyframes" / "keyframes-00000.parquet").write_bytes(b"")
    assert missing_keyframes_hint(run, "keyframes-*.parquet") == f"did you mean {run / 'keyframes'}?"
    for folder in (root.parent, root):
        hint = missing_keyframes_hint(folder, "keyframes-*.parquet")
        assert hint.startswith(f"{folder} holds frames, not key frames")
        assert f"--frames-root {root} --out keyframes" in hint
    empty = tmp_path / "empty"
    empty.mkdir()
    assert missing_keyframes_hint(empty, "keyframes-*.parquet").startswith("give the --out folder")
    assert os.listdir(empty) == []
