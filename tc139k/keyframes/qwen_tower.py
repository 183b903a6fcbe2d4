"""Qwen2.5-VL's merged visual tokens: the checkpoint's vision tower, run with transformers.

`QwenTower` is a callable: uint8 RGB frames (T, H, W, 3) -> merged tokens
(ceil(T / 2), grid_h * grid_w, D) on the tower's device, one row per temporal patch (DTD
frame), tokens in row-major grid order, grid = (H' / 28, W' / 28) for the frame size
(H', W') of Qwen's resize rule (qwen_frames.smart_resize) or the size the caller gives (the
key-frame stage decodes frames at its working size and passes it). Frames already at that
size are used as they are; others are resized on the device (bicubic, antialiased, whole
frame, as Qwen's processor does).

The tower is transformers' `Qwen2_5_VisionTransformerPretrainedModel` built from the
checkpoint's `vision_config`, with only the vision weights read (qwen_checkpoint.py); the
tokens are its `pooler_output`, the output of the 2 x 2 patch merger, the tokens the
VideoLLM sees. The tower attends within each temporal patch only, so a DTD frame's tokens
do not depend on the other frames of the call. On CUDA it runs in bfloat16 (float16 where
bfloat16 is not supported), on the CPU in float32.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..errors import ModelNotFoundError, UsageError
from . import qwen_frames
from .encoder import pick_device
from .qwen_checkpoint import QwenSource, iter_vision_bytes

INSTALL_HINT = "--encoder qwen2.5-vl needs transformers: pip install 'tc139k[qwen]'"
_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


def import_transformers():
    """transformers' Qwen2.5-VL vision classes; a usage error naming the extra when missing."""
    try:
        from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig
        from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return Qwen2_5_VLVisionConfig, Qwen2_5_VisionTransformerPretrainedModel


def cuda_dtype_name() -> str:
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


class QwenTower:
    def __init__(self, source: QwenSource, device: str = "auto", min_pixels: int = 0, max_pixels: int = 0):
        import torch

        config_cls, model_cls = import_transformers()
        from transformers.initialization import no_init_weights

        self.source = source
        self.device = torch.device(pick_device(device))
        self.precision = cuda_dtype_name() if self.device.type == "cuda" else "fp32"
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.precision]
        self.min_pixels = min_pixels or qwen_frames.MIN_PIXELS
        self.max_pixels = max_pixels or qwen_frames.MAX_PIXELS
        try:
            config = config_cls(**source.vision_config)
            config._attn_implementation = "sdpa"
            with no_init_weights():  # every weight is loaded right after
                model = model_cls(config)
            model.load_state_dict(self._read_state(), strict=True)
        except ModelNotFoundError:
            raise
        except Exception as e:
            raise ModelNotFoundError(
                f"cannot build the Qwen2.5-VL vision tower of {source.pretrained}: {type(e).__name__}: {e}"
            ) from None
        self.visual = model.to(self.device, dtype=self.dtype).eval().requires_grad_(False)
        self.patch = int(config.patch_size)
        self.merge = int(config.spatial_merge_size)
        self.temporal = int(config.temporal_patch_size)
        mean = source.mean or qwen_frames.OPENAI_CLIP_MEAN
        std = source.std or qwen_frames.OPENAI_CLIP_STD
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    def _read_state(self) -> dict:
        import torch

        sha, state = hashlib.sha256(), {}
        source = self.source
        for name, dtype, shape, raw in iter_vision_bytes(Path(source.folder), source.shards, source.prefix, sha):
            if dtype not in _DTYPES:
                raise ModelNotFoundError(f"{self.source.pretrained}: tensor {name} has unsupported dtype {dtype}")
            t = getattr(torch, _DTYPES[dtype])
            state[name] = torch.frombuffer(raw, dtype=t).reshape(shape) if raw else torch.empty(shape, dtype=t)
        if sha.hexdigest() != self.source.weights_sha256:
            raise ModelNotFoundError(
                f"the vision weights of {self.source.pretrained} changed since they were hashed "
                f"(sha256 {sha.hexdigest()[:12]}, expected {self.source.weights_sha256[:12]}); rerun"
            )
        return state

    @property
    def factor(self) -> int:
        return self.patch * self.merge

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) a frame of this size is resized to by Qwen's rule."""
        return qwen_frames.smart_resize(height, width, self.factor, self.min_pixels, self.max_pixels)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Merged-token grid (grid_h, grid_w) of a frame of this size."""
        h, w = self.working_size(height, width)
        return h // self.factor, w // self.factor

    def __call__(self, frames: np.ndarray, size: tuple[int, int] | None = None):
        """Merged tokens (ceil(T / 2), grid_h * grid_w, D) of uint8 frames (T, H, W, 3), resized
        to `size` (height, width), by default to Qwen's rule applied to (H, W). The rule is
        applied once, to the source frame: a frame it made is not always a size it keeps."""
        import torch
        import torch.nn.functional as F

        frames = qwen_frames.pair_frames(np.ascontiguousarray(frames), self.temporal)
        if not frames.flags.writeable:  # torch wants writable memory; a batch copy is cheap
            frames = frames.copy()
        x = torch.from_numpy(frames).to(self.device).permute(0, 3, 1, 2).float()
        size = tuple(size) if size else self.working_size(*x.shape[-2:])
        if size[0] % self.factor or size[1] % self.factor:
            raise ValueError(f"frame size {size} is not a multiple of {self.factor} px")
        if tuple(x.shape[-2:]) != size:  # as Qwen's processor: bicubic on uint8, rounded back
            x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
            x = x.round_().clamp_(0, 255)
        x = (x / 255.0 - self.mean) / self.std
        patches, (gt, gh, gw) = qwen_frames.patchify(x, self.patch, self.merge, self.temporal)
        grid_thw = torch.tensor([[gt, gh, gw]], device=self.device)
        with torch.inference_mode():
            out = self.visual(patches.to(self.dtype), grid_thw=grid_thw)
        merged = out.pooler_output  # the 2 x 2 patch merger's tokens, in the processor's order
        return merged.reshape(gt, (gh // self.merge) * (gw // self.merge), -1)
