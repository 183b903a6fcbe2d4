"""Archive members at the edges: the size cap is inclusive, a split archive without its `.000`
part is refused, and every hostile member type is refused for its own reason (a generic
"unsupported type" refusal would hide a deleted link or device check)."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import stat
import tarfile
from pathlib import Path

import pytest
from test_extract import special, tar_gz

from tc139k.download.extract import EXPANSION_FLOOR, expansion_limit, extract_frames, group_archives, member_problem
from tc139k.download.hub import ContentHasher, RemoteFile
from tc139k.download.run import run_download
from tc139k.errors import DownloadError, HostileArchiveError, IntegrityError

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


# ---- replacing what is there, and what a run leaves behind ------------------------------------


def _arc(tmp_path, name, members) -> Path:
    arc = tmp_path / name
    arc.write_bytes(tar_gz(members))
    return arc


def test_a_second_extraction_replaces_whole_video_folders(tmp_path):
    local = tmp_path / "local"
    first = _arc(
        tmp_path, "A.tar.gz", [("v1/000000.jpg", b"old0"), ("v1/000009.jpg", b"old9"), ("v2/000000.jpg", b"o")]
    )
    extract_frames([first], source="x", label="A.tar.gz", local_dir=local)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not ours")
    (local / "frames" / "x" / "v3").symlink_to(outside)  # a planted link where a video goes
    second = _arc(tmp_path, "B.tar.gz", [("v1/000000.jpg", b"new0"), ("v2/000001.jpg", b"n"), ("v3/000000.jpg", b"3")])
    res = extract_frames([second], source="x", label="B.tar.gz", local_dir=local)
    assert res.videos == {"v1": 1, "v2": 1, "v3": 1}
    frames = local / "frames" / "x"
    got = {p.relative_to(frames).as_posix(): p.read_bytes() for p in sorted(frames.rglob("*")) if p.is_file()}
    assert got == {"v1/000000.jpg": b"new0", "v2/000001.jpg": b"n", "v3/000000.jpg": b"3"}  # old frames gone
    assert not (frames / "v3").is_symlink()
    assert [p.name for p in outside.iterdir()] == ["keep.txt"]  # the link was moved away, not followed
    assert sorted(p.name for p in local.iterdir()) == [".tc139k", "frames"]
    assert not any((local / ".tc139k" / "trash").glob("*")) and not any((local / ".tc139k" / "staging").iterdir())


def test_a_link_planted_during_extraction_is_refused_before_the_move(tmp_path):
    local = tmp_path / "local"
    (local / "frames" / "x").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def plant(n):  # called after each member; swaps the source folder for a link leaving the local folder
        target = local / "frames" / "x"
        if not target.is_symlink():
            target.rmdir()
            target.symlink_to(elsewhere)

    arc = _arc(tmp_path, "A.tar.gz", [("v1/000000.jpg", b"a")])
    with pytest.raises(DownloadError, match="resolves outside"):
        extract_frames([arc], source="x", label="A.tar.gz", local_dir=local, on_member=plant)
    assert list(elsewhere.iterdir()) == []


def test_a_duplicate_frame_is_refused(tmp_path):
    arc = _arc(tmp_path, "A.tar.gz", [("p/v1/000000.jpg", b"first"), ("q/v1/000000.jpg", b"second")])
    with pytest.raises(HostileArchiveError, match="refusing member 'q/v1/000000.jpg': duplicate frame"):
        extract_frames([arc], source="x", label="A.tar.gz", local_dir=tmp_path / "local")
    assert not (tmp_path / "local" / "frames" / "x").exists()


def test_damaged_parts_are_all_named(tmp_path):
    blob = tar_gz([("v1/000000.jpg", b"a" * 3000)])
    parts = [tmp_path / "S.tar.gz.000", tmp_path / "S.tar.gz.001"]
    parts[0].write_bytes(blob[: len(blob) // 2])
    parts[1].write_bytes(blob[len(blob) // 2 :])
    hashers = [ContentHasher(RemoteFile(p.name, p.stat().st_size, "0" * 64)) for p in parts]
    with pytest.raises(IntegrityError) as err:
        extract_frames(parts, source="s", label="S.tar.gz.000..001", local_dir=tmp_path / "local", hashers=hashers)
    assert str(err.value).startswith("S.tar.gz.000..001: damaged archive (S.tar.gz.000: sha256 is ")
    assert f", expected {'0' * 64}; S.tar.gz.001: sha256 is " in str(err.value)


def test_archives_keep_their_name_and_source():
    archives, _ = group_archives(["COIN.tar.gz", "Youcook2.tar.gz.001", "Youcook2.tar.gz.000"])
    coin, yc = archives["coin"], archives["youcook2"]
    assert (coin.name, coin.source, coin.parts, coin.label) == ("COIN", "coin", ["COIN.tar.gz"], "COIN.tar.gz")
    assert (yc.name, yc.source, yc.parts) == ("Youcook2", "youcook2", ["Youcook2.tar.gz.000", "Youcook2.tar.gz.001"])
    with pytest.raises(DownloadError, match=r"missing part\(s\) 000, 003, 004$"):
        group_archives(["D.tar.gz.001", "D.tar.gz.002", "D.tar.gz.005"])


def test_expansion_limit():
    mib = 1 << 20
    assert expansion_limit(1000, 10.0) == EXPANSION_FLOOR  # tiny archives may always expand to the floor
    assert expansion_limit(10 * mib, 10.0) == 100 * mib
    assert expansion_limit(10 * mib, 2.5) == 25 * mib
    assert expansion_limit(10 * mib, 10.0, 50 * mib) == 50 * mib
    assert expansion_limit(10 * mib, 10.0, 500 * mib) == 100 * mib
    assert expansion_limit(1000, 10.0, 5000) == 5000


def test_an_archive_expanding_past_the_cap_is_refused(tmp_path):
    zeros = _arc(tmp_path, "Big.tar.gz", [("v1/000000.jpg", bytes(20_000))])  # inflates past the cap at once
    with pytest.raises(HostileArchiveError) as err:
        extract_frames([zeros], source="b", label="Big.tar.gz", local_dir=tmp_path / "local", max_extract_bytes=10_000)
    assert str(err.value).startswith(
        "Big.tar.gz: refusing the archive: it expands past 10000 bytes, the bound set by 10x its "
        f"{zeros.stat().st_size} compressed bytes and the 10000-byte cap (frame archives hold JPEGs"
    )
    # a member whose header announces more than the bound is refused before its data is read
    big = _arc(tmp_path, "Rnd.tar.gz", [("v1/000000.jpg", random.Random(1).randbytes(3_000_000))])
    with pytest.raises(HostileArchiveError) as err:
        extract_frames([big], source="b", label="Rnd.tar.gz", local_dir=tmp_path / "local", max_extract_bytes=2_000_000)
    assert str(err.value).startswith("Rnd.tar.gz: refusing member 'v1/000000.jpg': the archive expands past 2000000")
    assert not (tmp_path / "local" / "frames" / "b").exists()


def test_parts_are_hashed_counted_and_sized(tmp_path):
    rng = random.Random(0)
    frames = [(f"v1/{i:06d}.jpg", rng.randbytes(700_000)) for i in range(4)]  # JPEG-like: incompressible
    blob = tar_gz(frames)
    cut = len(blob) // 3
    parts = [tmp_path / "S.tar.gz.000", tmp_path / "S.tar.gz.001"]
    parts[0].write_bytes(blob[:cut])
    parts[1].write_bytes(blob[cut:])
    hashers = [
        ContentHasher(RemoteFile(p.name, p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())) for p in parts
    ]
    seen, members = [], []
    res = extract_frames(
        parts,
        source="s",
        label="S",
        local_dir=tmp_path / "local",
        hashers=hashers,
        on_bytes=seen.append,
        on_member=members.append,
    )
    assert res.part_sizes == [cut, len(blob) - cut]
    assert sum(seen) == len(blob) and all(isinstance(n, int) and n > 0 for n in seen)
    assert members == [1, 1, 1, 1] and res.videos == {"v1": 4} and res.bytes_written == 4 * 700_000
    umask = os.umask(0)
    os.umask(umask)
    for name, data in frames:
        f = tmp_path / "local" / "frames" / "s" / name
        assert f.read_bytes() == data and stat.S_IMODE(f.stat().st_mode) == 0o644 & ~umask


def test_result_counts_and_the_messages_that_say_what_to_do(tmp_path):
    arc = _arc(
        tmp_path,
        "C.tar.gz",
        [special("d1", tarfile.DIRTYPE), special("d1/v1", tarfile.DIRTYPE)]
        + [(f"d1/v1/{i:06d}.jpg", b"x") for i in range(3)],
    )
    res = extract_frames([arc], source="c", label="C.tar.gz", local_dir=tmp_path / "local")
    assert (res.source, res.archive, res.members, res.skipped_dirs, res.videos) == ("c", "C.tar.gz", 5, 2, {"v1": 3})
    with pytest.raises(HostileArchiveError, match=r"^C.tar.gz: unsafe source name '\.\./x'$"):
        extract_frames([arc], source="../x", label="C.tar.gz", local_dir=tmp_path / "local")
    missing = tmp_path / "gone.tar.gz.001"
    with pytest.raises(DownloadError, match=rf"^C: cannot read {missing}: No such file or directory$"):
        extract_frames([arc, missing], source="c", label="C", local_dir=tmp_path / "local")
    zeros = _arc(tmp_path, "Z.tar.gz", [("v1/000000.jpg", bytes(40_000_000))])
    with pytest.raises(HostileArchiveError) as err:
        extract_frames([zeros], source="z", label="Z.tar.gz", local_dir=tmp_path / "local", max_expansion_ratio=1.0)
    assert str(err.value) == (
        f"Z.tar.gz: refusing member 'v1/000000.jpg': the archive expands past {EXPANSION_FLOOR} bytes, the bound "
        "set by 1x its "
        f"{zeros.stat().st_size} compressed bytes (frame archives hold JPEGs and expand about 1:1); "
        "if you trust it, raise --max-expansion-ratio or --max-extract-gb"
    )
    dup = _arc(tmp_path, "D.tar.gz", [("a/v/000000.jpg", b"1"), ("b/v/000000.jpg", b"2")])
    with pytest.raises(HostileArchiveError) as err:
        extract_frames([dup], source="d", label="D.tar.gz", local_dir=tmp_path / "local")
    assert str(err.value) == (
        "D.tar.gz: refusing member 'b/v/000000.jpg': duplicate frame, v/000000.jpg was already given by an "
        "earlier member (which copy is right cannot be told)"
    )
    assert list((tmp_path / "local" / ".tc139k" / "staging").iterdir()) == []  # every failure cleaned up


def test_an_unreadable_archive_with_a_wrong_hash_is_reported_as_damaged(tmp_path):
    # a flipped byte makes the stream unreadable; the hash, checked first, names the likelier cause
    blob = bytearray(tar_gz([("v1/000000.jpg", random.Random(2).randbytes(5000))]))
    blob[len(blob) // 2] ^= 0xFF
    arc = tmp_path / "T.tar.gz"
    arc.write_bytes(bytes(blob))
    hashers = [ContentHasher(RemoteFile(arc.name, len(blob), "0" * 64))]
    with pytest.raises(IntegrityError) as err:
        extract_frames([arc], source="t", label="T.tar.gz", local_dir=tmp_path / "local", hashers=hashers)
    assert str(err.value).startswith("T.tar.gz: damaged archive (T.tar.gz: sha256 is ")
    hashers = [ContentHasher(RemoteFile(arc.name, len(blob), hashlib.sha256(blob).hexdigest()))]
    with pytest.raises(IntegrityError, match=r"^T\.tar\.gz is not a readable tar\.gz archive \("):
        extract_frames([arc], source="t", label="T.tar.gz", local_dir=tmp_path / "local", hashers=hashers)


def test_a_member_ending_exactly_at_the_bound_is_not_blamed(tmp_path):
    # its header fits the bound; the archive's end blocks pass it, so the archive is refused
    data = random.Random(3).randbytes(3_000_000)  # large: the header is read long before the data
    arc = _arc(tmp_path, "E.tar.gz", [("v1/000000.jpg", data)])
    bound = 512 + len(data)  # one header block, then the data
    with pytest.raises(HostileArchiveError) as err:
        extract_frames([arc], source="e", label="E.tar.gz", local_dir=tmp_path / "local", max_extract_bytes=bound)
    assert str(err.value).startswith(f"E.tar.gz: refusing the archive: it expands past {bound} bytes")
    with pytest.raises(HostileArchiveError) as err:
        extract_frames([arc], source="e", label="E.tar.gz", local_dir=tmp_path / "local", max_extract_bytes=bound - 1)
    assert str(err.value).startswith(f"E.tar.gz: refusing member 'v1/000000.jpg': the archive expands past {bound - 1}")


# ---- the decompression thread ----------------------------------------------------------------


def test_the_inflater_waits_for_a_slow_reader_and_stops_when_closed():
    import gzip
    import io
    import threading
    import time
    import zlib

    from tc139k.download.extract import OUT_MAX, _Inflater

    data = bytes(3 * OUT_MAX + 5)  # several bounded zlib outputs; compresses to a few KB
    slow = _Inflater(io.BytesIO(gzip.compress(data, mtime=0)), depth=1)
    got = bytearray()

    def read_slowly():
        buf = bytearray(OUT_MAX // 3)
        while n := slow.readinto(buf):
            got.extend(buf[:n])
            time.sleep(0.1)  # the queue (one output) stays full: the thread waits, it does not give up

    reader = threading.Thread(target=read_slowly, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive() and bytes(got) == data
    slow.close()

    early = _Inflater(io.BytesIO(gzip.compress(data, mtime=0)), depth=1)
    assert early.readinto(bytearray(10)) == 10
    time.sleep(0.3)  # the thread now waits on the full queue
    early.close()  # the reader gave up (a refused member): the thread must end, not wait on forever
    assert not early._t.is_alive()

    assert _Inflater(io.BytesIO(bytes(100))).read() == b""  # zero padding alone: no member, no error
    with pytest.raises(zlib.error):  # a zlib stream is not a gzip file
        _Inflater(io.BytesIO(zlib.compress(data))).read()


def test_the_inflater_bounds_output_members_and_truncation(tmp_path):
    import gzip
    import io
    import zlib

    from tc139k.download.extract import ExpansionExceeded, _Inflater

    data = bytes(range(256)) * 4000
    assert _Inflater(io.BytesIO(gzip.compress(data)), limit=len(data)).read() == data  # the bound is inclusive
    with pytest.raises(ExpansionExceeded):
        _Inflater(io.BytesIO(gzip.compress(data)), limit=len(data) - 1).read()
    two = gzip.compress(data[:1000]) + gzip.compress(data[1000:]) + bytes(512)  # members, then zero padding
    assert _Inflater(io.BytesIO(two)).read() == data
    with pytest.raises(EOFError, match="ends inside a gzip member"):
        _Inflater(io.BytesIO(gzip.compress(data)[:-20])).read()
    with pytest.raises(EOFError, match="ends inside a gzip member"):
        _Inflater(io.BytesIO(two[: len(gzip.compress(data[:1000])) + 30])).read()
    with pytest.raises(zlib.error):  # a second member must be gzip too
        _Inflater(io.BytesIO(gzip.compress(data[:1000]) + zlib.compress(data))).read()
    empty = tmp_path / "Empty.tar.gz"
    empty.write_bytes(b"")
    with pytest.raises(
        IntegrityError, match=r"^Empty\.tar\.gz is not a readable tar\.gz archive \(the archive is empty\)"
    ):
        extract_frames([empty], source="e", label="Empty.tar.gz", local_dir=tmp_path / "local")


def test_the_inflater_with_small_reads_and_a_small_output_bound(monkeypatch):
    # input read a few bytes at a time and output bounded per call: every branch of the loop
    # (pending input, pending output, member ends inside a read) meets every other
    import gzip
    import io

    from tc139k.download import extract

    monkeypatch.setattr(extract, "READ_SIZE", 7)
    monkeypatch.setattr(extract, "OUT_MAX", 1000)
    data = bytes(100_000) + bytes(range(256)) * 40 + bytes(50_000)
    stream = gzip.compress(data[:60_000]) + gzip.compress(data[60_000:])
    assert extract._Inflater(io.BytesIO(stream)).read() == data
