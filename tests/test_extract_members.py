"""Archive members at the edges: the size cap is inclusive, a split archive without its `.000`
part is refused, and every hostile member type is refused for its own reason (a generic
"unsupported type" refusal would hide a deleted link or device check)."""

from __future__ import annotations

import shutil
import tarfile

import pytest
from test_extract import special, tar_gz

from tc139k.download.extract import extract_frames, group_archives, member_problem
from tc139k.download.run import run_download
from tc139k.errors import DownloadError, HostileArchiveError

CAP = 1000


def _extract(tmp_path, members, **kw):
    arc = tmp_path / "Edge.tar.gz"
    arc.write_bytes(tar_gz(members))
    return extract_frames([arc], source="edge", label="Edge.tar.gz", local_dir=tmp_path / "local", **kw)


def test_member_exactly_at_the_cap_is_extracted(tmp_path):
    data = b"\xff\xd8" + bytes(CAP - 2)
    res = _extract(tmp_path, [("p/vid/000000.jpg", data)], max_member_bytes=CAP)
    assert res.videos == {"vid": 1}
    assert (tmp_path / "local" / "frames" / "edge" / "vid" / "000000.jpg").read_bytes() == data


def test_member_one_byte_above_the_cap_is_refused(tmp_path):
    with pytest.raises(HostileArchiveError) as err:
        _extract(tmp_path, [("p/vid/000000.jpg", bytes(CAP + 1))], max_member_bytes=CAP)
    assert f"refusing member 'p/vid/000000.jpg': {CAP + 1} bytes, above the {CAP}-byte cap per member" in str(err.value)


def _typed(name: str, kind: bytes, linkname: str = "", size: int = 0) -> tarfile.TarInfo:
    info = special(name, kind, linkname)
    info.size = size
    return info


def _device(kind: bytes) -> tarfile.TarInfo:
    dev = special("p/vid/000002.jpg", kind)
    dev.devmajor, dev.devminor = 8, 1
    return dev


REASONS = {
    "symlink": (special("p/vid/000002.jpg", tarfile.SYMTYPE, "/etc/passwd"), "symbolic link (to '/etc/passwd')"),
    "hardlink": (special("p/vid/000002.jpg", tarfile.LNKTYPE, "p/vid/000001.jpg"), "hard link (to 'p/vid/000001.jpg')"),
    "character device": (_device(tarfile.CHRTYPE), "device file"),
    "block device": (_device(tarfile.BLKTYPE), "device file"),
    "fifo": (special("p/fifo", tarfile.FIFOTYPE), "fifo"),
    "absolute": (("/tmp/tc139k-escape/vid/000002.jpg", b"x"), "absolute path"),
    "windows drive": (("C:/escape/vid/000002.jpg", b"x"), "absolute path"),
    "dotdot": (("p/../../escape/vid/000002.jpg", b"x"), "'..' in its path"),
    "backslash dotdot": (("p\\..\\escape/vid/000002.jpg", b"x"), "'..' in its path"),
}


@pytest.mark.parametrize("case", sorted(REASONS))
def test_hostile_member_is_refused_for_its_own_reason(tmp_path, case):
    member, reason = REASONS[case]
    name = member.name if isinstance(member, tarfile.TarInfo) else member[0]
    with pytest.raises(HostileArchiveError) as err:
        _extract(tmp_path, [("p/vid/000001.jpg", b"\xff\xd8ok"), member], max_member_bytes=CAP)
    assert str(err.value) == f"Edge.tar.gz: refusing member {name!r}: {reason}"
    assert not (tmp_path / "local" / "frames" / "edge").exists()


def test_member_problem_reasons_one_by_one():
    assert member_problem(_typed("v/000000.jpg", tarfile.REGTYPE, size=CAP), CAP) is None
    assert member_problem(_typed("v", tarfile.DIRTYPE), CAP) is None
    assert member_problem(_typed("v/000000.jpg", tarfile.REGTYPE, size=CAP + 1), CAP) == (
        f"{CAP + 1} bytes, above the {CAP}-byte cap per member"
    )
    # a directory's size field is not a member's size
    assert member_problem(_typed("v", tarfile.DIRTYPE, size=CAP + 1), CAP) is None
    assert member_problem(_typed("v/x", tarfile.SYMTYPE, "../y"), CAP) == "symbolic link (to '../y')"
    assert member_problem(_typed("v/x", tarfile.LNKTYPE, "v/y"), CAP) == "hard link (to 'v/y')"
    assert member_problem(_typed("v/x", tarfile.CHRTYPE), CAP) == "device file"
    assert member_problem(_typed("v/x", tarfile.BLKTYPE), CAP) == "device file"
    assert member_problem(_typed("v/x", tarfile.FIFOTYPE), CAP) == "fifo"
    sparse = _typed("v/x", tarfile.GNUTYPE_SPARSE, size=10)
    sparse.sparse = [(0, 10)]  # what tarfile sets when it reads a GNU sparse header
    assert member_problem(sparse, CAP) == "sparse file"
    assert member_problem(_typed("v/x", b"Z"), CAP) == "unsupported member type b'Z'"
    assert member_problem(_typed("\\abs/x", tarfile.REGTYPE), CAP) == "absolute path"
    assert member_problem(_typed("d:x", tarfile.REGTYPE), CAP) == "absolute path"
    assert member_problem(_typed("a..b/v/000000.jpg", tarfile.REGTYPE), CAP) is None  # `..` only as a component


def test_split_archive_without_its_first_part_is_refused():
    with pytest.raises(DownloadError) as err:
        group_archives(["A.tar.gz.001", "A.tar.gz.002", "README.md"])
    assert str(err.value) == "split archive A.tar.gz is missing part(s) 000"
    with pytest.raises(DownloadError, match="missing part.s. 000, 002$"):
        group_archives(["B.tar.gz.001", "B.tar.gz.003"])
    archives, others = group_archives(["C.tar.gz.002", "C.tar.gz.000", "C.tar.gz.001", "x.tar.gz/y"])
    assert archives["c"].parts == ["C.tar.gz.000", "C.tar.gz.001", "C.tar.gz.002"] and others == ["x.tar.gz/y"]
    assert archives["c"].label == "C.tar.gz.000..002"


def test_download_from_a_mirror_missing_the_first_part_fails_before_extracting(sample, tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(sample.repo, mirror)
    (mirror / "Youcook2.tar.gz.000").unlink()
    local = tmp_path / "local"
    with pytest.raises(DownloadError, match=r"split archive Youcook2\.tar\.gz is missing part\(s\) 000"):
        run_download(mirror=mirror, local_dir=local, sources="youcook2", show_progress=False)
    assert not (local / "frames" / "youcook2").exists()
