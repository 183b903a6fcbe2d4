"""The qwen2.5-vl encoder: Qwen's resize rule and patch layout, the tokens of transformers'
own model, one DTD frame per temporal patch, scores independent of batching and of other
videos, the vision tower read without the language model, and clear errors."""

from __future__ import annotations

import builtins
import hashlib
import json
import pickle
import shutil

import numpy as np
import pytest
from tiny_qwen import GRID, tiny_model, tiny_qwen  # noqa: F401  (session fixture)

from tc139k.errors import ModelNotFoundError, UsageError
from tc139k.keyframes import dtd, qwen_frames
from tc139k.keyframes.qwen_checkpoint import read_header, resolve_checkpoint
from tc139k.keyframes.scorer import make_scorer

transformers = pytest.importorskip("transformers")
IMAGE_BUDGET = (56 * 56, 28 * 28 * 1280)  # Qwen's image processor's: small frames keep their size


def qwen_scorer(pretrained, batch_size=8, **kw):
    return make_scorer(
        "feature", encoder="qwen2.5-vl", pretrained=pretrained, device="cpu", batch_size=batch_size, **kw
    )


def random_frames(t, h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


# ---- Qwen's preprocessing ------------------------------------------------------------------


def test_resize_rule_is_qwens():
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import smart_resize

    rng = np.random.default_rng(0)
    budgets = [(qwen_frames.MIN_PIXELS, qwen_frames.MAX_PIXELS), (qwen_frames.MIN_PIXELS, qwen_frames.CLIP_MAX_PIXELS)]
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(16, 2000, size=2))
        if max(h, w) / min(h, w) > 150:
            continue
        for lo, hi in [*budgets, IMAGE_BUDGET]:
            assert qwen_frames.smart_resize(h, w, 28, lo, hi) == smart_resize(h, w, 28, lo, hi), (h, w, lo, hi)
    # the documented default: a 16:9 frame becomes 224 x 420 px, 8 x 15 tokens
    assert qwen_frames.smart_resize(*qwen_frames.NOMINAL_SOURCE) == (224, 420) == (GRID[0] * 28, GRID[1] * 28)


def test_patch_layout_is_the_video_processors():
    import torch
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    x = torch.randn(4, 3, 56, 84)
    ours, grid = qwen_frames.patchify(x, 14, 2, 2)
    theirs, *their_grid = Qwen2VLVideoProcessor().patchify(x[None], 14, 2, 2)
    assert grid == tuple(their_grid) == (2, 4, 6)
    assert torch.equal(ours, theirs[0])


def test_tokens_are_transformers_merged_video_features(tiny_qwen):  # noqa: F811
    """Our preprocessing and tower give the merged tokens of transformers' own model fed by
    its own video processor (the path the VideoLLM takes), an odd frame count included."""
    import torch
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    frames = random_frames(5, 56, 84)
    lo, hi = IMAGE_BUDGET
    ours = qwen_scorer(f"local-dir:{tiny_qwen.sharded}", min_pixels=lo, max_pixels=hi).tower(frames)

    processor = Qwen2VLVideoProcessor(size={"shortest_edge": lo, "longest_edge": hi})
    inputs = processor(videos=[frames], return_tensors="pt")
    assert inputs["video_grid_thw"].tolist() == [[3, 4, 6]]  # ceil(5 / 2) temporal patches
    model = tiny_model().eval()
    with torch.inference_mode():
        out = model.model.get_video_features(inputs["pixel_values_videos"], inputs["video_grid_thw"])
    theirs = out.pooler_output[0].reshape(3, 2 * 3, -1)
    assert ours.shape == theirs.shape == (3, 6, tiny_qwen.out_hidden)
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("size", [(120, 160), (224, 420), (720, 1280), (480, 480), (100, 1000), (1080, 608)])
def test_token_grid_follows_the_resized_frame(tiny_qwen, size):  # noqa: F811
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import smart_resize

    tower = qwen_scorer(tiny_qwen.local_dir).tower
    h, w = smart_resize(*size, 28, qwen_frames.MIN_PIXELS, qwen_frames.MAX_PIXELS)
    tokens = tower(random_frames(3, *size))
    assert tower.grid(*size) == (h // 28, w // 28)
    assert tokens.shape == (2, (h // 28) * (w // 28), tiny_qwen.out_hidden)


# ---- DTD frames ------------------------------------------------------------------------------


def test_one_dtd_frame_per_temporal_patch(tiny_qwen):  # noqa: F811
    s = qwen_scorer(tiny_qwen.local_dir)
    h, w = s.frame_size[::-1]
    assert s.grid == GRID and (h, w) == (224, 420)
    frames = random_frames(7, h, w)
    q = s.score(frames)
    assert q.shape == (7, GRID[0] * GRID[1])
    assert (q[0] == 0).all() and (q[1] == 0).all()  # DTD frame 0 (raw frames 0, 1): never dropped
    assert np.array_equal(q[2], q[3]) and np.array_equal(q[4], q[5])  # both raw frames of a patch
    # the scores are the cosine of the merged tokens of consecutive temporal patches
    tokens = s.tower(frames, (h, w))
    expected = dtd.quantize(dtd.cosine_to_previous(tokens).numpy(), "cosine")
    assert np.array_equal(q[::2], expected)  # frame 6, the odd last one, is its own patch (repeated)


def test_identical_frames_are_redundant(tiny_qwen):  # noqa: F811
    s = qwen_scorer(tiny_qwen.local_dir)
    still = np.repeat(random_frames(1, 224, 420), 6, axis=0)
    q = s.score(still)
    assert dtd.frame_drop_ratio(q, "cosine", 0.5).tolist() == [0, 0, 1, 1, 1, 1]
    assert (q[2:] == 255).all()  # cosine 1: dropped at any tau below 1
    # a change in the second frame of a patch changes that patch's tokens
    moved = still.copy()
    moved[3] = 255 - moved[3]
    assert dtd.frame_drop_ratio(s.score(moved), "cosine", 0.999).tolist()[2:4] == [0, 0]


def test_scores_do_not_depend_on_batching_or_other_videos(tiny_qwen):  # noqa: F811
    a, b = random_frames(9, 224, 420, seed=1), random_frames(6, 224, 420, seed=2)
    by_batch = {bs: qwen_scorer(tiny_qwen.local_dir, batch_size=bs) for bs in (1, 2, 3, 8, 10_000)}
    ref = by_batch[10_000].score(a)
    for bs, s in by_batch.items():
        assert np.array_equal(s.score(a), ref), bs  # batch 1 is rounded up to one whole patch
    s = by_batch[8]
    s.score(b)  # another video first: nothing carries over
    assert np.array_equal(s.score(a), ref)


def test_scorer_travels_without_its_weights(tiny_qwen):  # noqa: F811
    s = qwen_scorer(tiny_qwen.local_dir, batch_size=4)
    frames = random_frames(4, 224, 420)
    q = s.score(frames)
    copy = pickle.loads(pickle.dumps(s))
    assert copy._tower is None  # loaded where the scoring runs (a Ray actor)
    assert np.array_equal(copy.score(frames), q)


# ---- the checkpoint ---------------------------------------------------------------------------


def test_language_model_is_never_read(tiny_qwen):  # noqa: F811
    folder = tiny_qwen.sharded
    index = json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
    lm_shard = folder / "model-00002-of-00002.safetensors"
    assert any(v == lm_shard.name for v in index.values()) and lm_shard.read_bytes()[:8] != b"\0" * 8
    from safetensors import SafetensorError, safe_open

    with pytest.raises(SafetensorError):  # shard 1's language-model tensors are cut off: not a valid file
        safe_open(str(folder / "model-00001-of-00002.safetensors"), "pt")
    source = resolve_checkpoint(tiny_qwen.local_dir)
    assert source.prefix == "model.visual." and [f for f, _ in source.shards] == ["model-00001-of-00002.safetensors"]
    # the same tower saved whole by transformers (`visual.*`, language model included) hashes the same
    whole = resolve_checkpoint(f"local-dir:{tiny_qwen.hf}")
    assert whole.prefix == "visual." and whole.weights_sha256 == source.weights_sha256
    frames = random_frames(4, 224, 420)
    assert np.array_equal(
        qwen_scorer(tiny_qwen.local_dir).score(frames), qwen_scorer(f"local-dir:{tiny_qwen.hf}").score(frames)
    )


def test_provenance_names_encoder_weights_and_resize_rule(tiny_qwen):  # noqa: F811
    prov = qwen_scorer(tiny_qwen.local_dir, batch_size=4).provenance()
    model = prov["model"]
    assert model["encoder"] == "qwen2.5-vl" and model["precision"] == "fp32"
    assert model["pretrained"] == f"local-dir:{tiny_qwen.sharded.name}" and model["vision_prefix"] == "model.visual."
    assert model["resize"]["min_pixels"] == 100352 and model["resize"]["max_pixels"] == 105369
    assert model["resize"]["working_size"] == [224, 420] and prov["batch_size"] == 4
    # the hash covers the vision tensors' bytes: recomputed here from transformers' own state dict
    sha = hashlib.sha256()
    state = tiny_model().model.visual.state_dict()
    from safetensors import safe_open

    with safe_open(str(tiny_qwen.hf / "model.safetensors"), "np") as f:
        for name in sorted(k for k in f.keys() if k.startswith("visual.")):
            raw = f.get_slice(name)
            short = name[len("visual.") :]
            sha.update(f"{short}|{raw.get_dtype()}|{list(state[short].shape)}|".encode())
            sha.update(np.ascontiguousarray(f.get_tensor(name)).tobytes())
    assert model["weights_sha256"] == sha.hexdigest()
    assert json.loads(json.dumps(prov)) == prov  # recorded as JSON in markers and files


def test_changed_weights_after_resolving_are_refused(tiny_qwen, tmp_path):  # noqa: F811
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_qwen.hf, folder)
    s = qwen_scorer(f"local-dir:{folder}")
    path = folder / "model.safetensors"
    table, start = read_header(path)
    begin = start + table["visual.merger.mlp.2.bias"]["data_offsets"][0]
    data = bytearray(path.read_bytes())
    data[begin : begin + 4] = bytes(4 - i for i in range(4))  # a vision tensor's first bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ModelNotFoundError, match="changed since they were hashed"):
        s.load()


RESOLVE = """
import json, sys
from tc139k.errors import ModelNotFoundError
from tc139k.keyframes.qwen_checkpoint import resolve_checkpoint
try:
    s = resolve_checkpoint(sys.argv[1])
except ModelNotFoundError as e:
    print(json.dumps({"error": str(e)}))
else:
    print(json.dumps({"model": s.model, "pretrained": s.pretrained, "sha": s.weights_sha256}))
"""


def resolve_in(env: dict, repo: str) -> dict:
    """resolve_checkpoint in a fresh process: huggingface_hub reads HF_HOME when imported."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")} | env
    done = subprocess.run([sys.executable, "-c", RESOLVE, repo], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_hub_id_from_the_local_cache_or_a_clear_error(tiny_qwen, tmp_path):  # noqa: F811
    home = {"HF_HOME": str(tmp_path / "hf")}
    offline = resolve_in({**home, "HF_HUB_OFFLINE": "1"}, "Qwen/Qwen2.5-VL-7B-Instruct")["error"]
    assert "not in the local Hugging Face cache and HF_HUB_OFFLINE is set" in offline and "local-dir:FOLDER" in offline
    unreachable = resolve_in({**home, "HF_ENDPOINT": "https://hub.tc139k-test.invalid"}, "Qwen/Qwen2.5-VL-7B-Instruct")
    assert "hub.tc139k-test.invalid cannot be reached" in unreachable["error"]
    # a snapshot in the cache is used without the network
    repo = tmp_path / "hf" / "hub" / "models--tc139k--tiny-qwen"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    shutil.copytree(tiny_qwen.sharded, repo / "snapshots" / ("0" * 40))
    cached = resolve_in({**home, "HF_HUB_OFFLINE": "1"}, "tc139k/tiny-qwen")
    assert cached["model"] == cached["pretrained"] == "tc139k/tiny-qwen"
    assert cached["sha"] == resolve_checkpoint(tiny_qwen.local_dir).weights_sha256


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: shutil.rmtree(d), "is not a folder"),
        (lambda d: (d / "config.json").unlink(), r"config\.json: cannot read the model config"),
        (
            lambda d: (d / "config.json").write_text(json.dumps({"model_type": "qwen2_vl", "vision_config": {}})),
            r"model_type 'qwen2_vl' is not a Qwen2\.5-VL checkpoint",
        ),
        (lambda d: (d / "model.safetensors").unlink(), "holds neither model.safetensors.index.json nor"),
        (lambda d: (d / "model.safetensors").write_bytes(b"nonsense"), "not a readable safetensors file"),
    ],
)
def test_unusable_checkpoint_folders_say_what_is_wrong(tiny_qwen, tmp_path, setup, message):  # noqa: F811
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_qwen.hf, folder)
    setup(folder)
    with pytest.raises(ModelNotFoundError, match=message):
        qwen_scorer(f"local-dir:{folder}")


def test_options_that_do_not_apply_are_refused(tiny_qwen):  # noqa: F811
    with pytest.raises(UsageError, match="takes its architecture from the checkpoint's config.json"):
        make_scorer("feature", encoder="qwen2.5-vl", model="ViT-B-32", pretrained=tiny_qwen.local_dir)
    with pytest.raises(UsageError, match=r"--min-pixels \(200000\) must be > 0 and at most --max-pixels"):
        qwen_scorer(tiny_qwen.local_dir, min_pixels=200_000, max_pixels=100_000)
    with pytest.raises(UsageError, match="unknown encoder 'siglip'; choose open_clip or qwen2.5-vl"):
        make_scorer("feature", encoder="siglip")
    with pytest.raises(ModelNotFoundError, match="needs --pretrained"):
        make_scorer("feature", encoder="qwen2.5-vl")


def test_without_the_extra_the_message_says_how_to_install(tiny_qwen, monkeypatch):  # noqa: F811
    real_import = builtins.__import__

    def no_transformers(name, *args, **kwargs):
        if name == "transformers" or name.startswith("transformers."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_transformers)
    with pytest.raises(UsageError, match=r"--encoder qwen2\.5-vl needs transformers: pip install 'tc139k\[qwen\]'"):
        qwen_scorer(tiny_qwen.local_dir)


# ---- the published curve beside a run ---------------------------------------------------------


def _folder(path, model: dict | None, kind: str = "cosine"):
    """A one-video key-frame folder whose provenance records `model` (as a run would)."""
    from tc139k.keyframes import store as kfio

    q = np.array([[0, 0], [255, 128], [204, 166], [230, 100]], dtype=np.uint8)
    row = {
        "video_id": "v",
        "source": "coin",
        "status": "ok",
        "error": None,
        "n_frames": 4,
        "frame_seconds": [0.0, 1.0, 2.0, 3.0],
        "bad_frames": [],
        "scene_id": [0] * 4,
        "scene_cut_seconds": [],
        "score_kind": kind,
        "grid_h": 1,
        "grid_w": 2,
        "patch_scores": q.tobytes(),
        "threshold": 0.5 if kind == "cosine" else 0.05,
        "drop_ratio": dtd.frame_drop_ratio(q, kind, 0.5 if kind == "cosine" else 0.05).tolist(),
        "keyframe_seconds": [0.0],
        "trigger_seconds": [1.0],
    }
    path.mkdir()
    kfio.write_keyframes_file([row], path / "keyframes-00000.parquet", {"method": "feature", "model": model})
    return path


@pytest.mark.parametrize(
    "model, comparison, tokens",
    [
        ({"encoder": "qwen2.5-vl", "model": "TimeChatOnline-7B"}, "comparable", ["qwen2.5-vl"]),
        ({"model": "ViT-B-32", "pretrained": "laion2b_s34b_b79k"}, "different tokens", ["open_clip"]),
    ],
)
def test_the_authors_curve_is_comparable_only_beside_qwen_tokens(tmp_path, model, comparison, tokens):
    from tc139k import published
    from tc139k.stats.redundancy import redundancy_stats

    stats = redundancy_stats(_folder(tmp_path / "kf", model), show_progress=False, plot_dir=tmp_path / "plots")
    ref = stats.to_dict()["published_curve"]
    assert ref["comparison"] == comparison and ref["tokens"] == tokens
    assert list(zip(ref["thresholds"], ref["drop_ratio"])) == [tuple(p) for p in published.AUTHORS_DROP_CURVE]
    assert f"{comparison}: this folder has {tokens[0]} tokens" in ref["label"]
    text = stats.text_report()
    assert f"published curve: {ref['label']}" in text
    here = dict(zip(stats.thresholds, stats.drop_ratio))  # this folder's figures beside the authors'
    assert f"{'here':>10} " + " ".join(f"{here[t] * 100:.0f}%".rjust(6) for t in ref["thresholds"]) in text
    assert (tmp_path / "plots" / "drop_ratio_vs_threshold.png").is_file()
    # the headline says which tokens were measured and whether they are the paper's
    headline = stats.headline_text()
    assert f"of {tokens[0]} visual tokens are redundant" in headline
    if comparison == "comparable":
        assert "comparable with its tau-to-drop-ratio curve" in headline and "not comparable" not in headline
    else:
        assert "not the tokens the paper measures" in headline and "--encoder qwen2.5-vl" in headline


def test_pixel_scores_get_no_published_curve(tmp_path):
    from tc139k.stats.redundancy import redundancy_stats

    stats = redundancy_stats(_folder(tmp_path / "kf", None, "pixel_mad"), show_progress=False)
    assert stats.to_dict()["published_curve"] is None and "published curve" not in stats.text_report()
    headline = stats.headline_text()  # a 1 x 2 grid: no cell size in pixels to state
    assert "% of pixel cells of the 224 px frame are redundant" in headline and "tokens are" not in headline
    assert "not comparable with the paper's 80 % of tokens" in headline


# ---- the key-frame stage, its outputs and engines -----------------------------------------------


def _ids(sample, tmp_path, n):
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(sample.shortest(n)) + "\n")
    return path


def _digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("keyframes-*.parquet"))}


def test_cli_end_to_end_then_stats_and_shards(sample, tiny_qwen, tmp_path):  # noqa: F811
    from click.testing import CliRunner
    from envelope import result_of

    from tc139k.cli import main
    from tc139k.keyframes import store as kfio

    runner = CliRunner()
    out = tmp_path / "kf"
    args = ["keyframes", "build", "--frames-root", sample.frames, "--encoder", "qwen2.5-vl", "--pretrained"]
    args += [tiny_qwen.local_dir, "--out", out, "--videos-per-file", 5, "--accept-calibration-miss", "--json"]
    res = runner.invoke(main, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    summary = result_of(res.stdout, "keyframes build")
    assert summary["n_ok"] == summary["n_videos"] == len(sample.truth) and summary["n_keyframes"] > 0
    assert summary["model"]["encoder"] == "qwen2.5-vl" and summary["model"]["precision"] == "fp32"
    prov = kfio.read_provenance(out / "keyframes-00000.parquet")
    assert prov["model"]["weights_sha256"] == resolve_checkpoint(tiny_qwen.local_dir).weights_sha256
    assert prov["model"]["resize"]["working_size"] == [224, 420] and prov["frame_size"] == [420, 224]
    for row in kfio.read_keyframes(out).to_pylist():
        q = kfio.patch_scores_array(row)
        assert (row["grid_h"], row["grid_w"]) == GRID and q.shape == (row["n_frames"], GRID[0] * GRID[1])
        assert np.array_equal(q[0 : row["n_frames"] - 1 : 2], q[1 : row["n_frames"] : 2])  # pairs share
        assert row["n_frames"] == sample.truth[row["video_id"]]["n_frames"]
        # frames 0 and 1 are the first temporal patch: never dropped, never a trigger time
        assert row["drop_ratio"][:2] == [0.0, 0.0] and row["trigger_seconds"]
        assert min(row["trigger_seconds"]) >= row["frame_seconds"][2]

    stats = runner.invoke(main, ["stats", "redundancy", str(out), "--json"])
    assert stats.exit_code == 0, stats.output
    assert result_of(stats.stdout, "stats redundancy")["published_curve"]["comparison"] == "comparable"

    valid = runner.invoke(
        main, ["validate", str(sample.qa), "--frames-root", str(sample.frames), "--out", str(tmp_path / "v")]
    )
    assert valid.exit_code == 0, valid.output
    shards = runner.invoke(
        main,
        [
            "shards",
            "build",
            "--qa",
            str(tmp_path / "v" / "valid.parquet"),
            "--keyframes",
            str(out),
            "--frames-root",
            str(sample.frames),
            "--out",
            str(tmp_path / "shards"),
            "--json",
        ],
    )
    assert shards.exit_code == 0, shards.output
    built = result_of(shards.stdout, "shards build")
    assert built["n_quarantined"] == 0 and sum(built["n_rows_by_split"].values()) == 176


def test_sharded_runs_give_the_same_bytes(sample, tiny_qwen, tmp_path):  # noqa: F811
    from tc139k.keyframes.build import run_keyframes

    kw = dict(
        frames_root=sample.frames,
        video_ids=_ids(sample, tmp_path, 4),
        encoder="qwen2.5-vl",
        pretrained=tiny_qwen.local_dir,
        videos_per_file=1,
        level=2.0,
    )
    whole = run_keyframes(out=tmp_path / "whole", batch_size=8, **kw)
    for i in range(2):  # two jobs score disjoint shares, with another batch size
        part = run_keyframes(out=tmp_path / "parts", num_shards=2, shard_index=i, batch_size=3, **kw)
        assert not part.complete
    merged = run_keyframes(out=tmp_path / "parts", batch_size=3, **kw)
    assert merged.batches_scored == 0 and whole.batches_scored == 4
    assert _digests(tmp_path / "parts") != {}
    from tc139k.keyframes import store

    a = {r["video_id"]: r["patch_scores"] for r in store.read_keyframes(tmp_path / "whole").to_pylist()}
    b = {r["video_id"]: r["patch_scores"] for r in store.read_keyframes(tmp_path / "parts").to_pylist()}
    assert a == b  # the batch size is recorded, so the files differ only in that record


@pytest.mark.ray
def test_ray_engine_matches_local_engine(sample, tiny_qwen, tmp_path):  # noqa: F811
    ray = pytest.importorskip("ray")
    from tc139k.keyframes.build import run_keyframes
    from tc139k.pipeline.ray_engine import run_keyframes_ray

    kw = dict(
        frames_root=sample.frames,
        video_ids=_ids(sample, tmp_path, 3),
        encoder="qwen2.5-vl",
        pretrained=tiny_qwen.local_dir,
        videos_per_file=2,
        batch_size=16,
    )
    local = run_keyframes(out=tmp_path / "local", **kw)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        distributed = run_keyframes_ray(out=tmp_path / "ray", **kw)
    finally:
        ray.shutdown()
    assert [v.to_dict() for v in distributed.videos] == [v.to_dict() for v in local.videos]
    assert len(_digests(tmp_path / "local")) == 2 and _digests(tmp_path / "local") == _digests(tmp_path / "ray")


def test_cli_without_the_extra_says_how_to_install(sample, tiny_qwen, tmp_path):  # noqa: F811
    import subprocess
    import sys

    blocked = (
        "import sys\n"
        "class NoTransformers:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'transformers' or name.startswith('transformers.'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, NoTransformers())\n"
        "from tc139k.cli import main\n"
        "main()\n"
    )
    args = ["keyframes", "build", "--frames-root", str(sample.frames), "--encoder", "qwen2.5-vl"]
    args += ["--pretrained", tiny_qwen.local_dir, "--out", str(tmp_path / "kf")]
    done = subprocess.run([sys.executable, "-c", blocked, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "pip install 'tc139k[qwen]'" in done.stderr and "Traceback" not in done.stderr


def test_the_encoder_and_the_pixel_budget_redo_the_scores(sample, tiny_qwen, tmp_path):  # noqa: F811
    import dataclasses

    from tc139k.keyframes import store
    from tc139k.keyframes.build import run_keyframes
    from tc139k.keyframes.config import KeyframesConfig
    from tc139k.params import specs

    assert {specs(KeyframesConfig)[n].records for n in ("encoder", "min_pixels", "max_pixels")} == {"scores"}
    kw = dict(frames_root=sample.frames, video_ids=_ids(sample, tmp_path, 2), videos_per_file=1)
    base = KeyframesConfig(encoder="qwen2.5-vl", pretrained=tiny_qwen.local_dir, level=2.0)
    run_keyframes(out=tmp_path / "base", config=base, **kw)
    for name, value in (("max_pixels", qwen_frames.CLIP_MAX_PIXELS), ("min_pixels", 50_000)):
        shutil.copytree(tmp_path / "base", tmp_path / name)
        res = run_keyframes(out=tmp_path / name, config=dataclasses.replace(base, **{name: value}), **kw)
        assert res.batches_scored == 2 and res.files_written == 2, name
    grids = {r["grid_h"] * r["grid_w"] for r in store.read_keyframes(tmp_path / "max_pixels").to_pylist()}
    assert grids == {20 * 36}  # a 16:9 frame within 602112 px: 560 x 1008
