"""Command-line interface. Parses options, calls the library, prints the result.

Library functions return values; this module alone prints and chooses exit codes.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from . import __version__
from .errors import Tc139kError


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


def handle_errors(fn):
    """Turn the toolkit's typed errors into `Error: ...` on stderr and their exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Tc139kError as e:
            click.echo(f"Error: {e}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted; rerun the same command to resume.", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="tc139k")
def main():
    """Dataset toolkit for TimeChat-Online-139K.

    Download the annotations and 1 fps frames, validate the records, rebuild the
    scene-oriented key frames with PySceneDetect and Differential Token Drop (DTD),
    write Parquet shards for training and report how redundant the video is.
    """


# ---- sample -------------------------------------------------------------------------------

@main.command("sample")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, help="Random seed of the generator.")
@click.option("--frames", "write_frames", is_flag=True,
              help="Also write the frames already extracted, under OUT_DIR/frames.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@handle_errors
def sample_cmd(out_dir: Path, seed: int, write_frames: bool, as_json: bool):
    """Generate the bundled miniature dataset in OUT_DIR.

    OUT_DIR/repo is a miniature TimeChat-Online-139K Hub repository (annotations, split
    frame archives); OUT_DIR/ground_truth.json holds the scene cuts the generator drew.
    """
    from .sample import build_sample

    info = build_sample(out_dir, seed=seed, write_frames=write_frames)
    if as_json:
        emit_json(info.to_dict())
        return
    click.echo(f"Sample dataset written to {out_dir}")
    click.echo(f"  repository:   {info.repo_dir}  ({info.repo_bytes / 1e6:.1f} MB)")
    click.echo(f"  videos:       {info.n_videos} from {len(info.sources)} sources ({', '.join(info.sources)})")
    click.echo(f"  frames:       {info.n_frames}")
    click.echo(f"  QA records:   {info.n_qa}")
    click.echo(f"  ground truth: {info.ground_truth_path}")
    if info.frames_dir:
        click.echo(f"  frames:       {info.frames_dir}")


if __name__ == "__main__":  # pragma: no cover
    main()
