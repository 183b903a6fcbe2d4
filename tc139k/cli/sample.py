"""`tc139k sample`: write the bundled sample dataset."""

from __future__ import annotations

from pathlib import Path

import click

from . import _results as results
from ._common import JSON_HELP, emit_json, handle_errors


@click.command("sample")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, help="Random seed of the generator.")
@click.option(
    "--frames", "write_frames", is_flag=True, help="Also write the frames already extracted, under OUT_DIR/frames."
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@handle_errors
def sample_cmd(out_dir: Path, seed: int, write_frames: bool, as_json: bool):
    """Generate the bundled miniature dataset in OUT_DIR.

    OUT_DIR/repo is a miniature TimeChat-Online-139K Hub repository (annotations, split
    frame archives); OUT_DIR/ground_truth.json holds the scene cuts the generator drew.
    """
    from ..sample import build_sample

    info = build_sample(out_dir, seed=seed, write_frames=write_frames)
    if as_json:
        emit_json(results.sample(info.to_dict()))
        return
    click.echo(f"Sample dataset written to {out_dir}")
    click.echo(f"  repository:   {info.repo_dir}  ({info.repo_bytes / 1e6:.1f} MB)")
    click.echo(f"  videos:       {info.n_videos} from {len(info.sources)} sources ({', '.join(info.sources)})")
    click.echo(f"  frames:       {info.n_frames}")
    click.echo(f"  QA records:   {info.n_qa}")
    click.echo(f"  ground truth: {info.ground_truth_path}")
    if info.frames_dir:
        click.echo(f"  frames:       {info.frames_dir}")
