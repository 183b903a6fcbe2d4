"""Reading a command's `--json` output in tests: the envelope checked against
schemas/cli/envelope.json and its result against schemas/cli/<command>.json.

    result = result_of(res.stdout, "shards build")        # ok: true, exit 0
    env = failure_of(res.stdout, "validate", code=1)       # ok: false, the error object

The checker covers the part of JSON Schema (2020-12) the files use: type (one or a list),
enum, pattern, minimum, properties, required, additionalProperties (false or a schema),
items, anyOf and local $ref (#/$defs/...). A keyword outside that part fails loudly, so a
schema cannot quietly check less than it says.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "cli"
KNOWN = {
    "$schema", "$id", "$defs", "title", "description", "type", "enum", "pattern", "minimum",
    "properties", "required", "additionalProperties", "items", "anyOf", "$ref",
}  # fmt: skip
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def schema_name(command: str) -> str:
    return command.replace(" ", "_")


def problems(value, sch: dict, root: dict | None = None, where: str = "$") -> list[str]:
    """Where `value` breaks `sch` (empty: it conforms)."""
    root = root if root is not None else sch
    unknown = set(sch) - KNOWN
    if unknown:
        raise ValueError(f"{where}: schema keyword(s) the checker does not know: {sorted(unknown)}")
    if "$ref" in sch:
        name = sch["$ref"].removeprefix("#/$defs/")
        return problems(value, root["$defs"][name], root, where)
    if "anyOf" in sch:
        if all(problems(value, s, root, where) for s in sch["anyOf"]):
            return [f"{where}: {value!r:.80} matches none of anyOf"]
        return []
    types = sch.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(TYPES[t](value) for t in types):
            return [f"{where}: {type(value).__name__} {value!r:.80}, expected {'/'.join(types)}"]
    out = []
    if "enum" in sch and value not in sch["enum"]:
        out.append(f"{where}: {value!r} not in {sch['enum']}")
    if "pattern" in sch and isinstance(value, str) and not re.search(sch["pattern"], value):
        out.append(f"{where}: {value!r} does not match {sch['pattern']!r}")
    if "minimum" in sch and TYPES["number"](value) and value < sch["minimum"]:
        out.append(f"{where}: {value} below {sch['minimum']}")
    if isinstance(value, dict):
        props = sch.get("properties", {})
        out += [f"{where}: missing key {k!r}" for k in sch.get("required", []) if k not in value]
        extra = sch.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                out += problems(v, props[k], root, f"{where}.{k}")
            elif extra is False:
                out.append(f"{where}: key {k!r} is not in the schema")
            elif isinstance(extra, dict):
                out += problems(v, extra, root, f"{where}.{k}")
    if isinstance(value, list) and "items" in sch:
        for i, v in enumerate(value):
            out += problems(v, sch["items"], root, f"{where}[{i}]")
    return out


def envelope_of(stdout: str, command: str) -> dict:
    """The envelope on stdout (the whole of it), checked: the envelope's shape, the command's
    name and version, `error` null exactly when ok, and the result's shape when there is one."""
    from tc139k import __version__

    env = json.loads(stdout)
    assert not problems(env, schema("envelope")), problems(env, schema("envelope"))
    assert env["command"] == command and env["version"] == __version__, env
    assert (env["error"] is None) == env["ok"], env
    if env["result"] is not None:
        found = problems(env["result"], schema(schema_name(command)), where="result")
        assert not found, "\n".join(found[:20])
    return env


def result_of(stdout: str, command: str) -> dict:
    """The result of a run that succeeded, checked against its schema."""
    env = envelope_of(stdout, command)
    assert env["ok"] and env["result"] is not None, env
    return env["result"]


def failure_of(stdout: str, command: str, code: int) -> dict:
    """The envelope of a run that failed with exit `code`, checked."""
    env = envelope_of(stdout, command)
    assert not env["ok"] and env["error"]["code"] == code, env
    return env
