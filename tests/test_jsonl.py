"""tc139k.jsonl's readers at their bounds: `iter_blocks` gives every byte once, in whole
lines, with the right offsets and line numbers, and a line longer than `max_line_bytes` (not
one of exactly that length) as a LongLine; `chunk_bounds` cuts just after a newline and
covers the range; `sniff` tells Parquet, JSON Lines and anything else apart."""

from __future__ import annotations

import random

import pytest

from tc139k.jsonl import BOM, LONG_LINE_HEAD, Block, LongLine, chunk_bounds, has_bom, iter_blocks, read_objects, sniff


def lines_of(rng: random.Random, n: int, longest: int) -> list[bytes]:
    return [bytes(rng.choice(b"ab{}:,") for _ in range(rng.randint(0, longest))) + b"\n" for _ in range(n)]


def check_blocks(raw: bytes, items, block_bytes: int, max_line: int, start: int = 0, first_line: int = 1):
    """Every item against the bytes of the file: in order, nothing lost or repeated."""
    pos = start + (len(BOM) if start == 0 and raw.startswith(BOM) else 0)
    line = first_line
    for i, it in enumerate(items):
        assert it.offset == pos
        if isinstance(it, Block):
            assert it.data and raw[pos : pos + len(it.data)] == it.data and it.first_line == line
            end = pos + len(it.data)
            assert it.data.endswith(b"\n") or end == len(raw)  # whole lines only
            assert all(len(x) <= max_line for x in it.data.split(b"\n"))  # no long line inside
            followed_by_long = i + 1 < len(items) and isinstance(items[i + 1], LongLine)
            if end < len(raw) and not followed_by_long:
                assert len(it.data) >= block_bytes  # "about block_bytes", not less
            pos, line = end, line + it.data.count(b"\n")
        else:
            assert isinstance(it, LongLine) and it.line == line
            rest = raw[pos:]
            text = rest.split(b"\n", 1)[0]
            # its head: as much of its start as was read, up to LONG_LINE_HEAD bytes
            assert it.size == len(text) > max_line and it.head == text[: min(LONG_LINE_HEAD, max_line + 1)]
            pos += len(text) + (len(text) < len(rest))
            line += 1
    assert pos == len(raw)


@pytest.mark.parametrize("seed", range(12))
def test_blocks_cover_the_file_in_whole_lines(tmp_path, seed):
    rng = random.Random(seed)
    block_bytes = rng.randint(1, 40)
    max_line = block_bytes + rng.randint(0, 30)
    lines = lines_of(rng, rng.randint(0, 40), max_line + 15)
    if rng.random() < 0.3:
        lines[-1:] = [x.rstrip(b"\n") for x in lines[-1:]]  # no newline at the end
    raw = (BOM if seed % 3 == 0 else b"") + b"".join(lines)
    path = tmp_path / "x.jsonl"
    path.write_bytes(raw)
    check_blocks(raw, list(iter_blocks(path, block_bytes, max_line)), block_bytes, max_line)


def test_a_line_of_exactly_max_line_bytes_is_not_long(tmp_path):
    path = tmp_path / "x.jsonl"
    for size, long in ((8, False), (9, True)):
        for tail in (b"\n", b""):  # with and without the last newline
            raw = b"ab\n" + b"x" * size + tail + (b"cd\n" if tail else b"")
            path.write_bytes(raw)
            items = list(iter_blocks(path, block_bytes=4, max_line_bytes=8))
            assert any(isinstance(i, LongLine) for i in items) == long, (size, tail)
            check_blocks(raw, items, 4, 8)
            if long:
                (ll,) = [i for i in items if isinstance(i, LongLine)]
                assert (ll.offset, ll.line, ll.size, ll.head) == (3, 2, 9, b"x" * 9)


def test_a_long_line_keeps_only_its_head(tmp_path):
    path = tmp_path / "x.jsonl"
    raw = b"{}\n" + b"y" * (LONG_LINE_HEAD + 1000) + b"\n{}\n"
    path.write_bytes(raw)
    items = list(iter_blocks(path, block_bytes=16, max_line_bytes=LONG_LINE_HEAD + 999))
    assert [type(i) for i in items] == [Block, LongLine, Block]
    assert items[1].head == b"y" * LONG_LINE_HEAD and items[1].size == LONG_LINE_HEAD + 1000
    assert items[2] == Block(b"{}\n", len(raw) - 3, 3)


def test_blocks_of_a_range_and_without_line_numbers(tmp_path):
    rng = random.Random(5)
    raw = BOM + b"".join(lines_of(rng, 60, 12))
    path = tmp_path / "x.jsonl"
    path.write_bytes(raw)
    bounds = chunk_bounds(path, 50)
    line = 1
    for a, b in bounds:
        items = list(iter_blocks(path, 7, 20, start=a, stop=b, first_line=line))
        check_blocks(raw[:b], items, 7, 20, start=a, first_line=line)
        line += raw[a:b].count(b"\n")
    assert line == 61
    assert {i.first_line for i in iter_blocks(path, 7, 20, count_lines=False)} == {0}


def test_block_bounds_are_checked(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"{}\n")
    for block_bytes, max_line in ((0, 10), (11, 10)):
        with pytest.raises(ValueError, match="block_bytes"):
            list(iter_blocks(path, block_bytes, max_line))
    assert list(iter_blocks(path, 2, 2)) == [Block(b"{}\n", 0, 1)]  # the bound itself is allowed
    path.write_bytes(b"")
    assert list(iter_blocks(path)) == []


@pytest.mark.parametrize("seed", range(8))
def test_chunks_cut_just_after_a_newline_and_cover_the_range(tmp_path, seed):
    rng = random.Random(seed)
    raw = b"".join(lines_of(rng, rng.randint(1, 50), 30))
    if seed % 2:
        raw = raw.rstrip(b"\n")
    path = tmp_path / "x.jsonl"
    path.write_bytes(raw)
    size = rng.randint(1, 60)
    bounds = chunk_bounds(path, size)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(raw)
    for (a, b), (c, _) in zip(bounds, bounds[1:]):
        assert b == c and raw[b - 1 : b] == b"\n"
        # the first newline at or after a + size ends the chunk
        assert b == raw.index(b"\n", a + size - 1) + 1
    # a range, from a line start to a line end, is cut the same way
    if len(bounds) >= 3:
        assert chunk_bounds(path, size, start=bounds[1][0], stop=bounds[-2][1]) == bounds[1:-1]
    assert chunk_bounds(path, 10**6) == [(0, len(raw))]


def test_chunk_at_a_newline_right_before_the_cut(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"aaaa\nbbbb\ncc")
    assert chunk_bounds(path, 5) == [(0, 5), (5, 10), (10, 12)]
    assert chunk_bounds(path, 4) == [(0, 5), (5, 10), (10, 12)]
    assert chunk_bounds(path, 6) == [(0, 10), (10, 12)]
    path.write_bytes(b"a" * 200_000)  # no newline at all: one chunk, read piece by piece
    assert chunk_bounds(path, 10) == [(0, 200_000)]
    path.write_bytes(b"")
    assert chunk_bounds(path, 10) == []


def test_sniff_and_bom(tmp_path):
    path = tmp_path / "x"
    cases = {
        b"PAR1\x00\x00": "parquet",
        b'{"a": 1}\n': "jsonl",
        BOM + b' \t\r\n\n {"a": 1}\n': "jsonl",
        b"[1, 2]\n": "other",
        b"": "other",
        b"\n\n": "other",
        b"video_id,seconds\n": "other",
        b"\xef\xbb{": "other",
    }
    for raw, kind in cases.items():
        path.write_bytes(raw)
        assert sniff(path) == kind, raw
        assert has_bom(path) == raw.startswith(BOM)


def test_progress_counts_every_byte(tmp_path):
    path = tmp_path / "x.jsonl"
    raw = BOM + b'{"a": 1}\n\n{"b": 2}'
    path.write_bytes(raw)
    seen = []
    assert [n for n, _ in read_objects(path, progress=seen.append)] == [1, 3]
    assert sum(seen) == len(raw) and len(seen) == 3
    with pytest.raises(ValueError, match="on_error"):
        list(read_objects(path, on_error="skip"))


def test_a_block_of_one_byte_and_an_empty_line_before_a_long_one(tmp_path):
    path = tmp_path / "x.jsonl"
    raw = b"\n" + b"x" * 20 + b"\n{}\n"
    path.write_bytes(raw)
    items = list(iter_blocks(path, block_bytes=4, max_line_bytes=8))
    assert items == [Block(b"\n", 0, 1), LongLine(1, 2, 20, b"x" * 9), Block(b"{}\n", 22, 3)]
    items = list(iter_blocks(path, block_bytes=1, max_line_bytes=30))  # the smallest block allowed
    check_blocks(raw, items, 1, 30)


def test_a_long_line_longer_than_the_pieces_it_is_skipped_in(tmp_path):
    path = tmp_path / "x.jsonl"
    size = (1 << 20) * 2 + 12345  # read past in pieces of 1 MiB
    raw = b"{}\n" + b"z" * size + b"\n{}\n"
    path.write_bytes(raw)
    items = list(iter_blocks(path, block_bytes=8, max_line_bytes=16))
    assert [(type(i), i.offset) for i in items] == [(Block, 0), (LongLine, 3), (Block, 3 + size + 1)]
    assert items[1].size == size and items[2].first_line == 3
    # a cut inside a line longer than the 64 KiB read around each cut
    path.write_bytes(b"a" * 200_000 + b"\nb\n")
    assert chunk_bounds(path, 10) == [(0, 200_001), (200_001, 200_003)]


def test_blank_and_bad_lines_are_json_whitespace_exactly(tmp_path):
    import msgspec

    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n \t\r\n\x0c\nXX\n{oops\n[2]\n')
    got = list(read_objects(path, on_error="report"))
    assert [n for n, _ in got] == [1, 3, 4, 5, 6]  # a form feed is not JSON white space
    assert all(b.line == n for n, b in got[1:])
    try:
        msgspec.json.decode(b"{oops")
    except msgspec.DecodeError as e:
        assert got[3][1] == (5, "invalid_json", str(e))
    assert got[4][1] == (6, "not_an_object", "a JSON list")
    path.write_bytes(b"[" * 2000 + b"]" * 2000 + b"\n")  # deeper than the decoder goes
    assert list(read_objects(path, on_error="report")) == [
        (1, (1, "invalid_json", "nested deeper than a QA record can be"))
    ]
    for raw in (b"\x0c{}", b"X{}", b"\x0b{}"):
        path.write_bytes(raw)
        assert sniff(path) == "other", raw
