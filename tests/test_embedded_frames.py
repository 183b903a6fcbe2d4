"""tc139k.shards.jpeg.embedded_problems: the bad frames stored in a shard, at most `limit`
listed (row numbers counted across row groups), then one line counting the rest; and
FrameChecker's answer for a frame file it cannot read."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from tc139k.shards.jpeg import embedded_problems


def good_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def shard(tmp_path, rows: list[list[dict] | None], group_rows: int) -> pq.ParquetFile:
    frame = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table({"frames": pa.array(rows, type=pa.list_(frame))})
    path = tmp_path / "s.parquet"
    pq.write_table(table, path, row_group_size=group_rows)
    pf = pq.ParquetFile(path)
    assert pf.num_row_groups == -(-len(rows) // group_rows)
    return pf


def test_bad_frames_are_listed_up_to_the_limit_then_counted(tmp_path):
    ok = {"bytes": good_jpeg(), "path": "s/v/000000.jpg"}

    def bad(i):
        return {"bytes": b"\xff\xd8" if i % 2 else None, "path": f"s/v/{i:06d}.jpg"}

    # rows 0-3 in the first group, 4-5 in the second; row 2 has no frames at all
    rows = [[ok, bad(1)], [ok], None, [bad(2), ok, bad(3)], [bad(4)], [ok, bad(5)]]
    pf = shard(tmp_path, rows, group_rows=4)
    five = embedded_problems(pf, "train/0.parquet")  # 5 bad frames, the default limit: all listed
    assert five == [
        "train/0.parquet: row 0: embedded frame s/v/000001.jpg: truncated JPEG (no end-of-image marker)",
        "train/0.parquet: row 3: embedded frame s/v/000002.jpg: empty file",
        "train/0.parquet: row 3: embedded frame s/v/000003.jpg: truncated JPEG (no end-of-image marker)",
        "train/0.parquet: row 4: embedded frame s/v/000004.jpg: empty file",
        "train/0.parquet: row 5: embedded frame s/v/000005.jpg: truncated JPEG (no end-of-image marker)",
    ]
    assert embedded_problems(pf, "x", limit=4) == [
        *(p.replace("train/0.parquet", "x") for p in five[:4]),
        "x: 1 more bad embedded frame(s)",
    ]
    assert embedded_problems(pf, "x", limit=2)[-1] == "x: 3 more bad embedded frame(s)"
    assert embedded_problems(pf, "x", limit=0) == ["x: 5 more bad embedded frame(s)"]

    rows.append([bad(6)])  # a sixth: over the default limit
    assert embedded_problems(shard(tmp_path, rows, group_rows=4), "x")[-1] == "x: 1 more bad embedded frame(s)"
    assert embedded_problems(shard(tmp_path, [[ok], [ok, ok]], group_rows=1), "x") == []


def test_frame_checker_names_a_frame_it_cannot_read(tmp_path):
    from tc139k.shards.jpeg import FrameChecker

    (tmp_path / "s" / "v").mkdir(parents=True)
    (tmp_path / "s" / "v" / "000000.jpg").write_bytes(good_jpeg())
    check = FrameChecker(tmp_path)
    assert check.problem("s/v/000000.jpg") is None
    assert check.problem("s/v/000001.jpg") == "unreadable (No such file or directory)"
    assert check.record_problem(["s/v/000000.jpg", "s/v/000001.jpg"]) == (
        "bad_frames: 1 of 2 frame(s) are not decodable JPEGs"
        " (first: s/v/000001.jpg: unreadable (No such file or directory))"
    )


def _jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def test_jpeg_problem_names_what_is_wrong_in_its_own_words():
    from tc139k.shards.jpeg import jpeg_problem

    good = _jpeg(24, 16)
    assert jpeg_problem(good) is None
    assert jpeg_problem(b"\x89PNG" + good) == "not a JPEG (no start-of-image marker)"
    assert jpeg_problem(good[:-80]) == "truncated JPEG (no end-of-image marker)"
    # the frame header's height, then its width, set to 0: named as width x height
    sof = good.index(b"\xff\xc0")
    for offset, size in ((5, "24x0"), (7, "0x16")):
        zero = good[: sof + offset] + b"\x00\x00" + good[sof + offset + 2 :]
        assert jpeg_problem(zero) == f"JPEG of size {size}"


def test_an_end_marker_inside_the_header_does_not_make_a_cut_file_whole():
    """A comment or an EXIF thumbnail may hold its own end-of-image marker near the start: a
    file cut short is still truncated (only its last bytes are searched)."""
    from tc139k.shards.jpeg import EOI_TAIL, jpeg_problem

    good = _jpeg(64, 64)
    comment = b"thumbnail " * 10 + b"\xff\xd9" + b" end" * 10
    with_comment = good[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + good[2:]
    assert jpeg_problem(with_comment) is None
    cut = with_comment[: len(with_comment) - EOI_TAIL - 100]
    assert cut.index(b"\xff\xd9") > EOI_TAIL  # the comment's marker is well inside the file
    assert jpeg_problem(cut) == "truncated JPEG (no end-of-image marker)"
