"""tc139k.shards.links.OutsideRoot counts each frame read through a link that leaves the
frames root once, whether the link is the video folder or the frame itself, and whatever
order and repeats the paths come in."""

from __future__ import annotations

import os

from tc139k.shards.links import EXAMPLES, OutsideRoot


def test_frames_through_links_leaving_the_root_are_counted_once(tmp_path):
    root, elsewhere = tmp_path / "frames", tmp_path / "private"
    (root / "coin" / "inside").mkdir(parents=True)
    (elsewhere / "vid").mkdir(parents=True)
    for name in ("000000.jpg", "000001.jpg"):
        (root / "coin" / "inside" / name).write_bytes(b"j")
        (elsewhere / "vid" / name).write_bytes(b"j")
    os.symlink(elsewhere / "vid", root / "coin" / "farm")  # a video folder leaving the root
    os.symlink(elsewhere / "vid" / "000000.jpg", root / "coin" / "inside" / "000002.jpg")  # one frame
    os.symlink(root / "coin" / "inside" / "000000.jpg", root / "coin" / "inside" / "000003.jpg")  # stays

    seen = OutsideRoot(root)
    # a repeat in the middle of a call must not stop the paths after it from being counted
    seen.add(["coin/inside/000000.jpg", "coin/inside/000000.jpg", "coin/farm/000000.jpg"])
    seen.add(["coin/farm/000001.jpg", "coin/inside/000002.jpg"])
    seen.add(["coin/inside/000003.jpg", "coin/inside/missing.jpg", "coin/inside/000002.jpg"])
    assert seen.record() == {
        "count": 3,
        "examples": ["coin/farm/000000.jpg", "coin/farm/000001.jpg", "coin/inside/000002.jpg"],
    }


def test_examples_are_capped(tmp_path):
    root, elsewhere = tmp_path / "frames", tmp_path / "private"
    (root / "s").mkdir(parents=True)
    elsewhere.mkdir()
    os.symlink(elsewhere, root / "s" / "v")
    seen = OutsideRoot(root)
    seen.add([f"s/v/{i:06d}.jpg" for i in range(EXAMPLES + 3)])
    assert seen.count == EXAMPLES + 3 and len(seen.record()["examples"]) == EXAMPLES
