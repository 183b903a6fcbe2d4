"""DTD on constructed tensors: what is dropped, and how the threshold moves it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tc139k.keyframes import dtd
from tc139k.keyframes.build import PIXEL_CELL
from tc139k.keyframes.scorer_pixel import pixel_scores


def _tokens(t: int, n: int, d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(t, n, d, generator=g)


def test_identical_frames_drop_everything_but_frame_zero():
    one = _tokens(1, 16, 8)
    tokens = one.repeat(5, 1, 1)
    q = dtd.quantize(dtd.cosine_to_previous(tokens).numpy(), "cosine")
    ratio = dtd.frame_drop_ratio(q, "cosine", 0.5)
    assert ratio.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    # even at a strict threshold: identical tokens have cosine 1
    assert dtd.frame_drop_ratio(q, "cosine", 0.99).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]


def test_changed_region_drops_exactly_its_complement():
    tokens = _tokens(1, 16, 32).repeat(2, 1, 1)
    changed = [3, 7, 12]
    tokens[1, changed] = -tokens[1, changed]  # cosine -1 at those positions
    q = dtd.quantize(dtd.cosine_to_previous(tokens).numpy(), "cosine")
    mask = dtd.dropped_mask(q, "cosine", 0.5)
    assert not mask[0].any()
    assert np.flatnonzero(~mask[1]).tolist() == changed
    assert dtd.frame_drop_ratio(q, "cosine", 0.5)[1] == pytest.approx(13 / 16)


def test_pixel_mode_changed_cell_is_the_only_survivor():
    cell = PIXEL_CELL
    frames = np.full((3, 4 * cell, 5 * cell, 3), 90, dtype=np.uint8)
    frames[1, cell : 2 * cell, 2 * cell : 3 * cell] = 200  # one cell at (1, 2) changes in frame 1
    q = dtd.quantize(dtd.pixel_mad_to_previous(frames, cell).reshape(3, -1), "pixel_mad")
    mask = dtd.dropped_mask(q, "pixel_mad", 0.05)
    assert not mask[0].any()
    assert np.flatnonzero(~mask[1]).tolist() == [1 * 5 + 2]
    assert np.flatnonzero(~mask[2]).tolist() == [1 * 5 + 2]  # and changes back in frame 2


def test_chunked_pixel_scores_equal_the_whole_video_at_once():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (150, 56, 84, 3), dtype=np.uint8)  # crosses chunk borders
    q, grid = pixel_scores(frames, 28)
    whole = dtd.quantize(dtd.pixel_mad_to_previous(frames, 28).reshape(150, -1), "pixel_mad")
    assert grid == (2, 3)
    assert q.dtype == np.uint8 and np.array_equal(q, whole)


def _pixel_mad_numpy(frames: np.ndarray, cell: int) -> np.ndarray:
    """The plain formula: int16 differences, a float32 mean per cell, / 255."""
    t, h, w, _ = frames.shape
    gh, gw = h // cell, w // cell
    out = np.ones((t, gh, gw), dtype=np.float32)
    x = frames[:, : gh * cell, : gw * cell].astype(np.int16)
    diff = np.abs(x[1:] - x[:-1]).astype(np.float32)
    out[1:] = diff.reshape(t - 1, gh, cell, gw, cell, 3).mean(axis=(2, 4, 5)) / 255.0
    return out


@pytest.mark.parametrize(
    "shape, cell, how",
    [
        ((40, 224, 224), 28, "random"),
        ((40, 224, 224), 28, "smooth"),  # small differences: many values near a rounding step
        ((9, 61, 90), 28, "random"),  # remainders smaller than a cell are ignored
        ((7, 64, 48), 16, "smooth"),
        ((2, 28, 28), 28, "random"),
        ((1, 56, 56), 28, "random"),
    ],
)
def test_pixel_mad_equals_the_plain_numpy_formula(shape, cell, how):
    rng = np.random.default_rng(sum(shape) + cell)
    if how == "random":
        frames = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    else:
        base = rng.integers(60, 200, (1, *shape[1:], 3))
        frames = np.clip(base + rng.integers(-6, 7, (*shape, 3)).cumsum(axis=0), 0, 255).astype(np.uint8)
    got, want = dtd.pixel_mad_to_previous(frames, cell), _pixel_mad_numpy(frames, cell)
    assert got.dtype == want.dtype == np.float32
    assert np.array_equal(got, want)  # bit for bit, so every quantised score is the same
    t = shape[0]
    q = dtd.quantize(got.reshape(t, -1), "pixel_mad")
    assert np.array_equal(q, dtd.quantize(want.reshape(t, -1), "pixel_mad"))
    if cell == PIXEL_CELL and shape[1:] == (224, 224):
        assert np.array_equal(pixel_scores(frames, cell)[0], q)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=4, max_size=64), st.floats(-1, 1), st.floats(-1, 1))
def test_cosine_drop_ratio_falls_as_threshold_rises(levels, a, b):
    q = np.asarray(levels, dtype=np.uint8).reshape(1, -1)
    lo, hi = min(a, b), max(a, b)
    assert dtd.frame_drop_ratio(q, "cosine", hi)[0] <= dtd.frame_drop_ratio(q, "cosine", lo)[0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=4, max_size=64), st.floats(0, 1), st.floats(0, 1))
def test_pixel_drop_ratio_rises_with_threshold(levels, a, b):
    q = np.asarray(levels, dtype=np.uint8).reshape(1, -1)
    lo, hi = min(a, b), max(a, b)
    assert dtd.frame_drop_ratio(q, "pixel_mad", lo)[0] <= dtd.frame_drop_ratio(q, "pixel_mad", hi)[0]


def test_histogram_sweep_matches_direct_counts():
    tokens = _tokens(20, 49, 16, seed=3)
    tokens[1:] = 0.7 * tokens[:-1] + 0.3 * tokens[1:]  # correlated frames: a spread of scores
    q = dtd.quantize(dtd.cosine_to_previous(tokens).numpy(), "cosine")
    taus = [-0.5, 0.0, 0.3, 0.5, 0.7, 0.9]
    swept = dtd.sweep_from_histogram(dtd.level_histogram(q), "cosine", taus)
    direct = [int(dtd.dropped_mask(q, "cosine", t).sum()) for t in taus]
    assert swept.tolist() == direct
    assert direct == sorted(direct, reverse=True) and direct[0] > direct[-1]
