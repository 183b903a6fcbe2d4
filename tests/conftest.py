"""Shared fixtures. The sample dataset is generated once per test session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("TC139K_NO_PROGRESS", "1")


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """The bundled sample: `sample.repo` (Hub layout), `sample.frames` (the frames as they
    should be once extracted) and `sample.truth` (ground truth per video)."""
    from tc139k.sample import build_sample

    out = tmp_path_factory.mktemp("sample")
    info = build_sample(out, seed=0, write_frames=True)

    class Sample:
        dir = out
        repo = Path(info.repo_dir)
        frames = Path(info.frames_dir)
        truth = json.loads(Path(info.ground_truth_path).read_text())["videos"]
        qa = Path(info.repo_dir) / "time_chat_online_139k_train_flt.jsonl"
        captions = Path(info.repo_dir) / "annotations_caption_flt.jsonl"
        summary = info

        @classmethod
        def shortest(cls, n: int, source: str | None = None) -> list[str]:
            """`source/video_id` of the n shortest videos (of one source if given)."""
            vids = [
                (v["duration"], v["source"], vid)
                for vid, v in cls.truth.items()
                if source is None or v["source"] == source
            ]
            return [f"{s}/{vid}" for _, s, vid in sorted(vids)[:n]]

    return Sample
