"""tc139k/sample.py: the seed decides the sample (another seed, other videos; the same seed,
the same bytes: test_sample.py) and the ground truth agrees with the frames written: one frame
per second of each video's duration, and a hard cut at every scene cut of the truth (the next
scene differs strongly in hue and alternates bright and dark), larger than any change from one
second to the next inside a scene."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from tc139k.sample import build_sample


def test_another_seed_gives_other_videos(sample, tmp_path):
    info = build_sample(tmp_path / "seed1", seed=1)
    other = json.loads((tmp_path / "seed1" / "ground_truth.json").read_text())
    assert other["seed"] == 1 and info.frames_dir is None
    assert set(other["videos"]).isdisjoint(sample.truth)
    assert info.n_videos == len(sample.truth)  # the same sources and counts


def test_one_frame_per_second_of_each_duration(sample):
    for vid, v in sample.truth.items():
        names = sorted(p.name for p in (sample.frames / v["source"] / vid).iterdir())
        assert names == [f"{i:06d}.jpg" for i in range(v["duration"])], vid
        assert v["n_frames"] == v["duration"]


def test_every_scene_cut_of_the_truth_is_a_hard_cut_in_the_frames(sample):
    for vid, v in sorted(sample.truth.items())[:6]:
        folder = sample.frames / v["source"] / vid
        means = np.stack(
            [
                np.asarray(Image.open(folder / f"{i:06d}.jpg"), dtype=np.float32).mean(axis=(0, 1))
                for i in range(v["duration"])
            ]
        )
        steps = np.abs(np.diff(means, axis=0)).sum(axis=1)  # step i: second i -> i + 1
        cuts = v["scene_cuts"]
        at_cuts = steps[[c - 1 for c in cuts]]
        inside = np.delete(steps, [c - 1 for c in cuts])
        assert cuts and at_cuts.min() > inside.max(), vid
        assert all(k in v["keyframes"] for k in [0, *cuts])  # every scene start is a key frame
