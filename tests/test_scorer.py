"""The DTD scorer interface: the key-frame stage talks to scorers only through it, so a new
scorer is one class plus a line in SCORERS; the pixel and feature scorers keep their scores."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow.parquet as pq
import pytest
from tiny_clip import tiny_clip  # noqa: F401  (session fixture)

from tc139k.errors import UsageError
from tc139k.keyframes import dtd
from tc139k.keyframes import scorer as scorer_mod
from tc139k.keyframes.build import run_keyframes
from tc139k.keyframes.scorer import make_scorer
from tc139k.keyframes.scorer_pixel import PixelScorer


@dataclass
class MeanBrightnessScorer(PixelScorer):
    """A third scorer for the test: change of mean brightness per 56 px cell."""

    name: ClassVar[str] = "brightness"

    @classmethod
    def create(cls, **_):
        return cls(cell=56)

    def score(self, frames):
        gray = frames.mean(axis=3, keepdims=True).repeat(3, axis=3).astype(np.uint8)
        return super().score(gray)


def test_a_new_scorer_is_one_class_and_one_line(sample, tmp_path, monkeypatch):
    monkeypatch.setitem(scorer_mod.SCORERS, "brightness", (__name__, "MeanBrightnessScorer"))
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(sample.shortest(2)) + "\n")
    res = run_keyframes(out=tmp_path / "kf", frames_root=sample.frames, video_ids=ids, method="brightness")
    assert res.method == "brightness" and res.n_ok == 2 and res.n_keyframes > 0
    table = pq.read_table(res.files[0])
    assert set(table.column("grid_h").to_pylist()) == {4}  # 224 px / 56 px cells
    assert b'"pixel_cell": 56' in table.schema.metadata[b"tc139k"]


def test_unknown_method_names_the_choices():
    with pytest.raises(UsageError, match="unknown method 'qwen'; choose feature or pixel"):
        make_scorer("qwen")


def test_pixel_scorer_is_the_pixel_rule():
    frames = np.zeros((3, 224, 224, 3), dtype=np.uint8)
    frames[2, :28, :28] = 255  # one cell of the last frame changes completely
    s = make_scorer("pixel", cell=28)
    q = s.score(frames)
    assert q.shape == (3, 64) and s.grid == (8, 8)
    # frame 0 is never dropped; frame 1 equals frame 0; frame 2 changed one cell of 64
    assert dtd.frame_drop_ratio(q, s.score_kind, 0.05).tolist() == pytest.approx([0.0, 1.0, 63 / 64])
    assert s.provenance() == {"model": None, "batch_size": None, "pixel_cell": 28}


def test_feature_scorer_travels_without_its_weights(tiny_clip):  # noqa: F811
    s = make_scorer("feature", pretrained=tiny_clip.local_dir, device="cpu", batch_size=4)
    frames = np.random.default_rng(0).integers(0, 255, size=(6, 224, 224, 3), dtype=np.uint8)
    q = s.score(frames)  # loads the model on first use
    assert q.shape == (6, 16) and s.grid == (4, 4)
    copy = pickle.loads(pickle.dumps(s))
    assert copy._encoder is None  # weights are loaded where the scoring runs (a Ray actor)
    assert np.array_equal(copy.score(frames), q)
    assert s.provenance()["model"]["precision"] == "fp32" and s.provenance()["batch_size"] == 4
