"""Plots of redundancy statistics, as PNG, SVG or PDF (matplotlib, Agg backend, no display).

Figures are built on `matplotlib.figure.Figure` objects, not pyplot, so nothing global is
touched; files are written atomically and carry no timestamp, creator or random id, so the
same statistics give the same bytes in every format.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..atomic import atomic_path  # noqa: E402
from ..paths import is_safe_name  # noqa: E402

if TYPE_CHECKING:
    from .redundancy import RedundancyStats

DPI = 100
# keep the date, the matplotlib version and random ids out of the bytes
_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def _figure(width: float, height: float = 4.5) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Figure, path: Path) -> Path:
    fmt = path.suffix.lstrip(".")
    with atomic_path(path) as tmp, matplotlib.rc_context({"svg.hashsalt": "tc139k"}):
        fig.savefig(tmp, format=fmt, dpi=DPI, metadata=_METADATA[fmt])
    return path


def plot_threshold_sweep(stats: RedundancyStats, path: Path) -> Path:
    fig = _figure(7)
    ax = fig.add_subplot()
    t = np.array(stats.thresholds)
    series = [(stats.drop_ratio, f"{stats.unit} dropped", "o-")]
    if not stats.one_grid:  # with one patch grid the mean over frames is the same curve
        series.append((stats.drop_ratio_frame_mean, "mean over frames", "s--"))
    for values, label, style in series:
        y = np.array([np.nan if v is None else v * 100 for v in values])
        ax.plot(t, y, style, label=f"this folder: {label}", markersize=4)
    if stats.score_kind == "pixel_mad" and len(t) and t.min() > 0:
        ax.set_xscale("log")  # the default pixel sweep is spaced geometrically
        ax.set_xticks(t, [f"{v:g}" for v in t], fontsize=7)
    if stats.reference:  # the authors' curve, labelled comparable or "different tokens"
        at, ar = stats.reference["thresholds"], stats.reference["drop_ratio"]
        ax.plot(at, np.array(ar) * 100, "x:", color="black", markersize=7, label=stats.reference["label"])
        for x, y in zip(at, ar):
            ax.annotate(
                f"{y * 100:.0f}%", (x, y * 100), textcoords="offset points", xytext=(5, 4), fontsize=7, color="black"
            )
    if stats.headline_ratio is not None:
        ax.axvline(stats.threshold, color="grey", linewidth=0.8)
        ax.plot([stats.threshold], [stats.headline_ratio * 100], "D", color="tab:red", markersize=6)
        ax.annotate(
            f"{stats.headline_ratio * 100:.1f}% at {stats.threshold:g}",
            (stats.threshold, stats.headline_ratio * 100),
            textcoords="offset points",
            xytext=(6, -12),
            fontsize=8,
        )
    rule = "cosine > tau is dropped" if stats.score_kind == "cosine" else "pixel difference < tau is dropped"
    ax.set_xlabel(f"DTD threshold tau ({rule})")
    ax.set_ylabel(f"{stats.unit} dropped (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Drop ratio against threshold ({stats.overall.videos} videos)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_frame_histogram(stats: RedundancyStats, path: Path) -> Path:
    fig = _figure(7)
    ax = fig.add_subplot()
    edges = np.linspace(0, 100, len(stats.frame_drop_ratio_histogram) + 1)
    ax.bar(
        edges[:-1],
        stats.frame_drop_ratio_histogram,
        width=np.diff(edges),
        align="edge",
        edgecolor="white",
        color="tab:blue",
    )
    if stats.frame_drop_ratio.mean is not None:
        ax.axvline(
            stats.frame_drop_ratio.mean * 100,
            color="tab:red",
            linestyle="--",
            label=f"mean {stats.frame_drop_ratio.mean * 100:.1f}%",
        )
        ax.legend(fontsize=8)
    ax.set_xlabel(f"per-frame drop ratio at threshold {stats.threshold:g} (%)")
    ax.set_ylabel("frames")
    ax.set_xlim(0, 100)
    ax.set_title(f"Per-frame drop ratios ({stats.frame_drop_ratio.count} frames)")
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def plot_groups(stats: RedundancyStats, path: Path) -> Path:
    groups = stats.by_source if stats.by == "source" else stats.by_length
    keys = sorted(groups) if stats.by == "source" else list(groups)
    values = [groups[k].drop_ratio_at_threshold for k in keys]
    fig = _figure(max(6.0, 0.9 * len(keys) + 2))
    ax = fig.add_subplot()
    x = np.arange(len(keys))
    heights = [0 if v is None else v * 100 for v in values]
    bars = ax.bar(x, heights, color="tab:green")
    for b, k, v in zip(bars, keys, values):
        text = "no videos" if v is None else f"{v * 100:.1f}%\n{groups[k].videos} videos"
        ax.annotate(
            text,
            (b.get_x() + b.get_width() / 2, b.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
            textcoords="offset points",
            xytext=(0, 2),
        )
    ax.set_xticks(x, keys, rotation=30 if len(keys) > 6 else 0, ha="right" if len(keys) > 6 else "center")
    ax.set_ylim(0, 110)
    ax.set_ylabel(f"{stats.unit} dropped at {stats.threshold:g} (%)")
    ax.set_xlabel("source dataset" if stats.by == "source" else "video length")
    ax.set_title(f"Drop ratio by {stats.by}")
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def plot_timeline(stats: RedundancyStats, path: Path) -> Path:
    tl = stats.timeline
    fig = _figure(11)
    ax = fig.add_subplot()
    ax.plot(
        tl.frame_seconds, tl.drop_ratio * 100, color="tab:blue", linewidth=1, label=f"drop ratio at {tl.threshold:g}"
    )
    for i, s in enumerate(tl.scene_cut_seconds):
        ax.axvline(s, color="tab:orange", linestyle="--", linewidth=0.9, label="scene cut" if i == 0 else None)
    if len(tl.keyframe_seconds):
        ax.plot(
            tl.keyframe_seconds,
            np.full(len(tl.keyframe_seconds), 103),
            "v",
            color="tab:green",
            markersize=5,
            label="key frame",
        )
    if len(tl.trigger_seconds):
        at = (
            np.interp(tl.trigger_seconds, tl.frame_seconds, tl.drop_ratio * 100)
            if len(tl.frame_seconds)
            else np.zeros(len(tl.trigger_seconds))
        )
        ax.plot(tl.trigger_seconds, at, "o", color="tab:red", markersize=4, label="trigger time")
    ax.set_ylim(-2, 108)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"{stats.unit} dropped (%)")
    ax.set_title(f"{tl.source}/{tl.video_id}: per-frame drop ratio")
    ax.grid(alpha=0.3)
    fig.legend(fontsize=8, loc="outside lower center", ncols=4, frameon=False)
    return _save(fig, path)


def write_redundancy_plots(stats: RedundancyStats, out_dir: str | Path, fmt: str = "png") -> list[Path]:
    """Write the four plots into `out_dir` as `fmt` (png, svg, pdf); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        plot_threshold_sweep(stats, out / f"drop_ratio_vs_threshold.{fmt}"),
        plot_frame_histogram(stats, out / f"frame_drop_ratio_histogram.{fmt}"),
        plot_groups(stats, out / f"drop_ratio_by_{stats.by}.{fmt}"),
    ]
    if stats.timeline is not None:
        # video ids come from the key-frame files: only a safe name becomes part of a file name
        name = stats.timeline.video_id if is_safe_name(stats.timeline.video_id) else "video"
        paths.append(plot_timeline(stats, out / f"timeline_{name}.{fmt}"))
    return paths
