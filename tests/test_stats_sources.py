"""`stats redundancy` on a key-frame file that holds several sources in one record batch: every
video keeps its own source (in the per-source figures, the failures and the timeline)."""

from __future__ import annotations

import numpy as np
import pytest

from tc139k.keyframes import dtd
from tc139k.keyframes import store as kfio
from tc139k.stats.redundancy import redundancy_stats


def row(video_id: str, source: str, q, grid, *, status: str = "ok", keyframes=(0.0,)) -> dict:
    q = np.asarray(q, dtype=np.uint8).reshape(len(q), -1) if len(q) else np.zeros((0, 0), dtype=np.uint8)
    n = len(q)
    return {
        "video_id": video_id,
        "source": source,
        "status": status,
        "error": None if status == "ok" else "could not read the frames",
        "n_frames": n,
        "frame_seconds": [float(i) for i in range(n)],
        "bad_frames": [],
        "scene_id": [0] * n,
        "scene_cut_seconds": [],
        "transitions": [],
        "score_kind": "cosine",
        "grid_h": grid[0],
        "grid_w": grid[1],
        "patch_scores": q.tobytes(),
        "threshold": 0.5,
        "drop_ratio": dtd.frame_drop_ratio(q, "cosine", 0.5).tolist() if n else [],
        "keyframe_seconds": list(keyframes) if n else [],
        "trigger_seconds": [],
    }


# cosine level 255 is s = 1 (dropped at 0.5), 0 is s = -1 (kept)
ROWS = [
    row("a1", "coin", [[0, 0], [255, 255], [255, 0]], (1, 2), keyframes=(0.0, 2.0)),  # 3 of 4 dropped after frame 0
    row("b1", "tvsum", [[0, 0, 0, 0], [0, 0, 0, 0]], (2, 2)),  # nothing dropped
    row("c1", "hirest", [[0], [255], [255], [255], [255], [0]], (1, 1), keyframes=(0.0, 3.0, 5.0)),  # the longest
    row("a2", "coin", [[0, 0], [255, 255]], (1, 2)),
    row("x1", "videoic", [], (0, 0), status="failed"),
    row("x2", "tvsum", [], (0, 0), status="failed"),
]


@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kf-mixed")
    kfio.write_keyframes_file(ROWS, folder / "keyframes-00000.parquet", {"test": True})
    return redundancy_stats(folder, thresholds=(0.5,), show_progress=False)


def test_each_video_keeps_its_own_source(stats):
    got = {s: (g.videos, g.frames, g.tokens) for s, g in stats.by_source.items()}
    assert got == {"coin": (2, 5, 10), "tvsum": (1, 2, 8), "hirest": (1, 6, 6)}
    assert stats.by_source["coin"].drop_ratio == [pytest.approx(5 / 10)]
    assert stats.by_source["tvsum"].drop_ratio == [0.0]
    assert stats.by_source["hirest"].drop_ratio == [pytest.approx(4 / 6)]
    assert stats.by_source["coin"].keyframes_per_video == 1.5
    assert stats.by_source["hirest"].keyframes_per_video == 3.0
    assert stats.overall.videos == 4 and stats.overall.tokens == 24
    assert stats.overall.drop_ratio == [pytest.approx(9 / 24)]


def test_failures_and_the_timeline_name_their_own_source(stats):
    assert stats.failed_by_source == {"videoic": 1, "tvsum": 1} and stats.videos_failed == 2
    assert (stats.timeline.video_id, stats.timeline.source) == ("c1", "hirest")
    assert stats.timeline.drop_ratio.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
