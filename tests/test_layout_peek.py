"""tc139k.layout looks at a few entries of each folder: a hidden entry (`.DS_Store`) is
passed over, not the end of the look."""

from __future__ import annotations

import pytest

from tc139k.errors import UsageError
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
