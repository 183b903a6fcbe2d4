"""`tc139k stats dataset` takes --frames-root and --qa like the other commands, and ROOT still."""

from click.testing import CliRunner
from envelope import result_of

from tc139k.cli import main

QA = "time_chat_online_139k_train_flt.jsonl"
KEYS = (
    "n_qa_records", "n_videos_on_disk", "n_frames_on_disk", "n_frame_references", "missing", "by_source", "clip_frames"
)  # fmt: skip


def _stats(*args):
    res = CliRunner().invoke(main, ["stats", "dataset", *map(str, args), "--json"])
    assert res.exit_code == 0, res.output
    return result_of(res.stdout, "stats dataset")


def test_frames_root_and_qa_options_match_root(sample, tmp_path):
    root = tmp_path / "download"
    root.mkdir()
    (root / QA).symlink_to(sample.qa)
    (root / "frames").symlink_to(sample.frames)
    by_root = _stats(root)
    assert by_root["n_frames_on_disk"] > 0 and by_root["n_qa_records"] > 0
    by_options = _stats("--frames-root", sample.frames, "--qa", sample.qa)  # not laid out as a download
    assert {k: by_options[k] for k in KEYS} == {k: by_root[k] for k in KEYS}
    frames_only = _stats("--frames-root", root / "frames")  # the QA file is looked for beside it
    assert frames_only["n_qa_records"] == by_root["n_qa_records"]
    res = CliRunner().invoke(main, ["stats", "dataset"])
    assert res.exit_code == 2 and "--frames-root" in res.output
