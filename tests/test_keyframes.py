"""The key-frame stage end to end: the rule, calibration, the tiny CLIP through the CLI,
resume after a kill, bad input, video files, missing weights."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from envelope import result_of
from tiny_clip import tiny_clip  # noqa: F401  (session fixture)

from tc139k import schemas
from tc139k.cli import main
from tc139k.errors import ModelNotFoundError
from tc139k.keyframes import dtd
from tc139k.keyframes import store as kfio
from tc139k.keyframes.build import VideoCurve, calibrate_level, mean_interval, prepare, score_video, select_keyframes
from tc139k.keyframes.encoder import Encoder, resolve_model
from tc139k.keyframes.frames import list_frame_videos, read_video_ids
from tc139k.keyframes.scenes import SceneParams


@pytest.fixture(scope="module")
def ids_file(tmp_path_factory, sample):
    # the three shortest sample videos keep the end-to-end runs quick
    path = tmp_path_factory.mktemp("ids") / "ids.txt"
    path.write_text("\n".join(sample.shortest(3)) + "\n")
    return path


def run_cli(*args: str) -> dict:
    res = CliRunner().invoke(main, ["keyframes", "build", *map(str, args), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return result_of(res.stdout, "keyframes build")


def file_bytes(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("keyframes-*.parquet"))}


# ---- the rule ----------------------------------------------------------------------------


def test_static_scenes_get_only_their_start():
    seconds = np.arange(30.0)
    keys = select_keyframes(seconds, np.ones(30), np.array([10, 20]), level=0.0, min_gap=0.0)
    assert keys.tolist() == [0, 10, 20]


def test_novelty_accumulates_to_the_level_with_a_minimum_gap():
    seconds = np.arange(20.0)
    drop = np.full(20, 0.5)  # novelty 0.5 per frame
    assert select_keyframes(seconds, drop, np.array([], dtype=int), 1.5, 0.0).tolist() == [0, 3, 6, 9, 12, 15, 18]
    assert select_keyframes(seconds, drop, np.array([], dtype=int), 0.5, 4.0).tolist() == [0, 4, 8, 12, 16]
    # a scene cut restarts the count
    assert select_keyframes(seconds, drop, np.array([5]), 1.5, 0.0).tolist() == [0, 3, 5, 8, 11, 14, 17]


def test_calibration_reaches_the_target_interval():
    rng = np.random.default_rng(0)
    curves = []
    for _ in range(12):
        n = int(rng.integers(80, 300))
        cuts = np.sort(rng.choice(np.arange(5, n - 5), size=int(rng.integers(1, 6)), replace=False))
        curves.append(VideoCurve(np.arange(float(n)), rng.uniform(0.3, 1.0, n), cuts))
    intervals = [mean_interval(curves, level, 2.0) for level in (0.5, 1.0, 2.0, 4.0)]
    assert intervals == sorted(intervals)  # fewer key frames as the level rises
    level, achieved = calibrate_level(curves, 7.14, 2.0)
    assert achieved == pytest.approx(7.14, rel=0.03)
    assert mean_interval(curves, level, 2.0) == achieved


# ---- scoring -----------------------------------------------------------------------------


def test_score_video_batches_within_each_video(sample, ids_file, tiny_clip):  # noqa: F811
    # a checkpoint file for an architecture registered with open_clip.add_model_config
    encoder = Encoder(resolve_model(tiny_clip.name, str(tiny_clip.checkpoint)), "cpu")
    specs = list_frame_videos(sample.frames, read_video_ids(ids_file))
    items = [prepare(s, (224, 224), SceneParams(), "feature") for s in specs]
    direct = []
    for item in items:
        tokens = encoder(item.video.frames)
        direct.append(dtd.quantize(dtd.cosine_to_previous(tokens).numpy(), "cosine"))
    frames = [it.video.frames.copy() for it in items]
    streamed = {}
    for bs in (7, 64, 10_000):
        for it, f in zip(items, frames):
            it.video.frames = f.copy()
        streamed[bs] = [score_video(it, encoder, bs) for it in items]
    for bs, qs in streamed.items():
        for q, d in zip(qs, direct):
            assert q.shape == d.shape == (len(d), 16)
            assert q[0].tolist() == [0] * 16  # first frame of every video: never dropped
            assert np.abs(q.astype(int) - d.astype(int)).max() <= 1, bs
    # one batch per video is exactly the whole-video encoding
    assert all(np.array_equal(q, d) for q, d in zip(streamed[10_000], direct))
    # a video's scores do not depend on the videos scored before it
    items[-1].video.frames = frames[-1].copy()
    alone = score_video(items[-1], encoder, 7)
    assert np.array_equal(alone, streamed[7][-1])


# ---- end to end --------------------------------------------------------------------------


def test_cli_end_to_end_with_the_tiny_model(sample, ids_file, tiny_clip, tmp_path):  # noqa: F811
    out = tmp_path / "kf"
    args = [
        "--frames-root",
        sample.frames,
        "--video-ids",
        ids_file,
        "--pretrained",
        tiny_clip.local_dir,
        "--out",
        out,
        "--videos-per-file",
        2,
        "--accept-calibration-miss",  # random weights: the target interval may be out of reach
        "--threshold",
        0.95,
    ]
    res = run_cli(*args)
    assert res["n_videos"] == 3 and res["n_ok"] == 3 and len(res["files"]) == 2
    assert res["model"]["model"] == tiny_clip.name and res["model"]["precision"] == "fp32"
    text = CliRunner().invoke(main, ["keyframes", "build", *map(str, args)]).output  # a rerun: all reused
    assert f"model open_clip {tiny_clip.name} (" in text and ", fp32 on the CPU)" in text, text
    verbose = CliRunner().invoke(main, ["-v", "keyframes", "build", *map(str, args), "--out", str(tmp_path / "v")])
    debug = [x for x in verbose.stderr.splitlines() if "DEBUG tc139k.keyframes:" in x]
    assert any(
        f"feature method, model open_clip {tiny_clip.name} (" in x and "fp32 on the CPU), batch 32" in x for x in debug
    ), debug
    assert any("model loaded in " in x and "batch(es) scored in" in x for x in debug), debug
    for v in res["videos"]:
        assert set(v) >= {"video_id", "n_frames", "scene_cuts", "keyframes", "trigger_times"}
        truth = sample.truth[v["video_id"]]
        assert v["n_frames"] == truth["n_frames"]
        assert v["scene_cuts"] == [float(c) for c in truth["scene_cuts"]]
        assert set([0.0, *v["scene_cuts"]]) <= set(v["keyframes"])  # every scene start is a key frame
        assert len(v["trigger_times"]) == max(1, math.floor((v["n_frames"] - 1) * 0.1))

    table = kfio.read_keyframes(out)
    assert schemas.check_table(table, schemas.load("keyframes.v2")) == []
    rows = table.to_pylist()
    weights = tiny_clip.folder / "open_clip_model.safetensors"
    prov = kfio.read_provenance(out / "keyframes-00000.parquet")
    assert prov["model"]["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert prov["method"] == "feature" and prov["threshold"] == 0.95
    assert prov["scenes"] == {"detector": "content", "threshold": 27.0, "min_scene_seconds": 1.0, "rule": "combined"}
    assert prov["keyframes"]["calibrated"] and prov["keyframes"]["level"] == res["level"]
    for row in rows:
        q = kfio.patch_scores_array(row)
        assert (row["grid_h"], row["grid_w"]) == (4, 4) and q.shape == (row["n_frames"], 16)
        assert np.allclose(row["drop_ratio"], dtd.frame_drop_ratio(q, "cosine", 0.95))

    import datasets

    ds = datasets.load_dataset(
        "parquet", data_files=sorted(str(p) for p in out.glob("keyframes-*.parquet")), split="train"
    )
    assert ds.num_rows == 3 and sorted(ds["video_id"]) == sorted(r["video_id"] for r in rows)

    before = file_bytes(out)
    again = run_cli(*args)
    assert again["n_files_reused"] == 2 and again["n_batches_scored"] == 0
    assert file_bytes(out) == before

    # another threshold reuses the stored scores and changes only what depends on it
    looser = run_cli(*args[:-1], 0.5)
    assert looser["n_batches_scored"] == 0 and looser["n_files_written"] == 2
    rows_05 = {r["video_id"]: r for r in kfio.read_keyframes(out).to_pylist()}
    for row in rows:
        assert rows_05[row["video_id"]]["patch_scores"] == row["patch_scores"]
        assert all(a >= b for a, b in zip(rows_05[row["video_id"]]["drop_ratio"], row["drop_ratio"]))


def test_resume_after_a_kill_gives_identical_bytes(sample, ids_file, tiny_clip, tmp_path):  # noqa: F811
    args = [
        "--frames-root",
        sample.frames,
        "--video-ids",
        ids_file,
        "--pretrained",
        tiny_clip.local_dir,
        "--videos-per-file",
        1,
        "--accept-calibration-miss",  # random weights: the target interval may be out of reach
    ]
    reference = tmp_path / "reference"
    run_cli(*args, "--out", reference)

    killed = tmp_path / "killed"
    env = {**os.environ, "TC139K_NO_PROGRESS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tc139k", "keyframes", "build", *map(str, args), "--out", str(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    first = killed / ".work" / ".done" / "scores-00000.json"
    deadline = time.monotonic() + 120
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert still_running, f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    assert not (killed / ".work" / ".done" / "scores-00002.json").exists()

    resumed = run_cli(*args, "--out", killed)
    assert resumed["n_batches_reused"] >= 1 and resumed["n_batches_scored"] >= 1
    assert file_bytes(killed) == file_bytes(reference)
    assert len(file_bytes(reference)) == 3


def test_interrupted_final_pass_resumes_identically(sample, ids_file, tmp_path, monkeypatch):
    args = ["--frames-root", sample.frames, "--video-ids", ids_file, "--method", "pixel", "--videos-per-file", 1]
    reference = tmp_path / "reference"
    run_cli(*args, "--out", reference)

    real_write = kfio.pq.write_table
    calls = []

    def crashes_inside_the_second_file(table, where, *a, **kw):
        real_write(table, where, *a, **kw)
        if os.path.basename(where).startswith(".keyframes-"):  # a final file's temporary, not a work file
            calls.append(where)
            if len(calls) == 2:
                os.truncate(where, os.path.getsize(where) // 2)  # half of it reached the disk
                raise RuntimeError("simulated crash while writing the second file")

    monkeypatch.setattr(kfio.pq, "write_table", crashes_inside_the_second_file)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="simulated crash"):
        CliRunner().invoke(main, ["keyframes", "build", *map(str, args), "--out", str(out)], catch_exceptions=False)
    assert not list(out.glob(".*.tmp")) and len(file_bytes(out)) == 1  # the second file never got its name
    monkeypatch.setattr(kfio.pq, "write_table", real_write)
    resumed = run_cli(*args, "--out", out)
    assert resumed["n_batches_scored"] == 0 and resumed["n_files_reused"] == 1 and resumed["n_files_written"] == 2
    assert file_bytes(out) == file_bytes(reference)


def test_bad_frames_are_reported_and_a_dead_video_is_marked_failed(sample, tmp_path):
    root = tmp_path / "frames"
    [key] = sample.shortest(1, source="videoic")
    vid = key.split("/")[1]
    good = list_frame_videos(sample.frames, [("videoic", vid)])[0]
    shutil.copytree(good.path, root / "videoic" / vid)
    victim = root / "videoic" / vid / "000010.jpg"
    victim.write_bytes(victim.read_bytes()[:300])
    dead = root / "videoic" / "99999999"
    dead.mkdir(parents=True)
    for i in range(3):
        (dead / f"{i:06d}.jpg").write_bytes(b"garbage")
    res = run_cli("--frames-root", root, "--method", "pixel", "--out", tmp_path / "out")
    by_id = {v["video_id"]: v for v in res["videos"]}
    assert by_id[vid]["status"] == "ok" and by_id[vid]["n_bad_frames"] == 1
    assert by_id[vid]["n_frames"] == sample.truth[vid]["n_frames"] - 1
    assert by_id["99999999"]["status"] == "failed" and "no usable frame" in by_id["99999999"]["error"]
    rows = {r["video_id"]: r for r in kfio.read_keyframes(tmp_path / "out").to_pylist()}
    [bad] = rows[vid]["bad_frames"]
    assert bad["index"] == 10 and bad["path"] == f"videoic/{vid}/000010.jpg"
    assert "unreadable image" in bad["reason"]
    assert 10.0 not in rows[vid]["frame_seconds"]
    assert len(rows["99999999"]["bad_frames"]) == 3 and rows["99999999"]["n_frames"] == 0


def test_video_files_fixed_level_and_stale_files(tmp_path):
    from test_frames import write_video

    videos = []
    for name in ("a", "b", "c"):
        path = tmp_path / "clips" / f"{name}.mp4"
        path.parent.mkdir(exist_ok=True)
        write_video(path, n_frames=24, fps=4)  # 6 s each
        videos += ["--video", path]
    out = tmp_path / "out"
    res = run_cli(*videos, "--method", "pixel", "--level", 1.0, "--videos-per-file", 1, "--out", out)
    assert [v["video_id"] for v in res["videos"]] == ["a", "b", "c"]
    assert all(v["source"] == "clips" and v["n_frames"] == 6 for v in res["videos"])
    assert not res["calibrated"] and res["level"] == 1.0
    rows = kfio.read_keyframes(out).to_pylist()
    assert rows[0]["frame_seconds"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    # a second run over fewer videos leaves no file of the first behind
    fewer = run_cli(*videos[:4], "--method", "pixel", "--level", 1.0, "--videos-per-file", 1, "--out", out)
    assert fewer["n_stale_removed"] == 2
    assert sorted(p.name for p in out.glob("keyframes-*.parquet")) == [
        "keyframes-00000.parquet",
        "keyframes-00001.parquet",
    ]


def test_missing_weights_say_how_to_provide_them(sample, tmp_path, monkeypatch):
    runner = CliRunner()
    base = ["keyframes", "build", "--frames-root", str(sample.frames), "--out", str(tmp_path / "o")]
    res = runner.invoke(main, [*base, "--pretrained", str(tmp_path / "nope" / "weights.bin")])
    assert res.exit_code == 2  # a missing path is a usage error
    assert "does not exist" in res.output and "local-dir:" in res.output and "--method pixel" in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(main, [*base, "--pretrained", f"local-dir:{empty}"])
    assert res.exit_code == 2 and "open_clip_config.json" in res.output

    # a tag that is not cached: offline by setting, or with no name resolution, fails at once
    def no_dns(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr("socket.getaddrinfo", no_dns)
    with pytest.raises(ModelNotFoundError, match="huggingface.co cannot be reached.*--pretrained"):
        resolve_model("ViT-B-32", "laion2b_s34b_b79k")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="not in the local cache and HF_HUB_OFFLINE"):
        resolve_model("ViT-B-32", "laion2b_s34b_b79k")
    res = runner.invoke(main, ["keyframes", "build", "--frames-root", str(sample.frames)])
    assert res.exit_code == 2 and "--out" in res.output


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_half_precision_matches_the_cpu(tiny_clip):  # noqa: F811
    source = resolve_model(None, tiny_clip.local_dir)
    gpu, cpu = Encoder(source, "cuda"), Encoder(source, "cpu")
    assert gpu.precision == "fp16" and gpu.dtype == torch.float16
    frames = np.random.default_rng(0).integers(0, 256, (8, 224, 224, 3), dtype=np.uint8)
    a, b = gpu(frames).float().cpu(), cpu(frames)
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
    assert a.shape == b.shape and float(cos.min()) > 0.99


def test_method_auto_is_the_default_and_says_what_it_chose(sample, ids_file, tiny_clip, tmp_path, monkeypatch):  # noqa: F811
    """No --method: feature when its weights are on this machine, else pixel (no download, no
    exit 2 for missing weights), with a note saying which and why."""
    from tc139k.keyframes import encoder

    args = ["keyframes", "build", "--frames-root", str(sample.frames), "--video-ids", str(ids_file)]
    monkeypatch.setattr(encoder, "_cached", lambda cfg: None)  # no open_clip weights in any cache
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert "Note: method auto: pixel (no open_clip weights on this machine" in res.stderr
    assert kfio.read_provenance(next((tmp_path / "a").glob("keyframes-*.parquet")))["method"] == "pixel"
    with_weights = [*args, "--pretrained", tiny_clip.local_dir, "--out", str(tmp_path / "b")]
    res = CliRunner().invoke(main, with_weights)
    assert res.exit_code == 0, res.output
    assert f"Note: method auto: feature (--pretrained {tiny_clip.local_dir})" in res.stderr
    assert kfio.read_provenance(next((tmp_path / "b").glob("keyframes-*.parquet")))["method"] == "feature"
    as_json = json.loads(CliRunner().invoke(main, [*with_weights, "--json"]).stdout)
    assert as_json["result"]["method_note"].startswith("method auto: feature")
    # the default weights found in the cache count as at hand, looked up without open_clip
    monkeypatch.setattr(
        encoder, "_cached", lambda cfg: "/cache/w.bin" if "laion/CLIP-ViT-B-32" in cfg["hf_hub"] else None
    )
    assert encoder.default_weights_cached(None) and encoder.default_weights_cached(encoder.DEFAULT_MODEL)
    assert not encoder.default_weights_cached("ViT-L-14")  # another model has no default tag


def test_the_default_weights_location_is_open_clips():
    import open_clip

    from tc139k.keyframes import encoder

    cfg = open_clip.get_pretrained_cfg(encoder.DEFAULT_MODEL, encoder.DEFAULT_PRETRAINED)
    assert cfg["hf_hub"] == encoder.DEFAULT_PRETRAINED_CFG["hf_hub"]
