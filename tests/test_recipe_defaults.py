"""The shipped recipes do not restate the library's defaults with other values: the key-frame
model and the validation fraction come from one place (the CLI uses the same)."""

import re

import pytest

from tc139k.keyframes.encoder import DEFAULT_MODEL, DEFAULT_PRETRAINED
from tc139k.pipeline.recipe import available_recipes
from tc139k.pipeline.run import load
from tc139k.shards.plan import DEFAULT_VAL_FRACTION

DEFAULTS = {
    "keyframes": {"model": DEFAULT_MODEL, "pretrained": DEFAULT_PRETRAINED},
    "shards": {"val_fraction": DEFAULT_VAL_FRACTION},
}


@pytest.mark.parametrize("name", available_recipes())
def test_recipes_take_the_library_defaults(name):
    recipe = load(name)
    for stage, defaults in DEFAULTS.items():
        given = recipe.stage(stage).params if recipe.stage(stage) else {}
        for key, value in defaults.items():
            assert given.get(key, value) == value, f"{name}: stages.{stage}.{key} = {given[key]!r}, default {value!r}"


def test_the_cli_shows_the_same_defaults():
    from click.testing import CliRunner

    from tc139k.cli import main

    shards = CliRunner().invoke(main, ["shards", "build", "--help"], terminal_width=200).output
    assert re.search(rf"--val-fraction .*\[default: {re.escape(str(DEFAULT_VAL_FRACTION))}[;\]]", shards)
    keyframes = CliRunner().invoke(main, ["keyframes", "build", "--help"], terminal_width=200).output
    assert DEFAULT_MODEL in keyframes and DEFAULT_PRETRAINED in keyframes
