"""The header of a JPEG file, walked segment by segment without decoding it.

One walk for two users: the shards' structural check of embedded frames (a reason for each
way a header can be broken) and the frame decoder (the frame size, to pick a reduced DCT
scale, and where the first scan starts, to tell a file cut short).
"""

from __future__ import annotations

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
# SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): they carry the frame size
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
SOS = 0xDA
STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}  # RSTn and TEM have no length


def walk_header(data: bytes) -> tuple[tuple[int, int] | None, int, str | None]:
    """(frame size as (width, height) or None, offset of the first scan or -1, problem or None)
    of the bytes after the start-of-image marker."""
    pos, n, size = 2, len(data), None
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return size, -1, f"damaged JPEG header (no marker at byte {pos})"
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > n:
            return size, -1, f"damaged JPEG header (segment at byte {pos} runs past the end)"
        if marker in SOF_MARKERS:
            if length < 8:
                return size, -1, "damaged JPEG header (short frame header)"
            size = (int.from_bytes(data[pos + 7 : pos + 9], "big"), int.from_bytes(data[pos + 5 : pos + 7], "big"))
        if marker == SOS:
            return size, pos, None if size is not None else "damaged JPEG header (image data before any frame header)"
        pos += 2 + length
    return size, -1, "damaged JPEG header (no image data)"
