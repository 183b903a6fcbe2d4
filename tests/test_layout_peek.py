"""tc139k.layout looks at a few entries of each folder (PEEK_ENTRIES, whatever they are): a
hidden entry (`.DS_Store`) is passed over, not the end of the look; the messages name the
folder meant."""

from __future__ import annotations

import pytest

from tc139k.errors import UsageError
from tc139k.layout import PEEK_ENTRIES as PEEK
from tc139k.layout import check_frames_root, is_frames_root


def test_hidden_entries_are_skipped_not_the_end(tmp_path):
    video = tmp_path / "root" / "coin" / "v1"
    video.mkdir(parents=True)
    for name in [".DS_Store", *(f".hidden{i}" for i in range(60)), "000000.jpg"]:
        (video / name).write_bytes(b"")
    assert is_frames_root(tmp_path / "root")
    # whatever order the folder lists them in, the one frame among hidden entries is seen
    with pytest.raises(UsageError, match="holds frame files itself"):
        check_frames_root(video)


class _Ordered:
    """os.scandir with a known order (a file system's own order is its own): sorted, reversed."""

    def __init__(self, scandir):
        self.scandir = scandir

    def __call__(self, path):
        import contextlib

        with self.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name, reverse=True)
        return contextlib.nullcontext(iter(entries))


@pytest.mark.parametrize("others, seen", [(PEEK - 1, True), (PEEK, False)])
def test_at_most_peek_entries_are_read_per_folder(tmp_path, monkeypatch, others, seen):
    import os

    from tc139k import layout

    video = tmp_path / "coin" / "v1"
    video.mkdir(parents=True)
    for i in range(others):
        (video / f"x{i:04d}.txt").write_bytes(b"")
    (video / "000000.jpg").write_bytes(b"")  # read last
    monkeypatch.setattr(layout.os, "scandir", _Ordered(os.scandir))
    if seen:
        with pytest.raises(UsageError, match="holds frame files itself"):
            check_frames_root(video)
    else:
        check_frames_root(video)  # the frame lies past what is read: nothing recognised


def test_the_download_folder_message_word_for_word(tmp_path):
    frames = tmp_path / "dl" / "frames"
    (frames / "coin" / "v1").mkdir(parents=True)
    (frames / "coin" / "v1" / "000000.jpg").write_bytes(b"")
    with pytest.raises(UsageError) as err:
        check_frames_root(tmp_path / "dl", option="--frames")
    assert str(err.value) == (
        f"--frames {tmp_path / 'dl'} is a download folder (expected <source>/<video_id>/<NNNNNN>.jpg under it, "
        f"and they are in {frames}); did you mean --frames {frames}?"
    )


def test_a_frames_folder_that_holds_no_frames_is_no_download_folder(tmp_path):
    root = tmp_path / "root"
    (root / "frames").mkdir(parents=True)  # an empty source named "frames"
    (root / "coin" / "v1").mkdir(parents=True)
    (root / "coin" / "v1" / "000000.jpg").write_bytes(b"")
    check_frames_root(root)
