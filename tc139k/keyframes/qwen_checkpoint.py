"""A Qwen2.5-VL checkpoint's vision tower, located and read without its language model.

`resolve_checkpoint(pretrained)` finds the files and hashes the vision weights without
building anything (so a rerun whose work is all done never loads the tower); `read_vision`
reads them for the tower. `--pretrained` may be

- `local-dir:FOLDER` (or a folder path): a full VideoLLM checkpoint as saved by
  transformers (TimeChatOnline-7B, Qwen2.5-VL-7B-Instruct): `config.json` with `model_type`
  qwen2_5_vl and a `vision_config`, safetensors weights listed by
  `model.safetensors.index.json` (its `weight_map`) or a single `model.safetensors`, and
  optionally `preprocessor_config.json` (image mean and std);
- a Hub id (`Qwen/Qwen2.5-VL-7B-Instruct`): taken from the local Hugging Face cache, or,
  when the network allows, only its config, index and the shards holding vision tensors are
  downloaded. Offline or unreachable, it fails at once saying how to give a local folder.

Only tensors named `visual.*` (checkpoints saved by transformers < 4.52) or `model.visual.*`
(later ones) are read, the prefix stripped. A shard that holds none of them is never opened;
of the others, the safetensors header is parsed here and only the vision tensors' byte
ranges are read, so the language model (about 7B of the 8B parameters) never leaves the disk.

`weights_sha256` is the sha256 over the vision tensors in name order (name without the
prefix, dtype, shape and raw bytes): it identifies exactly what the tokens depend on (a fine-tune that froze the
tower has its base model's hash), and is checked again when the tower is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError
from ..hubenv import hub_offline, unreachable

LOCAL_DIR = "local-dir:"
MODEL_TYPE = "qwen2_5_vl"
VISION_PREFIXES = ("visual.", "model.visual.")
INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
PREPROCESSOR_NAME = "preprocessor_config.json"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
READ_CHUNK = 64 << 20  # bytes per read of a large tensor: bounded extra memory while hashing

HOW_TO_PROVIDE = (
    "Give a local Qwen2.5-VL checkpoint folder: `--pretrained local-dir:FOLDER` with config.json, "
    f"{INDEX_NAME} and its model-*.safetensors shards (e.g. TimeChatOnline-7B or Qwen2.5-VL-7B-Instruct "
    "downloaded on a machine with network access)."
)


@dataclass(frozen=True)
class QwenSource:
    """Where the vision tower is and what it is; known before anything is loaded."""

    model: str  # label recorded in provenance: the folder's name or the Hub id
    pretrained: str  # as recorded: local-dir:<folder name> or the Hub id
    folder: str  # local path (kept out of outputs)
    shards: tuple[tuple[str, tuple[str, ...]], ...]  # (file, full tensor names) holding vision tensors
    prefix: str  # VISION_PREFIXES entry the checkpoint uses
    vision_config: dict  # config.json's vision_config
    weights_sha256: str
    mean: tuple[float, ...] | None  # preprocessor_config.json's image_mean, if any
    std: tuple[float, ...] | None

    @property
    def factor(self) -> int:
        """Pixels per merged token along each side: patch size x spatial merge size."""
        return int(self.vision_config.get("patch_size", 14)) * int(self.vision_config.get("spatial_merge_size", 2))

    def to_dict(self) -> dict:
        return {
            "encoder": "qwen2.5-vl",
            "model": self.model,
            "pretrained": self.pretrained,
            "weights_sha256": self.weights_sha256,
            "vision_prefix": self.prefix,
            "vision_tensors": sum(len(names) for _, names in self.shards),
            "vision_config": self.vision_config,
            "mean": list(self.mean) if self.mean else None,
            "std": list(self.std) if self.std else None,
        }


def resolve_checkpoint(pretrained: str | None) -> QwenSource:
    """Locate and hash the vision tower of `pretrained`; ModelNotFoundError when it is not
    on this machine and cannot be fetched, or is not a Qwen2.5-VL checkpoint."""
    if not pretrained:
        raise ModelNotFoundError(f"--encoder qwen2.5-vl needs --pretrained. {HOW_TO_PROVIDE}")
    if pretrained.startswith(LOCAL_DIR):
        return _from_folder(Path(pretrained[len(LOCAL_DIR) :]), None)
    if os.path.isdir(pretrained):
        return _from_folder(Path(pretrained), None)
    if HUB_ID.match(pretrained) and not os.path.exists(pretrained):
        return _from_folder(_hub_snapshot(pretrained), pretrained)
    raise ModelNotFoundError(f"{pretrained!r} is neither a folder nor a Hub id (owner/name). {HOW_TO_PROVIDE}")


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"{path}: cannot read {what} ({e}). {HOW_TO_PROVIDE}") from None
    if not isinstance(data, dict):
        raise ModelNotFoundError(f"{path}: {what} is not a JSON object. {HOW_TO_PROVIDE}")
    return data


def _from_folder(folder: Path, hub_id: str | None) -> QwenSource:
    if not folder.is_dir():
        raise ModelNotFoundError(f"local-dir:{folder} is not a folder. {HOW_TO_PROVIDE}")
    config = _read_json(folder / "config.json", "the model config")
    if config.get("model_type") != MODEL_TYPE or not isinstance(config.get("vision_config"), dict):
        raise ModelNotFoundError(
            f"{folder / 'config.json'}: model_type {config.get('model_type')!r} is not a Qwen2.5-VL checkpoint "
            f"({MODEL_TYPE!r} with a vision_config). {HOW_TO_PROVIDE}"
        )
    prefix, names_by_file = _vision_names(folder)
    mean = std = None
    if (folder / PREPROCESSOR_NAME).is_file():
        pp = _read_json(folder / PREPROCESSOR_NAME, "the preprocessor config")
        mean = tuple(float(v) for v in pp["image_mean"]) if pp.get("image_mean") else None
        std = tuple(float(v) for v in pp["image_std"]) if pp.get("image_std") else None
    sha = hashlib.sha256()
    for _ in iter_vision_bytes(folder, names_by_file, prefix, sha):
        pass
    return QwenSource(
        model=hub_id or folder.resolve().name,
        pretrained=hub_id or f"{LOCAL_DIR}{folder.resolve().name}",
        folder=str(folder),
        shards=names_by_file,
        prefix=prefix,
        vision_config=config["vision_config"],
        weights_sha256=sha.hexdigest(),
        mean=mean,
        std=std,
    )


def _weight_map(folder: Path) -> dict[str, str]:
    """Tensor name -> shard file: the index's weight_map, or the single file's header."""
    if (folder / INDEX_NAME).is_file():
        weight_map = _read_json(folder / INDEX_NAME, "the safetensors index").get("weight_map")
        if not isinstance(weight_map, dict):
            raise ModelNotFoundError(f"{folder / INDEX_NAME}: no weight_map. {HOW_TO_PROVIDE}")
        return {str(k): str(v) for k, v in weight_map.items()}
    if (folder / SINGLE_NAME).is_file():
        return dict.fromkeys(read_header(folder / SINGLE_NAME)[0], SINGLE_NAME)
    raise ModelNotFoundError(f"{folder} holds neither {INDEX_NAME} nor {SINGLE_NAME}. {HOW_TO_PROVIDE}")


def _vision_names(folder: Path) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """The vision prefix the checkpoint uses and, per shard holding vision tensors, their names."""
    weight_map = _weight_map(folder)
    for prefix in VISION_PREFIXES:
        by_file: dict[str, list[str]] = {}
        for name, file in weight_map.items():
            if name.startswith(prefix):
                by_file.setdefault(file, []).append(name)
        if by_file:
            return prefix, tuple((f, tuple(sorted(ns))) for f, ns in sorted(by_file.items()))
    raise ModelNotFoundError(
        f"{folder}: no tensor named {' or '.join(p + '*' for p in VISION_PREFIXES)}: not a Qwen2.5-VL "
        f"checkpoint with its vision tower. {HOW_TO_PROVIDE}"
    )


def read_header(path: Path) -> tuple[dict, int]:
    """A safetensors file's tensor table {name: {dtype, shape, data_offsets}} and the offset
    of its data section; only the header bytes are read."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError("shorter than a safetensors header")
            (n,) = struct.unpack("<Q", head)
            if n > 100 << 20:
                raise ValueError(f"header length {n} is not plausible")
            table = json.loads(f.read(n))
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"{path}: not a readable safetensors file ({e}). {HOW_TO_PROVIDE}") from None
    table.pop("__metadata__", None)
    return table, 8 + n


def iter_vision_bytes(folder: Path, shards, prefix: str, sha):
    """Yield (name without prefix, dtype, shape, raw bytes) of every vision tensor in name
    order, reading only their byte ranges; `sha` is updated with each."""
    for file, names in shards:
        path = folder / file
        table, data_start = read_header(path)
        size = path.stat().st_size
        with open(path, "rb") as f:
            for name in names:
                entry = table.get(name)
                if entry is None:
                    raise ModelNotFoundError(f"{path}: tensor {name} listed by the index is not in the file")
                begin, end = (data_start + int(o) for o in entry["data_offsets"])
                if end > size:
                    raise ModelNotFoundError(f"{path}: truncated ({size} bytes, tensor {name} ends at {end})")
                f.seek(begin)
                raw = bytearray(end - begin)
                view, got = memoryview(raw), 0
                while got < len(raw):
                    n = f.readinto(view[got : got + READ_CHUNK])
                    if not n:
                        raise ModelNotFoundError(f"{path}: truncated while reading tensor {name}")
                    got += n
                short = name[len(prefix) :]  # the same tower under either prefix hashes the same
                sha.update(f"{short}|{entry['dtype']}|{entry['shape']}|".encode())
                sha.update(raw)
                yield short, entry["dtype"], tuple(entry["shape"]), raw


# ---- the Hub ------------------------------------------------------------------------------


def _hub_snapshot(repo: str) -> Path:
    """The local snapshot folder of `repo` holding its config, index and vision shards:
    from the HF cache, else downloaded when the network allows."""
    from huggingface_hub import hf_hub_download

    def fetch(filename: str, local: bool) -> Path | None:
        try:
            return Path(hf_hub_download(repo_id=repo, filename=filename, local_files_only=local))
        except Exception:
            return None

    for local in (True, False):
        if not local:
            _check_network(repo)
        config = fetch("config.json", local)
        if config is None:
            continue
        index = fetch(INDEX_NAME, local)
        if index is not None:
            weight_map = _read_json(index, "the safetensors index").get("weight_map") or {}
            files = sorted({f for n, f in weight_map.items() if n.startswith(VISION_PREFIXES)})
        else:
            files = [SINGLE_NAME]
        fetch(PREPROCESSOR_NAME, local)
        if files and all(fetch(f, local) is not None for f in files):
            return config.parent
    raise ModelNotFoundError(f"{repo}: could not be downloaded from the Hub. {HOW_TO_PROVIDE}")


def _check_network(repo: str) -> None:
    if hub_offline():
        raise ModelNotFoundError(
            f"{repo} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set. {HOW_TO_PROVIDE}"
        )
    why = unreachable()
    if why:
        raise ModelNotFoundError(f"{repo} is not in the local Hugging Face cache and {why}. {HOW_TO_PROVIDE}")
