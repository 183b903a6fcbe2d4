"""DTD keep masks for training without an encoder pass: the levels stored by
`shards build --dtd-scores` from a real key-frame run, read back with `datasets` streaming
through a 2-worker DataLoader with `ClipCollator(dtd_tau=...)`, checked against DTD computed
live on the clip's frames (pixel differences; the tiny qwen2.5-vl tower), the gap rule's
soundness, the relative mode, grid resampling, `stats redundancy`, older shards and errors."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from doc_examples import training_loop
from envelope import result_of
from shard_inputs import make_inputs
from tiny_qwen import tiny_qwen  # noqa: F401  (session fixture)

from tc139k import dtdlevels
from tc139k.errors import UsageError
from tc139k.keyframes import dtd
from tc139k.keyframes import store as kfio
from tc139k.keyframes.frames import read_jpeg
from tc139k.paths import AUTHORS_PREFIX, frame_relpath
from tc139k.shards.build import run_shards_build, verify_shards

PIXEL = (224, 224)  # the pixel method's frame size, 28 px cells: an 8 x 8 grid


@pytest.fixture(scope="module")
def pixel(sample, tmp_path_factory):
    """Pixel-method key frames of the sample and path-based shards with and without DTD levels,
    laid out as docs/training.md's (shards/, data/frames)."""
    root = tmp_path_factory.mktemp("dtd")
    inputs = make_inputs(sample, root / "inputs")
    (root / "data").mkdir()
    (root / "data" / "frames").symlink_to(inputs.frames)
    res = run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, root / "shards", dtd_scores=True)
    plain = run_shards_build(inputs.qa, inputs.keyframes, inputs.frames, root / "plain")

    class Pixel:
        dir = root
        frames = inputs.frames
        qa = inputs.qa
        keyframes = inputs.keyframes
        videos = inputs.videos
        result = res
        plain_result = plain

    return Pixel


def _loader(folder: Path, collate, batch_size=4):
    import torch
    from datasets import load_dataset

    ds = load_dataset(str(folder), split="train", streaming=True)
    assert ds.num_shards >= 2  # both workers get shards
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, num_workers=2, collate_fn=collate)


def _rows(folder: Path, split: str = "*") -> dict[str, dict]:
    files = sorted((folder / "data").glob(f"{split}-*.parquet"))
    return {r["record_id"]: r for f in files for r in pq.read_table(f).to_pylist()}


def _live_pixel_levels(frames_root: Path, paths: list[str]) -> np.ndarray:
    """DTD computed now on the clip's own frames: each against the clip's previous frame."""
    frames = np.stack([read_jpeg(frames_root / p, PIXEL) for p in paths])
    return dtd.quantize(dtd.pixel_mad_to_previous(frames, 28).reshape(len(frames), -1), "pixel_mad")


# ---- the gap rule ----------------------------------------------------------------------------


def test_gap_bound_never_drops_what_the_direct_comparison_keeps():
    rng = np.random.default_rng(0)
    taus = np.linspace(-1, 1, 81)
    # cosine: token vectors drifting step by step, as tokens of a slowly changing region do
    for k in (2, 3, 5):
        base = rng.normal(size=(400, 16))
        walk = [base]
        for _ in range(k):
            walk.append(walk[-1] + rng.normal(scale=rng.uniform(0.05, 0.8), size=(400, 1)) * rng.normal(size=(400, 16)))
        unit = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in walk]
        steps = np.stack([dtdlevels.quantize((unit[i] * unit[i - 1]).sum(1), "cosine") for i in range(1, k + 1)])
        direct = dtdlevels.quantize((unit[k] * unit[0]).sum(1), "cosine")
        bound = dtdlevels.gap_bound(steps, "cosine")
        for tau in taus:
            drop = dtdlevels.dropped_levels("cosine", tau)
            assert not (drop[bound] & ~drop[direct]).any(), (k, tau)
        assert (dtdlevels.dropped_levels("cosine", 0.5)[bound]).any()  # not keep-everything
    # a slow drift: 25 degrees a second is "unchanged" at tau 0.5 in each second, not over 3 of them
    angles = np.deg2rad([0, 25, 50, 75])
    steps = dtdlevels.quantize(np.cos(np.diff(angles))[:, None], "cosine")
    direct = dtdlevels.quantize(np.cos(angles[-1] - angles[0])[None], "cosine")
    drop = dtdlevels.dropped_levels("cosine", 0.5)
    assert drop[steps].all() and not drop[direct].any()  # "unchanged in every second" would drop it
    assert not drop[dtdlevels.gap_bound(steps, "cosine")].any()
    # pixel_mad: real differences of random frames, with the key-frame stage's own computation
    frames = rng.integers(0, 256, size=(1, 56, 56, 3), dtype=np.uint8).repeat(6, axis=0)
    for t in range(1, 6):
        frames[t] = np.clip(frames[t - 1].astype(int) + rng.integers(-12, 13, size=(56, 56, 3)), 0, 255)
    levels = dtd.quantize(dtd.pixel_mad_to_previous(frames, 28).reshape(6, -1), "pixel_mad")
    for a in range(5):
        for b in range(a + 2, 6):
            direct = dtd.quantize(dtd.pixel_mad_to_previous(frames[[a, b]], 28).reshape(2, -1)[1], "pixel_mad")
            bound = dtdlevels.gap_bound(levels[a + 1 : b + 1], "pixel_mad")
            for tau in np.linspace(0, 1, 101):
                d = dtdlevels.dropped_levels("pixel_mad", tau)
                assert not (d[bound] & ~d[direct]).any(), (a, b, tau)


# ---- the shards ------------------------------------------------------------------------------


def test_shards_hold_the_key_frame_runs_levels_and_say_what_they_cost(pixel, tmp_path):
    from click.testing import CliRunner

    from tc139k.cli import main

    rows = _rows(pixel.dir / "shards")
    cases = {"first": 0, "consecutive": 0, "gap": 0, "unaligned": 0}
    for row in rows.values():
        video = pixel.videos[(row["source"], row["video_id"])]
        scores = kfio.patch_scores_array(video)
        pos = [video["frame_seconds"].index(s) for s in row["frame_seconds"]]
        levels = np.frombuffer(row["dtd_levels"], dtype=np.uint8).reshape(len(pos), 64)
        assert (row["dtd_kind"], row["dtd_encoder"], row["dtd_frames_per_token"]) == ("pixel_mad", None, 1)
        assert (row["dtd_grid_h"], row["dtd_grid_w"]) == (8, 8) and row["dtd_span"][0] == 0
        assert (levels[0] == 255).all()  # the first frame keeps every token
        for j in range(1, len(pos)):
            span = row["dtd_span"][j]
            assert span == pos[j] - pos[j - 1]
            if span == 1:
                assert np.array_equal(levels[j], scores[pos[j]])
            else:
                assert np.array_equal(levels[j], dtdlevels.gap_bound(scores[pos[j - 1] + 1 : pos[j] + 1], "pixel_mad"))
        for s in row["dtd_span"]:
            cases["first" if s == 0 else "consecutive" if s == 1 else "gap" if s > 1 else "unaligned"] += 1
    assert pixel.result.dtd["token_frames"] == cases and cases["gap"] > 0 and cases["consecutive"] > 0
    manifest = json.loads((pixel.dir / "shards" / "shards-manifest.json").read_text())
    assert manifest["schema"] == "shard.v3" and manifest["dtd_scores"] is True
    assert (
        manifest["dtd"]["token_frames"] == cases and manifest["provenance"]["keyframes_provenance"]["method"] == "pixel"
    )
    assert verify_shards(pixel.dir / "shards").ok and verify_shards(pixel.dir / "plain").ok
    # the card states the scores' share of the bytes, measured on the files, and the cases
    card = (pixel.dir / "shards" / "README.md").read_text()
    dtd_bytes = sum(
        md.row_group(g).column(c).total_compressed_size
        for s in pixel.result.shards
        for md in [pq.read_metadata(pixel.dir / "shards" / s.path)]
        for g in range(md.num_row_groups)
        for c in range(md.num_columns)
        if md.row_group(g).column(c).path_in_schema.startswith("dtd_")
    )
    assert f"they take {dtd_bytes / 1e6:.2f} MB of the" in card and f"consecutive {cases['consecutive']} (" in card
    assert "dtd_levels" in card and "DTD levels" not in (pixel.dir / "plain" / "README.md").read_text()
    # the command's --dtd-scores writes the same bytes
    args = ["shards", "build", "--qa", pixel.qa, "--keyframes", pixel.keyframes, "--frames-root", pixel.frames]
    res = CliRunner().invoke(main, [str(a) for a in [*args, "--out", tmp_path / "cli", "--dtd-scores", "--json"]])
    assert res.exit_code == 0, res.output
    assert result_of(res.stdout, "shards build")["dtd"]["n_token_frames_by_case"] == cases

    def digests(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "data").iterdir())}

    assert digests(tmp_path / "cli") == digests(pixel.dir / "shards")


# ---- the collate -----------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [0.02, 0.1])
def test_two_workers_give_masks_that_are_live_dtd_on_the_clip(pixel, tau):
    from tc139k.data import ClipCollator

    rows = _rows(pixel.dir / "shards")
    seen, gap_drops = 0, 0
    for batch in _loader(pixel.dir / "shards", ClipCollator(frames_root=pixel.frames, dtd_tau=tau)):
        keep, kept = batch["token_keep"].numpy(), batch["tokens_kept"].numpy()
        assert keep.shape[1:] == (batch["frames"].shape[1], 8, 8) and keep.dtype == bool
        assert np.array_equal(kept, keep.reshape(len(keep), keep.shape[1], -1).sum(2))
        assert batch["dtd"]["tau"] == tau and batch["dtd"]["resampled"] is False
        drop = dtdlevels.dropped_levels("pixel_mad", tau)
        for i, rid in enumerate(batch["record_ids"]):
            row, n = rows[rid], int(batch["lengths"][i])
            assert int(batch["token_frames"][i]) == n and not keep[i, n:].any()  # padding keeps none
            live = _live_pixel_levels(pixel.frames, row["frame_paths"])
            live_keep = ~drop[live].reshape(n, 8, 8)
            live_keep[0] = True  # the first frame keeps every token
            span = np.asarray(row["dtd_span"])
            exact = span <= 1
            assert np.array_equal(batch["token_keep_exact"][i, :n].numpy(), exact)
            assert np.array_equal(keep[i, :n][exact], live_keep[exact])  # exact where frames are consecutive
            assert not (live_keep[~exact] & ~keep[i, :n][~exact]).any()  # a gap never drops a kept token
            gap_drops += int((~keep[i, :n][~exact]).sum())
            seen += 1
    assert seen == len(_rows(pixel.dir / "shards", "train")) and gap_drops > 0


def test_relative_mode_drops_each_frames_most_similar_share(pixel):
    from tc139k.data import ClipCollator

    rows = _rows(pixel.dir / "shards")
    batch = next(
        iter(_loader(pixel.dir / "shards", ClipCollator(frames_root=pixel.frames, dtd_tau=0.3, dtd_mode="relative")))
    )
    assert batch["dtd"]["mode"] == "relative"
    for i, rid in enumerate(batch["record_ids"]):
        row = rows[rid]
        levels = np.frombuffer(row["dtd_levels"], dtype=np.uint8).reshape(-1, 64)
        keep = batch["token_keep"][i, : len(levels)].numpy().reshape(len(levels), 64)
        assert keep[0].all()
        for j in range(1, len(levels)):
            assert (~keep[j]).sum() == int(64 * 0.3)  # 19 tokens dropped per frame
            assert levels[j][~keep[j]].max() <= levels[j][keep[j]].min()  # the least changed go


def test_token_grid_resamples_by_overlap_and_marks_the_masks_approximate(pixel):
    from tc139k.data import ClipCollator

    def overlap(i, n_src, r, n_dst):
        return max(Fraction(i, n_src), Fraction(r, n_dst)) < min(Fraction(i + 1, n_src), Fraction(r + 1, n_dst))

    base = next(iter(_loader(pixel.dir / "shards", ClipCollator(frames_root=pixel.frames, dtd_tau=0.05))))
    same = next(
        iter(_loader(pixel.dir / "shards", ClipCollator(frames_root=pixel.frames, dtd_tau=0.05, token_grid=(8, 8))))
    )
    assert np.array_equal(same["token_keep"], base["token_keep"]) and same["dtd"]["resampled"] is False
    src = base["token_keep"].numpy()
    for grid in ((8, 15), (3, 5)):
        b = next(
            iter(_loader(pixel.dir / "shards", ClipCollator(frames_root=pixel.frames, dtd_tau=0.05, token_grid=grid)))
        )
        assert b["record_ids"] == base["record_ids"] and b["dtd"]["resampled"] is True
        assert not b["token_keep_exact"].any() and b["token_keep"].shape[2:] == grid
        got = b["token_keep"].numpy()
        for r in range(grid[0]):
            for c in range(grid[1]):
                rows_ = [i for i in range(8) if overlap(i, 8, r, grid[0])]
                cols_ = [i for i in range(8) if overlap(i, 8, c, grid[1])]
                want = src[:, :, rows_][:, :, :, cols_].any(axis=(2, 3))
                assert np.array_equal(got[:, :, r, c], want), (grid, r, c)


def test_stats_redundancy_and_the_collate_agree_on_the_drop_ratio(sample, tmp_path):
    """Clips that are whole videos: the collate's dropped share is the one `stats redundancy`
    reports for the same videos at the same tau."""
    from tc139k.data import ClipCollator
    from tc139k.keyframes.build import run_keyframes
    from tc139k.stats.redundancy import redundancy_stats
    from tc139k.validate.run import run_validate

    videos = sample.shortest(3)
    (tmp_path / "ids.txt").write_text("\n".join(videos) + "\n")
    run_keyframes(out=tmp_path / "kf", frames_root=sample.frames, video_ids=tmp_path / "ids.txt", method="pixel")
    lines = []
    for v in videos:
        source, vid = v.split("/")
        n = sample.truth[vid]["n_frames"]
        paths = [AUTHORS_PREFIX + frame_relpath(source, vid, s) for s in range(n)]
        messages = [
            {"role": "user", "content": "<video>\nWhat happens?"},
            {"role": "assistant", "content": "Shapes move."},
        ]
        lines.append(json.dumps({"messages": messages, "videos": [paths]}))
    (tmp_path / "qa.jsonl").write_text("\n".join(lines) + "\n")
    run_validate([tmp_path / "qa.jsonl"], frames_root=sample.frames, out_dir=tmp_path / "v")
    run_shards_build(tmp_path / "v" / "valid.parquet", tmp_path / "kf", sample.frames, tmp_path / "shards",
                     dtd_scores=True, val_fraction=0.0, min_shards=2, show_progress=False)  # fmt: skip
    for tau in (0.03, 0.1):
        stats = redundancy_stats(tmp_path / "kf", thresholds=[tau], show_progress=False)
        kept = total = 0
        for b in _loader(tmp_path / "shards", ClipCollator(frames_root=sample.frames, dtd_tau=tau), batch_size=2):
            kept += int(b["tokens_kept"].sum())
            total += int(b["token_frames"].sum()) * 64
        assert total == sum(sample.truth[v.split("/")[1]]["n_frames"] for v in videos) * 64
        assert 1 - kept / total == pytest.approx(stats.drop_ratio[0], abs=1e-9) and 0 < kept < total


# ---- proof on the model's own tokens -----------------------------------------------------------


def test_masks_are_the_qwen_towers_dtd_on_the_clip(sample, tiny_qwen, tmp_path):  # noqa: F811
    """The tiny qwen2.5-vl tower run now on each clip's frames, paired as the model pairs them:
    identical masks where the clip's pairs are the run's consecutive pairs, never a kept token
    dropped across a gap, every token kept where no stored comparison is the model's."""
    import torch

    from tc139k.data import ClipCollator
    from tc139k.keyframes.build import run_keyframes
    from tc139k.keyframes.scorer import make_scorer
    from tc139k.validate.run import run_validate

    videos = sample.shortest(2)
    (tmp_path / "ids.txt").write_text("\n".join(videos) + "\n")
    run_keyframes(out=tmp_path / "kf", frames_root=sample.frames, video_ids=tmp_path / "ids.txt",
                  encoder="qwen2.5-vl", pretrained=tiny_qwen.local_dir, level=2.0)  # fmt: skip
    clips = [
        range(10, 22),  # pairs (10, 11) .. (20, 21): the run's pairs, consecutive
        range(11, 21),  # pairs (11, 12) ..: none is a run's pair
        [10, 11, 12, 13, 18, 19, 20, 21, 22, 23],  # a gap of whole pairs
        [20, 21, 22, 23, 24],  # an odd last frame, paired with a copy of itself
        [30, 31, 33, 34, 36, 37],  # the seconds skipped inside pairs
    ]
    lines = []
    for v in videos:
        source, vid = v.split("/")
        for clip in clips:
            paths = [AUTHORS_PREFIX + frame_relpath(source, vid, s) for s in clip]
            messages = [
                {"role": "user", "content": "<video>\nWhat moves?"},
                {"role": "assistant", "content": "A shape."},
            ]
            lines.append(json.dumps({"messages": messages, "videos": [paths]}))
    (tmp_path / "qa.jsonl").write_text("\n".join(lines) + "\n")
    run_validate([tmp_path / "qa.jsonl", sample.qa], frames_root=sample.frames, out_dir=tmp_path / "v")
    res = run_shards_build(tmp_path / "v" / "valid.parquet", tmp_path / "kf", sample.frames, tmp_path / "shards",
                           dtd_scores=True, val_fraction=0.0, min_shards=2, show_progress=False)  # fmt: skip
    assert res.dtd["encoder"] == "qwen2.5-vl" and res.dtd["frames_per_token"] == 2 and res.dtd["grids"] == [[8, 15]]

    scorer = make_scorer("feature", encoder="qwen2.5-vl", pretrained=tiny_qwen.local_dir, device="cpu")
    size = scorer.frame_size
    rows = _rows(tmp_path / "shards")
    live = {}
    for rid, row in rows.items():  # the model's own levels on the clip: its pairs, each against the previous
        frames = np.stack([read_jpeg(sample.frames / p, size) for p in row["frame_paths"]])
        with torch.inference_mode():
            tokens = scorer.tower(frames, size[::-1])
        live[rid] = dtd.quantize(dtd.cosine_to_previous(tokens).numpy(), "cosine")
    consecutive = np.concatenate([live[r][1:][np.asarray(rows[r]["dtd_span"][1:]) == 1].ravel() for r in rows])
    taus = sorted({float(dtd.dequantize(np.quantile(consecutive, q).round(), "cosine")) for q in (0.1, 0.5, 0.9)})
    taus = [-0.2, *taus]
    spans_seen = set()
    for tau in taus:
        drop = dtdlevels.dropped_levels("cosine", tau)
        for batch in _loader(tmp_path / "shards", ClipCollator(frames_root=sample.frames, dtd_tau=tau)):
            keep = batch["token_keep"].numpy()
            for i, rid in enumerate(batch["record_ids"]):
                span = np.asarray(rows[rid]["dtd_span"])
                p = len(span)
                assert p == -(-len(rows[rid]["frame_paths"]) // 2) == int(batch["token_frames"][i])
                want = ~drop[live[rid]].reshape(p, 8, 15)
                want[0] = True
                got = keep[i, :p]
                assert np.array_equal(got[span <= 1][span[span <= 1] >= 0], want[span <= 1][span[span <= 1] >= 0]), rid
                assert not (want[span > 1] & ~got[span > 1]).any(), rid
                assert got[span == -1].all() and not keep[i, p:].any()
                exact = batch["token_keep_exact"][i, :p].numpy()
                assert np.array_equal(exact, (span == 0) | (span == 1)) and not batch["token_keep_exact"][i, p:].any()
                spans_seen.update(int(s) for s in span)
    assert {0, 1, -1} <= spans_seen and any(s > 1 for s in spans_seen)
    drops_at_median = sum(
        int((~b["token_keep"]).sum())
        for b in _loader(tmp_path / "shards", ClipCollator(frames_root=sample.frames, dtd_tau=taus[2]))
    )
    assert drops_at_median > 0


# ---- older shards, errors, the README ----------------------------------------------------------


def test_shards_of_schema_v2_still_read_and_dtd_tau_says_to_rebuild(pixel, tmp_path):
    import shutil

    from tc139k.atomic import sha256_file
    from tc139k.data import ClipCollator

    out = tmp_path / "v2"
    shutil.copytree(pixel.dir / "plain", out)
    manifest = json.loads((out / "shards-manifest.json").read_text())
    for s in manifest["shards"]:  # what a build before v3 wrote: the same columns, labelled v2
        path = out / s["path"]
        table = pq.read_table(path)
        pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"tc139k.schema": b"shard.v2"}), path)
        s["sha256"] = sha256_file(path)
    manifest["schema"] = "shard.v2"
    for key in ("dtd_scores", "dtd"):
        manifest.pop(key)
    (out / "shards-manifest.json").write_text(json.dumps(manifest))
    assert verify_shards(out).ok, verify_shards(out).problems
    batch = next(iter(_loader(out, ClipCollator(frames_root=pixel.frames))))
    assert "token_keep" not in batch and batch["frames"].shape[0] == 4
    row = next(iter(_rows(out).values()))
    with pytest.raises(
        UsageError, match=r"built without --dtd-scores; rebuild them with `tc139k shards build --dtd-scores`"
    ):
        ClipCollator(frames_root=pixel.frames, dtd_tau=0.05)([row])


def test_bad_dtd_options_are_one_clear_error(pixel):
    from tc139k.data import ClipCollator

    row = next(iter(_rows(pixel.dir / "shards").values()))
    with pytest.raises(UsageError, match=r"DTD tau 1.5 is outside \[0, 1\], the range of pixel_mad scores"):
        ClipCollator(frames_root=pixel.frames, dtd_tau=1.5)([row])
    with pytest.raises(UsageError, match=r"DTD tau -0.1 is outside \[0, 1\], the range of the relative mode"):
        ClipCollator(frames_root=pixel.frames, dtd_tau=-0.1, dtd_mode="relative")([row])
    with pytest.raises(UsageError, match="dtd_mode must be one of absolute, relative"):
        ClipCollator(dtd_tau=0.1, dtd_mode="ratio")
    with pytest.raises(UsageError, match=r"token_grid must be \(rows, cols\)"):
        ClipCollator(dtd_tau=0.1, token_grid=(8, 0))
    with pytest.raises(UsageError, match="give dtd_tau too"):
        ClipCollator(token_grid=(8, 15))
    other = {**row, "dtd_grid_h": 4, "dtd_grid_w": 16}
    with pytest.raises(UsageError, match=r"DTD grids 4x16, 8x8 in one batch: give ClipCollator\(token_grid"):
        ClipCollator(frames_root=pixel.frames, dtd_tau=0.1)([row, other])
    from tc139k.errors import SchemaError

    with pytest.raises(SchemaError, match="DTD level byte"):
        ClipCollator(frames_root=pixel.frames, dtd_tau=0.1)([{**row, "dtd_levels": row["dtd_levels"][:-1]}])


def test_readme_dtd_loop_runs_as_written(pixel):
    code = training_loop(dtd=True)
    assert "streaming=True" in code and "num_workers=2" in code and len(code.strip().splitlines()) <= 16
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "TC139K_NO_PROGRESS": "1"}
    res = subprocess.run([sys.executable, "-c", code], cwd=pixel.dir, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [x for x in res.stdout.splitlines() if x.strip()]
    assert len(lines) >= 2
    for line in lines:  # step, tokens kept of the batch's tokens, tokens saved
        m = re.fullmatch(r"(\d+) kept (\d+) of (\d+) visual tokens, saved (\d+) \((\d+\.\d) %\)", line)
        assert m, line
        kept, total, saved = (int(m.group(k)) for k in (2, 3, 4))
        assert kept + saved == total and 0 < kept < total
