"""Run a recipe: the stages in order, each a call of its library entry point with the
run's folder layout wired in.

    WORK/sample/      the generated sample (stage `sample`)
    WORK/data/        the downloaded dataset; frames in WORK/data/frames (stage `download`)
    WORK/validated/   valid.parquet, quarantine.jsonl, report.json (stage `validate`)
    WORK/keyframes/   keyframes-*.parquet (stage `keyframes`)
    WORK/shards/      data/*.parquet, README.md, manifest (stage `shards`)
    WORK/stats/       redundancy.json, dataset.json, plots/*.png (stage `stats`)

Engines: `local` runs everything in this process; `ray` runs the key-frame stage as a Ray
Data pipeline (see ray_engine.py). `num_shards`/`shard_index` restrict the key-frame stage to
a deterministic share of the videos, so independent jobs cover them exactly once and write
into the same folder; run the later stages once, after all shards finished.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import write_json
from ..errors import CheckFailedError, RecipeError, UsageError
from ..keyframes.config import KeyframesConfig
from ..params import check, check_shard
from .configs import STAGE_CONFIGS, KeyframesParams
from .recipe import Recipe, given, load_recipe, substitute

ENGINES = ("local", "ray")


@dataclass
class StageRun:
    name: str
    seconds: float
    line: str  # one human-readable line about what the stage did
    summary: dict
    outputs: dict


@dataclass
class RunResult:
    recipe: str
    recipe_hash: str
    work_dir: str
    engine: str
    num_shards: int
    shard_index: int
    stages: list[StageRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Layout:
    work: Path
    local_dir: Path

    @property
    def frames(self) -> Path:
        return self.local_dir / "frames"

    @property
    def sample(self) -> Path:
        return self.work / "sample"

    @property
    def validated(self) -> Path:
        return self.work / "validated"

    @property
    def keyframes(self) -> Path:
        return self.work / "keyframes"

    @property
    def shards(self) -> Path:
        return self.work / "shards"

    @property
    def stats(self) -> Path:
        return self.work / "stats"


# ---- stages --------------------------------------------------------------------------------


def _stage_sample(cfg, p: dict, lay: Layout, run: RunResult, show_progress: bool):
    from ..sample import build_sample

    info = build_sample(lay.sample, seed=cfg.seed)
    line = (
        f"{info.n_videos} videos from {len(info.sources)} sources, {info.n_frames} frames, "
        f"{info.n_qa} QA records, {info.repo_bytes / 1e6:.1f} MB"
    )
    return line, info.to_dict(), {"repo": info.repo_dir, "ground_truth": info.ground_truth_path}


def _stage_download(cfg, p: dict, lay: Layout, run: RunResult, show_progress: bool):
    from ..download.run import run_download

    kwargs = cfg.kwargs(set(p) - {"local_dir"})  # the folder is in the layout
    res = run_download(**kwargs, local_dir=lay.local_dir, show_progress=show_progress)
    summary = {
        k: v
        for k, v in res.to_dict().items()
        if k
        in {
            "repo",
            "origin",
            "resolved_commit",
            "up_to_date",
            "bytes_fetched",
            "selected_sources",
            "videos_total",
            "frames_total",
        }
    }
    line = (
        "already up to date, nothing transferred"
        if res.up_to_date
        else f"{res.bytes_fetched / 1e6:.1f} MB fetched from the {res.origin}, {res.videos_total} videos, "
        f"{res.frames_total} frames extracted"
    )
    return line, summary, {"local_dir": str(lay.local_dir), "manifest": res.manifest}


def _stage_validate(cfg, p: dict, lay: Layout, run: RunResult, show_progress: bool):
    from ..validate.inputs import choose_qa_files
    from ..validate.run import run_validate

    # OtherTrainingDataset/*.jsonl (another format, out of scope) and the caption file are
    # skipped even when listed, or when `files` names the download folder itself
    files, skipped = choose_qa_files([lay.local_dir / f for f in cfg.files])
    run.notes += [f"validate: skipped {s.path}: {s.reason}" for s in skipped]
    check_frames = cfg.check_frames and lay.frames.is_dir()
    res = run_validate(
        files,
        frames_root=lay.frames if check_frames else None,
        out_dir=lay.validated,
        **{k: v for k, v in p.items() if k not in ("files", "check_frames")},
        show_progress=show_progress,
    )
    if not res.passed:  # the data failed the check: exit 1, as `tc139k validate`
        raise CheckFailedError(f"validate: {res.failure('max_invalid')}; see {lay.validated / 'quarantine.jsonl'}")
    line = res.headline()
    return line, res.summary(), dict(res.outputs)


def _stage_keyframes(cfg: KeyframesParams, p: dict, lay: Layout, run: RunResult, show_progress: bool):
    from ..keyframes.build import run_keyframes

    p = dict(p)
    p.pop("method", None), p.pop("accept_calibration_miss", None)
    resolved, note = cfg.resolved()
    method = resolved.method
    if note:
        run.notes.append(f"key frames: {note}")
    if method == "pixel":
        p.pop("model", None), p.pop("pretrained", None)
    kwargs = dict(out=lay.keyframes, frames_root=lay.frames, method=method, show_progress=show_progress, **p)
    if run.num_shards > 1:
        kwargs.update(num_shards=run.num_shards, shard_index=run.shard_index)
    kwargs["recipe_hash"] = run.recipe_hash
    if run.engine == "ray":
        from .ray_engine import run_keyframes_ray

        res = run_keyframes_ray(**kwargs)
    else:
        res = run_keyframes(**kwargs)
    summary = {
        k: v
        for k, v in res.to_dict().items()
        if k
        in {"method", "threshold", "level", "mean_interval", "n_videos", "n_ok", "n_failed", "n_frames", "n_keyframes"}
    }
    miss = res.calibration_miss() if res.complete else None
    if miss and not cfg.accept_calibration_miss:
        raise CheckFailedError(
            f"keyframes: {miss}; set keyframes.accept_calibration_miss: true in the recipe to keep them, or "
            "change target_interval, threshold or min_gap (or the model: random weights leave only scene starts)"
        )
    if miss:
        run.notes.append(f"key frames: {miss} (accepted: keyframes.accept_calibration_miss)")
    if res.complete and res.calibration_note():
        run.notes.append(f"key frames: {res.calibration_note()}")
    if not res.complete:
        line = (
            f"{method} method, shard {run.shard_index + 1}/{run.num_shards}: {res.batches_scored} "
            "batch(es) scored; run once more without --num-shards to calibrate and write key frames"
        )
    else:
        line = (
            f"{method} method, {res.n_ok}/{res.n_videos} videos, {res.n_frames} frames, "
            f"{res.n_keyframes} key frames, mean interval {res.mean_interval:.2f} s"
        )
    return line, summary, {"keyframes": str(lay.keyframes)}


def _stage_shards(cfg, p: dict, lay: Layout, run: RunResult, show_progress: bool):
    from ..shards.build import run_shards_build

    res = run_shards_build(
        lay.validated / "valid.parquet",
        lay.keyframes,
        lay.frames,
        lay.shards,
        recipe_hash=run.recipe_hash,
        show_progress=show_progress,
        **cfg.kwargs(set(p)),
    )
    summary = {
        "rows": res.rows,
        "quarantined": res.quarantined,
        "shards": len(res.shards),
        "written": res.written,
        "skipped": res.skipped,
    }
    line = (
        ", ".join(f"{split} {n} rows" for split, n in res.rows.items())
        + f" in {len(res.shards)} shard(s), {res.quarantined} quarantined"
    )
    return line, summary, {"shards": str(lay.shards), "card": str(lay.shards / "README.md")}


def _stage_stats(cfg, p: dict, lay: Layout, run: RunResult, show_progress: bool):
    summary, outputs = {}, {}
    if cfg.dataset:
        from ..stats.dataset import dataset_stats

        ds = dataset_stats(lay.local_dir, show_progress=show_progress)
        write_json(lay.stats / "dataset.json", ds.to_dict())
        outputs["dataset"] = str(lay.stats / "dataset.json")
        summary["dataset"] = {
            k: v for k, v in ds.to_dict().items() if k in {"videos_on_disk", "frames_on_disk", "qa_records"}
        }
    if any(lay.keyframes.glob("keyframes-*.parquet")):
        from ..stats.redundancy import redundancy_stats

        plots = lay.stats / "plots" if cfg.plots else None
        rs = redundancy_stats(
            lay.keyframes,
            **{k: v for k, v in p.items() if k in ("thresholds", "by", "threshold", "plot_format")},
            plot_dir=plots,
            show_progress=show_progress,
        )
        write_json(lay.stats / "redundancy.json", rs.to_dict())
        outputs["redundancy"] = str(lay.stats / "redundancy.json")
        if plots:
            outputs["plots"] = str(plots)
        summary["headline"] = rs.to_dict().get("headline")
    headline = summary.get("headline") or {}
    line = headline.get("text") or "dataset statistics only (no key-frame output)"
    return line, summary, outputs


STAGES = {
    "sample": _stage_sample,
    "download": _stage_download,
    "validate": _stage_validate,
    "keyframes": _stage_keyframes,
    "shards": _stage_shards,
    "stats": _stage_stats,
}
assert list(STAGES) == list(STAGE_CONFIGS)


def load(recipe: str | Path) -> Recipe:
    return load_recipe(recipe, STAGE_CONFIGS)


def stage_config(rec: Recipe, name: str, values: dict):
    """The checked config of one stage of `rec` (values with ${work} expanded and the
    overrides merged); with `method: auto`, tau's range is checked for the method it picks."""
    where = f"{rec.path}: stages.{name}"
    cfg = check(STAGE_CONFIGS[name], values, where, RecipeError)
    if isinstance(cfg, KeyframesParams):
        problem = KeyframesConfig.cross_check(cfg.resolved()[0])
        if problem:
            raise RecipeError(f"{where}.{problem[0]}: {problem[1]}")
    return cfg


def run_recipe(
    recipe: str | Path | Recipe,
    work_dir: str | Path,
    engine: str = "local",
    num_shards: int = 1,
    shard_index: int = 0,
    only: list[str] | None = None,
    overrides: dict[str, dict] | None = None,
    show_progress: bool = True,
    on_stage=None,
) -> RunResult:
    """Run the recipe's stages (or the `only` subset) with outputs under `work_dir`.
    `overrides` merges extra parameters into stages (checked like the recipe's own);
    `on_stage(name)` is called as each stage starts. Every parameter of every stage to run
    is checked before the first one starts (RecipeError naming the file and the key)."""
    rec = recipe if isinstance(recipe, Recipe) else load(recipe)
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}")
    check_shard(num_shards, shard_index)
    stages = list(rec.stages)
    if only:
        unknown = set(only) - {s.name for s in stages}
        if unknown:
            raise UsageError(
                f"--stages: {', '.join(sorted(unknown))} not in {rec.path} (it has {', '.join(s.name for s in stages)})"
            )
        stages = [s for s in stages if s.name in only]
    work = Path(work_dir)
    # every value checked before the first stage starts; each stage gets the values it was
    # given (checked and normalised); the rest take the entry point's defaults, the config's
    configs = {}
    for stage in stages:
        values = given({k: substitute(v, work) for k, v in stage.params.items()})
        values.update(given((overrides or {}).get(stage.name, {})))
        cfg = stage_config(rec, stage.name, values)
        configs[stage.name] = (cfg, {k: getattr(cfg, k) for k in values})
    for cfg, _ in configs.values():  # an optional package a stage needs, named before any stage starts
        if hasattr(cfg, "check_installed"):
            cfg.check_installed()
    work.mkdir(parents=True, exist_ok=True)
    dl = rec.stage("download")
    local_dir = Path(substitute(dl.params["local_dir"], work)) if dl and dl.params.get("local_dir") else work / "data"
    layout = Layout(work=work, local_dir=local_dir)
    run = RunResult(
        recipe=rec.path,
        recipe_hash=rec.hash,
        work_dir=str(work),
        engine=engine,
        num_shards=num_shards,
        shard_index=shard_index,
    )
    for stage in stages:
        if on_stage:
            on_stage(stage.name)
        t0 = time.perf_counter()
        line, summary, outputs = STAGES[stage.name](*configs[stage.name], layout, run, show_progress)
        run.stages.append(
            StageRun(
                stage.name, round(time.perf_counter() - t0, 3), line, summary, {k: str(v) for k, v in outputs.items()}
            )
        )
    write_json(work / "run-summary.json", run.to_dict())
    return run
