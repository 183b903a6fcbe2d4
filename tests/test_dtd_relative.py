"""tc139k.dtdlevels.relative_dropped, from the module's contract: each frame (row) drops its
`int(N * share)` most similar tokens, the highest cosine levels or the lowest pixel_mad
levels, ties going to the lower token index."""

from __future__ import annotations

import numpy as np

from tc139k.dtdlevels import relative_dropped


def test_each_row_drops_its_most_similar_share():
    levels = np.array([[10, 200, 200, 30, 255], [0, 0, 0, 0, 0], [255, 1, 128, 129, 0]], dtype=np.uint8)
    cosine = relative_dropped(levels, "cosine", 0.4)  # int(5 * 0.4) = 2 a row
    assert cosine.tolist() == [
        [False, True, False, False, True],  # 255, then the first of the two 200s
        [True, True, False, False, False],  # all equal: the lowest indexes
        [True, False, False, True, False],
    ]
    pixel = relative_dropped(levels, "pixel_mad", 0.4)
    assert pixel.tolist() == [
        [True, False, False, True, False],
        [True, True, False, False, False],
        [False, True, False, False, True],
    ]
    assert cosine.dtype == bool and cosine.shape == levels.shape


def test_the_share_is_rounded_down():
    levels = np.arange(12, dtype=np.uint8).reshape(2, 6)
    assert not relative_dropped(levels, "cosine", 0.16).any()  # int(6 * 0.16) = 0
    assert relative_dropped(levels, "cosine", 0.17).sum(axis=1).tolist() == [1, 1]
    assert relative_dropped(levels, "pixel_mad", 0.99).sum(axis=1).tolist() == [5, 5]
    assert relative_dropped(levels, "pixel_mad", 1.0).all()
    # one-byte levels are ordered as numbers: level 0 is the least similar cosine (negating it
    # in one byte would make 0 the smallest key and the others wrap around)
    assert relative_dropped(np.array([[0, 100, 200]], dtype=np.uint8), "cosine", 0.34).tolist() == [
        [False, False, True]
    ]
    assert relative_dropped(np.array([[0, 100]], dtype=np.uint8), "cosine", 0.5).tolist() == [[False, True]]


def test_ties_go_to_the_lower_index_in_long_rows():
    # many equal levels in rows longer than the few elements a sort keeps in order anyway
    levels = np.random.default_rng(0).integers(0, 3, size=(4, 200)).astype(np.uint8)
    for kind, sign in (("cosine", -1), ("pixel_mad", 1)):
        got = relative_dropped(levels, kind, 0.25)
        for row, dropped in zip(levels.tolist(), got.tolist()):
            first = sorted(range(200), key=lambda i: (sign * row[i], i))[:50]
            assert [i for i, d in enumerate(dropped) if d] == sorted(first)
