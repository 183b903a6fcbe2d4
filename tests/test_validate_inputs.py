"""Which files `tc139k validate` checks: a download folder stands for its QA files; the
caption file and OtherTrainingDataset/*.jsonl (another format, out of scope) are skipped
with a note, unless --include-other."""

import json

import pytest
from click.testing import CliRunner
from envelope import failure_of, result_of

import tc139k
from tc139k.cli import main


def _qa_count(sample) -> int:
    return len(sample.qa.read_text().splitlines())


def test_download_folder_checks_its_qa_file_and_skips_other_formats(sample):
    res = CliRunner().invoke(main, ["validate", str(sample.repo), "--json"])
    assert res.exit_code == 0, res.output
    got = result_of(res.stdout, "validate")
    assert got["n_records"] == got["n_valid"] == _qa_count(sample) and got["n_invalid"] == 0
    notes = res.stderr.splitlines()
    others = sorted(p.name for p in (sample.repo / "OtherTrainingDataset").glob("*.jsonl"))
    assert len(others) == 3
    for name in others:
        assert any(name in n and "another format, out of scope" in n for n in notes), notes
    assert any("annotations_caption_flt.jsonl" in n and "captions" in n for n in notes)
    assert tc139k.validate_qa(sample.repo, show_progress=False).records == _qa_count(sample)


def test_other_training_files_alone_and_included(sample):
    other = sorted((sample.repo / "OtherTrainingDataset").glob("*.jsonl"))
    alone = CliRunner().invoke(main, ["validate", *map(str, other)])
    assert alone.exit_code == 2 and "nothing to validate" in alone.output and "out of scope" in alone.output
    included = CliRunner().invoke(main, ["validate", str(other[0]), "--include-other", "--json"])
    assert included.exit_code == 1  # what skipping spares the user: every record rejected
    got = failure_of(included.stdout, "validate", code=1)["result"]
    assert got["n_valid"] == 0 and got["n_invalid"] == got["n_records"] > 0


def test_recipe_skips_other_training_files_it_lists(sample, tmp_path):
    import shutil

    from tc139k.pipeline.run import run_recipe

    work = tmp_path / "work"
    shutil.copytree(sample.repo, work / "data")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "version: 1\n"
        "stages:\n"
        "  download: {annotations_only: true}\n"
        "  validate:\n"
        "    files: [time_chat_online_139k_train_flt.jsonl, OtherTrainingDataset/tarsier2_129k.jsonl]\n"
        "    check_frames: false\n"
    )
    run = run_recipe(recipe, work, only=["validate"], show_progress=False)
    assert run.stages[0].summary["records"] == _qa_count(sample) and run.stages[0].summary["invalid"] == 0
    assert any("tarsier2_129k.jsonl" in n and "out of scope" in n for n in run.notes), run.notes


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_an_input_with_no_record_fails(tmp_path, content):
    from click.testing import CliRunner

    from tc139k.cli import main

    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    res = CliRunner().invoke(main, ["validate", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1, res.output
    assert f"no QA record in {path}: empty, or only blank lines" in res.output
    assert "Traceback" not in res.output


def _deep_and_good(tmp_path):
    good = {
        "messages": [{"role": "user", "content": "<video>what happens?"}, {"role": "assistant", "content": "a cut"}],
        "videos": [["timechatonline/timeit-v2/frames/coin/abc/000000.jpg"]],
    }
    path = tmp_path / "deep.jsonl"
    path.write_text('{"messages": ' + "[" * 10000 + "]" * 10000 + "}\n" + json.dumps(good) + "\n")
    return path


def test_a_line_nested_ten_thousand_deep_is_quarantined_and_the_rest_checked(tmp_path):
    from click.testing import CliRunner

    from tc139k.cli import main

    res = CliRunner().invoke(
        main, ["validate", str(_deep_and_good(tmp_path)), "--out", str(tmp_path / "out"), "--json"]
    )
    assert res.exit_code == 1 and "Traceback" not in res.output
    got = failure_of(res.stdout, "validate", code=1)["result"]
    assert (got["n_records"], got["n_valid"], got["n_records_by_reason"]) == (2, 1, {"invalid_json": 1})
    quarantined = [json.loads(x) for x in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert "nested deeper than a QA record can be" in json.dumps(quarantined)


def test_stats_dataset_reports_a_line_nested_too_deep(tmp_path):
    from click.testing import CliRunner

    from tc139k.cli import main

    res = CliRunner().invoke(main, ["stats", "dataset", "--qa", str(_deep_and_good(tmp_path)), "--json"])
    assert res.exit_code == 0, res.output
    got = result_of(res.stdout, "stats dataset")
    assert got["n_bad_lines"] == 1 and got["n_qa_records"] == 1
    assert got["bad_line_examples"] == [{"line": 1, "reason": "invalid JSON (nested deeper than a QA record can be)"}]


def test_stats_dataset_of_a_qa_file_with_no_record_fails(tmp_path):
    from click.testing import CliRunner

    from tc139k.cli import main

    path = tmp_path / "empty.jsonl"
    path.write_text("\n \n")
    res = CliRunner().invoke(main, ["stats", "dataset", "--qa", str(path)])
    assert res.exit_code == 1 and f"no QA record in {path}: empty, or only blank lines" in res.output


def test_a_download_folder_is_checked_against_its_own_frames(sample, tmp_path):
    """`tc139k validate DATA` takes DATA/frames as the frames root when none is named."""
    import shutil

    from click.testing import CliRunner

    from tc139k.cli import main

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(sample.qa, data / sample.qa.name)
    shutil.copytree(sample.frames, data / "frames")
    first = json.loads(sample.qa.read_text().splitlines()[0])["videos"][0][0].split("/")[-3:]
    (data / "frames" / first[0] / first[1] / first[2]).unlink()  # a frame the first record uses
    res = CliRunner().invoke(main, ["validate", str(data)])
    assert res.exit_code == 1 and "missing_frame" in res.stdout, res.output
    assert f"checking frames under {data / 'frames'} too" in res.stderr
    named = CliRunner().invoke(main, ["validate", str(data), "--frames-root", str(sample.frames)])
    assert named.exit_code == 0 and "checking frames under" not in named.stderr, named.output
