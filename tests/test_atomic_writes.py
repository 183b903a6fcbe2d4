"""Atomic writes, markers and hashes (tc139k.atomic): the final name never holds a partial file.

The writer is watched from inside the `atomic_path` block (the final name must not exist or
change yet), a failure inside the block must leave the old file as it was, and a real SIGKILL
of a writing process must leave only a temporary file that the next run removes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tc139k
from tc139k import atomic
from tc139k.atomic import (
    Markers,
    atomic_path,
    dumps_json,
    file_matches,
    file_record,
    remove_stale_temps,
    sha256_file,
    write_bytes,
    write_json,
    write_text,
)
from tc139k.errors import DiskFullError


def test_new_file_appears_only_when_the_block_ends(tmp_path):
    final = tmp_path / "sub" / "out.bin"
    with atomic_path(final) as tmp:
        assert tmp != final and tmp.parent == final.parent  # same folder: the rename is atomic
        assert tmp.name.startswith(".out.bin.") and tmp.name.endswith(atomic.TMP_SUFFIX)
        tmp.write_bytes(b"half")
        assert not final.exists()
        with open(tmp, "ab") as f:
            f.write(b" and the rest")
        assert not final.exists()
    assert final.read_bytes() == b"half and the rest"
    assert sorted(p.name for p in final.parent.iterdir()) == ["out.bin"]  # no temporary left
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(final.stat().st_mode) == 0o666 & ~umask


def test_old_file_is_unchanged_until_the_rename(tmp_path):
    final = tmp_path / "out.json"
    final.write_text("old")
    with atomic_path(final) as tmp:
        tmp.write_text("new")
        assert final.read_text() == "old"
        assert tmp.read_text() == "new"
    assert final.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_failure_inside_the_block_keeps_the_old_file(tmp_path, exc):
    final = tmp_path / "out.txt"
    final.write_text("old contents")
    seen = []
    with pytest.raises(type(exc)):
        with atomic_path(final) as tmp:
            seen.append(tmp)
            tmp.write_text("partial")
            raise exc
    assert final.read_text() == "old contents"
    assert not seen[0].exists()  # the temporary file went with the failure
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_failure_before_any_file_leaves_no_final_name(tmp_path):
    final = tmp_path / "never.txt"
    with pytest.raises(ValueError):
        with atomic_path(final):
            raise ValueError("nothing written")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("code", "what"), [(errno.ENOSPC, "disk full"), (errno.EDQUOT, "quota exceeded")])
def test_disk_full_inside_the_block_names_the_file_and_keeps_the_old_one(tmp_path, code, what):
    final = tmp_path / "shard.parquet"
    final.write_bytes(b"previous")
    with pytest.raises(DiskFullError) as err:
        with atomic_path(final) as tmp:
            tmp.write_bytes(b"part")
            raise OSError(code, os.strerror(code))
    msg = str(err.value)
    assert what in msg and str(final) in msg and "rerun" in msg
    assert final.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["shard.parquet"]
    # other OS errors pass through unchanged
    with pytest.raises(PermissionError):
        with atomic_path(final):
            raise PermissionError(errno.EACCES, "denied")
    assert final.read_bytes() == b"previous"


def test_write_helpers_are_atomic_and_stable(tmp_path):
    write_bytes(tmp_path / "a.bin", b"\x00\x01")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    write_text(tmp_path / "t.txt", "é\n")
    assert (tmp_path / "t.txt").read_bytes() == "é\n".encode()
    write_json(tmp_path / "j.json", {"b": [1, 2], "a": "é"})
    assert (tmp_path / "j.json").read_text(encoding="utf-8") == '{\n  "a": "é",\n  "b": [\n    1,\n    2\n  ]\n}\n'
    assert dumps_json({"z": 1, "y": None}) == '{\n  "y": null,\n  "z": 1\n}\n'
    assert atomic.read_json(tmp_path / "j.json") == {"a": "é", "b": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "j.json", "t.txt"]


def test_sha256_across_chunks(tmp_path):
    data = os.urandom(10_000)
    (tmp_path / "f").write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    assert sha256_file(tmp_path / "f") == want
    assert sha256_file(tmp_path / "f", chunk=333) == want  # many reads, the last one short


def test_remove_stale_temps_removes_only_temporaries(tmp_path):
    for name in (".a.parquet.x1.tmp", ".b.json.x2.tmp", "keep.tmp", ".hidden", "data.parquet"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".c.x3.tmp").write_text("x")
    assert remove_stale_temps(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "data.parquet", "keep.tmp", "sub"]
    assert (tmp_path / "sub" / ".c.x3.tmp").exists()  # not recursive
    assert remove_stale_temps(tmp_path / "absent") == 0


def test_markers_vouch_for_params_and_file(tmp_path):
    m = Markers(tmp_path)
    out = tmp_path / "out.bin"
    out.write_bytes(b"abc")
    assert m.path("k") == tmp_path / ".done" / "k.json"
    assert m.get("k") is None and not m.is_done("k")
    m.mark("k", {"p": 1}, file=out, rows=3)
    got = json.loads(m.path("k").read_text())
    assert got == {"params": {"p": 1}, "rows": 3, "file": {"bytes": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}}
    assert m.is_done("k") and m.is_done("k", {"p": 1}) and m.is_done("k", {"p": 1}, out)
    assert not m.is_done("k", {"p": 2})
    out.write_bytes(b"abd")  # same size, other bytes
    assert not m.is_done("k", {"p": 1}, out) and m.is_done("k", {"p": 1})
    out.write_bytes(b"abcd")
    assert not m.is_done("k", None, out)
    out.unlink()
    assert not m.is_done("k", None, out)
    m.mark("plain")
    assert m.get("plain") == {"params": None} and not m.is_done("plain", file=out)
    m.path("bad").write_text("{not json")
    assert m.get("bad") is None and not m.is_done("bad")


def test_file_matches(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"hello")
    rec = file_record(f)
    assert rec == {"bytes": 5, "sha256": hashlib.sha256(b"hello").hexdigest()}
    assert file_matches(f, rec)
    f.write_bytes(b"jello")
    assert not file_matches(f, rec) and file_matches(f, rec, hash_it=False)
    assert not file_matches(f, None) and not file_matches(f, "x")
    assert not file_matches(tmp_path / "missing", rec)


def test_free_bytes_of_a_path_not_yet_made(tmp_path):
    assert atomic.free_bytes(tmp_path / "a" / "b" / "c") == atomic.free_bytes(tmp_path) > 0


WRITER = """
import sys, time
from pathlib import Path
from tc139k.atomic import atomic_path
final, flag = Path(sys.argv[1]), Path(sys.argv[2])
with atomic_path(final) as tmp:
    with open(tmp, "wb") as f:
        f.write(b"new bytes, first half")
        f.flush()
        Path(str(flag) + ".part").write_text(str(tmp))
        Path(str(flag) + ".part").replace(flag)  # complete when it appears
        time.sleep(60)
        f.write(b" and the second half")
"""


def test_sigkill_mid_write_leaves_the_old_file_and_a_temporary_the_next_run_removes(tmp_path):
    final = tmp_path / "out" / "result.bin"
    final.parent.mkdir()
    final.write_bytes(b"the previous result")
    flag = tmp_path / "writing"
    # run the code this test imported (under mutation testing: the mutated copy)
    env = {**os.environ, "PYTHONPATH": str(Path(tc139k.__file__).parent.parent)}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), str(final), str(flag)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert flag.exists(), "the writer never reached its write"
        assert final.read_bytes() == b"the previous result"  # while the writer is inside the block
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    tmp = Path(flag.read_text())
    assert tmp.read_bytes() == b"new bytes, first half" and tmp.parent == final.parent
    assert final.read_bytes() == b"the previous result"
    assert remove_stale_temps(final.parent) == 1
    assert [p.name for p in final.parent.iterdir()] == ["result.bin"]


def test_disk_full_message_states_the_free_space(tmp_path, monkeypatch):
    target = tmp_path / "out" / "x.parquet"
    seen = []
    monkeypatch.setattr(atomic, "free_bytes", lambda p: seen.append(Path(p)) or 12_345_678)
    err = atomic.disk_full_error(target, OSError(errno.ENOSPC, "No space left on device"))
    assert str(err) == (
        f"disk full while writing {target} (12.3 MB free on its disk); nothing half-written was kept: "
        "free some space and rerun the same command to resume"
    )
    assert seen == [target.parent]
    assert str(atomic.disk_full_error(target, OSError(errno.EDQUOT, "quota"))).startswith("quota exceeded while")
    assert str(atomic.disk_full_error(target)).startswith("disk full while")
    monkeypatch.setattr(atomic, "free_bytes", lambda p: None)
    assert f"writing {target} (its disk is full);" in str(atomic.disk_full_error(target))
    assert atomic.is_disk_full(OSError(errno.ENOSPC, "x")) and atomic.is_disk_full(OSError(errno.EDQUOT, "x"))
    assert not atomic.is_disk_full(OSError(errno.EACCES, "x")) and not atomic.is_disk_full(ValueError())


def test_markers_adopt_files_finished_before_markers_recorded_them(tmp_path):
    m = Markers(tmp_path)
    out = tmp_path / "old.parquet"
    out.write_bytes(b"finished by an older version")
    write_json(m.path("k"), {"params": {"p": 1}, "rows": 7})  # a marker from before files were recorded
    asked = []

    def vouch(ok):
        return lambda p: asked.append(p) or ok

    assert not m.is_done("k", {"p": 1}, out)  # no adopt: not done
    assert not m.is_done("k", {"p": 1}, out, adopt=vouch(False)) and asked == [out]
    assert not m.is_done("k", {"p": 2}, out, adopt=vouch(True))  # other params: never adopted
    assert not m.is_done("k", {"p": 1}, tmp_path / "missing", adopt=vouch(True))
    assert asked == [out]  # adopt is asked only about an existing file with matching params
    assert m.is_done("k", {"p": 1}, out, adopt=vouch(True))
    assert m.get("k") == {"params": {"p": 1}, "rows": 7, "file": file_record(out)}  # recorded now
    out.write_bytes(b"changed since")
    assert not m.is_done("k", {"p": 1}, out, adopt=vouch(True))  # a recorded file is checked, not adopted
    assert m.is_done("k", {"p": 1})  # without a file only the params count


def test_free_bytes_is_measured_on_the_folders_own_disk():
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat("/").st_dev:
        pytest.skip("needs /dev/shm on a file system of its own")
    # a tmpfs and the root disk report different free space; the folder's own one counts
    assert atomic.free_bytes(shm / "not" / "made") == pytest.approx(shutil.disk_usage(shm).free, abs=1 << 20)
    assert abs(shutil.disk_usage(shm).free - shutil.disk_usage("/").free) > 1 << 24


def test_markers_with_a_null_file_record_are_adopted_too(tmp_path):
    m = Markers(tmp_path)
    out = tmp_path / "old.parquet"
    out.write_bytes(b"rows")
    write_json(m.path("k"), {"params": None, "file": None, "rows": 2})
    assert m.is_done("k", None, out, adopt=lambda p: True)
    assert m.get("k") == {"params": None, "rows": 2, "file": file_record(out)}


def test_free_space_is_rounded_to_a_tenth_of_a_megabyte(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "free_bytes", lambda p: 1_050_000)
    assert "(1.1 MB free on its disk)" in str(atomic.disk_full_error(tmp_path / "x"))


def test_a_refused_write_is_named_with_what_to_do():
    """EROFS, EACCES and EPERM are a write the system refuses (and only they): the error
    names the path and says to choose another output folder; a read-only disk says so."""
    import errno

    from tc139k.atomic import is_not_writable, not_writable_error
    from tc139k.errors import NotWritableError

    for code in (errno.EROFS, errno.EACCES, errno.EPERM):
        assert is_not_writable(OSError(code, os.strerror(code), "/data/out"))
    for code in (errno.ENOSPC, errno.ENOENT, errno.EIO):
        assert not is_not_writable(OSError(code, os.strerror(code), "/data/out"))
    assert not is_not_writable(ValueError("not an OSError"))
    ro = not_writable_error(OSError(errno.EROFS, "Read-only file system", "/data/out"))
    assert isinstance(ro, NotWritableError) and ro.exit_code == 1
    assert str(ro) == (
        "cannot write /data/out: its disk is read-only; choose an output folder on a writable disk "
        "(--out, --local-dir) and rerun"
    )
    denied = "; choose an output folder you can write to (--out, --local-dir), or make the file or folder "
    denied += "accessible to you, and rerun"
    assert str(not_writable_error(OSError(errno.EACCES, "Permission denied", "/data/out"))) == (
        f"permission denied: /data/out{denied}"
    )
    # without a file name: what was being written, in words
    assert str(not_writable_error(OSError(errno.EPERM, "Operation not permitted"))) == (
        f"permission denied: a file of the run{denied}"
    )
    assert str(not_writable_error(OSError(errno.EROFS, "Read-only file system"))).startswith(
        "cannot write the output folder: its disk is read-only;"
    )
