"""Training-side helpers over the shards: decode a row's frames and batch clips of different
lengths for a PyTorch `DataLoader`.

- `decode_frames(row, frames_root=None, size=None)`: the row's clip frames as RGB
  `PIL.Image`s, from shards with embedded frames (the `frames` column, decoded by `datasets`
  or raw `{"bytes", "path"}`) or from path-based shards (`frame_paths` joined onto
  `frames_root`, the download's frames/ folder). `size=(height, width)` resizes.
- `ClipCollator(frames_root=None, size=None)`: a picklable `collate_fn` (DataLoader workers
  get a copy) turning a list of rows into one batch:

      frames         uint8 tensor (B, T, 3, H, W), T = the longest clip of the batch,
                     zero after each clip's end
      mask           bool tensor (B, T), True on real frames
      lengths        int64 tensor (B,), frames per clip
      frame_seconds  float64 tensor (B, T), each frame's time in the video (0 in the padding)
      is_keyframe    bool tensor (B, T) (False in the padding)
      messages       list of B conversations ([{role, content}, ...]; built from
                     question/answer for `flat` shards, with the `<video>` tag)
      record_ids     list of B record ids (`record_id`; shards of schema shard.v1 called it `id`)

DTD keep masks, `ClipCollator(dtd_tau=..., dtd_mode="absolute", token_grid=None)`, from
shards built with `--dtd-scores` (the vision tower is not run): which visual tokens
TimeChat-Online's Differential Token Drop keeps at tau. A token frame is one clip frame, or
for qwen2.5-vl scores one temporal patch of two (`dtd_frames_per_token`); P below is the
batch's most token frames:

      token_keep        bool tensor (B, P, rows, cols): the first token frame of a clip keeps
                        every token; token frame j keeps a token whose level against token
                        frame j - 1 says it changed at tau (absolute mode: cosine <= tau, or
                        pixel difference >= tau, the direction `stats redundancy` uses;
                        relative mode: all but the int(N * tau) most similar tokens, ties
                        broken by token index); padding keeps none
      tokens_kept       int64 tensor (B, P): kept tokens per token frame
      token_frames      int64 tensor (B,): token frames per clip
      token_keep_exact  bool tensor (B, P): the mask is DTD's own decision on the clip (the
                        first token frame, or one that directly follows the previous one in
                        the key-frame run, on the scores' own grid); elsewhere it is
                        conservative: across skipped seconds the gap bound keeps every token
                        the model would keep and maybe more, a qwen2.5-vl pair that is not one
                        of the run's pairs keeps all, and a resampled grid keeps more
      dtd               dict: kind, encoder, tau, mode, grid, token_grid, frames_per_token,
                        resampled

`token_grid=(rows, cols)`: the masks on the trainer's token grid when the scores' grid
differs (pixel or open_clip scores for a Qwen trainer): a token is kept when any score cell
its region overlaps (the frame split evenly both ways) is kept, so no kept cell's content is
lost; the batch marks such masks not exact (`dtd["resampled"]`).

Frames of one batch must share a size unless `size` is given; a mismatch is an error that
says so. torch and PIL are imported on first use, so `import tc139k.data` stays light.
"""

from __future__ import annotations

import io
from pathlib import Path

from .errors import SchemaError, UsageError
from .paths import FramePathError, parse_frame_path


def record_id(row: dict) -> str:
    """The row's record id, whichever schema version wrote the shard."""
    if "record_id" in row:
        return row["record_id"]
    if "id" in row:  # shard.v1
        return row["id"]
    raise SchemaError(f"row has no record_id (nor id) column; columns: {', '.join(sorted(row))}")


def _open(source, what: str):
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(source)
        img.load()
    except (OSError, UnidentifiedImageError) as e:
        raise SchemaError(f"frame {what} cannot be decoded ({e})") from None
    return img


def _frame_file(frames_root: Path | None, rel: str) -> Path:
    if frames_root is None:
        raise UsageError(
            "these shards reference frames by path (built without --embed-frames): give frames_root, "
            "the download's frames/ folder"
        )
    try:  # a shard from elsewhere must not reach outside the frames root
        ok = parse_frame_path(rel).relpath == rel
    except FramePathError:
        ok = False
    if not ok:
        raise SchemaError(f"frame path {rel!r} is not <source>/<video_id>/<NNNNNN>.jpg")
    path = Path(frames_root) / rel
    if not path.is_file():
        raise UsageError(f"frame {rel} not found under {frames_root}; is frames_root the download's frames/ folder?")
    return path


def decode_frames(row: dict, frames_root: str | Path | None = None, size: tuple[int, int] | None = None) -> list:
    """The row's clip frames as RGB PIL images (see the module docstring)."""
    frames_root = Path(frames_root) if frames_root is not None else None
    out = []
    embedded = row.get("frames")
    if embedded is not None:
        for i, f in enumerate(embedded):
            if isinstance(f, dict):  # not decoded by datasets: {"bytes", "path"}
                if f.get("bytes") is not None:
                    img = _open(io.BytesIO(f["bytes"]), f"{f.get('path') or i} of record {record_id(row)}")
                else:
                    img = _open(_frame_file(frames_root, f["path"]), f["path"])
            else:
                img = f
            out.append(img)
    else:
        if "frame_paths" not in row:
            raise SchemaError("row has neither frames nor frame_paths; is it a row of `tc139k shards build` output?")
        out = [_open(_frame_file(frames_root, p), p) for p in row["frame_paths"]]
    out = [img if img.mode == "RGB" else img.convert("RGB") for img in out]
    if size is not None:
        from PIL import Image

        h, w = size
        out = [img if img.size == (w, h) else img.resize((w, h), Image.BILINEAR) for img in out]
    return out


def conversation(row: dict) -> list[dict]:
    """The row's messages; for `flat` shards, the question and answer as one exchange."""
    if row.get("messages") is not None:
        return [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
    return [
        {"role": "user", "content": "<video>\n" + row["question"]},
        {"role": "assistant", "content": row["answer"]},
    ]


class ClipCollator:
    """`collate_fn` for rows of the shards: frames padded to the batch's longest clip, with
    a mask, lengths, frame seconds, key-frame flags, messages and record ids."""

    def __init__(
        self,
        frames_root: str | Path | None = None,
        size: tuple[int, int] | None = None,
        dtd_tau: float | None = None,
        dtd_mode: str = "absolute",
        token_grid: tuple[int, int] | None = None,
    ):
        from .dtdlevels import MODES

        self.frames_root = str(frames_root) if frames_root is not None else None
        self.size = tuple(size) if size is not None else None
        if dtd_mode not in MODES:
            raise UsageError(f"dtd_mode must be one of {', '.join(MODES)}, not {dtd_mode!r}")
        if dtd_tau is not None and (isinstance(dtd_tau, bool) or not isinstance(dtd_tau, (int, float))):
            raise UsageError(f"dtd_tau must be a number, not {dtd_tau!r}")
        if token_grid is not None and (
            len(token_grid) != 2 or not all(isinstance(v, int) and v > 0 for v in token_grid)
        ):
            raise UsageError(f"token_grid must be (rows, cols), two positive integers, not {token_grid!r}")
        if token_grid is not None and dtd_tau is None:
            raise UsageError("token_grid resamples the DTD masks: give dtd_tau too")
        self.dtd_tau = None if dtd_tau is None else float(dtd_tau)
        self.dtd_mode = dtd_mode
        self.token_grid = tuple(token_grid) if token_grid is not None else None

    def __call__(self, rows: list[dict]) -> dict:
        import numpy as np
        import torch

        if not rows:
            raise UsageError("an empty batch cannot be collated")
        clips = []
        for row in rows:
            images = decode_frames(row, self.frames_root, self.size)
            if not images:
                raise SchemaError(f"record {record_id(row)} has no frames")
            for col in ("frame_seconds", "is_keyframe"):
                if row.get(col) is not None and len(row[col]) != len(images):
                    raise SchemaError(
                        f"record {record_id(row)}: {len(images)} frame(s) but {len(row[col])} {col} value(s)"
                    )
            clips.append(np.stack([np.asarray(img, dtype=np.uint8) for img in images]))
        shapes = {c.shape[1:] for c in clips}
        if len(shapes) > 1:
            sizes = sorted(f"{w}x{h}" for h, w, _ in shapes)
            raise UsageError(
                f"frames of different sizes in one batch ({', '.join(sizes)}): give ClipCollator(size=(H, W))"
            )
        b, t = len(clips), max(len(c) for c in clips)
        h, w, ch = clips[0].shape[1:]
        frames = torch.zeros((b, t, ch, h, w), dtype=torch.uint8)
        mask = torch.zeros((b, t), dtype=torch.bool)
        seconds = torch.zeros((b, t), dtype=torch.float64)
        keyframe = torch.zeros((b, t), dtype=torch.bool)
        for i, (row, clip) in enumerate(zip(rows, clips)):
            n = len(clip)
            frames[i, :n] = torch.from_numpy(clip).permute(0, 3, 1, 2)
            mask[i, :n] = True
            if row.get("frame_seconds") is not None:
                seconds[i, :n] = torch.tensor(row["frame_seconds"], dtype=torch.float64)
            if row.get("is_keyframe") is not None:
                keyframe[i, :n] = torch.tensor(row["is_keyframe"], dtype=torch.bool)
        batch = {
            "frames": frames,
            "mask": mask,
            "lengths": mask.sum(dim=1),
            "frame_seconds": seconds,
            "is_keyframe": keyframe,
            "messages": [conversation(r) for r in rows],
            "record_ids": [record_id(r) for r in rows],
        }
        if self.dtd_tau is not None:
            batch.update(self._dtd_masks(rows, [len(c) for c in clips]))
        return batch

    def _dtd_masks(self, rows: list[dict], n_frames: list[int]) -> dict:
        """token_keep, tokens_kept, token_frames, token_keep_exact and dtd (module docstring)."""
        import numpy as np
        import torch

        from . import dtdlevels

        clips = [_dtd_clip(row, n) for row, n in zip(rows, n_frames)]
        scorers = {(c["kind"], c["encoder"], c["per_token"]) for c in clips}
        if len(scorers) > 1:
            raise UsageError(
                "rows with DTD levels of different scorers in one batch ("
                + ", ".join(f"{k} of {e or 'pixels'}" for k, e, _ in sorted(scorers, key=str))
                + "): build the shards from one key-frame run"
            )
        kind, encoder, per_token = scorers.pop()
        tau = dtdlevels.check_tau(kind, self.dtd_tau, self.dtd_mode)
        grids = {c["grid"] for c in clips}
        if len(grids) > 1 and self.token_grid is None:
            raise UsageError(
                f"rows with DTD grids {', '.join(f'{h}x{w}' for h, w in sorted(grids))} in one batch: "
                "give ClipCollator(token_grid=(rows, cols))"
            )
        out_grid = self.token_grid or next(iter(grids))
        dropped = dtdlevels.dropped_levels(kind, tau)
        b, p = len(clips), max(len(c["span"]) for c in clips)
        keep = np.zeros((b, p, *out_grid), dtype=bool)
        exact = np.zeros((b, p), dtype=bool)
        resampled = False
        for i, c in enumerate(clips):
            levels, span = c["levels"], c["span"]
            compared = span > 0  # span 0 (first) and -1 (no stored comparison) keep every token
            if self.dtd_mode == "absolute":
                drop = dropped[levels]
            else:
                drop = dtdlevels.relative_dropped(levels, kind, tau)
            kept = ~(drop & compared[:, None])
            (h, w), n = c["grid"], len(span)
            kept = kept.reshape(n, h, w)
            if (h, w) != out_grid:
                resampled = True
                rows_cover = dtdlevels.cell_cover(h, out_grid[0]).astype(np.int64)
                cols_cover = dtdlevels.cell_cover(w, out_grid[1]).astype(np.int64)
                kept = np.einsum("rh,phw,cw->prc", rows_cover, kept.astype(np.int64), cols_cover) > 0
            else:
                exact[i, :n] = (span == 0) | (span == 1)
            keep[i, :n] = kept
        token_keep = torch.from_numpy(keep)
        return {
            "token_keep": token_keep,
            "tokens_kept": token_keep.flatten(2).sum(dim=2),
            "token_frames": torch.tensor([len(c["span"]) for c in clips], dtype=torch.int64),
            "token_keep_exact": torch.from_numpy(exact),
            "dtd": {
                "kind": kind,
                "encoder": encoder,
                "tau": tau,
                "mode": self.dtd_mode,
                "grid": sorted(grids)[0] if len(grids) == 1 else None,
                "token_grid": out_grid,
                "frames_per_token": per_token,
                "resampled": resampled,
            },
        }


def _dtd_clip(row: dict, n_frames: int) -> dict:
    """One row's DTD columns, checked: levels (token frames, cells) and spans as arrays."""
    import numpy as np

    if row.get("dtd_levels") is None:
        raise UsageError(
            f"record {record_id(row)} has no DTD levels: these shards were built without --dtd-scores; "
            "rebuild them with `tc139k shards build --dtd-scores` to use dtd_tau"
        )
    grid = (int(row["dtd_grid_h"]), int(row["dtd_grid_w"]))
    per_token = int(row["dtd_frames_per_token"])
    span = np.asarray(row["dtd_span"], dtype=np.int64)
    levels = np.frombuffer(row["dtd_levels"], dtype=np.uint8)
    if levels.size != len(span) * grid[0] * grid[1] or len(span) != -(-n_frames // per_token):
        raise SchemaError(
            f"record {record_id(row)}: {levels.size} DTD level byte(s) and {len(span)} span(s) do not fit "
            f"{n_frames} frame(s) of {per_token} per token frame on a {grid[0]}x{grid[1]} grid"
        )
    return {
        "kind": row["dtd_kind"],
        "encoder": row.get("dtd_encoder"),
        "per_token": per_token,
        "grid": grid,
        "span": span,
        "levels": levels.reshape(len(span), -1),
    }


def collate_clips(rows: list[dict]) -> dict:
    """`ClipCollator()` as a function: embedded frames, no resizing."""
    return ClipCollator()(rows)
