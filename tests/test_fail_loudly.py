"""Damaged outputs, full disks, bad frames, empty successes and exit codes: every case ends
in a one-line `Error: ...` naming the file or folder and what to do, with the exit code of the
rule in tc139k.errors, never a traceback; reruns repair to the same bytes.

Disk-full cases run the real CLI in a subprocess whose output folder is a real, small tmpfs
mounted in a private user + mount namespace (`unshare -rm`), so ENOSPC comes from the kernel
through pyarrow's and Python's own write paths; skipped where namespaces are not allowed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from envelope import result_of
from shard_inputs import make_inputs, quarantine_reason

from tc139k.cli import main
from tc139k.errors import EXIT_FAILED, EXIT_USAGE
from tc139k.shards import build as shards_build
from tc139k.shards.jpeg import jpeg_problem

ENV = {**os.environ, "TC139K_NO_PROGRESS": "1"}


def cli(*args) -> tuple[int, str, BaseException | None]:
    res = CliRunner().invoke(main, [str(a) for a in args])
    return res.exit_code, res.output, res.exception


def assert_clean_error(code, output, exc, want_code: int, *needles: str) -> None:
    """A one-line `Error:` with the expected code, no traceback (CliRunner keeps the exception)."""
    assert isinstance(exc, SystemExit) and code == want_code, (code, output, exc)
    assert "Traceback" not in output and "Error: " in output, output
    for n in needles:
        assert n in output, (n, output)


def digests(folder: Path, pattern: str) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob(pattern))
    }


@pytest.fixture(scope="module")
def inputs(sample, tmp_path_factory):
    """Validated records and pixel key frames of the whole sample (4 videos per file)."""
    return make_inputs(sample, tmp_path_factory.mktemp("loud-inputs"))


def shards_args(inputs, out, keyframes=None, frames=None) -> list:
    return [
        "shards",
        "build",
        "--qa",
        inputs.qa,
        "--keyframes",
        keyframes or inputs.keyframes,
        "--frames-root",
        frames or inputs.frames,
        "--out",
        out,
    ]


# ---- 7: damaged key-frame files are named, not tracebacks ------------------------------------


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(b"this is not parquet\n" * 50)
    else:  # same size, its footer overwritten: only the marker's size and hash... and the footer tell
        path.write_bytes(data[:-64] + b"\0" * 64)


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage", "footer"])
def test_stats_and_shards_name_a_damaged_keyframe_file(inputs, tmp_path, how):
    kf = tmp_path / "kf"
    shutil.copytree(inputs.keyframes, kf)
    bad = kf / "keyframes-00001.parquet"
    _damage(bad, how)
    for args in (["stats", "redundancy", kf], shards_args(inputs, tmp_path / "shards", keyframes=kf)):
        code, out, exc = cli(*args)
        assert_clean_error(code, out, exc, EXIT_FAILED, f"key-frame file {bad} is damaged", "tc139k keyframes build")
    assert not (tmp_path / "shards" / "shards-manifest.json").exists()


def test_stats_reads_a_file_damaged_past_its_footer_and_names_it(inputs, tmp_path):
    # the footer reads, the pages do not: caught while the rows are read, still named
    kf = tmp_path / "kf"
    shutil.copytree(inputs.keyframes, kf)
    shutil.rmtree(kf / ".done")  # no marker to compare the size with: only the read can tell
    bad = kf / "keyframes-00002.parquet"
    meta = pq.ParquetFile(bad).metadata
    start = meta.row_group(0).column(0).data_page_offset
    data = bytearray(bad.read_bytes())
    data[start : start + 2000] = os.urandom(2000)
    bad.write_bytes(bytes(data))
    code, out, exc = cli("stats", "redundancy", kf)
    assert_clean_error(code, out, exc, EXIT_FAILED, f"key-frame file {bad} is damaged")


# ---- 8: a keyframes rerun repairs its own damaged output ------------------------------------


def test_keyframes_rerun_repairs_damaged_files_to_the_same_bytes(sample, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(sample.shortest(4)) + "\n")
    args = ["keyframes", "build", "--frames-root", sample.frames, "--video-ids", ids, "--method", "pixel"]
    args += ["--videos-per-file", 1, "--json"]
    reference, out = tmp_path / "reference", tmp_path / "out"
    for folder in (reference, out):
        code, text, exc = cli(*args, "--out", folder)
        assert code == 0, text
    want = {**digests(reference, "keyframes-*.parquet"), **digests(reference, ".work/scores-*.parquet")}
    assert len(want) == 8

    _damage(out / "keyframes-00003.parquet", "truncated")
    _damage(out / ".work" / "scores-00002.parquet", "truncated")
    same_size = out / "keyframes-00001.parquet"  # a byte changed in place: only the hash tells
    data = bytearray(same_size.read_bytes())
    data[len(data) // 2] ^= 0x01
    same_size.write_bytes(bytes(data))

    code, text, exc = cli(*args, "--out", out)
    assert code == 0, text
    res = result_of(text, "keyframes build")
    assert res["n_batches_scored"] == 1 and res["n_batches_reused"] == 3  # scores-00002 only
    # 1 and 3; 2 is intact and its scores were redone to the same bytes
    assert res["n_files_written"] == 2 and res["n_files_reused"] == 2
    assert {**digests(out, "keyframes-*.parquet"), **digests(out, ".work/scores-*.parquet")} == want
    marker = json.loads((out / ".done" / "keyframes-00003.json").read_text())
    assert marker["file"]["sha256"] == want["keyframes-00003.parquet"]

    # an undamaged rerun trusts everything
    code, text, exc = cli(*args, "--out", out)
    again = result_of(text, "keyframes build")
    assert again["n_files_written"] == 0 and again["n_batches_scored"] == 0


# ---- 9: disk full ----------------------------------------------------------------------------


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=8k tmpfs /mnt 2>/dev/null || mount -t tmpfs tmpfs /tmp"],
        capture_output=True,
    )
    return probe.returncode == 0


FULL_DISK_SCRIPT = r"""
mount -t tmpfs -o size="$SIZE" tmpfs "$DISK" || exit 99
"$@" >"$WORK/out1" 2>"$WORK/err1"; echo $? >"$WORK/rc1"
find "$DISK" -type f | sort >"$WORK/left"
mount -o remount,size=256m "$DISK" || exit 98
"$@" >"$WORK/out2" 2>"$WORK/err2"; echo $? >"$WORK/rc2"
cp -a "$DISK/." "$WORK/after/"
"""


def run_on_small_disk(tmp_path: Path, size: str, *args) -> dict:
    """Run `tc139k ARGS` with DISK (tmp_path/disk) a tmpfs of `size`, then again after the
    tmpfs is grown (the "free space and rerun" of the message); returns both results, the
    files left after the failure and a copy of DISK after the rerun."""
    work, disk = tmp_path / "ns", tmp_path / "disk"
    (work / "after").mkdir(parents=True)
    disk.mkdir()
    argv = [str(a).replace("{DISK}", str(disk)) for a in args]
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", FULL_DISK_SCRIPT, "sh", sys.executable, "-m", "tc139k", *argv],
        env={**ENV, "SIZE": size, "DISK": str(disk), "WORK": str(work)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return {
        "rc1": int((work / "rc1").read_text()),
        "err1": (work / "err1").read_text(),
        "left": [Path(p).relative_to(disk) for p in (work / "left").read_text().split()],
        "rc2": int((work / "rc2").read_text()),
        "err2": (work / "err2").read_text(),
        "after": work / "after",
    }


needs_namespaces = pytest.mark.skipif(not _namespaces_work(), reason="cannot mount a tmpfs in a user namespace here")


def _assert_disk_full(run: dict) -> None:
    assert run["rc1"] == EXIT_FAILED, run["err1"]
    assert "Traceback" not in run["err1"] and "Errno 28" not in run["err1"], run["err1"]
    assert run["err1"].startswith("Error: disk full while writing "), run["err1"]
    assert "free some space and rerun the same command to resume" in run["err1"]
    assert not [p for p in run["left"] if p.name.endswith(".tmp")], run["left"]  # nothing half-written
    assert run["rc2"] == 0, run["err2"]


@needs_namespaces
def test_disk_full_during_keyframes(sample, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(sample.shortest(3)) + "\n")
    args = ["keyframes", "build", "--frames-root", sample.frames, "--video-ids", ids, "--method", "pixel"]
    args += ["--videos-per-file", 1]
    code, text, exc = cli(*args, "--out", tmp_path / "reference")
    assert code == 0, text
    run = run_on_small_disk(tmp_path, "24k", *args, "--out", "{DISK}/kf")
    _assert_disk_full(run)
    assert "/kf/" in run["err1"]
    assert digests(run["after"] / "kf", "keyframes-*.parquet") == digests(tmp_path / "reference", "keyframes-*.parquet")


@needs_namespaces
def test_disk_full_during_shards_build_with_embedded_frames(inputs, tmp_path):
    code, text, exc = cli(*shards_args(inputs, tmp_path / "reference"), "--embed-frames")
    assert code == 0, text
    run = run_on_small_disk(tmp_path, "1m", *shards_args(inputs, "{DISK}/shards"), "--embed-frames")
    _assert_disk_full(run)
    assert "/shards/data/" in run["err1"] and ".parquet" in run["err1"]
    assert digests(run["after"] / "shards", "data/*.parquet") == digests(tmp_path / "reference", "data/*.parquet")


@needs_namespaces
def test_disk_full_during_validate(sample, tmp_path):
    code, text, exc = cli("validate", sample.qa, "--out", tmp_path / "reference")
    assert code == 0, text
    run = run_on_small_disk(tmp_path, "16k", "validate", sample.qa, "--out", "{DISK}/validated")
    _assert_disk_full(run)
    assert "/validated/" in run["err1"]
    assert "valid.parquet" not in [p.name for p in run["left"]]
    for name in ("valid.parquet", "quarantine.jsonl"):
        assert (run["after"] / "validated" / name).read_bytes() == (tmp_path / "reference" / name).read_bytes()


def test_disk_full_outside_an_atomic_write_is_the_same_message(sample, tmp_path, monkeypatch):
    # the disk fills while a folder is being tidied, not inside an atomic write: the CLI's
    # last line of defence gives the same message
    import errno

    def full(folder):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder))

    monkeypatch.setattr("tc139k.keyframes.build.remove_stale_temps", full)
    ids = tmp_path / "ids.txt"
    ids.write_text(sample.shortest(1)[0] + "\n")
    args = ["keyframes", "build", "--frames-root", sample.frames, "--video-ids", ids, "--method", "pixel"]
    code, out, exc = cli(*args, "--out", tmp_path / "o")
    assert_clean_error(code, out, exc, EXIT_FAILED, f"disk full while writing {tmp_path / 'o'}", "rerun the same")


# ---- 11: bad JPEGs are not embedded -----------------------------------------------------------


def test_jpeg_problem_on_real_and_broken_frames(sample):
    good = next(sample.frames.glob("*/*/000000.jpg")).read_bytes()
    assert jpeg_problem(good) is None
    assert jpeg_problem(b"") == "empty file"
    assert "no start-of-image" in jpeg_problem(b"GIF89a" + good)
    assert "no end-of-image" in jpeg_problem(good[: len(good) // 2])
    assert "damaged JPEG header" in jpeg_problem(good[:2] + b"\x00" * 200 + good[-2:])
    assert "damaged JPEG header" in jpeg_problem(good[:200] + good[-2:])  # header cut, EOI pasted back
    sof = good.index(b"\xff\xc0")
    zero = good[: sof + 5] + b"\x00\x00" + good[sof + 7 :]  # height 0
    assert jpeg_problem(zero).startswith("JPEG of size")


def _frames_copy_with_bad_jpegs(inputs, tmp_path) -> tuple[Path, dict[str, str]]:
    frames = tmp_path / "frames"
    shutil.copytree(inputs.frames, frames)
    records = pq.read_table(inputs.qa, columns=["frame_paths"]).column("frame_paths").to_pylist()
    used = sorted({p for paths in records for p in paths})
    bad = {used[3]: "empty file", used[len(used) // 2]: "no end-of-image", used[-5]: "no start-of-image"}
    for rel, how in bad.items():
        data = (frames / rel).read_bytes()
        (frames / rel).write_bytes({"empty file": b"", "no end-of-image": data[:100]}.get(how, b"\x00" + data))
    return frames, bad


def test_bad_frames_go_to_quarantine_and_the_shards_load(inputs, tmp_path):
    from datasets import load_dataset

    frames, bad = _frames_copy_with_bad_jpegs(inputs, tmp_path)
    out = tmp_path / "shards"
    code, text, exc = cli(*shards_args(inputs, out, frames=frames), "--embed-frames", "--json")
    assert code == 0, text
    res = result_of(text, "shards build")
    quarantine = [json.loads(line) for line in (out / "quarantine.jsonl").read_text().splitlines()]
    flagged = [q for q in quarantine if quarantine_reason(q).startswith("bad_frames:")]
    assert flagged and res["n_quarantined_by_reason"]["bad_frames"] == len(flagged)
    assert {next(p for p in bad if p in quarantine_reason(q)) for q in flagged} == set(bad)
    for q in flagged:
        rel = next(p for p in bad if p in quarantine_reason(q))
        assert bad[rel] in quarantine_reason(q)
    # every row decodes: load_dataset raised UnidentifiedImageError on the bad frames before
    ds = load_dataset(str(out))
    for split in ds:
        for row in ds[split]:
            assert all(im.size[0] > 0 for im in row["frames"])
    code, text, exc = cli("shards", "verify", out)
    assert code == 0, text


def test_verify_catches_bad_embedded_frames(inputs, tmp_path, monkeypatch):
    # shards written without the check (as an older tc139k did): verify must find the frames
    frames, bad = _frames_copy_with_bad_jpegs(inputs, tmp_path)
    monkeypatch.setattr(shards_build.FrameChecker, "record_problem", lambda self, paths: None)
    out = tmp_path / "shards"
    code, text, exc = cli(*shards_args(inputs, out, frames=frames), "--embed-frames")
    assert code == 0, text
    monkeypatch.undo()
    code, text, exc = cli("shards", "verify", out)
    assert code == EXIT_FAILED, text
    assert "PROBLEMS" in text
    for rel, why in bad.items():
        assert f"embedded frame {rel}: " in text and why in text.split(f"embedded frame {rel}: ")[1].splitlines()[0]


# ---- 12: empty successes and layout mistakes ---------------------------------------------------


def test_keyframes_run_whose_every_video_failed_exits_1(tmp_path):
    for vid in ("a", "b"):
        d = tmp_path / "frames" / "src" / vid
        d.mkdir(parents=True)
        for i in range(3):
            (d / f"{i:06d}.jpg").write_bytes(b"")
    code, out, exc = cli(
        "keyframes", "build", "--frames-root", tmp_path / "frames", "--method", "pixel", "--out", tmp_path / "kf"
    )
    assert_clean_error(code, out, exc, EXIT_FAILED, "every video failed (2 of 2", "src/a:", "nothing useful")


def test_shards_build_with_zero_rows_exits_1_and_writes_no_shards(inputs, tmp_path):
    other = tmp_path / "frames" / "coin" / "someone-else"  # a frames root without the records' videos
    other.mkdir(parents=True)
    shutil.copy(next(inputs.frames.glob("*/*/000000.jpg")), other / "000000.jpg")
    out = tmp_path / "shards"
    code, text, exc = cli(*shards_args(inputs, out, frames=tmp_path / "frames"))
    assert_clean_error(code, text, exc, EXIT_FAILED, "0 of 176 record(s) made a row (missing_frames 176)")
    assert "Load with" not in text
    assert len((out / "quarantine.jsonl").read_text().splitlines()) == 176
    assert not (out / "shards-manifest.json").exists() and not list(out.glob("data/*.parquet"))


def test_shards_verify_of_zero_shards_exits_1(inputs, tmp_path):
    out = tmp_path / "shards"
    code, text, exc = cli(*shards_args(inputs, out))
    assert code == 0, text
    manifest = json.loads((out / "shards-manifest.json").read_text())
    manifest.update(shards=[], rows={"train": 0, "validation": 0})  # what an empty build wrote before
    (out / "shards-manifest.json").write_text(json.dumps(manifest))
    for p in out.glob("data/*.parquet"):
        p.unlink()
    code, text, exc = cli("shards", "verify", out)
    assert code == EXIT_FAILED and "0 shard(s), 0 rows: PROBLEMS" in text and "lists no shard" in text


def test_frames_root_layout_mistakes_say_what_was_meant(sample, inputs, tmp_path):
    download = sample.dir  # holds frames/ (and repo/) like a download folder
    source = next(p for p in sorted(sample.frames.iterdir()) if p.is_dir())
    video = next(p for p in sorted(source.iterdir()) if p.is_dir())
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "clip1.mp4").write_bytes(b"\0" * 100)
    (videos / "clip2.mkv").write_bytes(b"\0" * 100)
    cases = {
        download: f"did you mean --frames-root {download / 'frames'}?",
        source: f"use its parent: --frames-root {source.resolve().parent}",
        video: f"use the folder two levels up: --frames-root {video.resolve().parent.parent}",
        videos: "use --video FILE",
    }
    for root, hint in cases.items():
        for args in (
            ["keyframes", "build", "--frames-root", root, "--method", "pixel", "--out", tmp_path / "kf"],
            shards_args(inputs, tmp_path / "shards", frames=root),
            ["validate", sample.qa, "--frames-root", root, "--out", tmp_path / "validated"],
        ):
            code, out, exc = cli(*args)
            assert_clean_error(code, out, exc, EXIT_USAGE, hint)
    assert not [p.name for p in tmp_path.iterdir() if p.name != "videos"]  # nothing was written


def test_mirror_above_the_repository_says_what_was_meant(sample, tmp_path):
    code, out, exc = cli("download", "--mirror", sample.dir, "--local-dir", tmp_path / "data")
    assert_clean_error(code, out, exc, EXIT_USAGE, f"did you mean --mirror {sample.dir / 'repo'}?")
    assert not (tmp_path / "data").exists()


# ---- 15: one exit-code rule ------------------------------------------------------------------


def test_exit_codes_follow_one_rule(tmp_path):
    missing = tmp_path / "missing"
    usage = [
        ["stats", "redundancy", missing],
        ["stats", "dataset", missing],
        ["validate", missing / "qa.jsonl"],
        ["keyframes", "build", "--frames-root", missing, "--out", tmp_path / "o"],
        ["keyframes", "compare", missing, missing],
        ["shards", "verify", missing],
        ["download", "--mirror", missing, "--local-dir", tmp_path / "d"],
        ["run", missing / "recipe.yaml", "--out", tmp_path / "r"],
        ["stats", "redundancy", tmp_path],  # a folder, but no key-frame files in it
        ["validate", "--no-such-option", "x"],
        ["shards", "build", "--no-such-option"],
        ["keyframes", "build", "--method", "nonsense", "--out", tmp_path / "o"],
    ]
    for args in usage:
        proc = subprocess.run(
            [sys.executable, "-m", "tc139k", *map(str, args)], env=ENV, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == EXIT_USAGE, (args, proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr and "Error" in proc.stderr, (args, proc.stderr)
    top = subprocess.run([sys.executable, "-m", "tc139k", "--help"], env=ENV, capture_output=True, text=True)
    assert "Exit codes, the same for every command:" in top.stdout
    for line in ("0    ok", "1    the run failed", "2    usage", "130  interrupted", "143  terminated (SIGTERM"):
        assert line in top.stdout


def test_markers_of_an_older_run_are_adopted_not_redone(sample, tmp_path):
    # markers written before they recorded files: a readable file with its batch's rows is
    # trusted (and recorded now), a damaged one is redone
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(sample.shortest(3)) + "\n")
    args = ["keyframes", "build", "--frames-root", sample.frames, "--video-ids", ids, "--method", "pixel"]
    args += ["--videos-per-file", 1, "--json", "--out", tmp_path / "out"]
    code, text, exc = cli(*args)
    assert code == 0, text
    out = tmp_path / "out"
    want = {**digests(out, "keyframes-*.parquet"), **digests(out, ".work/scores-*.parquet")}
    markers = sorted(out.glob(".done/*.json")) + sorted(out.glob(".work/.done/*.json"))
    assert len(markers) == 6
    for m in markers:
        old = json.loads(m.read_text())
        del old["file"]
        m.write_text(json.dumps(old))
    _damage(out / ".work" / "scores-00001.parquet", "truncated")
    code, text, exc = cli(*args)
    assert code == 0, text
    res = result_of(text, "keyframes build")
    assert res["n_batches_scored"] == 1 and res["n_files_written"] == 0
    assert {**digests(out, "keyframes-*.parquet"), **digests(out, ".work/scores-*.parquet")} == want
    assert all("sha256" in json.loads(m.read_text())["file"] for m in markers)


# ---- a read-only output disk ----------------------------------------------------------------

READ_ONLY_SCRIPT = r"""
mount -t tmpfs tmpfs "$DISK" || exit 99
mkdir -p "$DISK/existing" && mount -o remount,ro "$DISK" || exit 98
"$@" >"$WORK/out" 2>"$WORK/err"; echo $? >"$WORK/rc"
"""


def run_on_read_only_disk(tmp_path: Path, *args) -> tuple[int, str]:
    """Run `tc139k ARGS` with DISK (tmp_path/disk) a read-only tmpfs; (exit code, stderr)."""
    work, disk = tmp_path / "ns", tmp_path / "disk"
    work.mkdir(parents=True)
    disk.mkdir()
    argv = [str(a).replace("{DISK}", str(disk)) for a in args]
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", READ_ONLY_SCRIPT, "sh", sys.executable, "-m", "tc139k", *argv],
        env={**ENV, "DISK": str(disk), "WORK": str(work)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return int((work / "rc").read_text()), (work / "err").read_text()


@needs_namespaces
@pytest.mark.parametrize(
    "command",
    ["download", "validate", "keyframes", "shards", "export", "stats plots", "an existing folder"],
)
def test_a_read_only_output_disk_is_one_error_line(sample, inputs, tmp_path, command):
    ids = tmp_path / "ids.txt"
    ids.write_text(sample.shortest(1)[0] + "\n")
    args = {
        "download": ["download", "--mirror", sample.repo, "--local-dir", "{DISK}/data"],
        "validate": ["validate", sample.qa, "--out", "{DISK}/validated"],
        "keyframes": [
            "keyframes",
            "build",
            "--frames-root",
            sample.frames,
            "--video-ids",
            ids,
            "--method",
            "pixel",
            "--out",
            "{DISK}/kf",
        ],  # fmt: skip
        "shards": shards_args(inputs, "{DISK}/shards"),
        "export": ["export", "swift", "--qa", inputs.qa, "--frames-root", inputs.frames, "--out", "{DISK}/x.jsonl"],
        "stats plots": ["stats", "redundancy", inputs.keyframes, "--plot", "{DISK}/plots"],
        "an existing folder": ["validate", sample.qa, "--out", "{DISK}/existing"],
    }[command]
    code, err = run_on_read_only_disk(tmp_path, *args)
    assert code == EXIT_FAILED, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith(f"Error: cannot write {tmp_path / 'disk'}"), err
    assert "its disk is read-only" in err and "and rerun" in err


# ---- an output inside the frames root ------------------------------------------------------


@pytest.mark.parametrize("command", ["keyframes", "shards", "export", "validate"])
def test_an_output_inside_the_frames_root_is_refused_before_any_work(sample, inputs, tmp_path, command):
    frames = tmp_path / "frames"
    shutil.copytree(sample.frames, frames)
    before = sorted(p.relative_to(frames) for p in frames.rglob("*"))
    out = frames / "kf"
    args = {
        "keyframes": ["keyframes", "build", "--frames-root", frames, "--method", "pixel", "--out", out],
        "shards": shards_args(inputs, out, frames=frames),
        "export": ["export", "swift", "--qa", inputs.qa, "--frames-root", frames, "--out", frames / "x.jsonl"],
        "validate": ["validate", sample.qa, "--frames-root", frames, "--out", out],
    }[command]
    code, text, exc = cli(*args)
    assert_clean_error(code, text, exc, EXIT_USAGE, "is inside the frames root", "write it outside")
    assert sorted(p.relative_to(frames) for p in frames.rglob("*")) == before  # nothing written there


# ---- a read-only home ---------------------------------------------------------------------

READ_ONLY_HOME_SCRIPT = r"""
mount -t tmpfs tmpfs "$HOME" && mount -o remount,ro "$HOME" || exit 99
"$@" >"$WORK/out" 2>"$WORK/err"; echo $? >"$WORK/rc"
"""


@needs_namespaces
def test_plots_with_a_read_only_home_write_nothing_outside_the_plot_folder(inputs, tmp_path):
    home, temp, work, plots = tmp_path / "home", tmp_path / "temp", tmp_path / "ns", tmp_path / "plots"
    for d in (home, temp, work):
        d.mkdir()
    env = {k: v for k, v in ENV.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    argv = [sys.executable, "-m", "tc139k", "stats", "redundancy", str(inputs.keyframes), "--plot", str(plots)]
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", READ_ONLY_HOME_SCRIPT, "sh", *argv],
        env={**env, "HOME": str(home), "TMPDIR": str(temp), "WORK": str(work)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    err = (work / "err").read_text()
    assert int((work / "rc").read_text()) == 0, err
    assert "matplotlib" not in err.lower(), err  # no "created a temporary cache directory" warning
    assert list(temp.iterdir()) == []  # nothing in the temp folder
    assert sorted(p.name for p in plots.iterdir()) and not (plots / ".matplotlib").exists()
    assert all(p.suffix == ".png" for p in plots.iterdir())
