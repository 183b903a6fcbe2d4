import hashlib
import json
from pathlib import Path

from tc139k.paths import AUTHORS_PREFIX, parse_frame_path
from tc139k.sample import build_sample


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_sample_layout_and_size(sample):
    names = {p.name for p in sample.repo.iterdir()}
    assert {
        "time_chat_online_139k_train_flt.jsonl",
        "annotations_caption_flt.jsonl",
        "README.md",
        "LICENSE",
        "OtherTrainingDataset",
    } <= names
    parts = sorted(n for n in names if ".tar.gz." in n)
    assert len(parts) >= 3 and all(n.startswith("Youcook2.tar.gz.") for n in parts)
    assert any(n != n.lower() for n in names if n.endswith(".tar.gz"))  # mixed-case archives
    total = sum(p.stat().st_size for p in sample.repo.rglob("*") if p.is_file())
    assert total < 20_000_000
    assert len(sample.truth) >= 12
    assert len({v["source"] for v in sample.truth.values()}) >= 4
    assert all(60 <= v["duration"] <= 240 for v in sample.truth.values())


def test_sample_qa_records(sample):
    lines = sample.qa.read_text().splitlines()
    assert len(lines) >= 150
    for line in lines:
        rec = json.loads(line)
        assert rec["messages"][0]["role"] == "user"
        assert rec["messages"][0]["content"].count("<video>") == len(rec["videos"])
        clip = rec["videos"][0]
        assert 1 <= len(clip) <= 64
        assert all(p.startswith(AUTHORS_PREFIX) for p in clip)
        refs = [parse_frame_path(p) for p in clip]
        assert [r.index for r in refs] == sorted({r.index for r in refs})
        assert (sample.frames / refs[-1].relpath).exists()
        assert "start_time" in rec and "end_time" in rec


def test_sample_redundancy_varies(sample):
    static = [v["static_seconds"] / v["duration"] for v in sample.truth.values()]
    assert max(static) - min(static) > 0.2


def test_sample_is_deterministic(tmp_path, sample):
    build_sample(tmp_path / "again", seed=0)
    assert _digest(tmp_path / "again" / "repo") == _digest(sample.repo)
    assert (tmp_path / "again" / "ground_truth.json").read_bytes() == (sample.dir / "ground_truth.json").read_bytes()
