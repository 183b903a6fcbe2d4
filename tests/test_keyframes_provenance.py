"""Each key-frame parameter redoes exactly the outputs its `records` names (keyframes/config.py).

For every field of KeyframesConfig, a finished run is rerun into a copy of its folder with
only that field changed: a field recorded with the scores redoes pass 1 and changes the
scores markers; one recorded with the key frames reuses every scored batch and rewrites the
key-frame files; one recorded nowhere redoes nothing. A new field that forgets to say where
it is recorded, or a record that forgets a field, fails here.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from tiny_clip import tiny_clip  # noqa: F401  (session fixture)

from tc139k.keyframes.build import run_keyframes
from tc139k.keyframes.config import KeyframesConfig
from tc139k.params import specs

SPECS = specs(KeyframesConfig)
# fields with no other value that changes anything here: cuda needs a GPU; with local-dir
# weights the folder names the architecture, and another one would need other weights too
NOT_ALONE = {"device", "model"}
QWEN_FIELDS = {"encoder", "min_pixels", "max_pixels"}  # need a Qwen2.5-VL checkpoint: tests/test_scorer_qwen.py


def other_weights(tiny) -> str:
    """A local-dir folder of the tiny model with other weights (one tensor moved)."""
    from safetensors.torch import load_file, save_file

    folder = tiny.folder.parent / "tiny-vit-other"
    if not folder.exists():
        shutil.copytree(tiny.folder, folder)
        state = load_file(str(folder / "open_clip_model.safetensors"))
        first = sorted(state)[0]
        state[first] = state[first] + 0.01
        save_file(state, str(folder / "open_clip_model.safetensors"))
    return f"local-dir:{folder}"


def alternative(name: str, value, tiny):
    """A valid value other than `value` for field `name` (or None when this machine has none)."""
    s = SPECS[name]
    if name == "pretrained":
        return other_weights(tiny)
    if s.choices:
        return next(c for c in s.choices if c != value)
    if s.kind is float and value is None:
        return 0.25 if s.min is None or s.min < 0.25 else s.min + 1.0  # inside every method's tau range
    if s.kind is int:
        lo = 1 if s.min is None else int(s.min)
        return lo if value != lo else value + 1  # the bound itself: one video per file, one thread
    if s.kind is float:
        return value + 1.0
    raise AssertionError(f"no alternative for {name}")


@pytest.fixture(scope="module")
def video_ids(sample, tmp_path_factory):
    path = tmp_path_factory.mktemp("ids") / "ids.txt"
    path.write_text("\n".join(sample.shortest(2)) + "\n")
    return path


def _markers(out) -> dict:
    return {
        p.relative_to(out).as_posix(): json.loads(p.read_text())["params"] for p in sorted(out.rglob(".done/*.json"))
    }


@pytest.fixture(scope="module")
def bases(sample, video_ids, tiny_clip, tmp_path_factory):  # noqa: F811
    """A finished run per method, its folder and its markers."""
    out = {}
    for method in ("pixel", "feature"):
        config = KeyframesConfig(method=method, pretrained=tiny_clip.local_dir)
        folder = tmp_path_factory.mktemp(f"base-{method}")
        run_keyframes(out=folder, frames_root=sample.frames, video_ids=video_ids, config=config)
        out[method] = (config, folder, _markers(folder))
    return out


def _rerun(base, name, value, sample, video_ids, tmp_path):
    config, folder, before = base
    copy = tmp_path / f"{config.method}-{name}"
    shutil.copytree(folder, copy)
    res = run_keyframes(
        out=copy, frames_root=sample.frames, video_ids=video_ids, config=dataclasses.replace(config, **{name: value})
    )
    after = _markers(copy)
    scores_changed = {k for k in before if k.startswith(".work/") and after.get(k) != before[k]}
    files_changed = {k for k in before if not k.startswith(".work/") and after.get(k) != before[k]}
    return res, scores_changed, files_changed


@pytest.mark.parametrize("name", [n for n in SPECS if n not in NOT_ALONE | QWEN_FIELDS])
def test_a_changed_parameter_redoes_what_records_it(name, bases, sample, video_ids, tiny_clip, tmp_path):  # noqa: F811
    records = SPECS[name].records
    assert records in ("scores", "keyframes", None), f"{name}: records={records!r}"
    seen = []
    for method, base in bases.items():
        value = alternative(name, getattr(base[0], name), tiny_clip)
        res, scores_changed, files_changed = _rerun(base, name, value, sample, video_ids, tmp_path)
        if records != "scores":  # never redoes the scoring
            assert res.batches_scored == 0 and not scores_changed, (method, name, scores_changed)
        if records is None:  # nor anything else
            assert res.files_written == 0 and not files_changed, (method, name, files_changed)
        seen.append((res.batches_scored > 0 and bool(scores_changed), res.files_written > 0 and bool(files_changed)))
    if records == "scores":  # under one method at least (the cell is the pixel method's, the model the feature's)
        assert any(scored and written for scored, written in seen), (name, seen)
    elif records == "keyframes":
        assert any(written for _, written in seen), (name, seen)


def test_every_field_says_where_it_is_recorded():
    # an explicit None (recorded nowhere) is kept for what can change no output byte
    assert {n for n, s in SPECS.items() if s.records is None} == {"num_workers"}
