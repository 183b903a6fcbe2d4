"""CLIP patch tokens for DTD: the open_clip vision tower's last-layer tokens, one per patch.

`resolve_model` finds the weights without loading them (so a rerun whose work is all done
never builds the model) and hashes them for provenance. `--pretrained` may be

- an open_clip tag (`laion2b_s34b_b79k`): looked up in the local cache first, downloaded
  only if missing and the network is allowed;
- a checkpoint file (`.pt`, `.bin`, `.safetensors`) for the architecture named by --model;
- `local-dir:FOLDER`: a folder with `open_clip_config.json` (architecture and
  preprocessing) and the weights file (`open_clip_model.safetensors`,
  `open_clip_pytorch_model.bin`, ...), as written by open_clip's `push_to_hf_hub` layout.

`Encoder` is a callable: uint8 RGB frames (B, H, W, 3) -> patch tokens (B, N, D) on the
model's device. On CUDA the tower runs in half precision, on the CPU in fp32; the code path is
the same. Frames of another size than the model's input are resized on the device (bilinear,
antialiased, whole frame, no crop).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..atomic import sha256_file
from ..errors import ModelNotFoundError, UsageError
from ..hubenv import hub_offline, unreachable

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
# where open_clip keeps the default weights (open_clip.get_pretrained_cfg of the default pair;
# a test keeps the two equal), so that `--method auto` looks without importing torch
DEFAULT_PRETRAINED_CFG = {"hf_hub": "laion/CLIP-ViT-B-32-laion2B-s34B-b79K/"}
LOCAL_DIR = "local-dir:"
CONFIG_NAME = "open_clip_config.json"
# Weight file names open_clip looks for in a model folder, in its order of preference.
WEIGHT_NAMES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
    "model.safetensors",
    "pytorch_model.bin",
    "pytorch_model.pth",
    "model.pth",
)
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz")

HOW_TO_PROVIDE = (
    "Provide weights that exist on this machine: `--pretrained /path/to/checkpoint.bin` (an "
    "open_clip checkpoint of the --model architecture), or `--pretrained local-dir:FOLDER` (a "
    f"folder with {CONFIG_NAME} and open_clip_model.safetensors), or run once with network "
    "access so that the tag is cached under $HF_HOME, or use `--method pixel`, which needs no model."
)


@dataclass(frozen=True)
class ModelSource:
    """What to build and from which weights; known before anything is loaded."""

    model: str  # architecture label recorded in provenance
    pretrained: str  # as recorded: the tag, the checkpoint's file name, or local-dir:<folder name>
    create_name: str  # first argument of open_clip.create_model
    checkpoint: str  # weights file
    weights_sha256: str
    image_size: tuple[int, int] = (224, 224)  # model input (h, w), from its config
    quick_gelu: bool = False
    mean: tuple[float, ...] | None = None  # None: from the model's preprocessing config
    std: tuple[float, ...] | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("checkpoint")  # a local path: kept out of outputs so they do not depend on location
        d.pop("create_name")
        return d


def _looks_like_path(value: str) -> bool:
    return os.sep in value or "/" in value or value.lower().endswith(CHECKPOINT_SUFFIXES)


def resolve_model(model: str | None = None, pretrained: str | None = None) -> ModelSource:
    """Locate the weights for (model, pretrained); raise ModelNotFoundError if they are not
    on this machine and cannot be fetched."""
    import open_clip

    if pretrained and pretrained.startswith(LOCAL_DIR):
        return _resolve_local_dir(model, pretrained[len(LOCAL_DIR) :])
    model = model or DEFAULT_MODEL
    if open_clip.get_model_config(model) is None:
        raise ModelNotFoundError(
            f"unknown open_clip model {model!r}; known models include "
            f"{', '.join(sorted(open_clip.list_models())[:12])}, ..."
        )
    if pretrained is None:
        if model != DEFAULT_MODEL:
            raise UsageError(
                f"--pretrained is required with --model {model}: an open_clip tag "
                f"({', '.join(open_clip.list_pretrained_tags_by_model(model)) or 'none known'}), "
                "a checkpoint file, or local-dir:FOLDER"
            )
        pretrained = DEFAULT_PRETRAINED
    if os.path.isfile(pretrained):
        return ModelSource(
            model,
            Path(pretrained).name,
            model,
            str(pretrained),
            sha256_file(pretrained),
            _image_size(open_clip.get_model_config(model)),
        )
    if _looks_like_path(pretrained):
        raise ModelNotFoundError(f"checkpoint file {pretrained} does not exist. {HOW_TO_PROVIDE}")
    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model)
        raise ModelNotFoundError(
            f"{pretrained!r} is neither a file nor an open_clip tag of {model} "
            f"(tags: {', '.join(tags) or 'none'}). {HOW_TO_PROVIDE}"
        )
    path = _cached_or_download(cfg, model, pretrained)
    return ModelSource(
        model,
        pretrained,
        model,
        path,
        sha256_file(path),
        _image_size(open_clip.get_model_config(model)),
        quick_gelu=bool(cfg.get("quick_gelu", False)),
        mean=tuple(cfg["mean"]) if cfg.get("mean") else None,
        std=tuple(cfg["std"]) if cfg.get("std") else None,
    )


def _cached(cfg: dict) -> str | None:
    """The weights of an open_clip pretrained config in the local caches, without the network."""
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import hf_hub_download

        repo, name = os.path.split(hub)
        for filename in [name] if name else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]:
            try:
                return hf_hub_download(repo_id=repo, filename=filename, local_files_only=True)
            except Exception:
                continue
    elif cfg.get("url"):
        cached = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(cfg["url"])
        if cached.is_file():
            return str(cached)
    return None


def default_weights_cached(model: str | None) -> bool:
    """Whether the weights `--pretrained` defaults to are in the local cache: only the default
    model has a default tag (another model needs --pretrained). Looked up without the network
    and without importing open_clip (and torch)."""
    return model in (None, DEFAULT_MODEL) and _cached(DEFAULT_PRETRAINED_CFG) is not None


def _cached_or_download(cfg: dict, model: str, tag: str) -> str:
    import open_clip

    cached = _cached(cfg)  # the local caches first, without touching the network
    if cached is not None:
        return cached
    if hub_offline():
        raise ModelNotFoundError(
            f"weights for {model} / {tag} are not in the local cache and HF_HUB_OFFLINE is set. {HOW_TO_PROVIDE}"
        )
    why = unreachable(cfg.get("url"))
    if why:
        raise ModelNotFoundError(f"weights for {model} / {tag} are not in the local cache and {why}. {HOW_TO_PROVIDE}")
    try:
        path = open_clip.download_pretrained(cfg)
    except Exception as e:
        raise ModelNotFoundError(
            f"weights for {model} / {tag} are not in the local cache and could "
            f"not be downloaded ({type(e).__name__}: {e}). {HOW_TO_PROVIDE}"
        ) from None
    if not path or not os.path.isfile(path):
        raise ModelNotFoundError(f"weights for {model} / {tag} could not be located. {HOW_TO_PROVIDE}")
    return path


def _resolve_local_dir(model: str | None, folder: str) -> ModelSource:
    d = Path(folder)
    if not d.is_dir():
        raise ModelNotFoundError(f"local-dir:{folder} is not a folder. {HOW_TO_PROVIDE}")
    cfg_path = d / CONFIG_NAME
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"local-dir:{folder} has no readable {CONFIG_NAME} ({e}). {HOW_TO_PROVIDE}") from None
    if not isinstance(cfg, dict) or "model_cfg" not in cfg:
        raise ModelNotFoundError(f"{cfg_path} has no `model_cfg`; it is not an open_clip model folder")
    weights = next((d / n for n in WEIGHT_NAMES if (d / n).is_file()), None)
    if weights is None:
        raise ModelNotFoundError(
            f"local-dir:{folder} holds no weights file (one of {', '.join(WEIGHT_NAMES)}). {HOW_TO_PROVIDE}"
        )
    label = model or cfg.get("model_name") or d.resolve().name
    return ModelSource(
        label,
        f"{LOCAL_DIR}{d.resolve().name}",
        f"{LOCAL_DIR}{d}",
        str(weights),
        sha256_file(weights),
        _image_size(cfg["model_cfg"]),
    )


def _image_size(model_cfg: dict) -> tuple[int, int]:
    """Input size (h, w) named in an open_clip model config."""
    size = (model_cfg or {}).get("vision_cfg", {}).get("image_size", 224)
    if isinstance(size, int):
        return (size, size)
    return (int(size[0]), int(size[1]))


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available (torch.cuda.is_available() is False)")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise UsageError(f"unknown device {device!r}; use auto, cpu or cuda")
    return device


class _DropRandomInitWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Model initialized randomly" not in record.getMessage()


@contextlib.contextmanager
def _without_random_init_warning():
    """open_clip warns that the model is random when built without weights; ours are loaded
    right after, so the warning would only mislead."""
    root = logging.getLogger()
    f = _DropRandomInitWarning()
    root.addFilter(f)
    try:
        yield
    finally:
        root.removeFilter(f)


class Encoder:
    """uint8 RGB frames (B, H, W, 3) -> last-layer patch tokens (B, N, D), N = grid_h * grid_w."""

    def __init__(self, source: ModelSource, device: str = "auto"):
        import open_clip
        import torch

        self.source = source
        self.device = torch.device(pick_device(device))
        self.precision = "fp16" if self.device.type == "cuda" else "fp32"
        self.dtype = torch.float16 if self.precision == "fp16" else torch.float32
        force_pp = {k: v for k, v in (("mean", source.mean), ("std", source.std)) if v}
        try:
            with _without_random_init_warning():
                model = open_clip.create_model(
                    source.create_name,
                    pretrained=None,
                    load_weights=False,
                    pretrained_text=False,
                    force_quick_gelu=source.quick_gelu,
                    force_preprocess_cfg=force_pp or None,
                )
            open_clip.load_checkpoint(model, source.checkpoint, strict=True)
        except Exception as e:
            raise ModelNotFoundError(
                f"cannot load {source.model} weights from {source.pretrained}: {type(e).__name__}: {e}"
            ) from None
        visual = model.visual
        del model  # the text tower is not needed
        self.visual = visual.to(self.device, dtype=self.dtype).eval().requires_grad_(False)
        pp = getattr(self.visual, "preprocess_cfg", {}) or {}
        mean = source.mean or pp.get("mean") or open_clip.OPENAI_DATASET_MEAN
        std = source.std or pp.get("std") or open_clip.OPENAI_DATASET_STD
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1) * 255.0
        size = getattr(self.visual, "image_size", None) or pp.get("size") or source.image_size
        self.input_size = (size, size) if isinstance(size, int) else tuple(int(v) for v in size)  # (h, w)
        probe = self.feature_map(np.zeros((1, *self.input_size, 3), dtype=np.uint8))
        self.grid = (int(probe.shape[2]), int(probe.shape[3]))  # (grid_h, grid_w)
        self.dim = int(probe.shape[1])

    @property
    def n_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    def provenance(self) -> dict:
        return {
            **self.source.to_dict(),
            "precision": self.precision,
            "input_size": list(self.input_size),
            "grid": list(self.grid),
        }

    def __call__(self, frames: np.ndarray):
        """Patch tokens (B, N, D) in row-major grid order, on the model's device."""
        return self.feature_map(frames).flatten(2).transpose(1, 2)

    def feature_map(self, frames: np.ndarray):
        """Last-layer tokens as a map (B, D, grid_h, grid_w), after the tower's final norm."""
        import torch
        import torch.nn.functional as F

        frames = np.ascontiguousarray(frames)
        if not frames.flags.writeable:  # torch wants writable memory; a batch copy is cheap
            frames = frames.copy()
        x = torch.from_numpy(frames)
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)  # uint8 crosses the bus, 4x less
        x = x.permute(0, 3, 1, 2).float()
        if tuple(x.shape[-2:]) != self.input_size:
            x = F.interpolate(x, size=self.input_size, mode="bilinear", antialias=True, align_corners=False)
        x = ((x - self.mean) / self.std).to(self.dtype)
        with torch.inference_mode():
            out = self.visual.forward_intermediates(
                x, indices=1, normalize_intermediates=True, intermediates_only=True, output_fmt="NCHW"
            )
        feats = out["image_intermediates"][-1]  # (B, D, grid_h, grid_w)
        if feats.ndim != 4:
            raise UsageError(f"model {self.source.model} gives no patch grid (tokens of shape {tuple(feats.shape)})")
        return feats
