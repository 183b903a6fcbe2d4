"""The Python API and tc139k.data: `import tc139k` stays light and its entry points take the
commands' options; the training loop of docs/training.md runs as written (a torch DataLoader with two
workers over streaming shards built from the sample); batches are padded clips with a mask,
from shards with embedded frames and from path-based shards."""

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from doc_examples import training_loop
from PIL import Image
from shard_inputs import make_inputs

import tc139k
from tc139k.cli import main
from tc139k.errors import SchemaError, UsageError
from tc139k.shards.build import run_shards_build

COMMANDS = {  # API function -> the command whose options it takes
    "download_dataset": ("download",),
    "validate_qa": ("validate",),
    "build_keyframes": ("keyframes", "build"),
    "build_shards": ("shards", "build"),
    "redundancy_stats": ("stats", "redundancy"),
    "dataset_stats": ("stats", "dataset"),
    "export_swift": ("export", "swift"),
}


@pytest.fixture(scope="module")
def built(sample, tmp_path_factory):
    """Path-based and embedded shards of the sample, in a folder laid out as docs/training.md's."""
    root = tmp_path_factory.mktemp("data")
    inputs = make_inputs(sample, root / "inputs")
    (root / "data").mkdir()
    (root / "data" / "frames").symlink_to(inputs.frames)
    run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, root / "shards", embed_frames=True)
    run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, root / "paths")

    class Built:
        dir = root
        frames = inputs.frames
        records = inputs.records

    return Built


def test_import_is_light_and_entry_points_resolve():
    code = (
        "import sys, tc139k\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'pyarrow', 'datasets', 'numpy', "
        "'click'} or m.startswith('tc139k.'))\n"
        "print(heavy)\n"
        "print(tc139k.build_shards.__module__, tc139k.data.ClipCollator.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "tc139k.api ClipCollator"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tc139k.nope  # noqa: B018
    importlib.import_module("tc139k.keyframes")  # the subpackages do not hide the entry points

    assert callable(tc139k.build_keyframes) and set(tc139k.__all__) >= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_entry_points_take_the_commands_options(name):
    cmd = main
    for part in COMMANDS[name]:
        cmd = cmd.commands[part]
    options = {p.name: p for p in cmd.params if p.name != "as_json"}
    params = inspect.signature(getattr(tc139k, name)).parameters
    assert set(params) - {"show_progress"} == set(options)
    for pname, opt in options.items():  # same defaults (flags default to False)
        default = params[pname].default
        if getattr(opt, "is_flag", False):
            assert default in (False, None), pname
        elif _has_default(opt):
            assert default == opt.default, pname
    assert getattr(tc139k, name).__doc__


def _has_default(opt) -> bool:
    unset = opt.default is None or type(opt.default).__name__ == "Sentinel"  # click >= 8.2 marks "no default"
    return not (opt.required or unset or callable(opt.default) or opt.multiple)


def test_readme_training_loop_runs_as_written(built):
    code = training_loop(dtd=False)
    assert "streaming=True" in code and "num_workers=2" in code and len(code.strip().splitlines()) <= 12
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "TC139K_NO_PROGRESS": "1"}
    res = subprocess.run([sys.executable, "-c", code], cwd=built.dir, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Too many dataloader workers" not in res.stderr  # each worker has shards to read
    lines = [x for x in res.stdout.splitlines() if x.strip()]
    assert len(lines) >= 2
    for line in lines:  # step, (B, T, 3, H, W), lengths, first seconds
        m = re.fullmatch(r"(\d+) \((\d+), (\d+), 3, 224, 224\) (\[[\d, ]+\]) (\[[\d., ]+\])", line)
        assert m, line
        lengths = json.loads(m.group(4))
        assert int(m.group(2)) == len(lengths) == 4 and int(m.group(3)) == max(lengths)
    assert any(len(set(json.loads(re.search(r"\) (\[[\d, ]+\])", x).group(1)))) > 1 for x in lines)


def _batches(folder: Path, frames_root, size=None) -> list[dict]:
    import torch
    from datasets import load_dataset

    from tc139k.data import ClipCollator

    ds = load_dataset(str(folder), split="train", streaming=True)
    assert ds.num_shards >= 2  # both workers get shards
    loader = torch.utils.data.DataLoader(
        ds, batch_size=3, num_workers=2, collate_fn=ClipCollator(frames_root=frames_root, size=size)
    )
    return list(loader)


@pytest.mark.parametrize("layout", ["shards", "paths"])
def test_two_workers_yield_padded_batches(built, layout):
    from datasets import load_dataset

    rows = {r["record_id"]: r for r in load_dataset(str(built.dir / "paths"), split="train")}
    batches = _batches(built.dir / layout, built.frames if layout == "paths" else None)
    seen = [rid for b in batches for rid in b["record_ids"]]
    assert sorted(seen) == sorted(rows)  # every row once, across the two workers
    padded = 0
    for b in batches:
        frames, mask, lengths = b["frames"], b["mask"], b["lengths"]
        assert frames.dtype.is_floating_point is False and frames.shape[1] == int(lengths.max())
        assert mask.sum(dim=1).tolist() == lengths.tolist()
        for i, rid in enumerate(b["record_ids"]):
            row, n = rows[rid], int(lengths[i])
            assert n == len(row["frame_paths"])
            assert bool(mask[i, :n].all()) and not bool(mask[i, n:].any())
            assert int(frames[i, n:].abs().sum()) == 0 and b["frame_seconds"][i, :n].tolist() == row["frame_seconds"]
            assert b["is_keyframe"][i, :n].tolist() == row["is_keyframe"]
            assert b["messages"][i] == row["messages"]
            padded += n < frames.shape[1]
        # the first and last real frames are the JPEG files, decoded
        i = 0
        row, n = rows[b["record_ids"][i]], int(lengths[i])
        for k in (0, n - 1):
            want = np.asarray(Image.open(built.frames / row["frame_paths"][k]).convert("RGB"))
            assert np.array_equal(frames[i, k].permute(1, 2, 0).numpy(), want)
    assert padded > 0


def test_decoder_and_collator_errors(built):
    import pyarrow.parquet as pq

    from tc139k.data import ClipCollator, collate_clips, decode_frames, record_id

    path_row = pq.read_table(next((built.dir / "paths" / "data").glob("train-*.parquet"))).slice(0, 1).to_pylist()[0]
    raw_row = pq.read_table(next((built.dir / "shards" / "data").glob("train-*.parquet"))).slice(0, 1).to_pylist()[0]
    # raw embedded rows ({"bytes", "path"}) decode like datasets' images
    raw = decode_frames(raw_row)
    assert len(raw) == len(raw_row["frame_paths"]) and raw[0].mode == "RGB"
    assert np.array_equal(np.asarray(raw[0]), np.asarray(Image.open(built.frames / raw_row["frame_paths"][0])))
    with pytest.raises(UsageError, match="give frames_root"):
        collate_clips([path_row])
    with pytest.raises(UsageError, match=r"not found under"):
        decode_frames(path_row, frames_root=built.dir)
    hostile = {**path_row, "frame_paths": ["../../etc/000001.jpg"]}
    with pytest.raises(SchemaError, match="is not <source>/<video_id>/<NNNNNN>.jpg"):
        decode_frames(hostile, frames_root=built.frames)
    small = decode_frames(path_row, frames_root=built.frames, size=(60, 80))
    assert small[0].size == (80, 60)
    big = Image.new("RGB", (320, 240))
    mixed = [{**path_row, "frames": [big] * len(small)}, {**path_row, "frames": small}]
    with pytest.raises(UsageError, match="different sizes in one batch"):
        collate_clips(mixed)
    assert ClipCollator(size=(32, 32))(mixed)["frames"].shape[-2:] == (32, 32)
    with pytest.raises(SchemaError, match=r"1 frame\(s\) but \d+ frame_seconds"):
        collate_clips([{**path_row, "frames": [big]}])
    # shards of schema v1 called the record id `id`; flat rows get a conversation
    v1 = {k: v for k, v in path_row.items() if k not in ("record_id", "messages")}
    v1["id"] = path_row["record_id"]
    batch = ClipCollator(frames_root=built.frames)([v1])
    assert batch["record_ids"] == [record_id(path_row)]
    assert batch["messages"][0][0]["content"] == "<video>\n" + path_row["question"]


def test_entry_points_run_the_pipeline(sample, tmp_path):
    v = tc139k.validate_qa(sample.qa, frames_root=sample.frames, out=tmp_path / "validated", show_progress=False)
    assert v.passed and v.valid == len(sample.qa.read_text().splitlines())
    kf = tc139k.build_keyframes(tmp_path / "kf", frames_root=sample.frames, method="pixel", show_progress=False)
    assert kf.n_ok == len(sample.truth)
    qa = tmp_path / "validated" / "valid.parquet"
    sh = tc139k.build_shards(qa, tmp_path / "kf", sample.frames, tmp_path / "shards", min_shards=3,
                             row_group_bytes="1MB", show_progress=False)  # fmt: skip
    assert sum(sh.rows.values()) == v.valid and sum(1 for s in sh.shards if s.split == "train") == 3
    ex = tc139k.export_swift(qa, sample.frames, tmp_path / "swift.jsonl", show_progress=False)
    assert ex.written == v.valid
    red = tc139k.redundancy_stats(tmp_path / "kf", thresholds=[0.05], show_progress=False)
    assert "redundant" in red.text_report()
    ds = tc139k.dataset_stats(frames_root=sample.frames, qa=sample.qa, show_progress=False)
    assert ds.qa_records == v.valid


def test_two_ranks_of_two_workers_each_read_their_own_files(built):
    """DDP sized as `--min-shards` says (ranks x workers): split_dataset_by_node gives each of
    2 ranks its share of the files, each of its 2 DataLoader workers reads some, and every row
    is read once over the 4 readers."""
    import torch
    from datasets import load_dataset
    from datasets.distributed import split_dataset_by_node

    from tc139k.data import ClipCollator

    folder = built.dir / "paths"
    whole = load_dataset(str(folder), split="train", streaming=True)
    assert whole.num_shards >= 2 * 2
    seen: dict[tuple[int, int], list[str]] = {}
    for rank in range(2):
        ds = split_dataset_by_node(whole, rank=rank, world_size=2)
        assert ds.num_shards >= 2  # a file for each of this rank's workers
        loader = torch.utils.data.DataLoader(
            ds, batch_size=2, num_workers=2, collate_fn=_WorkerTagged(ClipCollator(frames_root=built.frames))
        )
        for batch in loader:
            seen.setdefault((rank, batch["worker"]), []).extend(batch["record_ids"])
    assert sorted(seen) == [(0, 0), (0, 1), (1, 0), (1, 1)]  # no reader left idle
    ids = [rid for part in seen.values() for rid in part]
    rows = load_dataset(str(folder), split="train")
    assert sorted(ids) == sorted(rows["record_id"])  # every row once


class _WorkerTagged:
    """A collate that also says which DataLoader worker made the batch."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, rows):
        import torch

        batch = self.inner(rows)
        batch["worker"] = torch.utils.data.get_worker_info().id
        return batch
