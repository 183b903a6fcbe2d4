"""The inputs of a shard build, made from the sample: validated QA records and pixel-method
key frames (shared by the tests of shards, the export and the data loader)."""

from pathlib import Path

import pyarrow.parquet as pq


def make_inputs(sample, root: Path):
    from tc139k.keyframes import store
    from tc139k.keyframes.build import run_keyframes
    from tc139k.validate.run import run_validate

    run_validate([sample.qa], frames_root=sample.frames, out_dir=root / "validated")
    run_keyframes(out=root / "keyframes", frames_root=sample.frames, method="pixel", videos_per_file=4)

    class Inputs:
        qa = root / "validated" / "valid.parquet"
        keyframes = root / "keyframes"
        frames = sample.frames
        records = {r["record_id"]: r for r in pq.read_table(root / "validated" / "valid.parquet").to_pylist()}
        videos = {(r["source"], r["video_id"]): r for r in store.read_keyframes(root / "keyframes").to_pylist()}

    return Inputs


def quarantine_reason(line: dict) -> str:
    """The one reason of a shards quarantine line as `code: message`."""
    [reason] = line["reasons"]
    return f"{reason['code']}: {reason['message']}"
