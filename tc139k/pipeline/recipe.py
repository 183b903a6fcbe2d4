"""Pipeline recipes: YAML files naming the stages to run and their parameters.

    version: 1
    description: what this recipe is for
    stages:                # run in this order
      download: {annotations_only: true}
      validate: {max_invalid: 10}
      stats: {}

Each stage accepts the fields of its config class (`pipeline.run.STAGE_CONFIGS`: the stage's
own config, e.g. keyframes.config.KeyframesConfig, plus the few keys only a recipe has).
Every value of every stage is checked against its field (type, range, choices, NaN, the
combinations the class checks) when the recipe is loaded, so before the first stage starts;
an unknown key or a bad value is a RecipeError (exit code 2) naming the file and the key,
e.g. `my.yaml: stages.keyframes.target_interval: must be a finite number > 0, got nan`.
String values may use `${work}` (the run's output folder). The recipe's hash (of its parsed
content) goes into the provenance of every output.

A recipe file is read as a recipe and nothing more: at most `MAX_RECIPE_BYTES`, UTF-8 text,
and YAML without aliases (`*name`: an alias can expand to any size before anything is checked),
each refused before parsing goes on, naming the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import RecipeError
from ..params import check, did_you_mean
from ..resources import pipelines_dir

MAX_RECIPE_BYTES = 1 << 20  # the shipped recipes are under 2 KB


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load that refuses an alias before composing it (no expansion ever happens)."""

    where = ""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            line = self.peek_event().start_mark.line + 1
            raise RecipeError(
                f"{self.where}: line {line}: YAML aliases (*name) are not accepted in a recipe; write the value out"
            )
        return super().compose_node(parent, index)


TOP_LEVEL_KEYS = {"version", "description", "stages"}
SUPPORTED_VERSION = 1


@dataclass(frozen=True)
class Stage:
    name: str
    params: dict


@dataclass(frozen=True)
class Recipe:
    path: str
    description: str
    stages: tuple[Stage, ...]
    hash: str

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)


def available_recipes() -> list[str]:
    return sorted(p.name[:-5] for p in pipelines_dir().iterdir() if p.name.endswith(".yaml"))


def resolve_recipe_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.is_file():
        return p
    shipped = pipelines_dir() / f"{Path(str(name_or_path)).stem}.yaml"
    if shipped.is_file():
        return Path(str(shipped))
    raise RecipeError(
        f"no recipe {str(name_or_path)!r}: not a file, and the shipped recipes are {', '.join(available_recipes())}"
    )


def parse_recipe(raw, where: str, stage_configs: dict[str, type]) -> Recipe:
    """Check a parsed YAML document against the stages' config classes (in pipeline order);
    `where` names the file."""
    if not isinstance(raw, dict):
        raise RecipeError(f"{where}: a recipe is a mapping with keys {', '.join(sorted(TOP_LEVEL_KEYS))}")
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        first = sorted(map(str, unknown))[0]
        raise RecipeError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}{did_you_mean(first, TOP_LEVEL_KEYS)}; "
            f"allowed: {', '.join(sorted(TOP_LEVEL_KEYS))}"
        )
    if raw.get("version", SUPPORTED_VERSION) != SUPPORTED_VERSION:
        raise RecipeError(f"{where}: version: {raw.get('version')!r} is not supported (use {SUPPORTED_VERSION})")
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, dict) or not stages_raw:
        raise RecipeError(
            f"{where}: stages: expected a mapping of stage name to parameters, stages are {', '.join(stage_configs)}"
        )
    order = list(stage_configs)
    stages = []
    for name, params in stages_raw.items():
        if name not in stage_configs:
            raise RecipeError(
                f"{where}: stages.{name}: unknown stage{did_you_mean(name, order)}; stages are {', '.join(order)}"
            )
        params = {} if params is None else params
        if not isinstance(params, dict):
            raise RecipeError(f"{where}: stages.{name}: expected a mapping of parameters")
        # None means "the default", as if the key were absent
        check(stage_configs[name], given(params), f"{where}: stages.{name}", RecipeError)
        stages.append(Stage(name, dict(params)))
    positions = [order.index(s.name) for s in stages]
    if positions != sorted(positions):
        raise RecipeError(f"{where}: stages must appear in pipeline order: {', '.join(order)}")
    canonical = json.dumps(raw, sort_keys=True, default=str).encode()
    return Recipe(
        path=where,
        description=str(raw.get("description", "")),
        stages=tuple(stages),
        hash=hashlib.sha256(canonical).hexdigest()[:16],
    )


def given(params: dict) -> dict:
    """The parameters a stage was given: those whose value is not None."""
    return {k: v for k, v in params.items() if v is not None}


def read_recipe_text(path: Path) -> str:
    """The recipe file's text, or a RecipeError when it is too large or not UTF-8 text."""
    try:
        size = path.stat().st_size
        if size > MAX_RECIPE_BYTES:
            raise RecipeError(
                f"{path}: {size / 1e6:.1f} MB is no recipe (a recipe is a few KB of YAML, at most "
                f"{MAX_RECIPE_BYTES // 1024} KB); is this the right file?"
            )
        data = path.read_bytes()
    except OSError as e:
        raise RecipeError(f"{path}: cannot read it: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RecipeError(f"{path}: not UTF-8 text (byte {e.start}); save the recipe as UTF-8") from None


def load_recipe(name_or_path: str | Path, stage_configs: dict[str, type]) -> Recipe:
    path = resolve_recipe_path(name_or_path)
    text = read_recipe_text(path)
    loader = _NoAliasLoader(text)
    loader.where = str(path)
    try:
        raw = loader.get_single_data()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark else ""
        raise RecipeError(f"{path}:{at} invalid YAML: {getattr(e, 'problem', e)}") from None
    finally:
        loader.dispose()
    return parse_recipe(raw, str(path), stage_configs)


def substitute(value, work_dir: Path):
    """Expand `${work}` in string values (recursively in lists)."""
    if isinstance(value, str):
        return value.replace("${work}", str(work_dir))
    if isinstance(value, list):
        return [substitute(v, work_dir) for v in value]
    return value
