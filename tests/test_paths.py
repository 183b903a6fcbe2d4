"""tc139k.paths: only the last three components of a frame path count, whatever its prefix;
anything that could leave the frames root or name a different file is refused."""

from __future__ import annotations

import pytest

from tc139k.paths import AUTHORS_PREFIX, FramePathError, FrameRef, frame_relpath, is_safe_name, parse_frame_path


def test_any_prefix_gives_the_same_frame():
    want = FrameRef("youcook2", "abc-12_x.y", 7)
    for prefix in ("", AUTHORS_PREFIX, "/abs/olute/", "a//b/", "./"):
        assert parse_frame_path(f"{prefix}youcook2/abc-12_x.y/000007.jpg") == want
    # the source is canonical (lower case), the video id is kept as it is
    assert parse_frame_path("YouCook2/ABC/000000.jpg") == FrameRef("youcook2", "ABC", 0)
    assert parse_frame_path("s/v/999999.jpg").index == 999999
    assert want.relpath == frame_relpath("youcook2", "abc-12_x.y", 7) == "youcook2/abc-12_x.y/000007.jpg"
    assert frame_relpath("s", "v", 1234567) == "s/v/1234567.jpg"  # wider than six digits: kept whole


@pytest.mark.parametrize(
    "path, says",
    [
        ("s\\v/000001.jpg", "unexpected character"),
        ("s/v/000001.jpg\x00", "unexpected character"),
        ("x/s\x00/v/000001.jpg", "unexpected character"),  # even in the prefix
        ("v/000001.jpg", "does not end in"),
        ("000001.jpg", "does not end in"),
        ("", "does not end in"),
        ("s/v/1.jpg", "not <6 digits>.jpg"),
        ("s/v/0000001.jpg", "not <6 digits>.jpg"),
        ("s/v/000001.png", "not <6 digits>.jpg"),
        ("s/v/000001.jpg.bak", "not <6 digits>.jpg"),
        ("s/v/x000001.jpg", "not <6 digits>.jpg"),
        ("s/v/000001.jpg\n", "not <6 digits>.jpg"),  # a final newline is not the end of the name
        ("../s/v/000001.jpg", "contains '..'"),  # in the prefix, too
        ("s/../000001.jpg", "contains '..'"),
        ("s/v v/000001.jpg", "unsafe source or video id"),
        ("s$/v/000001.jpg", "unsafe source or video id"),
        ("s/v\n/000001.jpg", "unsafe source or video id"),
        ("s/./000001.jpg", "unsafe source or video id"),
        (f"s/{'v' * 129}/000001.jpg", "unsafe source or video id"),
    ],
)
def test_bad_frame_paths_are_refused_with_their_reason(path, says):
    with pytest.raises(FramePathError, match=says):
        parse_frame_path(path)


def test_safe_names():
    for ok in ("a", "A-b_c.9", "...", ".hidden", "v" * 128):
        assert is_safe_name(ok), ok
    for bad in ("", ".", "..", "a/b", "a b", "é", "v" * 129, "a\n"):
        assert not is_safe_name(bad), bad
    assert parse_frame_path(f"s/{'v' * 128}/000001.jpg").video_id == "v" * 128
