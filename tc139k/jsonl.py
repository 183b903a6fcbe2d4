"""Reading JSON Lines files: decoded objects with an explicit error policy, or fast, whole
lines in large byte blocks, with line numbers.

`read_objects` gives every non-blank line as a JSON object; a line that is not UTF-8, not
JSON or not an object either stops the reading with a SchemaError naming the file and line
(`on_error="raise"`) or comes back as a `BadLine` in its place (`on_error="report"`).
`line_problem` names what is wrong with a line a decoder refused, the same way whatever the
msgspec version.

`sniff(path)` tells a Parquet file (its `PAR1` magic) from JSON Lines (a first non-blank
byte `{`) before either reader is tried, so that a command given one where it takes the other
can say so.

`iter_blocks` gives blocks of about `block_bytes` of complete lines, so a decoder can work
on one block while Python objects stay few and memory stays hot. A line longer than
`max_line_bytes` is not loaded: it comes back as a `LongLine` with its first bytes, size
and offset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .errors import SchemaError

BOM = b"\xef\xbb\xbf"
LONG_LINE_HEAD = 4096  # bytes of an over-long line kept for the quarantine record
JSON_BLANK = b" \t\r"  # a line holding only these is blank (JSON white space)


PARQUET_MAGIC = b"PAR1"


def sniff(path: str | Path) -> str:
    """ "parquet", "jsonl" (the first non-blank byte opens a JSON object) or "other"."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    text = head.removeprefix(BOM).lstrip(JSON_BLANK + b"\n")
    return "jsonl" if text.startswith(b"{") else "other"


@dataclass(frozen=True)
class Block:
    data: bytes  # complete lines; only the file's last line may lack its "\n"
    offset: int  # byte offset of data[0] in the file
    first_line: int  # 1-based line number of the first line in data


@dataclass(frozen=True)
class LongLine:
    offset: int
    line: int
    size: int  # bytes, line ending excluded
    head: bytes  # the first LONG_LINE_HEAD bytes


class BadLine(NamedTuple):
    line: int
    code: str  # invalid_utf8, invalid_json or not_an_object
    message: str

    @property
    def reason(self) -> str:
        return {"invalid_utf8": "not valid UTF-8", "invalid_json": "invalid JSON", "not_an_object": "not an object"}[
            self.code
        ] + f" ({self.message})"


ON_ERROR = ("raise", "report")


def line_problem(raw, ex: Exception) -> tuple[str, str]:
    """(code, message) of a line msgspec could not decode. msgspec 0.23 reports invalid UTF-8
    as a DecodeError among the syntax errors, 0.22 as a UnicodeDecodeError placed within one
    string: the line's bytes are checked here, so code and message do not depend on msgspec."""
    try:
        str(raw, "utf-8")
    except UnicodeDecodeError as u:
        return ("invalid_utf8", f"byte {u.start}: {u.reason}")
    if isinstance(ex, RecursionError):
        return ("invalid_json", "nested deeper than a QA record can be")
    return ("invalid_json", str(ex))


def read_objects(
    path: str | Path,
    on_error: str = "raise",
    progress: Callable[[int], object] | None = None,
    objects_only: bool = True,
) -> Iterator[tuple[int, dict | BadLine]]:
    """(line number, object) for every non-blank line of a JSON Lines file (a UTF-8 BOM at
    the start is skipped). A bad line raises SchemaError naming `path` and the line
    (`on_error="raise"`) or comes back as a BadLine (`on_error="report"`); without
    `objects_only`, any JSON value is a good line. `progress` is called with the bytes of
    every line read."""
    import msgspec  # (here: `validate` imports this module before it starts its workers)

    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, not {on_error!r}")
    decode = msgspec.json.Decoder().decode
    with open(path, "rb") as f:
        for no, raw in enumerate(f, start=1):
            if progress is not None:
                progress(len(raw))
            if no == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            if not raw.strip(JSON_BLANK + b"\n"):
                continue
            try:
                obj = decode(raw)
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as e:  # too deep: bad JSON too
                bad = BadLine(no, *line_problem(raw, e))
            else:
                if isinstance(obj, dict) or not objects_only:
                    yield no, obj
                    continue
                bad = BadLine(no, "not_an_object", f"a JSON {type(obj).__name__}")
            if on_error == "raise":
                raise SchemaError(f"{path}:{no}: {bad.reason}")
            yield no, bad


def has_bom(path: str | Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(BOM)) == BOM


def iter_blocks(
    path: str | Path,
    block_bytes: int = 1 << 20,
    max_line_bytes: int = 64 << 20,
    start: int = 0,
    stop: int | None = None,
    first_line: int = 1,
    count_lines: bool = True,
) -> Iterator[Block | LongLine]:
    """Blocks of whole lines of `path` in file order, from byte `start` (a line start, whose
    line number is `first_line`) to `stop` (a line end, or the end of the file). A UTF-8
    byte-order mark at the start of the file is skipped (offsets still count it). Without
    `count_lines`, line numbers are left to the caller (0 in the blocks)."""
    if block_bytes < 1 or max_line_bytes < block_bytes:
        raise ValueError("need 1 <= block_bytes <= max_line_bytes")
    with open(path, "rb") as f:
        if stop is None:
            stop = f.seek(0, 2)
        f.seek(start)
        offset, line = start, first_line if count_lines else 0
        if start == 0:
            if f.read(len(BOM)) == BOM:
                offset = len(BOM)
            else:
                f.seek(0)
        while offset < stop:
            data = f.read(min(block_bytes, stop - offset))
            if not data:
                return
            if data[-1] != 0x0A and offset + len(data) < stop:
                line_start = data.rfind(b"\n") + 1  # start of the unfinished last line
                want = max_line_bytes - (len(data) - line_start) + 1  # +1: its "\n" may follow
                tail = f.readline(min(want, stop - offset - len(data)))
                data += tail
                if len(tail) == want and tail[-1] != 0x0A:  # longer than max_line_bytes
                    if line_start:
                        yield Block(data[:line_start], offset, line)
                        if count_lines:
                            line += data.count(b"\n", 0, line_start)
                        offset += line_start
                    size, ended = len(data) - line_start, False
                    head = data[line_start : line_start + LONG_LINE_HEAD]
                    del data
                    while offset + size < stop:  # skip the rest of the line without holding it
                        piece = f.readline(min(1 << 20, stop - offset - size))
                        if not piece:
                            break
                        if piece[-1] == 0x0A:
                            size += len(piece) - 1
                            ended = True
                            break
                        size += len(piece)
                    yield LongLine(offset, line, size, head)
                    offset += size + ended
                    line += count_lines
                    continue
            yield Block(data, offset, line)
            offset += len(data)
            if count_lines:
                line += data.count(b"\n")


def chunk_bounds(path: str | Path, chunk_bytes: int, start: int = 0, stop: int | None = None) -> list[tuple[int, int]]:
    """(start, stop) byte ranges of about `chunk_bytes` covering `path` (or the part from
    `start`, a line start, to `stop`, a line end), cut just after a "\n". Only a little is
    read around each cut, whatever the lines' lengths."""
    bounds = []
    with open(path, "rb") as f:
        end = f.seek(0, 2) if stop is None else stop
        while start < end:
            stop = start + chunk_bytes
            if stop >= end:
                stop = end
            else:
                pos = f.seek(stop - 1)  # a cut right after a "\n" at stop - 1 is fine
                while True:
                    piece = f.read(min(1 << 16, end - pos))
                    if not piece:
                        stop = end
                        break
                    nl = piece.find(b"\n")
                    if nl >= 0:
                        stop = pos + nl + 1
                        break
                    pos += len(piece)
            bounds.append((start, stop))
            start = stop
    return bounds
