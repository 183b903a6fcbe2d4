"""The cell grid that tells another view from the same view dimmed (keyframes/evidence.py),
from its contract: a cell has structure when its luma spreads more than TEXTURE_STD around the
cell's own mean; a cell changed when its structure correlates below SAME_STRUCTURE or exists
in one frame only; flat cells in both frames are not informative; big frames are read every
other pixel with the same cells; what does not fill a whole cell is left out."""

from __future__ import annotations

import numpy as np
import pytest

from tc139k.keyframes.evidence import GRID, SAME_STRUCTURE, TEXTURE_STD, CellView, change_share, changed_cells

H, W = 64, 96  # not square: rows and columns are not interchangeable; cells of 8 x 12 px


def grey(luma: np.ndarray) -> np.ndarray:
    """A colour frame whose three channels hold `luma`."""
    return np.repeat(np.clip(luma, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def cells(values: np.ndarray, h: int = H, w: int = W) -> np.ndarray:
    """A luma frame of an 8 x 8 grid, each cell a flat value of `values`."""
    return np.kron(values, np.ones((h // GRID, w // GRID)))


def stripes(amplitude: float, h: int = H, w: int = W, phase: int = 0) -> np.ndarray:
    """Vertical stripes of +-amplitude (a cell's standard deviation is `amplitude`)."""
    x = np.arange(w)
    return np.broadcast_to(np.where((x + phase) % 2 == 0, amplitude, -amplitude), (h, w))


def pattern(seed: int, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 30, (h, w))


def test_a_cell_has_structure_when_its_spread_passes_texture_std():
    below, above = TEXTURE_STD - 0.5, TEXTURE_STD + 0.5
    for amplitude, expected in ((below, False), (above, True)):
        view = CellView(grey(128 + stripes(amplitude)))
        assert view.textured.shape == (GRID, GRID)
        assert (view.textured == expected).all(), amplitude


def test_flat_cells_of_different_brightness_have_no_structure():
    # each cell is measured around its own mean: a grid of flat cells at 0..252 is structureless
    levels = (np.arange(GRID * GRID).reshape(GRID, GRID) * 4).astype(float)
    view = CellView(grey(cells(levels)))
    assert not view.textured.any()
    assert np.allclose(view.centred, 0) and np.allclose(view.norm, 0)


def test_the_grid_follows_rows_and_columns():
    luma = np.full((H, W), 100.0)
    luma[: H // GRID, W - W // GRID :] += stripes(20, H // GRID, W // GRID)  # top right cell only
    view = CellView(grey(luma))
    expected = np.zeros((GRID, GRID), bool)
    expected[0, GRID - 1] = True
    assert (view.textured == expected).all()


def test_luma_weighs_green_most_and_blue_least():
    # a cell whose only texture is blue: 0.114 x 30 = 3.4 is under TEXTURE_STD; the same in
    # green, 0.587 x 30 = 17.6, is over it
    texture = stripes(30)
    for channel, expected in ((2, False), (1, True), (0, True)):
        frame = np.full((H, W, 3), 128, np.uint8)
        frame[..., channel] = (128 + texture).astype(np.uint8)
        assert (CellView(frame).textured == expected).all(), channel
    frame = np.full((H, W, 3), 128, np.uint8)
    frame[..., 0] = (128 + texture).astype(np.uint8)
    assert np.allclose(CellView(frame).norm / np.sqrt(8 * 12), 0.299 * 30, rtol=1e-3)


def test_rows_and_columns_that_do_not_fill_a_cell_are_left_out():
    luma = np.full((H + 7, W + 7), 100.0)
    luma[H:, :] = pattern(1, 7, W + 7)
    luma[:, W:] = pattern(2, H + 7, 7)
    view = CellView(grey(luma))
    assert not view.textured.any()
    assert view.centred.shape == (GRID, GRID, 8 * 12)


def test_frames_with_cells_of_16_px_or_more_are_read_every_other_pixel():
    # texture on the odd rows and columns only: seen at full resolution, gone when the frame
    # is read every other pixel (its cells are then 8 x 8 instead of 16 x 16)
    def odd_texture(size: int) -> np.ndarray:
        luma = np.full((size, size), 100.0)
        odd = np.ix_(np.arange(1, size, 2), np.arange(1, size, 2))
        luma[odd] += pattern(3, size, size)[odd]
        return grey(luma)

    big, small = GRID * 2 * 8, GRID * 2 * 8 - 1
    assert not CellView(odd_texture(big)).textured.any()
    assert CellView(odd_texture(big)).centred.shape == (GRID, GRID, 64)
    assert CellView(odd_texture(small)).textured.all()
    # the smaller side decides: a wide frame of 127 rows is read whole
    wide = np.full((small, 400), 100.0)
    wide[1::2, 1::2] += 30
    assert CellView(grey(wide)).textured.all()


@pytest.mark.parametrize("shape", [(GRID - 1, W), (H, GRID - 1), (0, 0)])
def test_a_frame_smaller_than_the_grid_is_refused(shape):
    width_x_height = f"{shape[1]}x{shape[0]}"
    with pytest.raises(ValueError, match=f"^a {width_x_height} frame is smaller than the {GRID}x{GRID} grid$"):
        CellView(np.zeros((*shape, 3), np.uint8))


def test_a_frame_of_exactly_the_grid_is_measured():
    assert CellView(np.zeros((GRID, GRID, 3), np.uint8)).textured.shape == (GRID, GRID)


def test_the_same_structure_dimmed_or_brightened_is_no_change():
    base = 120 + pattern(4)
    a, b = CellView(grey(base)), CellView(grey(0.5 * base + 20))
    changed, informative = changed_cells(a, b)
    assert informative.all() and not changed.any()
    assert change_share(a, b) == 0.0


def test_another_structure_is_a_change():
    a, b = CellView(grey(120 + pattern(5))), CellView(grey(120 + pattern(6)))
    changed, informative = changed_cells(a, b)
    assert changed.all() and informative.all()
    assert change_share(a, b) == 1.0


def test_the_same_structure_inverted_is_a_change():
    a, b = CellView(grey(128 + stripes(20))), CellView(grey(128 + stripes(20, phase=1)))
    assert changed_cells(a, b)[0].all()


def test_the_correlation_bound():
    # b = r x (a's texture) + sqrt(1 - r^2) x (another texture at right angles): correlation r
    x, y = stripes(1.0), np.broadcast_to(np.where(np.arange(H)[:, None] % 2 == 0, 1.0, -1.0), (H, W))
    y = y * np.where(np.arange(W) % 4 < 2, 1.0, -1.0)  # orthogonal to the stripes in every cell
    a = CellView(grey(128 + 40 * x))
    for r, expected in ((SAME_STRUCTURE - 0.05, True), (SAME_STRUCTURE + 0.05, False)):
        b = CellView(grey(128 + 40 * (r * x + np.sqrt(1 - r * r) * y)))
        changed, informative = changed_cells(a, b)
        assert informative.all()
        assert (changed == expected).all(), r


def test_structure_in_one_frame_only_is_a_change_either_way():
    flat, textured = CellView(grey(np.full((H, W), 90.0))), CellView(grey(90 + pattern(7)))
    for a, b in ((flat, textured), (textured, flat)):
        changed, informative = changed_cells(a, b)
        assert changed.all() and informative.all()


def test_flat_cells_in_both_frames_say_nothing():
    a, b = CellView(grey(np.full((H, W), 30.0))), CellView(grey(np.full((H, W), 200.0)))
    changed, informative = changed_cells(a, b)
    assert not changed.any() and not informative.any()
    assert change_share(a, b) == 0.0


def test_the_share_counts_informative_cells_only():
    # 16 cells textured in both: 4 keep their structure (dimmed), 12 get another; the other
    # 48 cells are flat in both frames and left out: 12 / 16
    mask = np.zeros((GRID, GRID), bool)
    mask[:4, :4] = True
    region = np.kron(mask, np.ones((H // GRID, W // GRID), bool))
    keep = np.zeros_like(mask)
    keep[0, :4] = True
    keep_region = np.kron(keep, np.ones((H // GRID, W // GRID), bool))
    a_luma = np.where(region, 120 + pattern(8), 60.0)
    b_luma = np.where(keep_region, 0.7 * a_luma + 10, np.where(region, 120 + pattern(9), 200.0))
    a, b = CellView(grey(a_luma)), CellView(grey(b_luma))
    changed, informative = changed_cells(a, b)
    assert (informative == mask).all()
    assert (changed == (mask & ~keep)).all()
    assert change_share(a, b) == 12 / 16
