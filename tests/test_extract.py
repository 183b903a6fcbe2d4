"""Streaming extraction of frame archives: mapping, split parts, filters, and hostile members."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from tc139k.download.extract import WORK_DIR, extract_frames, frame_tail, group_archives
from tc139k.download.hub import ContentHasher, RemoteFile
from tc139k.errors import DownloadError, HostileArchiveError, IntegrityError


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def tar_gz(members: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for m in members:
                if isinstance(m, tarfile.TarInfo):
                    tar.addfile(m)
                else:
                    info = tarfile.TarInfo(m[0])
                    info.size = len(m[1])
                    tar.addfile(info, io.BytesIO(m[1]))
    return raw.getvalue()


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def youcook2_parts(sample) -> list[Path]:
    return sorted(sample.repo.glob("Youcook2.tar.gz.*"))


def test_group_archives_names_parts_and_errors():
    archives, others = group_archives(
        [
            "README.md",
            "COIN.tar.gz",
            "Youcook2.tar.gz.001",
            "Youcook2.tar.gz.000",
            "Youcook2.tar.gz.002",
            "sub/Inner.tar.gz",
            "notes.tar.gz.txt",
        ]
    )
    assert sorted(archives) == ["coin", "youcook2"]
    assert archives["youcook2"].parts == [f"Youcook2.tar.gz.{i:03d}" for i in range(3)]
    assert archives["youcook2"].label == "Youcook2.tar.gz.000..002"
    assert archives["coin"].name == "COIN" and archives["coin"].parts == ["COIN.tar.gz"]
    assert sorted(others) == ["README.md", "notes.tar.gz.txt", "sub/Inner.tar.gz"]
    with pytest.raises(DownloadError, match="missing part.*001"):
        group_archives(["A.tar.gz.000", "A.tar.gz.002"])
    with pytest.raises(DownloadError, match="both"):
        group_archives(["A.tar.gz", "A.tar.gz.000"])
    with pytest.raises(DownloadError, match="same source"):
        group_archives(["Coin.tar.gz", "COIN.tar.gz"])


def test_frame_tail():
    assert frame_tail("any/prefix/here/vid_1/000042.jpg") == ("vid_1", "000042.jpg")
    assert frame_tail("vid/000001.jpg") == ("vid", "000001.jpg")
    assert frame_tail("000001.jpg") is None
    assert frame_tail("x/vid/1.jpg") is None
    assert frame_tail("x/vid/000001.png") is None


def test_split_parts_give_the_same_frames_as_one_archive(sample, tmp_path):
    parts = youcook2_parts(sample)
    assert len(parts) >= 3
    joined = tmp_path / "Youcook2.tar.gz"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))

    split_res = extract_frames(parts, source="youcook2", label="split", local_dir=tmp_path / "a")
    single_res = extract_frames([joined], source="youcook2", label="single", local_dir=tmp_path / "b")

    a = tree_digest(tmp_path / "a" / "frames")
    assert a == tree_digest(tmp_path / "b" / "frames")
    expected = tree_digest(sample.frames / "youcook2")
    assert a == {f"youcook2/{k}": v for k, v in expected.items()}
    assert split_res.videos == single_res.videos
    for vid, n in split_res.videos.items():
        assert n == sample.truth[vid]["n_frames"]
    assert split_res.skipped_dirs > 0 and split_res.skipped_other == 0
    assert split_res.part_sizes == [p.stat().st_size for p in parts]
    assert not any((tmp_path / "a" / WORK_DIR / "staging").iterdir())


def test_multi_member_gzip_is_read_like_gzip_does(sample, tmp_path):
    """Parts compressed separately (concatenated gzip members) extract the same frames."""
    raw = gzip.decompress(b"".join(p.read_bytes() for p in youcook2_parts(sample)))
    cut = len(raw) // 3
    (tmp_path / "a.gz").write_bytes(gzip.compress(raw[:cut], mtime=0))
    (tmp_path / "b.gz").write_bytes(gzip.compress(raw[cut:], mtime=0))
    res = extract_frames(
        [tmp_path / "a.gz", tmp_path / "b.gz"], source="youcook2", label="x", local_dir=tmp_path / "out"
    )
    assert res.frames == sum(v["n_frames"] for v in sample.truth.values() if v["source"] == "youcook2")


def test_video_filter_skip_and_other_members(tmp_path):
    frame = b"\xff\xd8jpeg"
    blob = tar_gz(
        [
            special("pre", tarfile.DIRTYPE),
            ("pre/v1/000000.jpg", frame + b"0"),
            ("pre/v1/000001.jpg", frame + b"1"),
            ("other/prefix/v2/000000.jpg", frame + b"2"),
            ("v3/000000.jpg", frame + b"3"),
            ("pre/README.txt", b"hello"),
            ("000000.jpg", b"no video folder"),
        ]
    )
    arc = tmp_path / "X.tar.gz"
    arc.write_bytes(blob)
    res = extract_frames(
        [arc], source="x", label="X.tar.gz", local_dir=tmp_path / "out", video_ids={"v1", "v2"}, skip_video_ids={"v2"}
    )
    assert res.videos == {"v1": 2}
    assert (res.skipped_dirs, res.skipped_other, res.skipped_unselected) == (1, 2, 2)
    frames = tmp_path / "out" / "frames" / "x"
    assert (frames / "v1" / "000001.jpg").read_bytes() == frame + b"1"
    assert sorted(p.name for p in frames.iterdir()) == ["v1"]


def _hostile_cases():
    dev = special("p/vid/000002.jpg", tarfile.CHRTYPE)
    dev.devmajor, dev.devminor = 1, 3
    return {
        "absolute": [("/tmp/tc139k-escape/vid/000002.jpg", b"x")],
        "dotdot": [("p/../../escape/vid/000002.jpg", b"x")],
        "symlink": [special("p/vid/000002.jpg", tarfile.SYMTYPE, "/etc/passwd")],
        "hardlink": [special("p/vid/000002.jpg", tarfile.LNKTYPE, "p/vid/000001.jpg")],
        "device": [dev],
        "fifo": [special("p/fifo", tarfile.FIFOTYPE)],
        "oversize": [("p/vid/000002.jpg", b"x" * 5000)],
        "unsafe video id": [("p/bad id;rm/000002.jpg", b"x")],
    }


@pytest.mark.parametrize("case", sorted(_hostile_cases()))
def test_hostile_member_is_refused_and_nothing_is_left(tmp_path, case):
    good = ("p/vid/000001.jpg", b"\xff\xd8good")
    arc = tmp_path / "Evil.tar.gz"
    arc.write_bytes(tar_gz([good] + _hostile_cases()[case]))
    local = tmp_path / "local"
    before = sorted(p for p in tmp_path.rglob("*") if local not in p.parents and p != local)
    with pytest.raises(HostileArchiveError) as err:
        extract_frames([arc], source="evil", label="Evil.tar.gz", local_dir=local, max_member_bytes=1000)
    msg = str(err.value)
    assert "Evil.tar.gz" in msg and "refusing member" in msg
    reason = {
        "absolute": "absolute path",
        "dotdot": "'..' in its path",
        "symlink": "symbolic link (to '/etc/passwd')",
        "hardlink": "hard link (to 'p/vid/000001.jpg')",
        "device": "device file",
        "fifo": "fifo",
        "oversize": "5000 bytes, above the 1000-byte cap per member",
        "unsafe video id": "unsafe video id 'bad id;rm'",
    }[case]
    assert msg.endswith(f": {reason}")  # the check for this kind of member, not a generic refusal
    after = sorted(p for p in tmp_path.rglob("*") if local not in p.parents and p != local)
    assert before == after  # nothing written outside the local folder
    assert not Path("/tmp/tc139k-escape").exists()
    assert not (local / "frames" / "evil").exists()  # the good frame was not moved into place
    assert not any((local / WORK_DIR / "staging").iterdir())


def test_corrupted_archive_is_an_integrity_error(sample, tmp_path):
    data = bytearray((sample.repo / "TVSum.tar.gz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "TVSum.tar.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="TVSum.tar.gz"):
        extract_frames([bad], source="tvsum", label="TVSum.tar.gz", local_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "frames" / "tvsum").exists()

    # with the published hash, the message says which file is damaged
    good = sample.repo / "TVSum.tar.gz"
    f = RemoteFile("TVSum.tar.gz", good.stat().st_size, hashlib.sha256(good.read_bytes()).hexdigest())
    with pytest.raises(IntegrityError, match="damaged archive.*TVSum.tar.gz: sha256 is"):
        extract_frames(
            [bad], source="tvsum", label="TVSum.tar.gz", local_dir=tmp_path / "out", hashers=[ContentHasher(f)]
        )
    assert not (tmp_path / "out" / "frames" / "tvsum").exists()

    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(IntegrityError, match="not a readable tar.gz"):
        extract_frames([truncated], source="tvsum", label="cut.tar.gz", local_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "frames" / "tvsum").exists()


def test_frames_folder_linked_outside_is_refused(tmp_path):
    local = tmp_path / "local"
    (local / "frames").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (local / "frames" / "x").symlink_to(tmp_path / "elsewhere")
    arc = tmp_path / "X.tar.gz"
    arc.write_bytes(tar_gz([("v/000000.jpg", b"x")]))
    with pytest.raises(DownloadError, match="outside"):
        extract_frames([arc], source="x", label="X.tar.gz", local_dir=local)
    assert not any((tmp_path / "elsewhere").iterdir())


@pytest.mark.parametrize("damage", ["empty", "cut short"])
def test_a_damaged_part_of_a_split_archive_is_named(sample, tmp_path, damage):
    """Without published hashes (archives already on disk), an empty part or a part shorter
    than the others is named in the error, with what to do."""
    parts = sorted(sample.repo.glob("Youcook2.tar.gz.*"))
    assert len(parts) == 3
    copies = []
    for p in parts:
        copies.append(tmp_path / p.name)
        copies[-1].write_bytes(p.read_bytes())
    middle = copies[1]
    middle.write_bytes(b"" if damage == "empty" else middle.read_bytes()[:1000])
    with pytest.raises(IntegrityError) as err:
        extract_frames(copies, source="youcook2", label="Youcook2.tar.gz", local_dir=tmp_path / "out")
    msg = str(err.value)
    want = "part Youcook2.tar.gz.001 is empty" if damage == "empty" else "part 2 of 3, Youcook2.tar.gz.001, has 1000"
    assert want in msg and "rerun `tc139k download`" in msg, msg
    assert not (tmp_path / "out" / "frames" / "youcook2").exists()
