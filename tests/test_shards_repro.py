"""Shard bytes that do not depend on the process, embedded frames that are their own files, and
a build killed inside a shard's write that resumes to the same bytes.

Python salts `hash()` per process, so a row order or a split drawn from it would change between
processes but never within one: the builds compared here run in separate processes with
different PYTHONHASHSEED values. The kill is a real SIGKILL of a process that is writing a
shard's temporary file.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from shard_inputs import make_inputs

import tc139k
from tc139k.shards.build import run_shards_build, verify_shards

SHARD_SIZE = 60_000


@pytest.fixture(scope="module")
def inputs(sample, tmp_path_factory):
    return make_inputs(sample, tmp_path_factory.mktemp("shards-repro-inputs"))


def _env(**extra) -> dict:
    # run the code this test imported (under mutation testing: the mutated copy)
    return {
        **os.environ,
        "PYTHONPATH": str(Path(tc139k.__file__).parent.parent),
        "TC139K_NO_PROGRESS": "1",
        **extra,
    }


def _digests(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".done" not in p.parts
    }


BUILD = """
import sys
from tc139k.shards.build import run_shards_build
qa, kf, frames, out, size, embed = sys.argv[1:7]
run_shards_build(qa, kf, frames, out, max_shard_size=int(size), embed_frames=embed == "1", show_progress=False)
"""


def _build_in_process_with_seed(inputs, out: Path, seed: str, embed: bool = False) -> None:
    args = [inputs.qa, inputs.keyframes, inputs.frames, out, SHARD_SIZE, int(embed)]
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(BUILD), *map(str, args)],
        env=_env(PYTHONHASHSEED=seed),
        check=True,
        timeout=600,
    )


def test_builds_in_processes_with_different_hash_seeds_are_byte_identical(inputs, tmp_path):
    _build_in_process_with_seed(inputs, tmp_path / "seed1", "1")
    _build_in_process_with_seed(inputs, tmp_path / "seed2", "2")
    here = run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, tmp_path / "here", max_shard_size=SHARD_SIZE)
    one, two = _digests(tmp_path / "seed1"), _digests(tmp_path / "seed2")
    assert len([k for k in one if k.startswith("data/")]) == len(here.shards) > 2
    assert one == two == _digests(tmp_path / "here")
    # the rows keep the QA table's order within each split
    order = list(inputs.records)
    for split in ("train", "validation"):
        files = sorted((tmp_path / "seed2" / "data").glob(f"{split}-*.parquet"))
        ids = [i for f in files for i in pq.read_table(f, columns=["record_id"]).column("record_id").to_pylist()]
        assert ids == [i for i in order if i in set(ids)] and ids


def test_every_embedded_frame_is_its_own_file(inputs, tmp_path):
    out = tmp_path / "embedded"
    run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, out, embed_frames=True, max_shard_size=400_000)
    checked = 0
    for f in sorted((out / "data").glob("*.parquet")):
        for row in pq.read_table(f, columns=["frame_paths", "frames"]).to_pylist():
            assert [fr["path"] for fr in row["frames"]] == row["frame_paths"]
            for fr in row["frames"]:
                assert fr["bytes"] == (inputs.frames / fr["path"]).read_bytes(), fr["path"]
                checked += 1
    assert checked == sum(len(r["frame_paths"]) for r in inputs.records.values())
    # the frames of a clip differ from each other: a copy of the first frame would show
    row = next(iter(inputs.records.values()))
    assert len({(inputs.frames / p).read_bytes() for p in row["frame_paths"]}) > 1


KILLED_BUILD = """
import sys, time
from pathlib import Path
import pyarrow.parquet as pq
from tc139k.shards.build import run_shards_build

qa, kf, frames, out, flag = sys.argv[1:6]
real = pq.ParquetWriter
opened = []

class StallsInSecondShard(real):
    # the second shard stops after its first row group reached the temporary file
    def __init__(self, where, *args, **kwargs):
        super().__init__(where, *args, **kwargs)
        opened.append(str(where))

    def write_table(self, *args, **kwargs):
        super().write_table(*args, **kwargs)
        if len(opened) == 2:
            Path(flag + ".part").write_text(opened[-1])
            Path(flag + ".part").replace(flag)  # complete when it appears
            time.sleep(120)

pq.ParquetWriter = StallsInSecondShard
run_shards_build(qa, kf, frames, out, embed_frames=True, max_shard_size=400_000, row_group_rows=2,
                 show_progress=False)
"""


def test_sigkill_inside_a_shard_write_resumes_to_the_same_bytes(inputs, tmp_path):
    clean = tmp_path / "clean"
    ref = run_shards_build(
        inputs.qa, inputs.keyframes, inputs.frames, clean, embed_frames=True, max_shard_size=400_000, row_group_rows=2
    )
    assert len(ref.shards) > 2
    killed, flag = tmp_path / "killed", tmp_path / "writing"
    args = [inputs.qa, inputs.keyframes, inputs.frames, killed, flag]
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILLED_BUILD), *map(str, args)], env=_env())
    try:
        deadline = time.monotonic() + 300
        while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert flag.exists(), "the build never reached the second shard"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    tmp = Path(flag.read_text())
    second = killed / ref.shards[1].path
    assert tmp.exists() and tmp.stat().st_size > 0 and tmp.parent == second.parent  # killed mid-write
    assert tmp.name.startswith(f".{second.name}.") and tmp.name.endswith(".tmp")
    assert (killed / ref.shards[0].path).exists() and not second.exists()  # no partial shard under its name

    res = run_shards_build(
        inputs.qa, inputs.keyframes, inputs.frames, killed, embed_frames=True, max_shard_size=400_000, row_group_rows=2
    )
    assert res.skipped == 1 and res.written == len(res.shards) - 1
    assert not list((killed / "data").glob(".*.tmp"))  # the stale temporary was removed
    assert _digests(killed) == _digests(clean)
    assert verify_shards(killed).ok
