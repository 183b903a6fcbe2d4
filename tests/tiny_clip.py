"""A tiny randomly initialised open_clip ViT for tests.

The architecture is registered with `open_clip.add_model_config` under TINY_NAME (so
`--model tc139k-tiny-vit --pretrained FILE` works in this process) and saved as an open_clip
model folder (`open_clip_config.json` + `open_clip_model.safetensors`) for `local-dir:`, which
works in any process. Weights come from a fixed seed: the same bytes every time.

Import the fixture into a test module with `from tiny_clip import tiny_clip  # noqa: F401`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from session_builds import built_once

TINY_NAME = "tc139k-tiny-vit"
TINY_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "patch_size": 16, "width": 64, "head_width": 32, "layers": 2, "mlp_ratio": 2.0},
    "text_cfg": {"context_length": 16, "vocab_size": 512, "width": 32, "heads": 2, "layers": 1},
}
GRID = (4, 4)  # 64 px input / 16 px patches


@dataclass(frozen=True)
class TinyClip:
    name: str
    folder: Path  # local-dir folder
    checkpoint: Path  # the same weights as a plain file

    @property
    def local_dir(self) -> str:
        return f"local-dir:{self.folder}"


def build_tiny_clip(out: Path) -> TinyClip:
    import open_clip
    import torch
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg_file = out / f"{TINY_NAME}.json"
    cfg_file.write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(cfg_file)
    torch.manual_seed(0)
    model = open_clip.create_model(TINY_NAME, pretrained=None)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    folder = out / "tiny-vit"
    folder.mkdir(exist_ok=True)
    (folder / "open_clip_config.json").write_text(
        json.dumps(
            {
                "model_name": TINY_NAME,
                "model_cfg": TINY_CFG,
                "preprocess_cfg": {
                    "mean": list(open_clip.OPENAI_DATASET_MEAN),
                    "std": list(open_clip.OPENAI_DATASET_STD),
                },
            },
            indent=2,
        )
    )
    save_file(state, str(folder / "open_clip_model.safetensors"))
    checkpoint = out / "tiny-vit.bin"
    torch.save(state, checkpoint)
    return TinyClip(TINY_NAME, folder, checkpoint)


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> TinyClip:
    return built_once(tmp_path_factory, "tiny_clip", build_tiny_clip)
