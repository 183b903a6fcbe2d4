"""The versioned schema files: they load, they agree with the code that uses them, and the
table checks (including the list and struct constraints) find what they should."""

from __future__ import annotations

import json

import msgspec
import pyarrow as pa
import pytest

from tc139k import schemas
from tc139k.errors import SchemaError
from tc139k.resources import schemas_dir
from tc139k.validate.exact import QARecord, reason_codes, table_schema
from tc139k.validate.fast import FastRecord

SHIPPED = ["qa.v1", "qa_table.v1", "captions.v1", "keyframes.v1", "keyframes.v2"]


@pytest.mark.parametrize("schema_id", SHIPPED)
def test_shipped_schema_loads_with_descriptions(schema_id):
    spec = schemas.load(schema_id)
    arrow = spec.to_arrow()
    assert arrow.metadata[b"tc139k.schema"] == schema_id.encode()
    assert spec.description
    for f in spec.fields:
        assert f.description, f"{schema_id}: field {f.name} has no description"
        assert arrow.field(f.name).nullable == (not f.required)


def test_schema_files_are_in_the_package_data():
    names = {p.name for p in schemas_dir().iterdir()}
    assert {f"{s}.json" for s in SHIPPED} <= names


def test_qa_schema_matches_the_decoders():
    spec = schemas.load("qa.v1")
    for struct in (QARecord, FastRecord):
        info = msgspec.inspect.type_info(struct)
        got = {f.name: f.required for f in info.fields}
        assert got == {f.name: f.required for f in spec.fields}
    message = spec.field("messages").type["list"]["struct"]
    assert [m["name"] for m in message] == ["role", "content"]
    assert message[0]["constraints"]["enum"] == ["user", "assistant"]


def test_every_reason_is_described():
    codes = reason_codes()
    assert codes and all(isinstance(d, str) and d for d in codes.values())
    assert "duplicate" in codes and "missing_frame" in codes


def test_table_schema_is_what_the_checker_builds():
    assert table_schema().equals(schemas.load("qa_table.v1").to_arrow(), check_metadata=True)


def _qa_table(**overrides):
    row = {
        "record_id": "0123456789abcdef",
        "source_file": "qa.jsonl",
        "source_line": 1,
        "video_id": "abc",
        "source": "coin",
        "question": "q?",
        "answer": "a.",
        "messages": [{"role": "user", "content": "<video>\nq?"}, {"role": "assistant", "content": "a."}],
        "frame_indices": [1, 2],
        "frame_paths": ["coin/abc/000001.jpg", "coin/abc/000002.jpg"],
        "clip_lengths": [2],
        "clip_start": 1,
        "clip_end": 2,
        "start_time": 1.0,
        "end_time": None,
    }
    row.update(overrides)
    return pa.Table.from_pylist([row], schema=table_schema())


def test_check_table_accepts_a_conforming_table():
    assert schemas.check_table(_qa_table(), schemas.load("qa_table.v1")) == []


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"frame_paths": ["coin/abc/1.png", "coin/abc/000002.jpg"]}, "column 'frame_paths': value not matching"),
        (
            {"messages": [{"role": "system", "content": "x"}, {"role": "assistant", "content": "a."}]},
            "column 'messages': field 'role': value outside",
        ),
        ({"frame_indices": [-1, 2]}, "column 'frame_indices': value below minimum 0"),
        ({"record_id": "XYZ"}, "column 'record_id': value not matching"),
        ({"question": ""}, "column 'question': length violates min_length 1"),
        ({"start_time": -2.0}, "column 'start_time': value below minimum 0"),
    ],
)
def test_check_table_finds_list_and_struct_violations(overrides, expected):
    problems = schemas.check_table(_qa_table(**overrides), schemas.load("qa_table.v1"))
    assert any(p.startswith(expected) for p in problems), problems


def test_check_table_names_nulls_in_required_struct_fields():
    t = _qa_table()
    i = t.schema.get_field_index("messages")
    msg_type = t.schema.field(i).type
    # Arrow does not enforce a child field's nullability when building, so the check must
    with_null = pa.array([[{"role": "user", "content": None}, {"role": "assistant", "content": "a."}]], msg_type)
    problems = schemas.check_table(t.set_column(i, t.schema.field(i), with_null), schemas.load("qa_table.v1"))
    assert problems == ["column 'messages': field 'content' has 1 nulls but is required"]


def test_keyframes_schema_still_checks_nested_rows():
    spec = schemas.load("keyframes.v1")
    row = {
        "video_id": "v1",
        "source": "coin",
        "status": "ok",
        "error": None,
        "n_frames": 2,
        "frame_seconds": [0.0, 1.0],
        "bad_frames": [{"index": 3, "path": "coin/v1/000003.jpg", "reason": "bad"}],
        "scene_id": [0, 0],
        "scene_cut_seconds": [],
        "score_kind": "cosine",
        "grid_h": 1,
        "grid_w": 1,
        "patch_scores": b"\x00\x01",
        "threshold": 0.5,
        "drop_ratio": [0.0, 0.5],
        "keyframe_seconds": [0.0],
        "trigger_seconds": [1.0],
    }
    table = pa.Table.from_pylist([row], schema=spec.to_arrow())
    assert schemas.check_table(table, spec) == []
    bad = pa.Table.from_pylist([dict(row, drop_ratio=[0.0, 1.5])], schema=spec.to_arrow())
    assert any("drop_ratio" in p for p in schemas.check_table(bad, spec))


def test_a_schema_file_with_a_bad_type_is_rejected(tmp_path):
    path = tmp_path / "x.v1.json"
    path.write_text(json.dumps({"name": "x", "version": 1, "fields": [{"name": "a", "type": "decimal"}]}))
    with pytest.raises(SchemaError, match="unknown type"):
        schemas.load(str(path))
