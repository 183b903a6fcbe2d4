"""Qwen2.5-VL's frame preprocessing for DTD: the resize rule, normalisation, temporal pairing
and the patch layout the vision tower expects, as Qwen's video processor does it.

Resize rule (`smart_resize`, Qwen's own): height and width are rounded to multiples of
`factor` = patch size x merge size (14 x 2 = 28 px, one merged token per 28 x 28 px
region); when the rounded frame holds more than `max_pixels` it is scaled down, when it
holds fewer than `min_pixels` scaled up, aspect ratio kept as closely as the multiples allow.

The pixel budget. qwen-vl-utils, which the authors feed their videos through, gives each
frame of a video of n frames at most max(min(768, 24576 * 2 / n), 1.05 * 128) x 28 x 28 px
and at least 128 x 28 x 28 px. Past 365 frames (6 min at 1 fps; the dataset's videos last
11.1 min on average) that budget is its floor: between 128 x 28 x 28 = 100,352 and
int(1.05 x 100,352) = 105,369 px per frame, the defaults here (a 16:9 frame becomes
224 x 420 px: 8 x 15 = 120 tokens). The authors' training clips of up
to 64 frames get the ceiling, 768 x 28 x 28 = 602,112 px (`--max-pixels 602112`).

Temporal pairing: the tower's patch embedding spans `temporal_patch_size` (2) consecutive
frames, so T frames make ceil(T / 2) temporal patches; an odd last frame is repeated to
complete its pair, as Qwen's processor does. One temporal patch is one DTD frame.

Normalisation: x / 255, then (x - mean) / std with the checkpoint's image mean and std
(OpenAI CLIP's, Qwen's defaults, when the folder has no preprocessor_config.json).
"""

from __future__ import annotations

import math

MIN_PIXELS = 128 * 28 * 28  # qwen-vl-utils VIDEO_MIN_PIXELS
MAX_PIXELS = int(MIN_PIXELS * 1.05)  # the per-frame budget of a video longer than 365 frames
CLIP_MAX_PIXELS = 768 * 28 * 28  # qwen-vl-utils VIDEO_MAX_PIXELS: a clip of up to 64 frames
# A 16:9 frame: the shape of the dataset's YouTube-sourced videos. Frames of another shape
# are resized whole to the working size this gives (no crop), as the open_clip path squares them.
NOMINAL_SOURCE = (720, 1280)  # (height, width)
MAX_RATIO = 200  # Qwen refuses more extreme aspect ratios
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def smart_resize(height: int, width: int, factor: int = 28, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS):
    """(height, width) after Qwen's resize rule (see the module docstring)."""
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(f"aspect ratio {max(height, width) / min(height, width):.0f} is above {MAX_RATIO}")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def resize_rule(min_pixels: int, max_pixels: int, factor: int = 28) -> dict:
    """The resize rule as recorded in provenance."""
    h, w = smart_resize(*NOMINAL_SOURCE, factor, min_pixels, max_pixels)
    return {
        "rule": "qwen smart_resize: multiples of factor within [min_pixels, max_pixels], aspect kept",
        "factor": factor,
        "min_pixels": min_pixels,
        "max_pixels": max_pixels,
        "nominal_source": list(NOMINAL_SOURCE),
        "working_size": [h, w],
    }


def pair_frames(frames, temporal: int = 2):
    """uint8 (T, H, W, 3) -> (ceil(T / temporal) * temporal, H, W, 3), the last frame repeated."""
    import numpy as np  # here: the key-frame config reads this module's budget without numpy

    pad = -len(frames) % temporal
    if pad:
        frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)])
    return frames


def patchify(x, patch: int, merge: int, temporal: int):
    """Normalised frames (T, 3, H, W), T a multiple of `temporal` -> the tower's input
    (grid_t * grid_h * grid_w, 3 * temporal * patch * patch) and grid (grid_t, grid_h, grid_w),
    in the order of Qwen's video processor (2 x 2 merge blocks contiguous)."""
    t, c, h, w = x.shape
    gt, gh, gw = t // temporal, h // patch, w // patch
    x = x.reshape(gt, temporal, c, gh // merge, merge, patch, gw // merge, merge, patch)
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(gt * gh * gw, c * temporal * patch * patch), (gt, gh, gw)
