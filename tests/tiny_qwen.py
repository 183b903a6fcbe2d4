"""A tiny randomly initialised Qwen2.5-VL for tests, saved as two full checkpoint folders.

- `hf`: the whole model (vision tower and a one-layer language model) as transformers'
  `save_pretrained` writes it: config.json and one model.safetensors, tensors `visual.*`.
- `sharded`: the layout of a large checkpoint saved by later transformers versions: the same
  config, `model.safetensors.index.json` and two shards with tensors `model.visual.*` and
  `model.language_model.*`. Shard 1 lists the vision tower and two language-model tensors
  placed after it, but the file ends where the vision data ends (their bytes are cut off);
  shard 2 holds only language-model tensors and is garbage bytes (not even a safetensors
  file). A loader that read any language-model byte would fail. A preprocessor_config.json
  gives the image mean and std.

Both hold the same vision weights (seed 0): the same bytes every time. Import the fixture
into a test module with `from tiny_qwen import tiny_qwen  # noqa: F401`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from session_builds import built_once

VISION = {
    "depth": 2,
    "hidden_size": 32,
    "num_heads": 2,
    "intermediate_size": 64,
    "out_hidden_size": 16,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 56,  # windows of 2 x 2 merged tokens: window attention is exercised
    "fullatt_block_indexes": [1],
    "tokens_per_second": 2,
}
TEXT = {
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "vocab_size": 64,
    "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]},
}
TOKENS = {"image_token_id": 60, "video_token_id": 61, "vision_start_token_id": 62, "vision_end_token_id": 63}
GRID = (8, 15)  # the default budget's working size, 224 x 420 px, in 28 px tokens
INDEX = "model.safetensors.index.json"
VISION_SHARD, LM_SHARD = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"


@dataclass(frozen=True)
class TinyQwen:
    hf: Path  # save_pretrained folder, `visual.*`
    sharded: Path  # index + two shards, `model.visual.*`, the language-model-only shard garbage
    out_hidden: int = VISION["out_hidden_size"]

    @property
    def local_dir(self) -> str:
        return f"local-dir:{self.sharded}"


def tiny_model():
    """The tiny full model (seed 0), as transformers builds it."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(0)
    return Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(vision_config=VISION, text_config=TEXT, **TOKENS))


def build_tiny_qwen(out: Path) -> TinyQwen:
    import numpy as np
    from safetensors import safe_open

    out = Path(out)
    hf = out / "hf"
    tiny_model().save_pretrained(hf)
    sharded = out / "sharded"
    sharded.mkdir(parents=True, exist_ok=True)
    shutil.copy(hf / "config.json", sharded / "config.json")
    with safe_open(str(hf / "model.safetensors"), "pt") as f:
        state = {k: f.get_tensor(k).contiguous() for k in f.keys()}
    renamed = {
        ("model." + k if k.startswith("visual.") else k.replace("model.", "model.language_model.", 1)): v
        for k, v in state.items()
    }
    vision = {k: v for k, v in renamed.items() if k.startswith("model.visual.")}
    lm = sorted(k for k in renamed if k not in vision)
    first = {**vision, **{k: renamed[k] for k in lm[:2]}}  # two language-model tensors after the tower
    write_cut_shard(sharded / VISION_SHARD, vision, {k: renamed[k] for k in lm[:2]})
    (sharded / LM_SHARD).write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    weight_map = {k: VISION_SHARD for k in first} | {k: LM_SHARD for k in lm[2:]}
    (sharded / INDEX).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}, indent=2))
    (sharded / "preprocessor_config.json").write_text(
        json.dumps(
            {"image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}
        )
    )
    return TinyQwen(hf, sharded)


def write_cut_shard(path: Path, kept: dict, cut: dict) -> None:
    """A safetensors file listing `kept` then `cut` tensors, ending after the `kept` data."""
    import struct

    header, blobs, offset = {}, [], 0
    for name, t in [*sorted(kept.items()), *sorted(cut.items())]:
        raw = t.contiguous().view(-1).view(torch_uint8()).numpy().tobytes()
        dtype = {"torch.float32": "F32", "torch.bfloat16": "BF16", "torch.float16": "F16"}[str(t.dtype)]
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        if name in kept:
            blobs.append(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def torch_uint8():
    import torch

    return torch.uint8


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory) -> TinyQwen:
    return built_once(tmp_path_factory, "tiny_qwen", build_tiny_qwen)
