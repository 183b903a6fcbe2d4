"""`tc139k run` and `tc139k demo`: recipes of stages."""

from __future__ import annotations

from pathlib import Path

import click

from . import _results as results
from ._common import JSON_HELP, emit_json, examples, handle_errors


def _print_run(res) -> None:
    click.echo(
        f"Recipe {res.recipe} (hash {res.recipe_hash}), engine {res.engine}"
        + (f", shard {res.shard_index + 1} of {res.num_shards}" if res.num_shards > 1 else "")
    )
    for st in res.stages:
        click.echo(f"  {st.name:<10} {st.seconds:>6.1f} s  {st.line}")
    for note in res.notes:
        click.echo(f"  note: {note}")
    click.echo("Outputs:")
    rows = [(f"{st.name}.{name}", path) for st in res.stages for name, path in st.outputs.items()]
    rows.append(("run summary", str(Path(res.work_dir) / "run-summary.json")))
    width = max(len(k) for k, _ in rows)
    for key, path in rows:
        click.echo(f"  {key:<{width}}  {path}")


def _stage_echo(as_json: bool):
    return None if as_json else (lambda name: click.echo(f"== {name}", err=True))


@click.command(
    "run",
    short_help="Run a recipe of stages, locally or on Ray.",
    epilog=examples("tc139k run default --out work", "tc139k run my-recipe.yaml --out work --stages keyframes,shards"),
)
@click.argument("recipe")
@click.option(
    "--out",
    "work_dir",
    default="tc139k-run",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for every stage's output (data/, validated/, keyframes/, shards/, stats/).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="ray: run the key-frame stage as a Ray Data pipeline (needs `pip install tc139k[ray]`; "
    "joins the cluster in RAY_ADDRESS, else starts a local one).",
)
@click.option(
    "--num-shards",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Split the videos into this many deterministic shares (e.g. a Slurm array).",
)
@click.option(
    "--shard-index",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Which share this job processes, from 0.",
)
@click.option(
    "--stages", "only", default=None, help="Comma-separated subset of the recipe's stages to run (e.g. keyframes)."
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def run_cmd(recipe, work_dir, engine, num_shards, shard_index, only, as_json):
    """Run RECIPE: a shipped recipe name (default, annotations-only, sample) or a YAML file.

    Stages run in order: sample, download, validate, keyframes, shards, stats. With
    --num-shards N --shard-index I, the key-frame stage processes a deterministic 1/N of the
    videos; run the N jobs with --stages keyframes into the same --out, then the rest once.
    """
    from ..pipeline.run import run_recipe

    res = run_recipe(
        recipe,
        work_dir,
        engine=engine,
        num_shards=num_shards,
        shard_index=shard_index,
        only=[s.strip() for s in only.split(",")] if only else None,
        show_progress=not as_json,
        on_stage=_stage_echo(as_json),
    )
    if as_json:
        emit_json(results.run(res.to_dict()))
    else:
        _print_run(res)


@click.command("demo", short_help="Run the whole pipeline on the bundled sample, offline.")
@click.option(
    "--out",
    "work_dir",
    default="demo-out",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for everything the demo writes.",
)
@click.option("--model", default=None, help="open_clip model name for the feature method (e.g. ViT-B-32).")
@click.option(
    "--pretrained",
    default=None,
    help="Local open_clip weights (file or local-dir: folder). Without them the demo uses the pixel method.",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def demo_cmd(work_dir, model, pretrained, as_json):
    """Run the whole pipeline on the bundled sample (recipe `sample`), offline.

    Generates the sample, fetches it from a local mirror, validates, rebuilds key frames,
    builds shards and writes statistics with plots, then says where everything is.
    """
    from ..pipeline.run import run_recipe

    overrides = {"keyframes": {"model": model, "pretrained": pretrained}}
    res = run_recipe("sample", work_dir, overrides=overrides, show_progress=not as_json, on_stage=_stage_echo(as_json))
    if as_json:
        emit_json(results.run(res.to_dict()))
        return
    _print_run(res)
    shards = Path(work_dir) / "shards"
    click.echo(f"Load the shards with: datasets.load_dataset({str(shards)!r})")
