"""Load the versioned schema files in `schemas/` into pyarrow schemas and check tables.

A schema file is language-neutral JSON:

    {"name": "keyframes", "version": 1, "description": "...",
     "fields": [{"name": "video_id", "type": "string", "required": true,
                 "description": "...", "constraints": {"pattern": "^[A-Za-z0-9_.-]+$"}}, ...]}

Types: "bool", "int8".."int64", "uint8".."uint64", "float32", "float64", "string",
"binary", {"list": TYPE}, {"struct": [FIELD, ...]}. Constraints (all optional): "min",
"max" (numbers, or every element of a numeric list), "enum", "pattern" (strings),
"min_length"/"max_length" (strings and lists). On list columns "min"/"max", "enum" and
"pattern" apply to the innermost values, and the fields of a struct inside lists are checked
like columns (nulls in required fields, their own constraints). Other keys in "constraints"
document the JSON side (e.g. "json_types") and are not checked on tables.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .errors import SchemaError
from .resources import schemas_dir

_PRIMITIVES = {
    "bool": pa.bool_(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "binary": pa.binary(),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: Any
    required: bool
    description: str
    constraints: dict = field(default_factory=dict)

    @property
    def arrow_type(self) -> pa.DataType:
        return arrow_type(self.type)

    def to_arrow(self) -> pa.Field:
        return pa.field(
            self.name, self.arrow_type, nullable=not self.required, metadata={"description": self.description}
        )


@dataclass(frozen=True)
class SchemaSpec:
    name: str
    version: int
    description: str
    fields: tuple[FieldSpec, ...]
    extra: dict = field(default_factory=dict)  # any other top-level keys of the file

    @property
    def id(self) -> str:
        return f"{self.name}.v{self.version}"

    def to_arrow(self) -> pa.Schema:
        return pa.schema(
            [f.to_arrow() for f in self.fields], metadata={"tc139k.schema": self.id, "description": self.description}
        )

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def arrow_type(t: Any) -> pa.DataType:
    if isinstance(t, str):
        if t not in _PRIMITIVES:
            raise SchemaError(f"unknown type {t!r}")
        return _PRIMITIVES[t]
    if isinstance(t, dict) and set(t) == {"list"}:
        return pa.list_(arrow_type(t["list"]))
    if isinstance(t, dict) and set(t) == {"struct"}:
        return pa.struct([_field_spec(f, "struct").to_arrow() for f in t["struct"]])
    raise SchemaError(f"unknown type {t!r}")


def _field_spec(raw: dict, where: str) -> FieldSpec:
    try:
        spec = FieldSpec(
            name=raw["name"],
            type=raw["type"],
            required=bool(raw.get("required", False)),
            description=raw.get("description", ""),
            constraints=dict(raw.get("constraints", {})),
        )
    except (KeyError, TypeError) as e:
        raise SchemaError(f"{where}: field {raw!r} lacks {e}") from None
    arrow_type(spec.type)  # fail early on a bad type
    return spec


def parse_schema(raw: dict, where: str = "<schema>") -> SchemaSpec:
    try:
        fields = tuple(_field_spec(f, where) for f in raw["fields"])
        return SchemaSpec(
            name=raw["name"],
            version=int(raw["version"]),
            description=raw.get("description", ""),
            fields=fields,
            extra={k: v for k, v in raw.items() if k not in {"name", "version", "description", "fields"}},
        )
    except (KeyError, TypeError, ValueError) as e:
        raise SchemaError(f"{where}: not a schema file ({e})") from None


def schema_dir():
    return schemas_dir()


def available() -> list[str]:
    return sorted(p.name[:-5] for p in schema_dir().iterdir() if p.name.endswith(".json"))


@functools.cache
def load(schema_id: str) -> SchemaSpec:
    """Load a shipped schema by id, e.g. `load("qa.v1")`, or a schema file by path."""
    if schema_id.endswith(".json") and Path(schema_id).exists():
        text, where = Path(schema_id).read_text(encoding="utf-8"), schema_id
    else:
        res = schema_dir() / f"{schema_id}.json"
        if not res.is_file():
            raise SchemaError(f"no schema {schema_id!r}; shipped schemas: {', '.join(available())}")
        text, where = res.read_text(encoding="utf-8"), f"schemas/{schema_id}.json"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise SchemaError(f"{where}: invalid JSON at line {e.lineno}: {e.msg}") from None
    return parse_schema(raw, where)


def check_table(table: pa.Table, spec: SchemaSpec) -> list[str]:
    """Problems of `table` against `spec`: missing or mistyped columns, nulls in required
    columns, and constraint violations. An empty list means the table conforms."""
    problems = []
    for f in spec.fields:
        if f.name not in table.column_names:
            if f.required:
                problems.append(f"missing column {f.name!r}")
            continue
        col = table.column(f.name)
        if col.type != f.arrow_type:
            problems.append(f"column {f.name!r} is {col.type}, expected {f.arrow_type}")
            continue
        if f.required and col.null_count:
            problems.append(f"column {f.name!r} has {col.null_count} nulls but is required")
        problems += [f"column {f.name!r}: {p}" for p in _check_constraints(col, f)]
    return problems


def _leaf_values(col):
    """The innermost values of a (nested) list column."""
    values = col
    while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        values = pc.list_flatten(values)
    return values


def _check_constraints(col: pa.ChunkedArray, f: FieldSpec) -> list[str]:
    c = f.constraints
    out = []
    values = _leaf_values(col) if pa.types.is_list(col.type) else col
    if "min" in c and len(values) and pc.any(pc.less(values, c["min"])).as_py():
        out.append(f"value below minimum {c['min']}")
    if "max" in c and len(values) and pc.any(pc.greater(values, c["max"])).as_py():
        out.append(f"value above maximum {c['max']}")
    if "enum" in c and len(values):
        bad = pc.invert(pc.is_in(values, value_set=pa.array(c["enum"], type=values.type)))
        if pc.any(pc.and_kleene(bad, pc.is_valid(values))).as_py():
            out.append(f"value outside {c['enum']}")
    if "pattern" in c and len(values):
        ok = pc.match_substring_regex(values, c["pattern"])
        if pc.any(pc.invert(pc.fill_null(ok, True))).as_py():
            out.append(f"value not matching {c['pattern']!r}")
    for key, cmp in (("min_length", pc.less), ("max_length", pc.greater)):
        if key in c and len(col):
            lengths = pc.list_value_length(col) if pa.types.is_list(col.type) else pc.utf8_length(col)
            if pc.any(cmp(lengths, c[key])).as_py():
                out.append(f"length violates {key} {c[key]}")
    out += _check_struct_children(col, f)
    return out


def _check_struct_children(col, f: FieldSpec) -> list[str]:
    """Required-ness and constraints of the fields of a struct column or of structs in lists."""
    values = _leaf_values(col) if pa.types.is_list(col.type) else col
    if not pa.types.is_struct(values.type) or not isinstance(f.type, dict):
        return []
    spec = f.type
    while isinstance(spec, dict) and "list" in spec:
        spec = spec["list"]
    if not isinstance(spec, dict) or "struct" not in spec:
        return []
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    out = []
    children = dict(zip((fld.name for fld in values.type), values.flatten()))  # offset-aware
    for raw in spec["struct"]:
        child_spec = _field_spec(raw, f.name)
        child = children[child_spec.name]
        if child_spec.required and child.null_count:
            out.append(f"field {child_spec.name!r} has {child.null_count} nulls but is required")
        out += [f"field {child_spec.name!r}: {p}" for p in _check_constraints(child, child_spec)]
    return out


def matches_pattern(value: str, pattern: str) -> bool:
    return re.search(pattern, value) is not None
