"""Arrow arrays built straight from buffers.

`pyarrow.array()` looks for pandas objects, and the first look imports pandas (about 0.3 s).
Worker processes that only build a few array types pay that on every start; these builders
avoid it and are also faster for the plain cases they cover.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def _validity(valid: np.ndarray):
    return None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))


def strings(values) -> pa.StringArray:
    """A non-null string array from a sequence of str."""
    values = list(values)
    joined = "".join(values)
    data = joined.encode("utf-8")
    if len(data) == len(joined):  # ASCII: characters are bytes
        sizes = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    else:
        sizes = np.fromiter((len(v.encode("utf-8")) for v in values), dtype=np.int64, count=len(values))
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets32(sizes)), pa.py_buffer(data))


def offsets32(sizes) -> np.ndarray:
    """int32 offsets (with the leading 0) of consecutive pieces of the given sizes."""
    sizes = np.asarray(sizes, dtype=np.int64)
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    if out[-1] > np.iinfo(np.int32).max:
        raise OverflowError("array too large for 32-bit offsets")
    return out.astype(np.int32)


def numbers(values, dtype) -> pa.Array:
    """A numeric array (no nulls) of numpy `dtype` from a numpy array or a sequence."""
    arr = np.ascontiguousarray(np.asarray(values, dtype=dtype))
    return pa.Array.from_buffers(pa.from_numpy_dtype(arr.dtype), len(arr), [None, pa.py_buffer(arr)])


def hex_strings(data: bytes, stride: int, size: int) -> pa.StringArray:
    """Lower-case hex of the first `size` bytes of every `stride` bytes of `data`."""
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, stride)[:, :size]
    out = np.empty((len(raw), 2 * size), dtype=np.uint8)
    out[:, 0::2] = _HEX[raw >> 4]
    out[:, 1::2] = _HEX[raw & 15]
    offsets = np.arange(0, out.size + 1, 2 * size, dtype=np.int32)
    return pa.StringArray.from_buffers(len(raw), pa.py_buffer(offsets), pa.py_buffer(out))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def floats_or_null(values) -> pa.Array:
    """float64 array from a sequence of float or None (null)."""
    values = list(values)
    if None not in values:
        arr = np.array(values, dtype=np.float64)
        return pa.Array.from_buffers(pa.float64(), len(arr), [None, pa.py_buffer(arr)])
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    arr = np.fromiter((0.0 if v is None else v for v in values), dtype=np.float64, count=len(values))
    return pa.Array.from_buffers(
        pa.float64(), len(arr), [_validity(valid), pa.py_buffer(arr)], null_count=int(len(valid) - valid.sum())
    )


def mask(keep) -> pa.BooleanArray:
    """A boolean array (for Table.filter) from a numpy bool array or a sequence of bool."""
    keep = np.asarray(keep, dtype=bool)
    return pa.Array.from_buffers(pa.bool_(), len(keep), [None, pa.py_buffer(np.packbits(keep, bitorder="little"))])


def lists(offsets, values: pa.Array, list_type: pa.DataType) -> pa.ListArray:
    """A list array from int32 offsets (numpy) and the flat values."""
    return pa.ListArray.from_arrays(numbers(offsets, np.int32), values, type=list_type)


def values(arr) -> np.ndarray:
    """The values of a numeric array or chunked array without nulls, as numpy (a view when
    there is one chunk)."""
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 1:
            arr = arr.chunk(0)
        else:
            return np.concatenate([values(c) for c in arr.chunks]) if arr.num_chunks else np.zeros(0)
    if arr.null_count:
        raise ValueError("array has nulls")
    dtype = _NUMPY[arr.type.id]
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


_NUMPY = {
    pa.int8().id: np.dtype(np.int8),
    pa.int16().id: np.dtype(np.int16),
    pa.int32().id: np.dtype(np.int32),
    pa.int64().id: np.dtype(np.int64),
    pa.uint8().id: np.dtype(np.uint8),
    pa.uint16().id: np.dtype(np.uint16),
    pa.uint32().id: np.dtype(np.uint32),
    pa.uint64().id: np.dtype(np.uint64),
    pa.float32().id: np.dtype(np.float32),
    pa.float64().id: np.dtype(np.float64),
}
