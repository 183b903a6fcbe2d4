"""Streaming-friendly shard layout: row groups bounded by bytes and rows, at least
`min_shards` shards per split, the sizes in the card, and shards of schema v1 (record id
column `id`) still verified."""

import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from envelope import result_of
from shard_inputs import make_inputs

from tc139k.atomic import sha256_file
from tc139k.cli import main
from tc139k.shards.build import run_shards_build, verify_shards
from tc139k.shards.plan import plan_row_groups, plan_shards


@pytest.fixture(scope="module")
def inputs(sample, tmp_path_factory):
    return make_inputs(sample, tmp_path_factory.mktemp("layout-inputs"))


def _row_groups(path):
    md = pq.read_metadata(path)
    return [(md.row_group(i).num_rows, md.row_group(i).total_byte_size) for i in range(md.num_row_groups)]


def test_row_groups_are_bounded_by_bytes_read_back_with_pyarrow(inputs, tmp_path):
    bound = 200_000
    res = run_shards_build(
        inputs.qa, inputs.keyframes, inputs.frames, tmp_path / "out", embed_frames=True, row_group_bytes=bound
    )
    groups = [g for s in res.shards for g in _row_groups(tmp_path / "out" / s.path)]
    # a group of several rows stays under the bound; a row larger than it gets its own group
    assert all(size <= bound for rows, size in groups if rows > 1)
    assert any(rows > 1 for rows, _ in groups) and len(groups) > len(res.shards)
    assert sum(rows for rows, _ in groups) == sum(res.rows.values())
    for s in res.shards:  # the result and the manifest report what the files hold
        got = _row_groups(tmp_path / "out" / s.path)
        assert s.row_groups == len(got) and s.max_row_group_bytes == max(size for _, size in got)
    manifest = json.loads((tmp_path / "out" / "shards-manifest.json").read_text())
    assert manifest["schema"] == "shard.v3"
    assert [m["row_groups"] for m in manifest["shards"]] == [s.row_groups for s in res.shards]


def test_row_groups_are_bounded_by_rows_and_the_cli_takes_the_bounds(inputs, tmp_path):
    out = tmp_path / "out"
    cli = CliRunner().invoke(
        main,
        [
            "shards", "build", "--qa", str(inputs.qa), "--keyframes", str(inputs.keyframes),
            "--frames-root", str(inputs.frames), "--out", str(out), "--json",
            "--row-group-rows", "4", "--row-group-size", "1GB", "--min-shards", "3",
        ],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    built = result_of(cli.stdout, "shards build")
    assert [s["split"] for s in built["shards"]].count("train") == 3
    for s in built["shards"]:
        rows = [n for n, _ in _row_groups(s["path"])]
        assert max(rows) <= 4 and sum(rows) == s["n_rows"]
        assert all(n == 4 for n in rows[:-1])  # only the byte bound could cut earlier, and it is 1 GB
    args = ["shards", "build", "--qa", str(inputs.qa), "--keyframes", str(inputs.keyframes)]
    args += ["--frames-root", str(inputs.frames), "--out", str(out), "--row-group-size", "lots"]
    bad = CliRunner().invoke(main, args)
    assert bad.exit_code == 2 and "--row-group-size" in bad.output and "not a size" in bad.output


def test_default_build_has_a_shard_per_worker_and_the_card_states_sizes(inputs, tmp_path):
    from datasets import load_dataset

    res = run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, tmp_path / "out")
    per_split = {split: [s for s in res.shards if s.split == split] for split in res.rows}
    # 8 shards per split (the default), fewer only when a split has fewer rows
    assert {split: len(files) for split, files in per_split.items()} == {
        split: min(8, n) for split, n in res.rows.items()
    }
    assert all(s.rows >= 1 for s in res.shards)
    card = (tmp_path / "out" / "README.md").read_text()
    train = per_split["train"]
    mb = sum(s.bytes for s in train) / 1e6
    assert f"| train | {res.rows['train']} |" in card and f"| 8 | {mb:.1f} |" in card
    assert "Row groups hold at most 1000 rows and about 96 MB" in card
    assert "license_name: timechat-online-139k" in card and "license_link: https://huggingface.co/" in card
    streamed = load_dataset(str(tmp_path / "out"), streaming=True)["train"]
    assert streamed.num_shards == 8


def test_plans_cover_every_row_in_order():
    sizes = [5, 1, 1, 1, 30, 2, 2]
    for min_shards in range(1, 10):
        ranges = plan_shards(sizes, 1000, min_shards)
        assert len(ranges) == min(min_shards, len(sizes))
        assert [a for a, _ in ranges] == [0] + [b for _, b in ranges[:-1]] and ranges[-1][1] == len(sizes)
    assert plan_row_groups(sizes, 8, 100) == [4, 1, 2]
    assert plan_row_groups(sizes, 1000, 3) == [3, 3, 1]
    assert plan_row_groups([], 10, 10) == []


def test_shards_of_schema_v1_still_verify(inputs, tmp_path):
    out = tmp_path / "out"
    res = run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, out, min_shards=1)
    manifest = json.loads((out / "shards-manifest.json").read_text())
    for s in manifest["shards"]:  # what a build before v2 wrote: the column was `id`
        path = out / s["path"]
        table = pq.read_table(path)
        meta = dict(table.schema.metadata)
        meta[b"tc139k.schema"] = b"shard.v1"
        table = table.rename_columns(["id" if c == "record_id" else c for c in table.column_names])
        pq.write_table(table.replace_schema_metadata(meta), path)
        s["sha256"] = sha256_file(path)
    manifest["schema"] = "shard.v1"
    (out / "shards-manifest.json").write_text(json.dumps(manifest))
    assert verify_shards(out).ok, verify_shards(out).problems
    manifest["schema"] = "shard.v2"  # the same files checked against v2 are wrong
    (out / "shards-manifest.json").write_text(json.dumps(manifest))
    assert any("schema differs from shard.v2" in p for p in verify_shards(out).problems)
    assert len(res.shards) == 2
