"""Parquet shards for training: one row per validated QA record, joined with the key-frame
output, split by video, written deterministically and resumably.

Split: a record goes to validation when a stable hash of its video (`source/video_id`) falls
under `val_fraction`, so no video is in both splits. Shards: each split's rows, in the QA
table's order, are cut into contiguous shards of at most `max_shard_size` bytes (estimated
in memory), at least `min_shards` of them when the split has the rows, named
`data/<split>-NNNNN-of-NNNNN.parquet`, each written as row groups of at most
`row_group_bytes` and `row_group_rows` (plan.py has the rules). Each shard is written
atomically and leaves a marker holding its parameters and hash, so a rerun skips what is
done and a killed run resumes to the same bytes.

DTD scores (`dtd_scores`, `--dtd-scores`): each row also gets, per token frame of its clip,
the one-byte level of every visual token against the previous token frame, taken from the
key-frame run's stored scores (dtdcols.py has the rule, including clips that skip seconds),
so `tc139k.data.ClipCollator(dtd_tau=...)` gives a trainer DTD's keep masks at any tau
without the vision tower. The run's provenance stays in the shards' metadata.

Shards follow schemas/shard.v3.json (v2 plus the optional DTD columns; the record id is
`record_id`, as in valid.parquet); `verify_shards` and `tc139k.data` still read shard.v2
output (v3 without scores) and shard.v1 output, whose column was `id`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__, schemas
from ..atomic import Markers, atomic_path, output_lock, remove_stale_temps, sha256_file, write_json, write_text
from ..errors import EmptyResultError, UsageError
from ..keyframes import store as kfio
from ..layout import check_frames_root, check_outside
from ..progress import progress
from ..validate.table import read_valid_table
from .card import render_card
from .dtdcols import clip_levels, span_counts
from .jpeg import FrameChecker, embedded_problems
from .links import OutsideRoot
from .plan import (
    DEFAULT_MAX_SHARD_SIZE,
    DEFAULT_MIN_SHARDS,
    DEFAULT_ROW_GROUP_BYTES,
    DEFAULT_ROW_GROUP_ROWS,
    DEFAULT_ROW_GROUP_ROWS_EMBEDDED,
    DEFAULT_VAL_FRACTION,
    keyframe_flags,
    plan_row_groups,
    plan_shards,
    video_split,
)

SCHEMA_ID = "shard.v3"
READABLE_SCHEMAS = ("shard.v1", "shard.v2", "shard.v3")  # v1 named the record id `id`; v3 added DTD columns
FORMATS = ("messages", "flat")
SPLITS = ("train", "validation")
MANIFEST = "shards-manifest.json"
QUARANTINE = "quarantine.jsonl"
SHARD_NAME_RE = re.compile(r"^(train|validation)-\d{5}-of-\d{5}\.parquet$")
QA_COLUMNS = [
    "record_id",
    "source_file",
    "source_line",
    "video_id",
    "source",
    "question",
    "answer",
    "messages",
    "frame_indices",
    "frame_paths",
    "start_time",
    "end_time",
]
KF_COLUMNS = [
    "video_id",
    "source",
    "status",
    "error",
    "frame_seconds",
    "drop_ratio",
    "keyframe_seconds",
    "trigger_seconds",
    "threshold",
    "grid_h",
    "grid_w",
]
KF_SCORE_COLUMNS = ["score_kind", "n_frames", "patch_scores"]  # read only with --dtd-scores


@dataclass
class ShardInfo:
    path: str  # relative to the output folder
    split: str
    rows: int
    bytes: int
    sha256: str
    row_groups: int = 0
    max_row_group_bytes: int = 0  # largest row group, uncompressed, as Parquet records it
    resumed: bool = False


@dataclass
class ShardsResult:
    out_dir: str
    format: str
    embed_frames: bool
    keyframes_only: bool
    records: int
    rows: dict
    quarantined: int
    reasons: dict
    dtd_scores: bool = False
    dtd: dict | None = None  # with dtd_scores: token frames per case (dtdcols.span_counts), kind, grid
    shards: list[ShardInfo] = field(default_factory=list)
    written: int = 0
    skipped: int = 0
    frames_outside_root: int = 0  # embedded frames read through a link leaving the frames root

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class VerifyResult:
    out_dir: str
    shards: int
    rows: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


# ---- schema --------------------------------------------------------------------------------


def shard_schema(fmt: str, embed_frames: bool, schema_id: str = SCHEMA_ID, dtd_scores: bool = False) -> pa.Schema:
    """The Arrow schema of a shard, with the `huggingface` metadata that tells `datasets`
    to decode `frames` as a sequence of images; the DTD columns with `dtd_scores`."""
    from datasets import Features, Image, List

    spec = schemas.load(schema_id)
    names = list(spec.extra["formats"][fmt]) + (list(spec.extra["dtd_columns"]) if dtd_scores else [])
    names += [spec.extra["embedded_column"]] if embed_frames else []
    base = pa.schema([spec.field(n).to_arrow() for n in names])
    features = Features.from_arrow_schema(base)
    if embed_frames:
        features["frames"] = List(Image())
    hf_meta = json.dumps({"info": {"features": features.to_dict()}}).encode()
    return base.with_metadata({b"huggingface": hf_meta, b"tc139k.schema": schema_id.encode()})


# ---- helpers -------------------------------------------------------------------------------


def quarantine_line(rec: dict, reason: str) -> dict:
    """A quarantined record in the format of every quarantine file of the toolkit (validate's
    too): the annotation file and line it came from and its reasons as {code, message},
    with the record's id, source and video."""
    code, _, message = reason.partition(": ")
    return {
        "file": rec["source_file"],
        "line": rec["source_line"],
        "record_id": rec["record_id"],
        "source": rec["source"],
        "video_id": rec["video_id"],
        "reasons": [{"code": code, "message": message}],
    }


def _existing_frames(frames_root: Path, videos: set[tuple[str, str]]) -> set[str]:
    """Relative paths of every frame file of the given videos: one directory scan per video
    instead of one stat per referenced frame. A video path that is a file holds no frames:
    its records are quarantined as missing_frames, as when the folder is absent."""
    found = set()
    for source, video_id in videos:
        d = frames_root / source / video_id
        try:
            with os.scandir(d) as it:
                found.update(f"{source}/{video_id}/{e.name}" for e in it if e.is_file())
        except (FileNotFoundError, NotADirectoryError):
            pass
    return found


@dataclass
class _VideoKF:
    status: str
    error: str | None
    pos: dict  # second -> position in the video's frame arrays
    drop_ratio: np.ndarray
    keyframes: np.ndarray
    triggers: np.ndarray
    kind: str | None = None  # with --dtd-scores: the score kind, grid and scores (n_frames, cells)
    grid: tuple[int, int] = (0, 0)
    scores: np.ndarray | None = None


@dataclass(frozen=True)
class _DtdRun:
    """What the DTD columns take from the key-frame run as a whole."""

    encoder: str | None  # None: the pixel method
    per_token: int  # frames per token frame (Scorer.frames_per_step)


def _load_keyframes(keyframes_dir: Path, dtd_scores: bool = False) -> tuple[dict, dict]:
    table = kfio.read_keyframes(keyframes_dir, columns=KF_COLUMNS + (KF_SCORE_COLUMNS if dtd_scores else []))
    videos = {}
    for row in table.to_pylist():
        kf = _VideoKF(
            status=row["status"],
            error=row["error"],
            pos={s: i for i, s in enumerate(row["frame_seconds"])},
            drop_ratio=np.asarray(row["drop_ratio"], dtype=np.float32),
            keyframes=np.asarray(row["keyframe_seconds"], dtype=np.float64),
            triggers=np.asarray(row["trigger_seconds"], dtype=np.float64),
        )
        if dtd_scores and row["status"] == "ok":
            kf.kind, kf.grid, kf.scores = (
                row["score_kind"],
                (row["grid_h"], row["grid_w"]),
                kfio.patch_scores_array(row),
            )
        videos[(row["source"], row["video_id"])] = kf
    prov = kfio.read_provenance(kfio.keyframe_files(keyframes_dir)[0])
    return videos, prov


def _dtd_run(prov: dict, keyframes_dir: Path) -> _DtdRun:
    """The encoder and the frames per token frame of the run that wrote `prov`."""
    from ..keyframes.scorer import scorer_class

    method = prov.get("method")
    if method is None:
        raise UsageError(f"{keyframes_dir}: the key-frame run records no method; rerun `tc139k keyframes build`")
    encoder = None if method == "pixel" else ((prov.get("model") or {}).get("encoder") or "open_clip")
    cls = scorer_class(method, encoder) if encoder else scorer_class(method)
    return _DtdRun(encoder=encoder, per_token=cls.frames_per_step)


def _row_bytes(row: dict) -> int:
    """In-memory size of a row without its images (for planning shards and row groups): the
    strings with their 4-byte offsets, 8 + 4 + 1 bytes of numbers and an offset per frame."""
    paths = sum(len(p) + 4 for p in row["frame_paths"])
    text = len(row["record_id"]) + len(row["video_id"]) + len(row["source"])
    text += len(row["question"]) + len(row["answer"]) + paths
    if "messages" in row:  # messages, and videos repeats the paths
        text += sum(len(m["content"] or "") + len(m["role"] or "") + 8 for m in row["messages"]) + paths
    if "dtd_levels" in row:  # the levels, a span per token frame, kind and encoder
        text += len(row["dtd_levels"]) + 4 * len(row["dtd_span"]) + 32
    return 96 + text + 17 * len(row["frame_seconds"]) + 8 * len(row["trigger_seconds"])


def _embedded_bytes(frames_root: Path, paths: list[str]) -> int:
    """What embedding the frames adds to a row: the JPEG bytes, the path again, offsets."""
    return sum((frames_root / p).stat().st_size + len(p) + 8 for p in paths)


def _record_row(
    rec: dict, kf: _VideoKF, fmt: str, keyframes_only: bool, dtd: _DtdRun | None = None
) -> tuple[dict | None, str | None]:
    seconds = [float(i) for i in rec["frame_indices"]]
    paths = list(rec["frame_paths"])
    missing = [s for s in seconds if s not in kf.pos]
    if missing:
        return None, f"unscored_frames: {len(missing)} clip frame(s) have no DTD score (first at {missing[0]:g} s)"
    drop = [float(kf.drop_ratio[kf.pos[s]]) for s in seconds]
    flags = keyframe_flags(seconds, kf.keyframes.tolist())
    if keyframes_only:
        keep = [i for i, f in enumerate(flags) if f or i == 0]
        seconds, paths, drop, flags = ([x[i] for i in keep] for x in (seconds, paths, drop, flags))
    clip_drop = float(np.sum(drop[1:]) / len(drop))
    t0, t1 = seconds[0], seconds[-1]
    triggers = kf.triggers[(kf.triggers >= t0) & (kf.triggers <= t1)]
    row = {
        "record_id": rec["record_id"],
        "video_id": rec["video_id"],
        "source": rec["source"],
        "question": rec["question"],
        "answer": rec["answer"],
        "start_time": rec["start_time"],
        "end_time": rec["end_time"],
        "frame_paths": paths,
        "frame_seconds": seconds,
        "is_keyframe": flags,
        "frame_drop_ratio": drop,
        "clip_drop_ratio": clip_drop,
        "trigger_seconds": triggers.tolist(),
    }
    if fmt == "messages":
        row["messages"] = rec["messages"]
        row["videos"] = [paths]
    if dtd is not None:
        levels, spans = clip_levels([kf.pos[s] for s in seconds], kf.scores, dtd.per_token, kf.kind)
        row.update(
            dtd_kind=kf.kind,
            dtd_encoder=dtd.encoder,
            dtd_grid_h=kf.grid[0],
            dtd_grid_w=kf.grid[1],
            dtd_frames_per_token=dtd.per_token,
            dtd_span=spans,
            dtd_levels=levels,
        )
    return row, None


def _read_frames(frames_root: Path, paths: list[str]) -> list[dict]:
    out = []
    for p in paths:
        with open(frames_root / p, "rb") as f:
            out.append({"bytes": f.read(), "path": p})
    return out


def leaf_columns(schema: pa.Schema) -> list[str]:
    """The Parquet column paths of an Arrow schema (lists add `.list.element`, structs their fields)."""

    def walk(name: str, t: pa.DataType) -> list[str]:
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return walk(f"{name}.list.element", t.value_type)
        if pa.types.is_struct(t):
            return [p for i in range(t.num_fields) for p in walk(f"{name}.{t.field(i).name}", t.field(i).type)]
        return [name]

    return [p for f in schema for p in walk(f.name, f.type)]


def _write_shard(
    rows: list[dict],
    schema: pa.Schema,
    path: Path,
    provenance: dict,
    embed_frames: bool,
    frames_root: Path,
    row_groups: list[int],
) -> None:
    """Write `rows` as one Parquet file whose row groups have the planned lengths; frames are
    read one row group at a time, so memory is bounded by a row group, not by the shard."""
    meta = dict(schema.metadata)
    meta[b"tc139k"] = json.dumps(provenance, sort_keys=True).encode()
    schema = schema.with_metadata(meta)
    # JPEG bytes do not compress: spend zstd only on the other columns (per leaf column:
    # Parquet names a nested column by its path, e.g. frame_paths.list.element)
    compression = {c: "none" if embed_frames and c.startswith("frames.") else "zstd" for c in leaf_columns(schema)}
    with atomic_path(path) as tmp:
        with pq.ParquetWriter(tmp, schema, compression=compression, write_statistics=False) as writer:
            start = 0
            for n in row_groups:
                part = rows[start : start + n]
                start += n
                if embed_frames:
                    part = [{**r, "frames": _read_frames(frames_root, r["frame_paths"])} for r in part]
                writer.write_table(pa.Table.from_pylist(part, schema=schema), row_group_size=n)


# ---- build ---------------------------------------------------------------------------------


def run_shards_build(
    qa: str | Path,
    keyframes_dir: str | Path,
    frames_root: str | Path,
    out_dir: str | Path,
    embed_frames: bool = False,
    keyframes_only: bool = False,
    max_shard_size: int = DEFAULT_MAX_SHARD_SIZE,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    fmt: str = "messages",
    recipe_hash: str | None = None,
    show_progress: bool = True,
    min_shards: int = DEFAULT_MIN_SHARDS,
    row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES,
    row_group_rows: int | None = None,
    dtd_scores: bool = False,
) -> ShardsResult:
    """Build the shards (see the module docstring). `row_group_rows` defaults to
    DEFAULT_ROW_GROUP_ROWS_EMBEDDED with `embed_frames`, else DEFAULT_ROW_GROUP_ROWS."""
    qa, keyframes_dir, frames_root, out_dir = map(Path, (qa, keyframes_dir, frames_root, out_dir))
    if row_group_rows is None:
        row_group_rows = DEFAULT_ROW_GROUP_ROWS_EMBEDDED if embed_frames else DEFAULT_ROW_GROUP_ROWS
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise UsageError(f"--val-fraction must be in [0, 1), not {val_fraction}")
    if max_shard_size <= 0:
        raise UsageError("--max-shard-size must be positive")
    for name, value in (("--min-shards", min_shards), ("--row-group-size", row_group_bytes)):
        if value < 1:
            raise UsageError(f"{name} must be at least 1, not {value}")
    if row_group_rows < 1:
        raise UsageError(f"--row-group-rows must be at least 1, not {row_group_rows}")
    records = read_valid_table(qa, QA_COLUMNS)
    if not frames_root.is_dir():
        raise UsageError(f"frames root {frames_root} is not a folder")
    check_frames_root(frames_root)
    check_outside(out_dir, frames_root)
    with output_lock(out_dir, "tc139k shards build"):
        kf_videos, kf_prov = _load_keyframes(keyframes_dir, dtd_scores)
        dtd = _dtd_run(kf_prov, keyframes_dir) if dtd_scores else None
        existing = _existing_frames(frames_root, {(r["source"], r["video_id"]) for r in records})

        rows: dict[str, list[dict]] = {s: [] for s in SPLITS}
        row_bytes: dict[str, list[int]] = {s: [] for s in SPLITS}
        quarantine, reasons = [], Counter()
        checker = FrameChecker(frames_root)
        outside = OutsideRoot(frames_root) if embed_frames else None
        for rec in records:
            kf = kf_videos.get((rec["source"], rec["video_id"]))
            if kf is None:
                reason = f"no_keyframes: video {rec['source']}/{rec['video_id']} has no key-frame output"
            elif kf.status != "ok":
                reason = f"keyframes_failed: video {rec['source']}/{rec['video_id']}: {kf.error}"
            else:
                absent = [p for p in rec["frame_paths"] if p not in existing]
                reason = (
                    (
                        f"missing_frames: {len(absent)} of {len(rec['frame_paths'])} frame(s) missing "
                        f"under {frames_root} (first: {absent[0]})"
                    )
                    if absent
                    else None
                )
            row = None
            if reason is None:
                row, reason = _record_row(rec, kf, fmt, keyframes_only, dtd)
            if reason is None and embed_frames:  # a frame PIL cannot open would break load_dataset
                reason = checker.record_problem(row["frame_paths"])
            if reason is not None:
                reasons[reason.split(":", 1)[0]] += 1
                quarantine.append(quarantine_line(rec, reason))
                continue
            if outside is not None:
                outside.add(row["frame_paths"])
            split = video_split(rec["source"], rec["video_id"], val_fraction)
            rows[split].append(row)
            size = _row_bytes(row)
            if embed_frames:
                size += _embedded_bytes(frames_root, row["frame_paths"])
            row_bytes[split].append(size)

        if not any(rows.values()):  # nothing to train on: say why rather than write empty shards
            write_text(out_dir / QUARANTINE, "".join(json.dumps(q, sort_keys=True) + "\n" for q in quarantine))
            raise EmptyResultError(
                f"0 of {len(records)} record(s) made a row ("
                + (", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or f"{qa} holds no records")
                + f"); no shards written, see {out_dir / QUARANTINE}"
            )
        input_hashes = {
            "qa": sha256_file(qa),
            "keyframes": {f.name: sha256_file(f) for f in kfio.keyframe_files(keyframes_dir)},
        }
        provenance = {
            "tool": "tc139k",
            "tool_version": __version__,
            "recipe_hash": recipe_hash,
            "format": fmt,
            "embed_frames": embed_frames,
            "keyframes_only": keyframes_only,
            "dtd_scores": dtd_scores,
            "val_fraction": val_fraction,
            "row_group_bytes": row_group_bytes,
            "row_group_rows": row_group_rows,
            "inputs": input_hashes,
            "keyframes_provenance": kf_prov,
        }
        schema = shard_schema(fmt, embed_frames, dtd_scores=dtd_scores)
        data_dir = out_dir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(data_dir)
        markers = Markers(out_dir)

        plan = []
        for split in SPLITS:
            ranges = plan_shards(row_bytes[split], max_shard_size, min_shards)
            for i, (a, b) in enumerate(ranges):
                plan.append((f"data/{split}-{i:05d}-of-{len(ranges):05d}.parquet", split, a, b))
        planned = {p[0] for p in plan}
        for old in data_dir.iterdir():  # shards of an earlier plan would be picked up by the globs
            if SHARD_NAME_RE.match(old.name) and f"data/{old.name}" not in planned:
                old.unlink()

        result = ShardsResult(
            out_dir=str(out_dir),
            format=fmt,
            embed_frames=embed_frames,
            keyframes_only=keyframes_only,
            records=len(records),
            rows={s: len(rows[s]) for s in SPLITS},
            quarantined=len(quarantine),
            reasons=dict(sorted(reasons.items())),
            frames_outside_root=outside.count if outside is not None else 0,
        )
        result.dtd_scores = dtd_scores
        if dtd is not None:
            kept = [r for s in SPLITS for r in rows[s]]
            result.dtd = {
                "kinds": sorted({r["dtd_kind"] for r in kept}),
                "encoder": dtd.encoder,
                "grids": [list(g) for g in sorted({(r["dtd_grid_h"], r["dtd_grid_w"]) for r in kept})],
                "frames_per_token": dtd.per_token,
                **span_counts(r["dtd_span"] for r in kept),
            }
        bar = progress(total=len(plan), desc="shards", unit="shard", enabled=show_progress)
        for rel, split, a, b in plan:
            part = rows[split][a:b]
            params = {
                "provenance": provenance,
                "ids": hashlib.sha256("\n".join(r["record_id"] for r in part).encode()).hexdigest(),
            }
            key = rel.replace("/", "_")
            target = out_dir / rel
            done = markers.get(key)
            resumed = (
                done is not None
                and done.get("params") == params
                and target.exists()
                and sha256_file(target) == done.get("sha256")
            )
            if resumed:
                digest = done["sha256"]
                result.skipped += 1
            else:
                groups = plan_row_groups(row_bytes[split][a:b], row_group_bytes, row_group_rows)
                _write_shard(part, schema, target, provenance, embed_frames, frames_root, groups)
                digest = sha256_file(target)
                markers.mark(key, params, sha256=digest)
                result.written += 1
            meta = pq.read_metadata(target)
            result.shards.append(
                ShardInfo(
                    path=rel,
                    split=split,
                    rows=len(part),
                    bytes=target.stat().st_size,
                    sha256=digest,
                    row_groups=meta.num_row_groups,
                    max_row_group_bytes=max(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)),
                    resumed=resumed,
                )
            )
            bar.update(1)
        bar.close()

        write_text(out_dir / QUARANTINE, "".join(json.dumps(q, sort_keys=True) + "\n" for q in quarantine))
        write_json(
            out_dir / MANIFEST,
            {
                "schema": SCHEMA_ID,
                "format": fmt,
                "embed_frames": embed_frames,
                "dtd_scores": dtd_scores,
                "dtd": result.dtd,
                "provenance": provenance,
                "shards": [{k: v for k, v in asdict(s).items() if k != "resumed"} for s in result.shards],
                "rows": result.rows,
                "quarantined": result.quarantined,
                "reasons": result.reasons,
                "frames_outside_root": outside.record() if outside is not None else None,
            },
        )
        write_text(
            out_dir / "README.md",
            render_card(
                rows=result.rows,
                shards=result.shards,
                schema=schema,
                fmt=fmt,
                embed_frames=embed_frames,
                keyframes_only=keyframes_only,
                provenance=provenance,
                n_videos={s: len({(r["source"], r["video_id"]) for r in rows[s]}) for s in SPLITS},
                quarantined=result.quarantined,
                dtd=result.dtd,
                dtd_bytes=_dtd_bytes(out_dir, result.shards) if dtd_scores else 0,
            ),
        )
        return result


def _dtd_bytes(out_dir: Path, shards: list[ShardInfo]) -> int:
    """Bytes the DTD columns take in the shards, compressed, as Parquet's metadata records them."""
    total = 0
    for s in shards:
        md = pq.read_metadata(out_dir / s.path)
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            cols = (rg.column(c) for c in range(rg.num_columns))
            total += sum(c.total_compressed_size for c in cols if c.path_in_schema.startswith("dtd_"))
    return total


# ---- verify --------------------------------------------------------------------------------


def verify_shards(out_dir: str | Path) -> VerifyResult:
    """Reopen every shard listed in the manifest; check hash, row count and schema, and that
    no unlisted shard sits in data/."""
    out_dir = Path(out_dir)
    manifest_path = out_dir / MANIFEST
    if not manifest_path.is_file():
        raise UsageError(f"{manifest_path} not found; is {out_dir} a `tc139k shards build` output?")
    manifest = json.loads(manifest_path.read_text())
    schema_id = manifest.get("schema", SCHEMA_ID)
    if schema_id not in READABLE_SCHEMAS:
        raise UsageError(
            f"{manifest_path} names schema {schema_id!r}; this tc139k reads {', '.join(READABLE_SCHEMAS)}: "
            "update tc139k or rebuild the shards"
        )
    dtd_scores = manifest.get("dtd_scores", False)  # before v3: never
    expected = shard_schema(manifest["format"], manifest["embed_frames"], schema_id, dtd_scores=dtd_scores)
    problems, rows = [], 0
    listed = set()
    for s in manifest["shards"]:
        path = out_dir / s["path"]
        listed.add(path.name)
        if not path.is_file():
            problems.append(f"{s['path']}: missing")
            continue
        if sha256_file(path) != s["sha256"]:
            problems.append(f"{s['path']}: sha256 differs from the manifest")
        try:
            pf = pq.ParquetFile(path)
        except (OSError, pa.ArrowInvalid) as e:
            problems.append(f"{s['path']}: unreadable Parquet ({e})")
            continue
        if pf.metadata.num_rows != s["rows"]:
            problems.append(f"{s['path']}: {pf.metadata.num_rows} rows, manifest says {s['rows']}")
        if not pf.schema_arrow.remove_metadata().equals(expected.remove_metadata()):
            problems.append(f"{s['path']}: schema differs from {schema_id}")
        elif manifest["embed_frames"]:  # a frame PIL cannot open breaks load_dataset on that row
            problems.extend(embedded_problems(pf, s["path"]))
        rows += pf.metadata.num_rows
    data_dir = out_dir / "data"
    if data_dir.is_dir():
        for p in sorted(data_dir.iterdir()):
            if SHARD_NAME_RE.match(p.name) and p.name not in listed:
                problems.append(f"data/{p.name}: not in the manifest")
    if not manifest["shards"]:
        problems.append(f"{manifest_path} lists no shard: the build made nothing to train on")
    return VerifyResult(out_dir=str(out_dir), shards=len(manifest["shards"]), rows=rows, problems=problems)
