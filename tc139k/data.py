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

    def __init__(self, frames_root: str | Path | None = None, size: tuple[int, int] | None = None):
        self.frames_root = str(frames_root) if frames_root is not None else None
        self.size = tuple(size) if size is not None else None

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
        return {
            "frames": frames,
            "mask": mask,
            "lengths": mask.sum(dim=1),
            "frame_seconds": seconds,
            "is_keyframe": keyframe,
            "messages": [conversation(r) for r in rows],
            "record_ids": [record_id(r) for r in rows],
        }


def collate_clips(rows: list[dict]) -> dict:
    """`ClipCollator()` as a function: embedded frames, no resizing."""
    return ClipCollator()(rows)
