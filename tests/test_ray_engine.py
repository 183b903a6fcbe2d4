"""The Ray Data engine gives the same key-frame output as the local engine."""

import hashlib
from pathlib import Path

import pytest
from tiny_clip import tiny_clip  # noqa: F401

from tc139k.keyframes.build import run_keyframes

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("keyframes-*.parquet"))}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_engine_matches_local_engine(sample, tiny_clip, tmp_path, local_ray):  # noqa: F811
    from tc139k.pipeline.ray_engine import run_keyframes_ray

    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(sorted(sample.truth)[:5]) + "\n")
    for method, extra in (("feature", {"pretrained": tiny_clip.local_dir, "batch_size": 16}), ("pixel", {})):
        kw = dict(frames_root=sample.frames, video_ids=ids, method=method, videos_per_file=2, **extra)
        local = run_keyframes(out=tmp_path / f"local-{method}", **kw)
        distributed = run_keyframes_ray(out=tmp_path / f"ray-{method}", **kw)
        assert distributed.batches_scored == local.batches_scored == 3
        assert [v.to_dict() for v in distributed.videos] == [v.to_dict() for v in local.videos]
        a, b = _digests(tmp_path / f"local-{method}"), _digests(tmp_path / f"ray-{method}")
        assert len(a) == 3 and a == b, method


def test_ray_engine_without_ray_says_how_to_install(monkeypatch):
    import builtins

    from tc139k.errors import UsageError
    from tc139k.pipeline.ray_engine import run_keyframes_ray

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(UsageError, match=r"pip install 'tc139k\[ray\]'"):
        run_keyframes_ray(out="unused", frames_root="unused")


def test_run_with_ray_engine_matches_local_run(sample, tmp_path, local_ray):
    from tc139k.pipeline.run import run_recipe

    recipe = tmp_path / "kf.yaml"
    recipe.write_text("stages:\n  keyframes: {method: pixel, videos_per_file: 4}\n")
    outs = {}
    for engine in ("local", "ray"):
        work = tmp_path / engine
        (work / "data").mkdir(parents=True)
        (work / "data" / "frames").symlink_to(sample.frames)
        res = run_recipe(recipe, work, engine=engine, show_progress=False)
        assert res.engine == engine and res.stages[0].summary["n_ok"] == len(sample.truth)
        outs[engine] = _digests(work / "keyframes")
    assert len(outs["local"]) == 4 and outs["local"] == outs["ray"]
