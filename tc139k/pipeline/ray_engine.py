"""The key-frame stage on Ray Data, for more than one machine.

Only pass 1 (decode, scenes, encoder, DTD scores) is distributed; it is where the time goes.
The pipeline is

    video list -> decode + scene detection tasks (1 CPU each)
               -> encoder actor pool (one GPU per actor when the cluster has GPUs, else CPU)
               -> pass-1 rows, collected on the driver per batch of videos

Ray Data streams blocks between the stages with back-pressure, so only the videos in flight
hold pixels. Each video is scored by exactly the code the local engine runs
(`ScoringSetup.prepare` and `ScoringSetup.row`, encoder batches aligned on the video), and
the driver writes the same work files, so calibration and the final files are identical to
`--engine local`. Model weights and the frames root must be readable at the same paths on
every node (a shared file system).

Ray is an optional extra: `pip install 'tc139k[ray]'`. With RAY_ADDRESS set the engine joins
that cluster; otherwise it starts a local one and stops it at the end. TC139K_TORCH_THREADS
sets the torch threads of each encoder actor (`torch_threads`).
"""

from __future__ import annotations

import os
import pickle
from collections import defaultdict
from collections.abc import Iterator

from ..errors import UsageError
from ..keyframes.build import KeyframesResult, ScoringSetup, run_keyframes


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UsageError(
            "--engine ray needs Ray Data: pip install 'tc139k[ray]' (or pip install 'ray[data]')"
        ) from None
    return ray


def _prepare(row: dict, setup: ScoringSetup) -> dict:
    """Decode one video and detect its scenes; in pixel mode also score it (no model)."""
    spec = pickle.loads(row["spec"])
    item = setup.prepare(spec)
    if setup.scorer.scores_while_decoding:  # scored here already (pixel): no model stage
        return {"batch": row["batch"], "pos": row["pos"], "row": pickle.dumps(setup.row(item, None))}
    return {"batch": row["batch"], "pos": row["pos"], "prepared": pickle.dumps(item, protocol=5)}


TORCH_THREADS = "TC139K_TORCH_THREADS"


def torch_threads() -> int:
    """Torch threads of each encoder actor: TC139K_TORCH_THREADS (a whole number; 0 or less
    means 1; unset or blank: the node's CPU count). Anything else is refused before Ray starts."""
    value = os.environ.get(TORCH_THREADS, "").strip()
    if not value:
        return max(1, os.cpu_count() or 1)
    try:
        return max(1, int(value))
    except ValueError:
        raise UsageError(f"{TORCH_THREADS} must be a whole number of threads, got {value!r}") from None


class _EncodeActor:
    """Holds the model; scores one prepared video per call."""

    def __init__(self, setup: ScoringSetup):
        import torch

        torch.set_num_threads(torch_threads())
        self.setup = setup
        self.encoder = setup.load_encoder()

    def __call__(self, row: dict) -> dict:
        item = pickle.loads(row["prepared"])
        return {"batch": row["batch"], "pos": row["pos"], "row": pickle.dumps(self.setup.row(item, self.encoder))}


def score_batches_ray(todo, setup: ScoringSetup, bar) -> Iterator[tuple[int, list[dict]]]:
    """Pass 1 on Ray Data; yields (batch number, rows in the batch's order) as batches complete."""
    if not todo:
        return
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        address = os.environ.get("RAY_ADDRESS")
        ray.init(
            address=address or None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            **({} if address else {"num_cpus": os.cpu_count()}),
        )
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        items = [
            {"batch": b, "pos": i, "spec": pickle.dumps(spec)} for b, specs in todo for i, spec in enumerate(specs)
        ]
        sizes = {b: len(specs) for b, specs in todo}
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        ds = ds.map(_prepare, fn_kwargs={"setup": setup}, num_cpus=1)
        if not setup.scorer.scores_while_decoding:
            gpus = int(ray.cluster_resources().get("GPU", 0))
            ds = ds.map(
                _EncodeActor,
                fn_constructor_kwargs={"setup": setup},
                concurrency=max(1, gpus),
                num_gpus=1 if gpus else 0,
                num_cpus=0 if gpus else 1,
            )
        pending: dict[int, list] = defaultdict(list)
        for row in ds.iter_rows():
            b = row["batch"]
            pending[b].append((row["pos"], pickle.loads(row["row"])))
            bar.update(1)
            if len(pending[b]) == sizes[b]:
                yield b, [r for _, r in sorted(pending.pop(b), key=lambda x: x[0])]
        if pending:
            raise RuntimeError(f"Ray returned incomplete batches: {sorted(pending)}")
    finally:
        if started_here:
            ray.shutdown()


def run_keyframes_ray(**kwargs) -> KeyframesResult:
    """`run_keyframes` with pass 1 on Ray Data; same parameters, same output."""
    torch_threads()  # a bad TC139K_TORCH_THREADS stops here, not inside a Ray worker
    _import_ray()
    return run_keyframes(scorer=score_batches_ray, **kwargs)
